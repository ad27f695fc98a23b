"""Tests for module_utils/pgha_patroni.py.

Facts the fixtures must keep (they may be replaced by lab captures with the same names):
* patroni_cluster.json: scope "demo", members patroni1..3, exactly one leader and two replicas in state
  "streaming", all on the leader's timeline, each replica with a "lag" field.
* patroni_cluster_degraded.json: one leader, one streaming replica, one replica not streaming whose
  lag/LSN fields are "unknown" and which has no timeline.
* patroni_cluster_failover.json: patroni2 is leader on a newer timeline than patroni1 (streaming).
* patroni_cluster_no_leader.json: no member has a leader role.
* patroni_status_leader.json / patroni_status_replica.json: GET /patroni of a primary / a streaming replica.
"""

from __future__ import annotations

import copy

import pytest

from ansible.module_utils.pgha_patroni import (
    add_removals,
    apply_merge_patch,
    check_conditions,
    compute_patch,
    find_conflicts,
    format_lsn,
    member_from_status,
    members_summary,
    normalize_role,
    parse_int,
    parse_member,
    render_table,
    resolve_dotted_key,
    role_display,
    status_name,
    summarize_cluster,
    validate_cluster_json,
    values_equal,
)

from pgha_test_helpers import load_json


@pytest.mark.parametrize("raw,expected", [
    ("leader", "leader"), ("master", "leader"), ("primary", "leader"), ("Leader", "leader"),
    ("Sync Standby", "sync_standby"), ("sync_standby", "sync_standby"), ("quorum_standby", "quorum_standby"),
    ("Standby Leader", "standby_leader"), ("replica", "replica"), (None, "unknown"), ("", "unknown"),
])
def test_normalize_role(raw, expected):
    assert normalize_role(raw) == expected


def test_role_display():
    assert role_display("sync_standby") == "Sync Standby"
    assert role_display("leader") == "Leader"
    assert role_display("weird_role") == "Weird Role"


@pytest.mark.parametrize("raw,expected", [(0, 0), ("123", 123), ("unknown", None), (None, None), (True, None),
                                          (1.9, 1), ("1.5", None)])
def test_parse_int(raw, expected):
    assert parse_int(raw) == expected


def test_format_lsn():
    assert format_lsn(67108960) == "0/4000060"
    assert format_lsn((1 << 32) + 0x10) == "1/10"
    assert format_lsn("0/4000060") == "0/4000060"
    assert format_lsn("unknown") is None
    assert format_lsn(None) is None


def test_parse_member_handles_unknown_and_missing_fields():
    m = parse_member({"name": "p3", "role": "replica", "state": "stopped", "lag": "unknown",
                      "receive_lsn": "unknown", "replay_lsn": "unknown"})
    assert m["lag"] is None and m["receive_lsn"] is None and m["replay_lsn"] is None
    assert m["timeline"] is None and m["host"] is None and m["port"] is None
    assert m["pending_restart"] is False and m["tags"] == {}
    bare = parse_member({})
    assert bare["name"] == "" and bare["role"] == "unknown" and bare["state"] == "unknown"


def test_parse_member_falls_back_to_replay_lag():
    assert parse_member({"name": "x", "role": "replica", "replay_lag": 5})["lag"] == 5
    # "lag" present but unknown: no fallback, lag stays unknown
    assert parse_member({"name": "x", "role": "replica", "lag": "unknown", "replay_lag": 5})["lag"] is None


def test_validate_cluster_json():
    assert validate_cluster_json(load_json("patroni_cluster.json")) is None
    assert "members" in validate_cluster_json({"foo": 1})
    assert "got list" in validate_cluster_json([])
    assert "members[0]" in validate_cluster_json({"members": ["x"]})


def test_summarize_healthy_fixture():
    s = summarize_cluster(load_json("patroni_cluster.json"))
    assert s["scope"] == "demo"
    assert [m["name"] for m in s["members"]] == ["patroni1", "patroni2", "patroni3"]
    assert s["leader"] in ("patroni1", "patroni2", "patroni3")
    assert s["replicas_streaming"] == 2
    assert isinstance(s["timeline"], int)
    assert check_conditions(s, expect_replicas=2, max_lag=16 * 1024 * 1024) == []


def test_conditions_on_degraded_fixture():
    s = summarize_cluster(load_json("patroni_cluster_degraded.json"))
    problems = check_conditions(s, expect_replicas=2, max_lag=1024)
    text = "\n".join(problems)
    assert "expected at least 2 streaming replica(s), found 1" in text
    assert "not streaming: patroni3" in text
    assert "lags" in text and "expected at most 1024" in text


