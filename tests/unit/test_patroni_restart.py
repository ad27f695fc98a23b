"""Tests of library/patroni_restart.py with a fake HTTP layer (no network).

Relies on: patroni_cluster.json = scope demo, patroni1 leader (running), patroni2/patroni3 streaming replicas,
each with an ``api_url`` of the form ``http://<ip>:8008/patroni``. Tests change copies of it (state,
pending_restart flag, role) to script the restart.
"""

from __future__ import annotations

import copy
from typing import Any, Dict

import pytest

import patroni_restart as mod
from pgha_test_helpers import load_json, set_member, undocumented_keys

N1, N2, N3 = "http://172.28.10.11:8008", "http://172.28.10.12:8008", "http://172.28.10.13:8008"
ALL = [N1, N2, N3]


def _cluster(member: str = "patroni2", **fields: Any) -> Dict[str, Any]:
    """A copy of the captured /cluster with ``fields`` set (None removes the key) on ``member``."""
    return set_member(copy.deepcopy(load_json("patroni_cluster.json")), member, **fields)


def _member_url(name: str) -> str:
    return next(m["api_url"] for m in load_json("patroni_cluster.json")["members"] if m["name"] == name)


def _restart_url(name: str) -> str:
    return _member_url(name).rsplit("/", 1)[0] + "/restart"


PENDING = _cluster(pending_restart=True)
STARTING = _cluster(state="starting", pending_restart=True)
STALE_FLAG = _cluster(pending_restart=True)  # back streaming, flag not yet cleared in the DCS
BACK = _cluster()


def _posts(fake_http):
    return [c for c in fake_http.calls if c["method"] == "POST"]


# --------------------------------------------------------------------------------------------
# Main flows
# --------------------------------------------------------------------------------------------


def test_member_not_pending_is_not_changed(fake_http, run_module):
    fake_http.add("GET", N1 + "/cluster", BACK)
    result = run_module(mod, {"api_urls": ALL, "member": "patroni2"})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False and result["restarted"] is False
    assert result["member"] == "patroni2" and result["role"] == "replica"
    assert result["before"]["name"] == "patroni2" and result["before"]["state"] == "streaming"
    assert result["before"]["pending_restart"] is False and result["after"] == result["before"]
    assert result["cluster"]["scope"] == "demo" and result["elapsed"] == 0.0
    assert "no pending restart" in result["msg"]
    assert _posts(fake_http) == []
    assert undocumented_keys(mod, result) == []


def test_check_mode_reports_change_without_post(fake_http, run_module):
    fake_http.add("GET", N1 + "/cluster", PENDING)
    fake_http.add("POST", _restart_url("patroni2"), (200, "restarted successfully"))
    result = run_module(mod, {"api_urls": ALL, "member": "patroni2"}, check_mode=True)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True and result["restarted"] is False
    assert result["restart_url"] == _restart_url("patroni2") and result["body"] == {"restart_pending": True}
    assert "Would restart" in result["msg"]
    assert _posts(fake_http) == []


def test_check_mode_not_pending_is_not_changed(fake_http, run_module):
    fake_http.add("GET", N1 + "/cluster", BACK)
    result = run_module(mod, {"api_urls": ALL, "member": "patroni2"}, check_mode=True)
    assert result["changed"] is False and _posts(fake_http) == []


def test_pending_replica_is_restarted_and_waited_for(fake_http, fake_clock, run_module):
    # 1st answer: the initial read; then the polls after the POST.
    fake_http.add("GET", N1 + "/cluster", [PENDING, STARTING, STALE_FLAG, BACK])
    fake_http.add("POST", _restart_url("patroni2"), (200, "restarted successfully"))
    result = run_module(mod, {"api_urls": ALL, "member": "patroni2", "interval": 2, "timeout": 60})
    assert not result.get("failed"), result.get("msg")
    posts = _posts(fake_http)
    assert len(posts) == 1
    assert posts[0]["url"] == "http://172.28.10.12:8008/restart"  # the member's own API, not N1
    assert posts[0]["body"] == {"restart_pending": True}
    assert result["changed"] is True and result["restarted"] is True
    assert result["response"] == "restarted successfully" and result["status"] == 200
    assert result["role"] == "replica" and result["before"]["pending_restart"] is True
    assert result["after"]["state"] == "streaming" and result["after"]["pending_restart"] is False
    assert result["attempts"] == 3 and fake_clock.sleeps == [2, 2] and result["elapsed"] == 4.0
    assert result["cluster"]["replicas_streaming"] == 2
    assert "back streaming" in result["msg"]
    assert undocumented_keys(mod, result) == []


