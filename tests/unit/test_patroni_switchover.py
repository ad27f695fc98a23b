"""Tests of library/patroni_switchover.py with a fake HTTP layer (no network).

Relies on: patroni_cluster_switchover.json = scope demo on timeline 3, patroni1 leader; patroni2 sync_standby with
a pending restart; patroni3 replica; patroni4 replica 16 MiB behind; patroni5 tagged nofailover (all streaming,
``api_url`` ``http://<ip>:8008/patroni``). patroni_cluster_quorum.json = timeline 5, patroni2 and patroni3
quorum_standby (4096 and 0 bytes behind), patroni4 replica tagged nosync. Tests change copies of them.
"""

from __future__ import annotations

import copy
import socket
from typing import Any, Dict, List

import pytest

import patroni_switchover as mod
from pgha_test_helpers import load_json, set_member, undocumented_keys

N1, N2, N3 = "http://172.28.10.11:8008", "http://172.28.10.12:8008", "http://172.28.10.13:8008"
ALL = [N1, N2, N3]
SWITCHOVER_URL = N1 + "/switchover"  # the leader's own API


def _config(sync: Any = False) -> Dict[str, Any]:
    config = copy.deepcopy(load_json("patroni_config.json"))
    config["synchronous_mode"] = sync
    return config


def sync_cluster() -> Dict[str, Any]:
    return copy.deepcopy(load_json("patroni_cluster_switchover.json"))


def async_cluster() -> Dict[str, Any]:
    """The same members without synchronous replication: patroni2 is a plain replica."""
    return set_member(sync_cluster(), "patroni2", role="replica")


def switched(before: Dict[str, Any], new: str, old_state: str = "streaming",
             old_role: str = "replica") -> Dict[str, Any]:
    """``before`` after a switchover to ``new``: it leads on the next timeline, the old leader follows."""
    data = copy.deepcopy(before)
    old = next(m["name"] for m in data["members"] if m["role"] == "leader")
    timeline = data["members"][0]["timeline"] + 1
    for m in data["members"]:
        m["timeline"] = timeline
    lag_keys = dict.fromkeys(("lag", "lsn", "receive_lag", "receive_lsn", "replay_lag", "replay_lsn"))
    set_member(data, new, role="leader", state="running", **lag_keys)
    return set_member(data, old, role=old_role, state=old_state, lag=0, lsn="0/6000000")


def _posts(fake_http) -> List[Dict[str, Any]]:
    return [c for c in fake_http.calls if c["method"] == "POST"]


def _route(fake_http, cluster: Any, config: Any = None) -> None:
    fake_http.add("GET", N1 + "/cluster", cluster)
    fake_http.add("GET", N1 + "/config", _config() if config is None else config)


OK = (200, 'Successfully switched over to "patroni3"')


# --------------------------------------------------------------------------------------------
# Choosing the candidate
# --------------------------------------------------------------------------------------------


def test_automatic_choice_takes_the_replica_with_least_lag(fake_http, fake_clock, run_module):
    before = async_cluster()
    _route(fake_http, [before, switched(before, "patroni2")])
    fake_http.add("POST", SWITCHOVER_URL, (200, 'Successfully switched over to "patroni2"'))
    result = run_module(mod, {"api_urls": ALL, "url_username": "patroni", "url_password": "s3cret"})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True and result["leader_before"] == "patroni1" and result["candidate"] == "patroni2"
    # lag 0 first (by name), the lagging replica last, nofailover never
    assert result["candidates"] == ["patroni2", "patroni3", "patroni4"]
    assert result["ineligible"] == {"patroni1": "it is the leader", "patroni5": "it is tagged nofailover"}
    assert result["synchronous_mode"] == "off"
    posts = _posts(fake_http)
    assert len(posts) == 1 and posts[0]["url"] == SWITCHOVER_URL
    assert posts[0]["body"] == {"leader": "patroni1", "candidate": "patroni2"}
    assert posts[0]["kwargs"]["url_username"] == "patroni" and posts[0]["kwargs"]["force_basic_auth"] is True
    assert result["status"] == 200 and result["response"] == 'Successfully switched over to "patroni2"'
    assert result["timeline_before"] == 3 and result["timeline_after"] == 4
    assert result["cluster"]["leader"] == "patroni2"
    assert "Switched over from patroni1 to patroni2" in result["msg"] and "timeline 3 -> 4" in result["msg"]
    assert "s3cret" not in str({k: v for k, v in result.items() if k != "invocation"})
    assert undocumented_keys(mod, result) == []


