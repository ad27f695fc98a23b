"""Tests for module_utils/pgha_patroni_api.py: the patroni_* modules' shared options and /cluster reads
(poll_cluster() is exercised through patroni_restart and patroni_switchover)."""

from __future__ import annotations

import pytest

from ansible.module_utils.pgha_http import HttpOptions, http_argument_spec
from ansible.module_utils.pgha_patroni import summarize_cluster
from ansible.module_utils.pgha_patroni_api import (
    patroni_api_urls,
    patroni_argument_spec,
    poll_timeout_message,
    read_cluster_or_fail,
)
from pgha_test_helpers import FakeModule, ModuleFailed, load_json

N1, N2 = "http://172.28.10.11:8008", "http://172.28.10.12:8008"


def test_patroni_argument_spec_has_api_urls_the_options_and_the_http_options():
    spec = patroni_argument_spec(member=dict(type="str", required=True))
    assert spec["api_urls"] == dict(type="list", elements="str", required=True, aliases=["api_url"])
    assert spec["member"] == dict(type="str", required=True)
    assert set(spec) == {"api_urls", "member"} | set(http_argument_spec())
    assert spec["request_timeout"]["default"] == 5.0
    spec["api_urls"]["required"] = False
    assert patroni_argument_spec()["api_urls"]["required"] is True  # a fresh dict every time


def test_patroni_api_urls_drops_empty_entries_and_fails_without_any():
    assert patroni_api_urls(FakeModule(api_urls=[N1, "", None, N2])) == [N1, N2]
    with pytest.raises(ModuleFailed) as exc:
        patroni_api_urls(FakeModule(api_urls=["", None]))
    assert exc.value.result["msg"].startswith("api_urls is empty: give at least one Patroni REST API URL")


def test_read_cluster_or_fail(fake_http):
    fake_http.add("GET", N2 + "/cluster", load_json("patroni_cluster.json"))
    data, url, errors = read_cluster_or_fail(FakeModule(), [N1, N2], HttpOptions())
    assert data["scope"] == "demo" and url == N2 and errors[0]["url"] == N1 + "/cluster"
    with pytest.raises(ModuleFailed) as exc:
        read_cluster_or_fail(FakeModule(), [N1], HttpOptions(), changed=False)
    result = exc.value.result
    assert result["msg"].startswith("No Patroni REST API answered GET /cluster. Tried:\n  - ")
    assert result["changed"] is False and result["errors"][0]["url"] == N1 + "/cluster"


def test_poll_timeout_message_shows_the_last_state_read():
    summary = summarize_cluster(load_json("patroni_cluster.json"))
    good = {"ok": True, "api_url": N2, "summary": summary, "problem": "p1 is stopped", "errors": []}
    waited = {"reading": good, "good": good, "ok": False, "attempts": 3}
    msg = poll_timeout_message(waited, 2.5, 2.0, "p1 to be back", "the restart", {"api_url": N1, "summary": {}})
    lines = msg.splitlines()
    assert lines[0] == "Timed out after 2.5s (timeout 2.0s, 3 polls) waiting for p1 to be back: p1 is stopped."
    assert lines[1] == "Last state read (from %s):" % N2 and lines[2].startswith("+ Cluster: demo")


def test_poll_timeout_message_without_any_read_shows_the_state_before():
    summary = summarize_cluster(load_json("patroni_cluster.json"))
    reading = {"ok": False, "problem": "no Patroni REST API answered GET /cluster",
               "errors": [{"url": N1 + "/cluster", "error": "refused"}]}
    waited = {"reading": reading, "good": {}, "ok": False, "attempts": 1}
    lines = poll_timeout_message(waited, 1.0, 1.0, "x", "the request", {"api_url": N1, "summary": summary}).splitlines()
    assert lines[1] == "  - %s/cluster: refused" % N1
    assert lines[2] == "No /cluster read succeeded after the request; state before it (from %s):" % N1
    assert lines[3].startswith("+ Cluster: demo")