def test_without_wait_for_applied_a_replica_still_pending_counts_as_back(fake_http, fake_clock, run_module):
    # A replica restarted after max_connections was lowered keeps the old value (and the flag)
    # until its primary restarts: back streaming is enough.
    fake_http.add("GET", N1 + "/cluster", [PENDING, STARTING, STALE_FLAG])
    fake_http.add("POST", _restart_url("patroni2"), (200, "restarted successfully"))
    result = run_module(mod, {"api_urls": ALL, "member": "patroni2", "interval": 1, "timeout": 60,
                              "wait_for_applied": False})
    assert not result.get("failed"), result.get("msg")
    assert result["restarted"] is True and result["after"]["state"] == "streaming"
    assert result["after"]["pending_restart"] is True and result["attempts"] == 2


def test_with_wait_for_applied_a_flag_that_stays_times_out(fake_http, fake_clock, run_module):
    fake_http.add("GET", N1 + "/cluster", [PENDING, STALE_FLAG])
    fake_http.add("POST", _restart_url("patroni2"), (200, "restarted successfully"))
    result = run_module(mod, {"api_urls": ALL, "member": "patroni2", "interval": 1, "timeout": 3})
    assert result["failed"] is True and "still has the pending_restart flag" in result["msg"]


def test_restart_pending_false_sends_empty_body_even_without_flag(fake_http, fake_clock, run_module):
    fake_http.add("GET", N2 + "/cluster", [BACK, _cluster(state="stopped"), BACK])
    fake_http.add("POST", _restart_url("patroni3"), (200, "restarted successfully"))
    result = run_module(mod, {"api_urls": [N2], "member": "patroni3", "restart_pending": False})
    assert not result.get("failed"), result.get("msg")
    posts = _posts(fake_http)
    assert [p["url"] for p in posts] == ["http://172.28.10.13:8008/restart"] and posts[0]["body"] == {}
    assert result["changed"] is True and result["restarted"] is True and result["body"] == {}


def test_leader_comes_back_running(fake_http, fake_clock, run_module):
    fake_http.add("GET", N1 + "/cluster", [
        _cluster("patroni1", pending_restart=True, pending_restart_reason={"max_connections": {
            "old_value": "100", "new_value": "200"}}),
        _cluster("patroni1", state="restarting", pending_restart=True),
        _cluster("patroni1"),
    ])
    fake_http.add("POST", _restart_url("patroni1"), (200, "restarted successfully"))
    result = run_module(mod, {"api_urls": ALL, "member": "patroni1"})
    assert not result.get("failed"), result.get("msg")
    assert result["role"] == "leader" and result["after"]["state"] == "running"
    assert result["before"]["pending_restart_reason"] == {"max_connections": {"old_value": "100",
                                                                              "new_value": "200"}}
    assert _posts(fake_http)[0]["url"] == "http://172.28.10.11:8008/restart"


def test_pending_restart_reason_alone_counts_as_pending(fake_http, fake_clock, run_module):
    fake_http.add("GET", N1 + "/cluster", [_cluster(pending_restart_reason={"shared_buffers": {}}), BACK])
    fake_http.add("POST", _restart_url("patroni2"), (200, "restarted successfully"))
    result = run_module(mod, {"api_urls": ALL, "member": "patroni2"})
    assert result["changed"] is True and result["restarted"] is True


def test_polls_any_answering_api(fake_http, fake_clock, run_module):
    # N1 answers the first read, then stops answering; N2 answers the polls.
    fake_http.add("GET", N1 + "/cluster", [PENDING, (503, "no DCS")])
    fake_http.add("GET", N2 + "/cluster", BACK)
    fake_http.add("POST", _restart_url("patroni2"), (200, "restarted successfully"))
    result = run_module(mod, {"api_urls": [N1, N2], "member": "patroni2"})
    assert not result.get("failed"), result.get("msg")
    assert result["api_url"] == N1 and result["attempts"] == 1
    assert result["errors"][0]["url"] == N1 + "/cluster"


# --------------------------------------------------------------------------------------------
# Failures
# --------------------------------------------------------------------------------------------


