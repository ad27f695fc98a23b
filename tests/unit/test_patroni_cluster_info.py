"""Main-flow tests of library/patroni_cluster_info.py with a fake HTTP layer (no network).

Relies on: patroni_cluster.json = scope demo, one leader, two streaming replicas (patroni1..3);
patroni_cluster_degraded.json = one replica not streaming; patroni_cluster_no_leader.json = no leader;
patroni_status_leader.json / patroni_status_replica.json = GET /patroni of a primary / a replica.
"""

from __future__ import annotations

import pytest

import patroni_cluster_info as mod
from pgha_test_helpers import load_json, undocumented_keys

N1, N2, N3 = "http://172.28.10.11:8008", "http://172.28.10.12:8008", "http://172.28.10.13:8008"


def test_reads_cluster_from_first_answering_url(fake_http, run_module):
    fake_http.add("GET", N2 + "/cluster", load_json("patroni_cluster.json"))
    result = run_module(mod, {"api_urls": [N1, N2, N3], "expect_replicas": 2})
    assert not result.get("failed") and result["changed"] is False
    assert result["api_url"] == N2
    assert result["errors"][0]["url"] == N1 + "/cluster" and "Connection refused" in result["errors"][0]["error"]
    assert fake_http.count("GET", N3) == 0
    assert result["scope"] == "demo" and result["healthy"] is True and result["problems"] == []
    assert [m["name"] for m in result["members"]] == ["patroni1", "patroni2", "patroni3"]
    assert result["replicas_streaming"] == 2 and result["leader"]
    assert result["raw"] == load_json("patroni_cluster.json")
    assert result["table"].startswith("+ Cluster: demo")
    # /config was not answered: the settings are unknown, the roles still tell who is synchronous (nobody).
    assert result["synchronous"] == {"mode": None, "strict": None, "node_count": None, "standbys": []}
    assert undocumented_keys(mod, result) == []


def test_synchronous_state_from_config_and_roles(fake_http, run_module):
    fake_http.add("GET", N1 + "/cluster", load_json("patroni_cluster_quorum.json"))
    fake_http.add("GET", N1 + "/config", {"ttl": 20, "synchronous_mode": "quorum", "synchronous_node_count": 1})
    result = run_module(mod, {"api_urls": [N1], "expect_replicas": 2})
    assert not result.get("failed")
    quorum = sorted(m["name"] for m in result["members"] if m["role"] == "quorum_standby")
    assert quorum and result["synchronous"] == {"mode": "quorum", "strict": False, "node_count": 1,
                                                "standbys": quorum}
    assert "Quorum Standby" in result["table"]


def test_problems_reported_without_failing(fake_http, run_module):
    fake_http.add("GET", N1 + "/cluster", load_json("patroni_cluster_degraded.json"))
    result = run_module(mod, {"api_urls": [N1], "expect_replicas": 2, "max_lag": 1024})
    assert not result.get("failed")
    assert result["healthy"] is False
    assert any("found 1" in p for p in result["problems"])
    stopped = next(m for m in result["members"] if m["state"] != "streaming" and m["role"] != "leader")
    assert stopped["lag"] is None and stopped["timeline"] is None
    assert "unknown" in result["table"]


def test_no_api_answers_fails_naming_every_url(fake_http, run_module):
    fake_http.add("GET", N2 + "/cluster", "this is not json")
    result = run_module(mod, {"api_urls": [N1, N2]})
    assert result["failed"] is True
    msg = result["msg"]
    assert "No Patroni REST API answered GET /cluster" in msg
    assert N1 + "/cluster" in msg and "Connection refused" in msg
    assert N2 + "/cluster" in msg and "did not return valid JSON" in msg


def test_unexpected_json_shape_is_an_error(fake_http, run_module):
    fake_http.add("GET", N1 + "/cluster", {"error": "oops"})
    result = run_module(mod, {"api_urls": [N1]})
    assert result["failed"] and "expected a 'members' list" in result["msg"]


def test_wait_until_conditions_hold_tolerating_connection_errors(fake_http, fake_clock, run_module):
    refused = ConnectionRefusedError(111, "Connection refused")
    import urllib.error
    fake_http.add("GET", N1 + "/cluster", [
        urllib.error.URLError(refused),
        load_json("patroni_cluster_degraded.json"),
        load_json("patroni_cluster.json"),
    ])
    result = run_module(mod, {"api_urls": [N1], "wait": True, "expect_replicas": 2, "timeout": 30, "interval": 2})
    assert not result.get("failed"), result.get("msg")
    assert result["attempts"] == 3 and result["healthy"] is True
    assert fake_clock.sleeps == [2, 2]