def test_sync_mode_picks_the_sync_standby(fake_http, fake_clock, run_module):
    before = sync_cluster()
    _route(fake_http, [before, switched(before, "patroni2")], _config(True))
    fake_http.add("POST", SWITCHOVER_URL, (200, 'Successfully switched over to "patroni2"'))
    result = run_module(mod, {"api_urls": ALL})
    assert not result.get("failed"), result.get("msg")
    assert result["candidate"] == "patroni2" and result["candidates"] == ["patroni2"]
    assert result["synchronous_mode"] == "on"
    assert "not a synchronous standby" in result["ineligible"]["patroni3"]


def test_quorum_mode_picks_the_quorum_standby_with_least_lag(fake_http, fake_clock, run_module):
    before = load_json("patroni_cluster_quorum.json")
    _route(fake_http, [before, switched(before, "patroni3")], _config("quorum"))
    fake_http.add("POST", SWITCHOVER_URL, OK)
    result = run_module(mod, {"api_urls": ALL})
    assert not result.get("failed"), result.get("msg")
    assert result["synchronous_mode"] == "quorum" and result["candidates"] == ["patroni3", "patroni2"]
    assert result["candidate"] == "patroni3" and "synchronous_mode is quorum" in result["ineligible"]["patroni4"]
    assert result["timeline_before"] == 5 and result["timeline_after"] == 6


def test_exclude_pending_restart_skips_the_member_waiting_for_a_restart(fake_http, fake_clock, run_module):
    before = async_cluster()
    _route(fake_http, [before, switched(before, "patroni3")])
    fake_http.add("POST", SWITCHOVER_URL, OK)
    result = run_module(mod, {"api_urls": ALL, "exclude_pending_restart": True})
    assert not result.get("failed"), result.get("msg")
    assert result["candidate"] == "patroni3" and result["candidates"] == ["patroni3", "patroni4"]
    assert "pending restart" in result["ineligible"]["patroni2"]
    assert _posts(fake_http)[0]["body"] == {"leader": "patroni1", "candidate": "patroni3"}


def test_pending_restart_reason_alone_counts_as_pending(fake_http, fake_clock, run_module):
    before = set_member(async_cluster(), "patroni2", pending_restart=None)
    _route(fake_http, before)
    result = run_module(mod, {"api_urls": ALL, "exclude_pending_restart": True}, check_mode=True)
    assert result["candidate"] == "patroni3" and "patroni2" in result["ineligible"]


def test_explicit_candidate(fake_http, fake_clock, run_module):
    before = async_cluster()
    _route(fake_http, [before, switched(before, "patroni4")])
    fake_http.add("POST", SWITCHOVER_URL, (200, 'Successfully switched over to "patroni4"'))
    result = run_module(mod, {"api_urls": ALL, "candidate": "patroni4"})
    assert not result.get("failed"), result.get("msg")
    assert result["candidate"] == "patroni4"  # lagging, but still eligible: Patroni checks maximum_lag_on_failover
    assert _posts(fake_http)[0]["body"] == {"leader": "patroni1", "candidate": "patroni4"}


@pytest.mark.parametrize("candidate, sync, why", [
    ("patroni5", False, "it is tagged nofailover"),
    ("patroni3", True, "synchronous_mode is on and it is not a synchronous standby"),
])
def test_ineligible_candidate_fails_saying_why(fake_http, run_module, candidate, sync, why):
    _route(fake_http, sync_cluster() if sync else async_cluster(), _config(sync))
    result = run_module(mod, {"api_urls": ALL, "candidate": candidate})
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith("Cannot switch over to %s: %s" % (candidate, why))
    assert "could take over from patroni1: " in result["msg"] and "+ Cluster: demo" in result["msg"]
    assert _posts(fake_http) == []
    assert undocumented_keys(mod, result) == []


def test_candidate_exclude_pending_restart(fake_http, run_module):
    _route(fake_http, async_cluster())
    result = run_module(mod, {"api_urls": ALL, "candidate": "patroni2", "exclude_pending_restart": True})
    assert result["failed"] is True and "it has a pending restart" in result["msg"]
    assert "patroni3, patroni4" in result["msg"]


def test_unknown_candidate_lists_the_members(fake_http, run_module):
    _route(fake_http, async_cluster())
    result = run_module(mod, {"api_urls": ALL, "candidate": "patroni9"})
    assert result["failed"] is True and "patroni9: it is not a member of cluster 'demo'" in result["msg"]
    assert result["members"] == ["patroni1", "patroni2", "patroni3", "patroni4", "patroni5"]
    assert undocumented_keys(mod, result) == []