def test_member_missing_names_existing_members(fake_http, run_module):
    fake_http.add("GET", N1 + "/cluster", BACK)
    result = run_module(mod, {"api_urls": ALL, "member": "patroni9"})
    assert result["failed"] is True
    assert "'patroni9'" in result["msg"] and "patroni1, patroni2, patroni3" in result["msg"]
    assert result["members"] == ["patroni1", "patroni2", "patroni3"]
    assert _posts(fake_http) == []
    assert undocumented_keys(mod, result) == []


def test_no_api_answers_lists_every_error(fake_http, run_module):
    fake_http.add("GET", N2 + "/cluster", (502, "DCS unavailable"))
    fake_http.add("GET", N3 + "/cluster", {"error": "oops"})
    result = run_module(mod, {"api_urls": ALL, "member": "patroni2"})
    assert result["failed"] is True
    msg = result["msg"]
    assert "No Patroni REST API answered GET /cluster" in msg
    assert N1 + "/cluster" in msg and "Connection refused" in msg
    assert N2 + "/cluster" in msg and "HTTP 502" in msg
    assert N3 + "/cluster" in msg and "expected a 'members' list" in msg
    assert [e["url"] for e in result["errors"]] == [N1 + "/cluster", N2 + "/cluster", N3 + "/cluster"]


def test_503_from_restart_fails_with_body(fake_http, fake_clock, run_module):
    fake_http.add("GET", N1 + "/cluster", PENDING)
    fake_http.add("POST", _restart_url("patroni2"), (503, "restart failed"))
    result = run_module(mod, {"api_urls": ALL, "member": "patroni2"})
    assert result["failed"] is True and result["restarted"] is False and result["changed"] is False
    assert "HTTP 503" in result["msg"] and "restart failed" in result["msg"]
    assert "restart_pending" in result["msg"]  # the body sent is shown
    assert result["status"] == 503 and result["response"] == "restart failed"
    assert fake_http.count("GET") == 1  # no polling after a failed restart
    assert undocumented_keys(mod, result) == []


def test_401_from_restart_asks_for_credentials(fake_http, run_module):
    fake_http.add("GET", N1 + "/cluster", PENDING)
    fake_http.add("POST", _restart_url("patroni2"), (401, "no auth header received"))
    result = run_module(mod, {"api_urls": ALL, "member": "patroni2"})
    assert result["failed"] is True
    assert "HTTP 401" in result["msg"] and "url_username/url_password" in result["msg"]
    assert "no auth header received" in result["msg"]


def test_non_200_success_status_is_a_failure(fake_http, run_module):
    fake_http.add("GET", N1 + "/cluster", PENDING)
    fake_http.add("POST", _restart_url("patroni2"), (202, "Restart scheduled"))
    result = run_module(mod, {"api_urls": ALL, "member": "patroni2"})
    assert result["failed"] is True and "HTTP 202" in result["msg"] and "Restart scheduled" in result["msg"]


def test_restart_request_without_answer_says_it_may_be_in_progress(fake_http, run_module):
    import socket
    fake_http.add("GET", N1 + "/cluster", PENDING)
    fake_http.add("POST", _restart_url("patroni2"), socket.timeout("timed out"))
    result = run_module(mod, {"api_urls": ALL, "member": "patroni2"})
    assert result["failed"] is True and result["status"] is None
    assert "timed out" in result["msg"] and "may still be restarting" in result["msg"]


def test_timeout_includes_reason_and_table(fake_http, fake_clock, run_module):
    fake_http.add("GET", N1 + "/cluster", [PENDING, STARTING])
    fake_http.add("POST", _restart_url("patroni2"), (200, "restarted successfully"))
    result = run_module(mod, {"api_urls": ALL, "member": "patroni2", "timeout": 5, "interval": 1})
    assert result["failed"] is True and result["restarted"] is True
    msg = result["msg"]
    assert msg.startswith("Timed out after 5.0s")
    assert "patroni2 is in state 'starting', expected 'streaming'" in msg
    assert "+ Cluster: demo" in msg and "| Member" in msg and "starting" in msg
    assert result["after"]["state"] == "starting" and result["attempts"] == 6
    assert undocumented_keys(mod, result) == []


def test_timeout_when_role_changed(fake_http, fake_clock, run_module):
    failover = _cluster("patroni1", role="replica", state="streaming")
    for m in failover["members"]:
        if m["name"] == "patroni2":
            m["role"] = "leader"
    fake_http.add("GET", N1 + "/cluster", [_cluster("patroni1", pending_restart=True), failover])
    fake_http.add("POST", _restart_url("patroni1"), (200, "restarted successfully"))
    result = run_module(mod, {"api_urls": ALL, "member": "patroni1", "timeout": 2})
    assert result["failed"] is True
    assert "patroni1 is replica, it was leader before the restart" in result["msg"]


