"""Main-flow tests of library/haproxy_backends_info.py with a fake HTTP layer (no network).

Relies on: haproxy_stats.csv = listen sections primary (patroni1 UP, patroni2/3 DOWN), replicas
(patroni2/3 UP, patroni1 DOWN) and stats; haproxy_stats_transition.csv = a switchover in progress where
"primary" does not have exactly patroni1 UP.
"""

from __future__ import annotations

import haproxy_backends_info as mod
from pgha_test_helpers import load_text, undocumented_keys

URL = "http://127.0.0.1:7000/;csv"
EXPECT = {"primary": ["patroni1"], "replicas": ["patroni2", "patroni3"]}


def test_reads_backends(fake_http, run_module):
    fake_http.add("GET", URL, load_text("haproxy_stats.csv"))
    result = run_module(mod, {"stats_url": "http://127.0.0.1:7000/", "expect": EXPECT,
                              "expect_up_count": {"replicas": "2"}})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False and result["healthy"] is True and result["problems"] == []
    assert result["stats_url"] == URL
    assert result["backends"]["primary"]["up"] == ["patroni1"]
    assert {"primary", "replicas", "stats"} <= set(result["frontends"])
    assert result["rows"][0]["pxname"] and "svname" in result["rows"][0]
    assert all(v != "" for row in result["rows"] for v in row.values())  # empty CSV fields left out
    assert "| primary" in result["table"]
    assert undocumented_keys(mod, result) == []


def test_basic_auth_is_sent(fake_http, run_module):
    fake_http.add("GET", URL, load_text("haproxy_stats.csv"))
    run_module(mod, {"stats_url": URL, "url_username": "admin", "url_password": "s3cret"})
    kw = fake_http.calls[0]["kwargs"]
    assert kw["url_username"] == "admin" and kw["url_password"] == "s3cret" and kw["force_basic_auth"]


def test_unmet_expectations_without_wait_do_not_fail(fake_http, run_module):
    fake_http.add("GET", URL, load_text("haproxy_stats_transition.csv"))
    result = run_module(mod, {"stats_url": URL, "expect": EXPECT})
    assert not result.get("failed") and result["healthy"] is False
    assert any(p.startswith("backend primary: expected UP exactly [patroni1]") for p in result["problems"])


def test_wait_until_switchover_finished(fake_http, fake_clock, run_module):
    fake_http.add("GET", URL, [load_text("haproxy_stats_transition.csv"), load_text("haproxy_stats.csv")])
    result = run_module(mod, {"stats_url": URL, "wait": True, "expect": EXPECT, "timeout": 10})
    assert not result.get("failed") and result["attempts"] == 2


def test_wait_timeout_shows_table(fake_http, fake_clock, run_module):
    fake_http.add("GET", URL, load_text("haproxy_stats.csv"))
    result = run_module(mod, {"stats_url": URL, "wait": True, "expect": {"primary": ["patroni2"]}, "timeout": 2})
    assert result["failed"]
    msg = result["msg"]
    assert msg.startswith("Timed out after 2.0s")
    assert "backend primary: expected UP exactly [patroni2], found UP [patroni1]" in msg
    assert result["table"] in msg
    assert "rows" not in result  # keeps the failure output readable


def test_html_instead_of_csv(fake_http, run_module):
    fake_http.add("GET", URL, "<html><head><title>Statistics Report</title></head></html>")
    result = run_module(mod, {"stats_url": URL})
    assert result["failed"] and "did not return HAProxy stats CSV" in result["msg"] and URL in result["msg"]


def test_unauthorized(fake_http, run_module):
    fake_http.add("GET", URL, (401, "<html>401 Unauthorized</html>"))
    result = run_module(mod, {"stats_url": URL})
    assert result["failed"] and "HTTP 401" in result["msg"] and "url_username" in result["msg"]


def test_connection_refused(fake_http, run_module):
    result = run_module(mod, {"stats_url": "http://127.0.0.1:9/"})
    assert result["failed"] and "http://127.0.0.1:9/;csv" in result["msg"] and "Connection refused" in result["msg"]


def test_bad_expect_values(fake_http, run_module):
    fake_http.add("GET", URL, load_text("haproxy_stats.csv"))
    result = run_module(mod, {"stats_url": URL, "expect_up_count": {"replicas": "two"}})
    assert result["failed"] and "expect_up_count.replicas must be an integer" in result["msg"]
    result = run_module(mod, {"stats_url": URL, "expect": {"primary": "patroni1, patroni2"}})
    assert result["problems"] and "[patroni1, patroni2]" in result["problems"][0]