def test_unknown_lag_is_a_problem_only_for_streaming_replicas():
    s = summarize_cluster({"members": [
        {"name": "a", "role": "leader", "state": "running", "timeline": 1},
        {"name": "b", "role": "replica", "state": "streaming", "timeline": 1, "lag": "unknown"},
        {"name": "c", "role": "replica", "state": "stopped", "lag": "unknown"},
    ]})
    problems = check_conditions(s, max_lag=100)
    assert problems == ["replica b: lag unknown, expected at most 100 bytes"]


def test_leader_conditions():
    s = summarize_cluster(load_json("patroni_cluster_failover.json"))
    assert s["leader"] == "patroni2" and s["timeline"] == 2
    assert check_conditions(s, expect_leader_name="patroni2", expect_not_leader_name="patroni1",
                            same_timeline=False) == []
    problems = check_conditions(s, expect_leader_name="patroni1", expect_not_leader_name="patroni2")
    assert "expected leader patroni1, found patroni2" in problems
    assert "expected patroni2 not to be the leader, but it still is" in problems
    assert "replica patroni1 is on timeline 1, leader patroni2 is on timeline 2" in problems


def test_no_leader_and_two_leaders():
    s = summarize_cluster(load_json("patroni_cluster_no_leader.json"))
    assert s["leader"] is None and s["timeline"] is None
    assert check_conditions(s, expect_no_leader=True) == []
    assert check_conditions(s)[0].startswith("expected exactly one leader, found none")
    two = summarize_cluster({"members": [{"name": "a", "role": "leader", "state": "running"},
                                         {"name": "b", "role": "master", "state": "running"}]})
    assert check_conditions(two) == ["expected exactly one leader, found 2: a, b"]
    problems = check_conditions(two, expect_no_leader=True)
    assert problems[0].startswith("expected no leader") and "a is leader (running)" in problems[0]


def test_leader_not_running_and_empty_cluster():
    s = summarize_cluster({"members": [{"name": "a", "role": "leader", "state": "starting"}]})
    assert check_conditions(s) == ["leader a is in state 'starting', expected 'running'"]
    assert check_conditions(summarize_cluster({"members": []}))[0] == "the cluster has no members registered"


def test_streaming_replica_without_timeline():
    s = summarize_cluster({"members": [{"name": "a", "role": "leader", "state": "running", "timeline": 3},
                                       {"name": "b", "role": "replica", "state": "streaming"}]})
    assert check_conditions(s) == ["replica b: timeline unknown, expected leader's timeline 3"]
    assert check_conditions(s, same_timeline=False) == []


def test_render_table_like_patronictl():
    s = summarize_cluster(load_json("patroni_cluster.json"))
    table = render_table(s)
    lines = table.splitlines()
    assert lines[0].startswith("+ Cluster: demo ")
    assert len({len(line) for line in lines}) == 1  # a proper rectangle
    assert [c.strip() for c in lines[1].strip("|").split("|")] == [
        "Member", "Host", "Role", "State", "TL", "Receive LSN", "Replay LSN", "Lag"]
    for name in ("patroni1", "patroni2", "patroni3"):
        assert name in table
    assert "| Leader " in table and "| streaming " in table


def test_render_table_unknown_lag_port_and_pause():
    s = summarize_cluster({"scope": "x", "pause": True, "members": [
        {"name": "a", "role": "replica", "state": "stopped", "host": "h", "port": 5433, "lag": "unknown"}]})
    table = render_table(s)
    assert "h:5433" in table and "unknown" in table and "Maintenance mode: on" in table


def test_members_mode_summary_from_patroni_status():
    leader = load_json("patroni_status_leader.json")
    replica = load_json("patroni_status_replica.json")
    members = [
        member_from_status("http://172.28.10.11:8008", leader),
        member_from_status("http://172.28.10.12:8008", replica),
        member_from_status("http://172.28.10.13:8008", None, "GET ... failed: refused"),
    ]
    s = members_summary(members)
    by_name = {m["name"]: m for m in s["members"]}
    assert by_name[status_name(leader, "?")]["role"] == "leader"
    rep = by_name[status_name(replica, "?")]
    assert rep["role"] == "replica" and rep["state"] == "streaming"
    assert isinstance(rep["lag"], int) and rep["lag"] >= 0
    assert by_name["172.28.10.13:8008"]["state"] == "unreachable"
    assert s["scope"] == leader["patroni"]["scope"]
    assert not any(k.startswith("_") for m in s["members"] for k in m)
    problems = check_conditions(s, expect_no_leader=True)
    assert any("172.28.10.13:8008" in p and "did not answer" in p for p in problems)


