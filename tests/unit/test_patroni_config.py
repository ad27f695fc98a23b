"""Main-flow tests of library/patroni_config.py with a fake HTTP layer (no network).

Relies on: patroni_config.json is a JSON object (Patroni's GET /config). Tests add the keys they need to a
copy of it, so a lab capture with other content works too. patroni_cluster.json / patroni_status_*.json
as described in test_pgha_patroni.py.
"""

from __future__ import annotations

import copy

import pytest

import patroni_config as mod
from ansible.module_utils.pgha_patroni import apply_merge_patch
from pgha_test_helpers import load_json, undocumented_keys, warning_texts

N1, N2, N3 = "http://172.28.10.11:8008", "http://172.28.10.12:8008", "http://172.28.10.13:8008"


def _current():
    cfg = copy.deepcopy(load_json("patroni_config.json"))
    cfg["loop_wait"] = 10
    pg = cfg.setdefault("postgresql", {})
    params = pg.setdefault("parameters", {})
    params.update({"max_connections": "100", "hot_standby": "on", "work_mem": "4MB",
                   "auto_explain.log_min_duration": "1s"})
    pg["use_pg_rewind"] = True
    return cfg


def _route_config(fake_http, url, current):
    """GET returns ``current``; PATCH applies the merge patch to it (like Patroni) and returns it."""
    state = {"config": current}

    def patch(method, u, body):
        state["config"] = apply_merge_patch(state["config"], body)
        return state["config"]

    fake_http.add("GET", url + "/config", lambda m, u, b: state["config"])
    fake_http.add("PATCH", url + "/config", patch)
    return state


def test_no_change_with_type_normalisation(fake_http, run_module):
    _route_config(fake_http, N1, _current())
    result = run_module(mod, {"api_urls": [N1], "report_pending_restart": False, "config": {
        "loop_wait": "10", "postgresql": {"use_pg_rewind": "on", "parameters": {"max_connections": 100,
                                                                               "hot_standby": True}}}})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False and result["patch"] == {} and result["removed"] == []
    assert fake_http.count("PATCH") == 0
    assert result["config"] == result["before"]


def test_patch_only_differing_keys_and_remove_nested(fake_http, fake_clock, run_module):
    state = _route_config(fake_http, N1, _current())
    result = run_module(mod, {
        "api_urls": [N1], "report_pending_restart": False,
        "config": {"loop_wait": 10, "ttl": 31, "postgresql": {"parameters": {"max_connections": 200,
                                                                             "hot_standby": "on"}}},
        "absent": ["postgresql.parameters.work_mem", "postgresql.parameters.auto_explain.log_min_duration",
                   "postgresql.parameters.never_set"],
    }, diff=True)
    assert not result.get("failed"), result.get("msg")
    expected_patch = {"ttl": 31, "postgresql": {"parameters": {
        "max_connections": 200, "work_mem": None, "auto_explain.log_min_duration": None}}}
    assert result["changed"] is True and result["patch"] == expected_patch
    assert sorted(result["removed"]) == ["postgresql.parameters.auto_explain.log_min_duration",
                                         "postgresql.parameters.work_mem"]
    patches = [c for c in fake_http.calls if c["method"] == "PATCH"]
    assert len(patches) == 1 and patches[0]["body"] == expected_patch
    params = result["config"]["postgresql"]["parameters"]
    assert "work_mem" not in params and params["max_connections"] == 200
    assert result["config"] == state["config"]
    assert result["diff"]["before"]["postgresql"]["parameters"]["work_mem"] == "4MB"
    assert "work_mem" not in result["diff"]["after"]["postgresql"]["parameters"]
    assert fake_clock.sleeps == []  # no pending restart check, no delay
    assert undocumented_keys(mod, result) == []


def test_check_mode_sends_no_patch(fake_http, run_module):
    _route_config(fake_http, N1, _current())
    result = run_module(mod, {"api_urls": [N1], "report_pending_restart": False,
                              "config": {"ttl": 40}, "absent": ["postgresql.parameters.work_mem"]},
                        check_mode=True)
    assert result["changed"] is True and result["patch"] == {"ttl": 40, "postgresql": {"parameters": {
        "work_mem": None}}}
    assert fake_http.count("PATCH") == 0
    assert result["config"]["ttl"] == 40 and "work_mem" not in result["config"]["postgresql"]["parameters"]
    assert result["before"]["postgresql"]["parameters"]["work_mem"] == "4MB"