def test_candidate_already_leader_changes_nothing(fake_http, run_module):
    _route(fake_http, async_cluster())
    result = run_module(mod, {"api_urls": ALL, "candidate": "patroni1"})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False and "already is the leader" in result["msg"] and _posts(fake_http) == []


def test_no_eligible_candidate_fails_with_every_reason(fake_http, run_module):
    # Synchronous mode, the only sync standby waits for a restart.
    _route(fake_http, sync_cluster(), _config(True))
    result = run_module(mod, {"api_urls": ALL, "exclude_pending_restart": True})
    assert result["failed"] is True and result["changed"] is False and _posts(fake_http) == []
    msg = result["msg"]
    assert msg.startswith("Cannot switch over: no member of cluster 'demo' can take over from patroni1:")
    assert "  - patroni2: it has a pending restart" in msg and "  - patroni5: it is tagged nofailover" in msg
    assert "  - patroni3: synchronous_mode is on" in msg and "patroni1:" not in msg.split("\n", 1)[1]
    assert "+ Cluster: demo" in msg and result["candidates"] == []


def _leader_pending(cluster: Dict[str, Any], old: str, new: str) -> Dict[str, Any]:
    """cluster with the leader waiting for a restart that changes max_connections from old to new."""
    return set_member(cluster, "patroni1", pending_restart=True,
                      pending_restart_reason={"max_connections": {"old_value": old, "new_value": new}})


def test_a_lowered_max_connections_on_the_leader_leaves_no_candidate(fake_http, run_module):
    """The rolling restart's second phase in the CI run of 2026-12-01: the replicas ran 110 without a pending flag;
    a switchover to one of them left a leader that still runs 110 (and replicas that cannot go lower)."""
    before = set_member(set_member(async_cluster(), "patroni2", pending_restart=False), "patroni5", tags={})
    _route(fake_http, _leader_pending(before, "110", "100"))
    result = run_module(mod, {"api_urls": ALL, "exclude_pending_restart": True, "require_candidate": False})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False and result["candidate"] is None and _posts(fake_http) == []
    assert result["candidates"] == []
    assert "lowers max_connections 110 -> 100" in result["ineligible"]["patroni3"]
    assert result["msg"].endswith("Nothing done (require_candidate=false).")


def test_a_raised_max_connections_on_the_leader_keeps_the_candidates(fake_http, fake_clock, run_module):
    before = _leader_pending(async_cluster(), "100", "110")
    _route(fake_http, [before, switched(before, "patroni3")])
    fake_http.add("POST", SWITCHOVER_URL, OK)
    result = run_module(mod, {"api_urls": ALL, "exclude_pending_restart": True})
    assert not result.get("failed"), result.get("msg")
    assert result["candidate"] == "patroni3"


def test_no_eligible_candidate_without_require_candidate_does_nothing(fake_http, run_module):
    _route(fake_http, sync_cluster(), _config(True))
    result = run_module(mod, {"api_urls": ALL, "exclude_pending_restart": True, "require_candidate": False})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False and result["candidate"] is None and _posts(fake_http) == []
    assert "no member of cluster 'demo' can take over" in result["msg"]
    assert result["msg"].endswith("Nothing done (require_candidate=false).")
    assert undocumented_keys(mod, result) == []


def test_no_leader_fails(fake_http, run_module):
    _route(fake_http, set_member(async_cluster(), "patroni1", role="replica", state="stopped"))
    result = run_module(mod, {"api_urls": ALL})
    assert result["failed"] is True and "has no leader" in result["msg"] and _posts(fake_http) == []


def test_replica_not_streaming_is_not_eligible(fake_http, run_module):
    _route(fake_http, set_member(async_cluster(), "patroni2", state="starting"))
    result = run_module(mod, {"api_urls": ALL}, check_mode=True)
    assert result["candidate"] == "patroni3" and result["ineligible"]["patroni2"] == "it is starting, not streaming"


# --------------------------------------------------------------------------------------------
# Check mode, refusals, waiting
# --------------------------------------------------------------------------------------------


def test_check_mode_picks_and_sends_nothing(fake_http, run_module):
    _route(fake_http, async_cluster())
    fake_http.add("POST", SWITCHOVER_URL, OK)
    result = run_module(mod, {"api_urls": ALL}, check_mode=True)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True and result["candidate"] == "patroni2" and result["status"] is None
    assert result["switchover_url"] == SWITCHOVER_URL and result["timeline_after"] is None
    assert result["msg"] == "Would switch over from patroni1 to patroni2 (the best of: patroni2, patroni3, patroni4)"
    assert _posts(fake_http) == []
    assert undocumented_keys(mod, result) == []