def test_members_mode_sync_standby_flag():
    m = member_from_status("http://h:8008", {"role": "replica", "state": "running", "sync_standby": True})
    assert m["role"] == "sync_standby" and m["name"] == "h:8008" and m["host"] == "h"


@pytest.mark.parametrize("desired,current", [
    (True, "on"), ("on", True), ("on", "true"), (False, "off"), (100, "100"), ("100", 100), (1.5, "1.5"),
    ("128MB", "128MB"), (None, None), ([1, "2"], ["1", 2]), (1048576, 1048576),
])
def test_values_equal(desired, current):
    assert values_equal(desired, current)


@pytest.mark.parametrize("desired,current", [
    (True, "off"), (100, "101"), ("128MB", "256MB"), ("on", "128MB"), (1, None), ([1], [1, 2]), (True, 2),
    ("replica", "logical"),
])
def test_values_not_equal(desired, current):
    assert not values_equal(desired, current)


def test_compute_patch_only_desired_keys_and_type_normalisation():
    current = load_json("patroni_config.json")
    current = copy.deepcopy(current)
    current.setdefault("postgresql", {}).setdefault("parameters", {})
    current["postgresql"]["parameters"].update({"max_connections": "100", "wal_log_hints": "on"})
    current["loop_wait"] = 10
    desired = {"loop_wait": 10, "postgresql": {"parameters": {"max_connections": 100, "wal_log_hints": True}}}
    assert compute_patch(desired, current) == {}
    desired["postgresql"]["parameters"]["max_connections"] = 200
    desired["retry_timeout"] = 11
    desired["new_section"] = {"a": 1, "b": None}
    assert compute_patch(desired, current) == {
        "postgresql": {"parameters": {"max_connections": 200}}, "retry_timeout": 11, "new_section": {"a": 1}}


def test_compute_patch_null_removes_only_existing_keys():
    current = {"postgresql": {"parameters": {"work_mem": "4MB"}}}
    assert compute_patch({"postgresql": {"parameters": {"work_mem": None, "x": None}}}, current) == {
        "postgresql": {"parameters": {"work_mem": None}}}


def test_resolve_dotted_key_longest_match():
    cfg = {"postgresql": {"parameters": {"work_mem": "4MB", "auto_explain.log_min_duration": "1s"}}}
    assert resolve_dotted_key(cfg, "postgresql.parameters.work_mem") == ["postgresql", "parameters", "work_mem"]
    assert resolve_dotted_key(cfg, "postgresql.parameters.auto_explain.log_min_duration") == [
        "postgresql", "parameters", "auto_explain.log_min_duration"]
    assert resolve_dotted_key(cfg, "postgresql.parameters.nope") is None
    assert resolve_dotted_key(cfg, "postgresql.parameters.work_mem.deeper") is None


def test_add_removals_nested():
    current = {"ttl": 30, "postgresql": {"parameters": {"work_mem": "4MB", "max_connections": 100}}}
    patch = {"postgresql": {"parameters": {"max_connections": 200}}}
    removed = add_removals(patch, current, ["postgresql.parameters.work_mem", "postgresql.parameters.absent_one",
                                            "not.there"])
    assert removed == ["postgresql.parameters.work_mem"]
    assert patch == {"postgresql": {"parameters": {"max_connections": 200, "work_mem": None}}}
    after = apply_merge_patch(current, patch)
    assert after == {"ttl": 30, "postgresql": {"parameters": {"max_connections": 200}}}
    assert current["postgresql"]["parameters"]["work_mem"] == "4MB"  # input untouched


def test_find_conflicts():
    desired = {"postgresql": {"parameters": {"work_mem": "8MB", "x": None}}}
    assert find_conflicts(desired, ["postgresql.parameters.work_mem", "postgresql.parameters.x", "ttl"]) == [
        "postgresql.parameters.work_mem"]


def test_apply_merge_patch_rfc7386():
    assert apply_merge_patch({"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"b": None, "e": 3}, "d": [1]}) == {
        "a": {"c": 2, "e": 3}, "d": [1]}
    assert apply_merge_patch({"a": 1}, {"a": {"b": {"c": None}}}) == {"a": {"b": {}}}