def test_wait_timeout_lists_unmet_conditions_and_table(fake_http, fake_clock, run_module):
    fake_http.add("GET", N1 + "/cluster", load_json("patroni_cluster_degraded.json"))
    result = run_module(mod, {"api_urls": [N1], "wait": True, "expect_replicas": 2,
                              "expect_leader_name": "patroni3", "timeout": 5, "interval": 1})
    assert result["failed"] is True
    msg = result["msg"]
    assert msg.startswith("Timed out after 5.0s")
    assert "expected at least 2 streaming replica(s), found 1" in msg
    assert "expected leader patroni3" in msg
    assert "+ Cluster: demo" in msg and "| Member" in msg
    assert result["table"] in msg and result["healthy"] is False
    assert result["attempts"] == 6


def test_wait_timeout_when_api_stops_answering(fake_http, fake_clock, run_module):
    import urllib.error
    fake_http.add("GET", N1 + "/cluster", [load_json("patroni_cluster_degraded.json"),
                                           urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))])
    result = run_module(mod, {"api_urls": [N1], "wait": True, "expect_replicas": 2, "timeout": 3})
    assert result["failed"]
    assert "no Patroni REST API answered the last poll" in result["msg"]
    assert "Last state read successfully" in result["msg"] and "+ Cluster: demo" in result["msg"]


def test_wait_never_answering(fake_http, fake_clock, run_module):
    result = run_module(mod, {"api_urls": [N1, N2], "wait": True, "timeout": 3})
    assert result["failed"] and "during 3.0s of waiting" in result["msg"] and N2 in result["msg"]


def test_expect_no_leader_with_cluster_source(fake_http, run_module):
    fake_http.add("GET", N1 + "/cluster", load_json("patroni_cluster_no_leader.json"))
    result = run_module(mod, {"api_urls": [N1], "wait": True, "expect_no_leader": True, "timeout": 1})
    assert not result.get("failed") and result["leader"] is None


def test_members_source_reads_every_node(fake_http, run_module):
    leader = load_json("patroni_status_leader.json")
    replica = load_json("patroni_status_replica.json")
    fake_http.add("GET", N1 + "/patroni", leader)
    fake_http.add("GET", N2 + "/patroni", (503, replica))  # /patroni may answer 503 on some versions
    result = run_module(mod, {"api_urls": [N1, N2, N3], "source": "members"})
    assert not result.get("failed")
    names = {m["name"]: m for m in result["members"]}
    assert names[leader["patroni"]["name"]]["role"] == "leader"
    assert names["172.28.10.13:8008"]["state"] == "unreachable"
    assert result["source"] == "members" and set(result["raw"]) == {N1, N2}


def test_members_source_expect_no_leader_fails_while_primary_runs(fake_http, fake_clock, run_module):
    fake_http.add("GET", N1 + "/patroni", load_json("patroni_status_leader.json"))
    fake_http.add("GET", N2 + "/patroni", load_json("patroni_status_replica.json"))
    result = run_module(mod, {"api_urls": [N1, N2], "source": "members", "wait": True,
                              "expect_no_leader": True, "timeout": 2})
    assert result["failed"] and "expected no leader" in result["msg"]


def test_empty_api_urls(run_module):
    result = run_module(mod, {"api_urls": []})
    assert result["failed"] and "api_urls is empty" in result["msg"]


@pytest.mark.parametrize("mode, expected_mode, strict, standby_roles", [
    ("quorum", "quorum", False, ["quorum_standby", "quorum_standby"]),
    ("strict", "quorum", True, ["quorum_standby", "quorum_standby"]),
    ("sync", True, False, ["replica", "sync_standby"]),
])
def test_synchronous_state_on_lab_captures(fake_http, run_module, mode, expected_mode, strict, standby_roles):
    """GET /cluster and /config captured from the lab (Patroni 4.1.5) in each patroni_durability mode."""
    fake_http.add("GET", N1 + "/cluster", load_json("lab_cluster_%s.json" % mode))
    fake_http.add("GET", N1 + "/config", load_json("lab_config_%s.json" % mode))
    result = run_module(mod, {"api_urls": [N1], "expect_replicas": 2})
    assert not result.get("failed") and result["healthy"]
    sync = result["synchronous"]
    assert (sync["mode"], sync["strict"], sync["node_count"]) == (expected_mode, strict, 1)
    replicas = [m for m in result["members"] if m["name"] != result["leader"]]
    assert sorted(m["role"] for m in replicas) == standby_roles
    assert sync["standbys"] == sorted(m["name"] for m in replicas if m["role"] != "replica")
