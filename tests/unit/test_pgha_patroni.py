"""Tests for module_utils/pgha_patroni.py.

Facts the fixtures must keep (they may be replaced by lab captures with the same names):
* patroni_cluster.json: scope "demo", members patroni1..3, exactly one leader and two replicas in state
  "streaming", all on the leader's timeline, each replica with a "lag" field.
* patroni_cluster_degraded.json: one leader, one streaming replica, one replica not streaming whose
  lag/LSN fields are "unknown" and which has no timeline.
* patroni_cluster_failover.json: patroni2 is leader on a newer timeline than patroni1 (streaming).
* patroni_cluster_no_leader.json: no member has a leader role.
* patroni_status_leader.json / patroni_status_replica.json: GET /patroni of a primary / a streaming replica.
* patroni_cluster_switchover.json: patroni1 leader; patroni2 sync_standby with a pending restart (flag and
  reason); patroni3 replica; patroni4 replica with the largest lag; patroni5 tagged nofailover.
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
    healthy_replica_states,
    lowered_standby_floor,
    member_endpoint,
    member_from_status,
    members_summary,
    normalize_role,
    parse_int,
    parse_member,
    parse_restart_member,
    render_table,
    resolve_dotted_key,
    role_display,
    status_name,
    summarize_cluster,
    switchover_candidates,
    switchover_problem,
    switchover_refusal,
    synchronous_mode,
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


def test_min_timeline():
    s = summarize_cluster(load_json("patroni_cluster_failover.json"))
    assert check_conditions(s, expect_min_timeline=2, same_timeline=False) == []
    assert check_conditions(s, expect_min_timeline=3, same_timeline=False) == [
        "expected the leader on timeline 3 or later, found patroni2 on timeline 2"]
    none = summarize_cluster(load_json("patroni_cluster_no_leader.json"))
    assert "expected the leader on timeline 2 or later, found no leader" in check_conditions(
        none, expect_leader=False, expect_min_timeline=2)


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


# --------------------------------------------------------------------------------------------
# Switchover candidates
# --------------------------------------------------------------------------------------------


def _member(name: str, role: str = "replica", state: str = "streaming", lag=0, pending: bool = False, **tags):
    return {"name": name, "role": role, "state": state, "lag": lag, "pending_restart": pending, "tags": tags,
            "timeline": 1}


@pytest.mark.parametrize("value, expected", [
    (False, None), (None, None), ("off", None), (True, "on"), ("on", "on"), ("quorum", "quorum"), ("QUORUM", "quorum"),
])
def test_synchronous_mode(value, expected):
    assert synchronous_mode({"synchronous_mode": value}) == expected
    assert synchronous_mode({}) is None


def test_healthy_replica_states_accepts_running_only_without_any_streaming_member():
    assert healthy_replica_states([_member("a", "leader", "running"), _member("b")]) == ("streaming",)
    # Patroni < 3.0: replicas are "running".
    assert healthy_replica_states([_member("a", "leader", "running"), _member("b", state="running")]) == (
        "streaming", "running")


@pytest.mark.parametrize("member, sync, exclude, reason", [
    (_member("a"), None, False, None),
    (_member("a", "sync_standby"), "on", False, None),
    (_member("a", "quorum_standby"), "quorum", False, None),
    (_member("a", "leader", "running"), None, False, "it is the leader"),
    (_member("a", "standby_leader"), None, False, "it is the standby leader"),
    (_member("a", "unknown"), None, False, "its role is unknown, not a replica"),
    (_member("a", state="stopped"), None, False, "it is stopped, not streaming"),
    (_member("a", nofailover=True), None, False, "it is tagged nofailover"),
    (_member("a", nofailover="false"), None, False, None),
    (_member("a", failover_priority=0), None, False, "its failover_priority tag is 0"),
    (_member("a", failover_priority=2), None, False, None),
    (_member("a"), "on", False, "synchronous_mode is on and it is not a synchronous standby"),
    (_member("a", pending=True), None, False, None),
    (_member("a", pending=True), None, True, "it has a pending restart"),
])
def test_switchover_refusal(member, sync, exclude, reason):
    found = switchover_refusal(member, sync, exclude)
    if reason is None:
        assert found is None
    else:
        assert found is not None and found.startswith(reason)


def test_switchover_candidates_order_sync_first_then_lag_then_name():
    members = [_member("leader", "leader", "running", lag=None), _member("z", lag=0), _member("b", lag=0),
               _member("late", lag=5000), _member("unknown", lag=None), _member("sync", "sync_standby", lag=100)]
    eligible, ineligible = switchover_candidates(members, None, False)
    assert [m["name"] for m in eligible] == ["sync", "b", "z", "late", "unknown"]
    assert ineligible == {"leader": "it is the leader"}


def test_switchover_candidates_on_the_fixture():
    members = summarize_cluster(load_json("patroni_cluster_switchover.json"), parse=parse_restart_member)["members"]
    eligible, ineligible = switchover_candidates(members, "on", False)
    assert [m["name"] for m in eligible] == ["patroni2"] and sorted(ineligible) == ["patroni1", "patroni3",
                                                                                    "patroni4", "patroni5"]
    eligible, ineligible = switchover_candidates(members, None, True)
    assert [m["name"] for m in eligible] == ["patroni3", "patroni4"]
    assert set(ineligible) == {"patroni1", "patroni2", "patroni5"}


def test_parse_restart_member_reads_the_reason():
    raw = {"name": "a", "role": "replica", "state": "streaming", "pending_restart_reason": {"max_connections": {}}}
    assert parse_member(raw)["pending_restart"] is False
    member = parse_restart_member(raw)
    assert member["pending_restart"] is True and member["pending_restart_reason"] == {"max_connections": {}}


def _after(new_role="leader", new_state="running", new_tl=2, old_role="replica", old_state="streaming", old_tl=2):
    members = [dict(_member("old", old_role, old_state), timeline=old_tl),
               dict(_member("new", new_role, new_state), timeline=new_tl)]
    return {"members": members, "leaders": [m["name"] for m in members if m["role"] == "leader"]}


@pytest.mark.parametrize("summary, wait_old, problem", [
    (_after(), True, None),
    (_after(new_role="replica", new_state="streaming", old_role="leader", old_state="running", new_tl=1, old_tl=1),
     True, "new is replica (streaming), the leader is old"),
    (_after(new_state="starting"), True, "new leader new is in state 'starting', expected 'running'"),
    (_after(new_tl=1), True, "new leader new is on timeline 1, expected a timeline after 1"),
    (_after(old_state="stopped"), True, "old leader old is replica (stopped), expected streaming"),
    (_after(old_state="stopped"), False, None),
    (_after(old_tl=1), True, "old leader old is on timeline 1, the new leader on 2"),
    (_after(old_role="leader", old_state="running"), True, "old leader old is still leader"),
])
def test_switchover_problem(summary, wait_old, problem):
    assert switchover_problem(summary, "new", "old", 1, wait_old) == problem


def test_switchover_problem_missing_members():
    assert switchover_problem({"members": []}, "new", "old", 1) == "new is not in /cluster"
    summary = {"members": [dict(_member("new", "leader", "running"), timeline=2)], "leaders": ["new"]}
    assert switchover_problem(summary, "new", "old", 1) == "old leader old is not in /cluster"


@pytest.mark.parametrize("api_url, expected", [
    ("http://172.28.10.12:8008/patroni", "http://172.28.10.12:8008/switchover"),
    ("https://[fd00::12]:8008", "https://[fd00::12]:8008/switchover"),
])
def test_member_endpoint(api_url, expected):
    assert member_endpoint(api_url, "/switchover") == expected
    assert member_endpoint(api_url, "switchover") == expected


def test_member_endpoint_rejects_relative_urls():
    with pytest.raises(ValueError):
        member_endpoint("172.28.10.12:8008/patroni", "/switchover")


def test_switchover_candidate_on_lab_captures_is_a_synchronous_standby():
    """In sync mode only the sync_standby may take over; in quorum mode either quorum standby (lab captures)."""
    sync = summarize_cluster(load_json("lab_cluster_sync.json"))
    eligible, refused = switchover_candidates(sync["members"], synchronous_mode(load_json("lab_config_sync.json")),
                                              exclude_pending_restart=False)
    assert [m["role"] for m in eligible] == ["sync_standby"]
    assert any("not a synchronous standby" in why for why in refused.values())
    quorum = summarize_cluster(load_json("lab_cluster_quorum.json"))
    eligible, _ = switchover_candidates(quorum["members"], synchronous_mode(load_json("lab_config_quorum.json")),
                                        exclude_pending_restart=False)
    assert [m["role"] for m in eligible] == ["quorum_standby", "quorum_standby"]


@pytest.mark.parametrize("reason, lowered", [
    ({"max_connections": {"old_value": "110", "new_value": "100"}}, ["max_connections 110 -> 100"]),
    ({"max_connections": {"old_value": "100", "new_value": "110"}}, []),
    ({"max_wal_senders": {"old_value": "10", "new_value": "8"},
      "max_locks_per_transaction": {"old_value": "64", "new_value": "32"},
      "shared_buffers": {"old_value": "256MB", "new_value": "128MB"}},
     ["max_locks_per_transaction 64 -> 32", "max_wal_senders 10 -> 8"]),
    ({"max_connections": {"old_value": "?", "new_value": "100"}}, []),
    (None, []),
    ("max_connections", []),
])
def test_lowered_standby_floor(reason, lowered):
    assert lowered_standby_floor(reason) == lowered