@pytest.mark.parametrize("status, text, hint", [
    (412, "candidate name does not match with sync_standby", "Patroni's own checks failed"),
    (503, "Switchover failed", "could not complete the switchover"),
    (401, "no auth header received", "url_username/url_password"),
])
def test_refusal_fails_with_patronis_answer_and_a_hint(fake_http, fake_clock, run_module, status, text, hint):
    _route(fake_http, async_cluster())
    fake_http.add("POST", SWITCHOVER_URL, (status, text))
    result = run_module(mod, {"api_urls": ALL})
    assert result["failed"] is True and result["changed"] is False
    msg = result["msg"]
    assert msg.startswith("Patroni refused the switchover from patroni1 to patroni2: POST %s answered HTTP %d: %s"
                          % (SWITCHOVER_URL, status, text))
    assert hint in msg and "+ Cluster: demo" in msg
    assert result["status"] == status and result["response"] == text
    assert fake_http.count("GET", "/cluster") == 1  # no polling after a refusal
    assert undocumented_keys(mod, result) == []


def test_no_answer_to_the_request_says_it_may_still_happen(fake_http, run_module):
    _route(fake_http, async_cluster())
    fake_http.add("POST", SWITCHOVER_URL, socket.timeout("timed out"))
    result = run_module(mod, {"api_urls": ALL})
    assert result["failed"] is True and result["status"] is None
    assert "timed out" in result["msg"] and "may still be switching over" in result["msg"]


def test_waits_for_the_old_leader_to_stream(fake_http, fake_clock, run_module):
    before = async_cluster()
    _route(fake_http, [before, switched(before, "patroni2", old_state="stopped", old_role="replica"),
                       switched(before, "patroni2", old_state="starting"), switched(before, "patroni2")])
    fake_http.add("POST", SWITCHOVER_URL, (200, 'Successfully switched over to "patroni2"'))
    result = run_module(mod, {"api_urls": ALL, "interval": 2, "timeout": 60})
    assert not result.get("failed"), result.get("msg")
    assert result["attempts"] == 3 and fake_clock.sleeps == [2, 2] and result["elapsed"] == 4.0
    assert "patroni1 streams from it" in result["msg"]


def test_without_wait_for_old_leader_the_new_leader_is_enough(fake_http, fake_clock, run_module):
    before = async_cluster()
    _route(fake_http, [before, switched(before, "patroni2", old_state="stopped")])
    fake_http.add("POST", SWITCHOVER_URL, (200, 'Successfully switched over to "patroni2"'))
    result = run_module(mod, {"api_urls": ALL, "wait_for_old_leader": False})
    assert not result.get("failed"), result.get("msg")
    assert result["attempts"] == 1 and "streams" not in result["msg"]


def test_timeout_shows_the_reason_and_the_table(fake_http, fake_clock, run_module):
    before = async_cluster()
    _route(fake_http, [before, switched(before, "patroni2", old_state="starting")])
    fake_http.add("POST", SWITCHOVER_URL, (200, 'Successfully switched over to "patroni2"'))
    result = run_module(mod, {"api_urls": ALL, "timeout": 5, "interval": 1})
    assert result["failed"] is True and result["changed"] is True
    msg = result["msg"]
    assert msg.startswith("Timed out after 5.0s (timeout 5.0s, 6 polls) waiting for the switchover from patroni1 "
                          "to patroni2 to complete: old leader patroni1 is replica (starting), expected streaming.")
    assert "Last state read (from %s):" % N1 in msg and "+ Cluster: demo" in msg and "| patroni1 " in msg
    assert "starting" in result["table"] and result["timeline_after"] == 4
    assert undocumented_keys(mod, result) == []


def test_timeout_when_another_member_took_over(fake_http, fake_clock, run_module):
    before = async_cluster()
    _route(fake_http, [before, switched(before, "patroni3")])
    fake_http.add("POST", SWITCHOVER_URL, (200, 'Successfully switched over to "patroni2"'))
    result = run_module(mod, {"api_urls": ALL, "timeout": 2})
    assert result["failed"] is True and "patroni2 is replica (streaming), the leader is patroni3" in result["msg"]