def test_conflicting_config_and_absent(fake_http, run_module):
    result = run_module(mod, {"api_urls": [N1], "config": {"postgresql": {"parameters": {"work_mem": "8MB"}}},
                              "absent": ["postgresql.parameters.work_mem"]})
    assert result["failed"] and "postgresql.parameters.work_mem" in result["msg"]
    assert fake_http.calls == []


def test_no_api_answers(fake_http, run_module):
    fake_http.add("GET", N2 + "/config", (502, ""))
    result = run_module(mod, {"api_urls": [N1, N2], "config": {"ttl": 30}})
    assert result["failed"]
    assert N1 + "/config" in result["msg"] and "Connection refused" in result["msg"]
    assert "HTTP 502" in result["msg"]


def test_patch_falls_back_to_next_member(fake_http, fake_clock, run_module):
    current = _current()
    fake_http.add("GET", N1 + "/config", current)
    fake_http.add("PATCH", N1 + "/config", (503, "Service Unavailable"))
    _route_config(fake_http, N2, current)
    fake_http.add("GET", N2 + "/config", current)
    result = run_module(mod, {"api_urls": [N1, N2], "config": {"ttl": 45}, "report_pending_restart": False})
    assert not result.get("failed"), result.get("msg")
    assert result["api_url"] == N2 and result["config"]["ttl"] == 45
    assert any("HTTP 503" in e["error"] for e in result["errors"])


def test_patch_unauthorized(fake_http, run_module):
    fake_http.add("GET", N1 + "/config", _current())
    fake_http.add("PATCH", N1 + "/config", (401, "no auth header received"))
    result = run_module(mod, {"api_urls": [N1], "config": {"ttl": 45}})
    assert result["failed"]
    assert "HTTP 401" in result["msg"] and "url_username/url_password" in result["msg"]
    assert '"ttl": 45' in result["msg"]


def test_pending_restart_from_member_apis(fake_http, fake_clock, run_module):
    _route_config(fake_http, N1, _current())
    leader = copy.deepcopy(load_json("patroni_status_leader.json"))
    leader["pending_restart"] = True
    replica = copy.deepcopy(load_json("patroni_status_replica.json"))
    replica.pop("pending_restart", None)
    fake_http.add("GET", N1 + "/patroni", leader)
    fake_http.add("GET", N2 + "/patroni", replica)
    result = run_module(mod, {"api_urls": [N1], "member_api_urls": [N1, N2, N3],
                              "config": {"postgresql": {"parameters": {"max_connections": 300}}}})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] and result["pending_restart_members"] == [leader["patroni"]["name"]]
    assert result["pending_restart_checked"] is True
    assert fake_clock.sleeps == [3.0]  # waited for the members to apply the change
    assert any(N3 in w for w in warning_texts(result))


def test_pending_restart_from_cluster_when_no_member_urls(fake_http, run_module):
    _route_config(fake_http, N1, _current())
    cluster = copy.deepcopy(load_json("patroni_cluster.json"))
    cluster["members"][0]["pending_restart"] = True
    fake_http.add("GET", N1 + "/cluster", cluster)
    result = run_module(mod, {"api_urls": [N1], "config": {}})
    assert result["changed"] is False
    assert result["pending_restart_members"] == [cluster["members"][0]["name"]]


@pytest.mark.parametrize("answer", ["OK", [1, 2]])
def test_patch_answer_not_a_dict_warns(fake_http, run_module, answer):
    fake_http.add("GET", N1 + "/config", _current())
    fake_http.add("PATCH", N1 + "/config", (200, answer))
    result = run_module(mod, {"api_urls": [N1], "config": {"ttl": 50}, "report_pending_restart": False})
    assert result["changed"] and result["config"]["ttl"] == 50
    assert any("instead of the new configuration" in w for w in warning_texts(result))


def test_residual_difference_warns(fake_http, run_module):
    current = _current()
    fake_http.add("GET", N1 + "/config", current)
    fake_http.add("PATCH", N1 + "/config", current)  # Patroni "accepted" but nothing changed
    result = run_module(mod, {"api_urls": [N1], "config": {"ttl": 50}, "report_pending_restart": False})
    assert any("still differs" in w for w in warning_texts(result))
