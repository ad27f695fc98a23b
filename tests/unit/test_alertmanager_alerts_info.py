"""Main-flow tests of library/alertmanager_alerts_info.py with a fake HTTP layer (no network)."""

from __future__ import annotations

import json

import pytest

import alertmanager_alerts_info as mod
from pgha_test_helpers import undocumented_keys

BASE = "https://172.28.10.41:9093"
URL = BASE + "/api/v2/alerts?active=true&silenced=false&inhibited=false"


def alert(name: str, instance: str = "patroni1", severity: str = "warning", state: str = "active") -> dict:
    return {"labels": {"alertname": name, "instance": instance, "severity": severity, "job": "patroni"},
            "annotations": {"summary": "%s on %s" % (name, instance)}, "startsAt": "2026-12-07T03:00:00.000Z",
            "endsAt": "2026-12-07T03:04:00.000Z", "status": {"state": state, "silencedBy": [], "inhibitedBy": []},
            "fingerprint": "abc", "receivers": [{"name": "none"}], "updatedAt": "2026-12-07T03:00:00.000Z"}


def answer(*alerts: dict) -> str:
    return json.dumps(list(alerts))


def test_reads_firing_alerts_critical_first(fake_http, run_module):
    fake_http.add("GET", URL, answer(alert("PatroniMemberDown"), alert("PatroniNoLeader", "", "critical"),
                                     alert("Silenced", state="suppressed")))
    result = run_module(mod, {"url": BASE + "/", "url_username": "admin", "url_password": "s3cret"})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False and result["healthy"] is True
    assert [a["alertname"] for a in result["alerts"]] == ["PatroniNoLeader", "PatroniMemberDown"]
    assert result["alerts"][1] == {"alertname": "PatroniMemberDown", "instance": "patroni1", "severity": "warning",
                                   "starts_at": "2026-12-07T03:00:00.000Z",
                                   "summary": "PatroniMemberDown on patroni1",
                                   "labels": {"alertname": "PatroniMemberDown", "instance": "patroni1",
                                              "severity": "warning", "job": "patroni"}}
    assert result["firing"] == ["PatroniMemberDown", "PatroniNoLeader"]
    assert "Silenced" not in result["seen"]
    assert "PatroniMemberDown" in result["table"]
    kw = fake_http.calls[0]["kwargs"]
    assert kw["url_username"] == "admin" and kw["url_password"] == "s3cret"
    assert undocumented_keys(mod, result) == []


def test_nothing_firing(fake_http, run_module):
    fake_http.add("GET", URL, "[]")
    result = run_module(mod, {"url": BASE})
    assert result["alerts"] == [] and result["table"] == "no alert firing"


def test_wait_remembers_an_alert_that_cleared_between_polls(fake_http, fake_clock, run_module):
    # PatroniMemberDown fires at the first poll and clears; PatroniLeaderChanged comes at the third.
    fake_http.add("GET", URL, [answer(alert("PatroniMemberDown")), "[]",
                               answer(alert("PatroniLeaderChanged", "", "info"))])
    result = run_module(mod, {"url": BASE, "wait": True, "timeout": 30,
                              "expect_firing": ["PatroniMemberDown", "PatroniLeaderChanged"]})
    assert not result.get("failed"), result.get("msg")
    assert result["attempts"] == 3 and result["missing"] == []
    assert result["seen"] == ["PatroniLeaderChanged", "PatroniMemberDown"]


def test_seen_from_an_earlier_call_counts(fake_http, run_module):
    fake_http.add("GET", URL, "[]")
    result = run_module(mod, {"url": BASE, "expect_firing": ["EtcdMemberDown"], "seen": ["EtcdMemberDown"]})
    assert result["healthy"] and result["missing"] == []


def test_wait_timeout_names_the_missing_and_the_still_firing(fake_http, fake_clock, run_module):
    fake_http.add("GET", URL, answer(alert("PatroniMemberDown")))
    result = run_module(mod, {"url": BASE, "wait": True, "timeout": 2, "expect_firing": ["EtcdQuorumLost"],
                              "expect_not_firing": ["PatroniMemberDown"]})
    assert result["failed"]
    assert result["msg"].startswith("Timed out after 2.0s")
    assert "EtcdQuorumLost has not fired" in result["msg"]
    assert "PatroniMemberDown is still firing (patroni1)" in result["msg"]
    assert result["missing"] == ["EtcdQuorumLost"] and result["still_firing"] == ["PatroniMemberDown"]


def test_unmet_without_wait_does_not_fail(fake_http, run_module):
    fake_http.add("GET", URL, "[]")
    result = run_module(mod, {"url": BASE, "expect_firing": ["EtcdQuorumLost"]})
    assert not result.get("failed") and result["healthy"] is False and result["missing"] == ["EtcdQuorumLost"]


def test_not_an_alert_list_fails_clearly(fake_http, run_module):
    fake_http.add("GET", URL, '{"status": "success"}')
    result = run_module(mod, {"url": BASE})
    assert result["failed"]
    assert "did not answer with Alertmanager's alert list" in result["msg"]


@pytest.mark.parametrize("data", [{"a": 1}, [{"no": "labels"}]])
def test_firing_alerts_rejects_other_json(data):
    with pytest.raises(ValueError):
        mod.firing_alerts(data)