def test_polls_any_answering_api(fake_http, fake_clock, run_module):
    before = async_cluster()
    _route(fake_http, [before, (503, "")])
    fake_http.add("GET", N2 + "/cluster", switched(before, "patroni2"))
    fake_http.add("POST", SWITCHOVER_URL, (200, 'Successfully switched over to "patroni2"'))
    result = run_module(mod, {"api_urls": ALL})
    assert not result.get("failed"), result.get("msg")
    assert result["api_url"] == N1 and result["errors"][0]["url"] == N1 + "/cluster"


# --------------------------------------------------------------------------------------------
# Failures before any request
# --------------------------------------------------------------------------------------------


def test_no_api_answers(fake_http, run_module):
    fake_http.add("GET", N2 + "/cluster", (502, "DCS unavailable"))
    result = run_module(mod, {"api_urls": ALL})
    assert result["failed"] is True and "No Patroni REST API answered GET /cluster" in result["msg"]
    assert "Connection refused" in result["msg"] and "HTTP 502" in result["msg"]


def test_config_unreadable(fake_http, run_module):
    fake_http.add("GET", N1 + "/cluster", async_cluster())
    fake_http.add("GET", N1 + "/config", (503, "no DCS"))
    result = run_module(mod, {"api_urls": [N1]})
    assert result["failed"] is True and "GET /config" in result["msg"] and "synchronous_mode" in result["msg"]
    assert _posts(fake_http) == []


def test_empty_api_urls(run_module):
    result = run_module(mod, {"api_urls": []})
    assert result["failed"] and "api_urls is empty" in result["msg"]


def test_leader_without_api_url(fake_http, run_module):
    _route(fake_http, set_member(async_cluster(), "patroni1", api_url=None))
    result = run_module(mod, {"api_urls": ALL})
    assert result["failed"] and "no usable REST API URL for the leader patroni1" in result["msg"]


# --------------------------------------------------------------------------------------------
# Letting Patroni pick (any_candidate)
# --------------------------------------------------------------------------------------------


def test_any_candidate_names_no_candidate_and_reports_who_took_over(fake_http, fake_clock, run_module):
    """The request carries the leader only; Patroni let patroni3 (not the module's favourite) take over."""
    before = async_cluster()
    _route(fake_http, [before, switched(before, "patroni3")])
    fake_http.add("POST", SWITCHOVER_URL, OK)
    result = run_module(mod, {"api_urls": ALL, "any_candidate": True, "wait_for_old_leader": False})
    assert not result.get("failed"), result.get("msg")
    assert _posts(fake_http)[0]["body"] == {"leader": "patroni1"}
    assert result["changed"] is True and result["candidate"] == "patroni3"
    assert result["candidates"] == ["patroni2", "patroni3", "patroni4"]
    assert "Switched over from patroni1 to patroni3" in result["msg"]
    assert undocumented_keys(mod, result) == []


def test_any_candidate_waits_until_another_member_leads(fake_http, fake_clock, run_module):
    before = async_cluster()
    _route(fake_http, [before, before, switched(before, "patroni2")])
    fake_http.add("POST", SWITCHOVER_URL, OK)
    result = run_module(mod, {"api_urls": ALL, "any_candidate": True, "wait_for_old_leader": False})
    assert not result.get("failed"), result.get("msg")
    assert result["candidate"] == "patroni2" and result["attempts"] >= 2


def test_any_candidate_still_needs_an_eligible_member(fake_http, run_module):
    before = async_cluster()
    for name in ("patroni2", "patroni3", "patroni4"):
        set_member(before, name, state="stopped")
    _route(fake_http, [before])
    result = run_module(mod, {"api_urls": ALL, "any_candidate": True})
    assert result["failed"] and _posts(fake_http) == []


@pytest.mark.parametrize("other", [{"candidate": "patroni2"}, {"exclude_pending_restart": True}])
def test_any_candidate_excludes_a_named_candidate(fake_http, run_module, other):
    result = run_module(mod, dict({"api_urls": ALL, "any_candidate": True}, **other))
    assert result["failed"] and "mutually exclusive" in result["msg"] and _posts(fake_http) == []


def test_switchover_problem_with_any_candidate():
    from ansible.module_utils.pgha_patroni import switchover_problem

    summary = {"leaders": ["patroni1"], "members": [{"name": "patroni1", "role": "leader", "state": "running",
                                                     "timeline": 3}]}
    assert switchover_problem(summary, None, "patroni1", 3, False) == (
        "no member but patroni1 leads yet (the leader is patroni1)")
    summary = {"leaders": ["patroni2"], "members": [{"name": "patroni2", "role": "leader", "state": "running",
                                                     "timeline": 4}]}
    assert switchover_problem(summary, None, "patroni1", 3, False) is None