def test_timeout_when_no_api_answers_after_restart_shows_state_before(fake_http, fake_clock, run_module):
    fake_http.add("GET", N1 + "/cluster", [PENDING, (503, "")])
    fake_http.add("POST", _restart_url("patroni2"), (200, "restarted successfully"))
    result = run_module(mod, {"api_urls": [N1], "member": "patroni2", "timeout": 3})
    assert result["failed"] is True
    assert "no Patroni REST API answered GET /cluster" in result["msg"] and "HTTP 503" in result["msg"]
    assert "state before it" in result["msg"] and "+ Cluster: demo" in result["msg"]


def test_basic_auth_and_tls_options_are_passed_through(fake_http, fake_clock, run_module):
    fake_http.add("GET", N1 + "/cluster", [PENDING, BACK])
    fake_http.add("POST", _restart_url("patroni2"), (200, "restarted successfully"))
    result = run_module(mod, {"api_urls": ALL, "member": "patroni2", "url_username": "patroni",
                              "url_password": "s3cret", "validate_certs": False, "ca_path": "/etc/ca.pem",
                              "timeout": 120, "request_timeout": 7})
    assert not result.get("failed"), result.get("msg")
    assert len(fake_http.calls) == 3
    for call in fake_http.calls:
        kw = call["kwargs"]
        assert kw["url_username"] == "patroni" and kw["url_password"] == "s3cret"
        assert kw["force_basic_auth"] is True
        assert kw["validate_certs"] is False and kw["ca_path"] == "/etc/ca.pem"
    post = _posts(fake_http)[0]
    assert post["kwargs"]["timeout"] == 120  # the POST blocks until PostgreSQL is up again
    assert all(c["kwargs"]["timeout"] == 7 for c in fake_http.calls if c["method"] == "GET")
    assert "s3cret" not in str({k: v for k, v in result.items() if k != "invocation"})


def test_empty_api_urls(run_module):
    result = run_module(mod, {"api_urls": [], "member": "patroni2"})
    assert result["failed"] and "api_urls is empty" in result["msg"]


def test_member_without_api_url(fake_http, run_module):
    fake_http.add("GET", N1 + "/cluster", _cluster(api_url=None, pending_restart=True))
    result = run_module(mod, {"api_urls": ALL, "member": "patroni2"})
    assert result["failed"] and "no usable REST API URL" in result["msg"]


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("api_url, expected", [
    ("http://172.28.10.12:8008/patroni", "http://172.28.10.12:8008/restart"),
    ("https://pg2.example:8008/patroni", "https://pg2.example:8008/restart"),
    ("http://172.28.10.12:8008", "http://172.28.10.12:8008/restart"),
    ("http://[fd00::12]:8008/patroni", "http://[fd00::12]:8008/restart"),
])
def test_restart_url(api_url, expected):
    assert mod.restart_url(api_url) == expected


@pytest.mark.parametrize("api_url", ["", "172.28.10.12:8008/patroni", "/patroni"])
def test_restart_url_rejects_relative(api_url):
    with pytest.raises(ValueError):
        mod.restart_url(api_url)


def test_restart_body():
    assert mod.restart_body(True) == {"restart_pending": True}
    assert mod.restart_body(False) == {}  # Patroni checks the key's presence, not its value


def _m(role: str = "replica", state: str = "streaming", pending: bool = False) -> Dict[str, Any]:
    return {"name": "pg", "role": role, "state": state, "pending_restart": pending}


@pytest.mark.parametrize("before, after, problem", [
    (_m(), _m(), None),
    (_m(role="sync_standby"), _m(role="replica"), None),
    (_m(), _m(state="running"), "expected 'streaming'"),
    (_m(state="running"), _m(state="running"), None),  # Patroni < 3.0 replicas are "running"
    (_m(), _m(pending=True), "pending_restart"),
    (_m(), _m(role="leader", state="running"), "is leader, it was replica"),
    (_m("leader", "running"), _m("leader", "running"), None),
    (_m("leader", "running"), _m("leader", "starting"), "expected 'running'"),
    (_m("standby_leader", "streaming"), _m("standby_leader", "streaming"), None),
    (_m(), None, "not in /cluster"),
])
def test_back_problem(before, after, problem):
    found = mod.back_problem(after, before)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
