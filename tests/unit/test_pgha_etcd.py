"""Tests for module_utils/pgha_etcd.py.

Facts the fixtures must keep (they may be replaced by lab captures with the same names):
* etcd_member_list.json: members named patroni1..3, each with a decimal-string "ID" and one client URL.
* etcd_status_patroni{1,2,3}.json: maintenance status of each member; all agree on the same "leader" ID,
  which is one of the three members.
* etcd_status_no_leader.json: a status without a "leader" field (what 3.4 answers without quorum).
* etcd_health_true.json / etcd_health_false.json: {"health": "true"} / {"health": "false"}.
"""

from __future__ import annotations

import pytest

from ansible.module_utils.pgha_etcd import (
    check_conditions,
    format_id,
    merge_member,
    parse_health,
    parse_id,
    parse_member_list,
    parse_status,
    render_table,
    summarize,
    validate_member_list,
)
from pgha_test_helpers import load_json


@pytest.mark.parametrize("raw,expected", [
    ("10276657743932975437", 10276657743932975437),
    (10276657743932975437, 10276657743932975437),
    ("8e9e05c52164694d", 0x8e9e05c52164694d),
    ("0", None), (0, None), (None, None), ("", None), ("zz", None), (True, None),
])
def test_parse_id_string_int_hex(raw, expected):
    assert parse_id(raw) == expected


def test_format_id():
    assert format_id(10276657743932975437) == "8e9e05c52164694d"
    assert format_id(None) is None


def test_parse_member_list_fixture():
    data = load_json("etcd_member_list.json")
    assert validate_member_list(data) is None
    members = parse_member_list(data)
    assert [m["name"] for m in members] == ["patroni1", "patroni2", "patroni3"]
    for m in members:
        assert m["id_int"] == int(str(next(r["ID"] for r in data["members"] if r["name"] == m["name"])))
        assert m["id"] == "%x" % m["id_int"]
        assert m["client_urls"] and m["peer_urls"]
        assert m["is_learner"] is False


def test_parse_member_list_int_ids_and_unstarted_member():
    members = parse_member_list({"members": [
        {"ID": 2, "peerURLs": ["http://c:2380"]},
        {"ID": 1, "name": "a", "peerURLs": ["http://a:2380"], "clientURLs": ["http://a:2379"], "isLearner": True},
    ]})
    assert [m["name"] for m in members] == ["a", ""]  # unstarted member (no name) last
    assert members[0]["id"] == "1" and members[0]["is_learner"] is True
    assert members[1]["client_urls"] == []


def test_validate_member_list_errors():
    assert "got list" in validate_member_list([])
    assert "etcdserver: no leader" in validate_member_list({"error": "etcdserver: no leader", "code": 14})
    assert "found keys" in validate_member_list({"foo": 1})
    assert "expected a list" in validate_member_list({"members": {}})


def test_parse_health():
    assert parse_health(load_json("etcd_health_true.json")) == (True, None)
    healthy, reason = parse_health(load_json("etcd_health_false.json"))
    assert healthy is False and "health=false" in reason
    assert parse_health({"health": "false", "reason": "RAFT NO LEADER"})[1] == "health=false (RAFT NO LEADER)"
    assert parse_health({"health": True}) == (True, None)
    assert parse_health("nope")[0] is False


def test_parse_status_fixture_and_no_leader():
    st = parse_status(load_json("etcd_status_patroni1.json"))
    assert isinstance(st["member_id"], int) and isinstance(st["leader_id"], int)
    assert isinstance(st["db_size"], int) and isinstance(st["raft_term"], int)
    assert st["version"].startswith("3.")
    assert parse_status(load_json("etcd_status_no_leader.json"))["leader_id"] is None
    assert parse_status(None)["member_id"] is None


def _merged_fixture_members(healthy=("patroni1", "patroni2", "patroni3")):
    members = parse_member_list(load_json("etcd_member_list.json"))
    out = []
    for m in members:
        if m["name"] in healthy:
            out.append(merge_member(m, parse_health(load_json("etcd_health_true.json")), None,
                                    parse_status(load_json("etcd_status_%s.json" % m["name"])), None))
        else:
            out.append(merge_member(m, None, "GET %s/health failed: Connection refused" % m["client_urls"][0],
                                    None, None))
    return out


def test_all_healthy_summary_and_table():
    members = _merged_fixture_members()
    s = summarize(members)
    assert (s["member_count"], s["healthy_count"], s["quorum_size"], s["quorum"]) == (3, 3, 2, True)
    leader_id = parse_status(load_json("etcd_status_patroni1.json"))["leader_id"]
    assert s["leader"] == next(m["name"] for m in members if m["id_int"] == leader_id)
    assert sum(m["is_leader"] for m in members) == 1
    assert check_conditions(s, members, expect_healthy=3, expect_quorum=True) == []
    table = render_table(members, s)
    assert "quorum OK" in table and "3/3 healthy" in table
    for name in ("patroni1", "patroni2", "patroni3"):
        assert name in table


def test_quorum_lost_one_of_three():
    members = parse_member_list(load_json("etcd_member_list.json"))
    survivor = members[0]
    merged = [merge_member(survivor, parse_health(load_json("etcd_health_false.json")), None,
                           parse_status(load_json("etcd_status_no_leader.json")), None)]
    for m in members[1:]:
        merged.append(merge_member(m, None, "GET %s/health failed: Connection refused" % m["client_urls"][0],
                                   None, None))
    s = summarize(merged)
    assert (s["healthy_count"], s["quorum"], s["leader"]) == (0, False, None)
    assert check_conditions(s, merged, expect_quorum=False) == []
    problems = check_conditions(s, merged, expect_healthy=3, expect_quorum=True)
    assert problems[0].startswith("expected at least 3 healthy etcd member(s), found 0 of 3")
    assert "Connection refused" in problems[0]
    assert problems[1].startswith("expected etcd quorum (2 of 3 members healthy), found 0 healthy")
    assert "quorum LOST" in render_table(merged, s)


def test_quorum_with_two_of_three():
    merged = _merged_fixture_members(healthy=("patroni1", "patroni2"))
    s = summarize(merged)
    assert (s["healthy_count"], s["quorum"]) == (2, True)
    assert check_conditions(s, merged, expect_quorum=False)[0].startswith("expected etcd quorum to be lost")
    bad = next(m for m in merged if not m["healthy"])
    assert "Connection refused" in bad["error"]


def test_member_without_client_urls_is_unhealthy():
    m = merge_member({"name": "", "id": "2", "id_int": 2, "client_urls": []}, None, None, None, None)
    assert m["healthy"] is False and "not started" in m["error"]


def test_no_member_list():
    s = summarize([])
    assert (s["member_count"], s["quorum"]) == (0, False)
    assert check_conditions(s, [], expect_quorum=False, error="no endpoint answered") == []
    assert check_conditions(s, [], expect_quorum=True, error="no endpoint answered") == [
        "could not read the etcd member list: no endpoint answered"]
    assert check_conditions(s, [], error="boom") == ["could not read the etcd member list: boom"]
