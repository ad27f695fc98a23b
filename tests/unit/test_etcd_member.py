"""Tests of library/etcd_member.py with a fake HTTP layer (no network), and of its pure logic in pgha_etcd.

Relies on: etcd_member_list.json = members patroni1..3 (peer URLs http://172.28.10.1{1,2,3}:2380, one client URL
each, decimal-string IDs); etcd_member_add.json = the member/add answer for peer URL http://172.28.10.14:2380 (its
``member`` and the four ``members``, the new one without name and client URLs); etcd_member_remove.json = the
member/remove answer after removing patroni3 (patroni1 and patroni2 remain); etcd_member_list_unstarted.json = the
three members and that fourth one, added but not started; etcd_status_<name>.json and etcd_health_*.json as for
etcd_cluster_info.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional

import pytest

import etcd_member as mod
from ansible.module_utils.pgha_etcd import (
    answer_member,
    change_error_hint,
    initial_cluster,
    members_from_answer,
    normalize_urls,
    parse_member_list,
    plan_add,
    plan_remove,
    predict_members,
    remove_via,
)
from pgha_test_helpers import load_json, undocumented_keys

P1, P2, P3 = "http://172.28.10.11:2379", "http://172.28.10.12:2379", "http://172.28.10.13:2379"
URLS = {"patroni1": P1, "patroni2": P2, "patroni3": P3}
NEW_PEER = "http://172.28.10.14:2380"
NEW_ID = "6497316449468949428"
PATRONI3_ID = "1380901645890893050"
CLUSTER3 = ("patroni1=http://172.28.10.11:2380,patroni2=http://172.28.10.12:2380,"
            "patroni3=http://172.28.10.13:2380")
ADD, REMOVE = "/v3/cluster/member/add", "/v3/cluster/member/remove"


def _route(fake_http, member_list: Any = None, down: tuple = (), list_from: tuple = (P1,)) -> None:
    """The member list on ``list_from``; /health and status on every started member except those ``down``."""
    for url in list_from:
        fake_http.add("POST", url + "/v3/cluster/member/list",
                      load_json("etcd_member_list.json") if member_list is None else member_list)
    for name, url in URLS.items():
        if name not in down:
            fake_http.add("GET", url + "/health", load_json("etcd_health_true.json"))
            fake_http.add("POST", url + "/v3/maintenance/status", load_json("etcd_status_%s.json" % name))


def _changes(fake_http) -> List[Dict[str, Any]]:
    return [c for c in fake_http.calls if c["url"].endswith((ADD, REMOVE))]


def _add_args(**extra: Any) -> Dict[str, Any]:
    return dict({"endpoints": [P1], "name": "patroni4", "peer_urls": [NEW_PEER]}, **extra)


def _remove_args(name: str = "patroni3", **extra: Any) -> Dict[str, Any]:
    return dict({"endpoints": [P1], "name": name, "state": "absent"}, **extra)


# --------------------------------------------------------------------------------------------
# state=present
# --------------------------------------------------------------------------------------------


def test_add_sends_the_peer_urls_and_returns_the_initial_cluster(fake_http, run_module):
    _route(fake_http)
    fake_http.add("POST", P1 + ADD, load_json("etcd_member_add.json"))
    result = run_module(mod, _add_args())
    assert not result.get("failed"), result.get("msg")
    assert (result["changed"], result["action"], result["endpoint"]) == (True, "added", P1)
    changes = _changes(fake_http)
    assert len(changes) == 1 and changes[0]["url"] == P1 + ADD
    assert changes[0]["body"] == {"peerURLs": [NEW_PEER], "isLearner": False}
    assert changes[0]["kwargs"]["timeout"] == 10.0  # the change waits longer than the 3 s reads
    member = result["member"]
    assert member == {"name": "", "id": "%x" % int(NEW_ID), "id_int": int(NEW_ID), "peer_urls": [NEW_PEER],
                      "client_urls": [], "is_learner": False}
    assert result["initial_cluster"] == CLUSTER3 + ",patroni4=" + NEW_PEER
    assert result["member_count"] == 4 and len(result["members"]) == 4 and len(result["members_before"]) == 3
    assert all(m["healthy"] for m in result["members_before"])
    assert "Added etcd member patroni4 (ID 5a2b1ae2f3e623b4" in result["msg"]
    assert "ETCD_INITIAL_CLUSTER=%s" % result["initial_cluster"] in result["msg"]
    assert "ETCD_INITIAL_CLUSTER_STATE=existing" in result["msg"] and "quorum 3" in result["msg"]
    assert undocumented_keys(mod, result) == []


def test_add_is_idempotent_for_a_started_member(fake_http, run_module):
    _route(fake_http)
    result = run_module(mod, _add_args(name="patroni3", peer_urls=["http://172.28.10.13:2380/"]))
    assert not result.get("failed"), result.get("msg")
    assert (result["changed"], result["action"]) == (False, "none")
    assert result["member"]["name"] == "patroni3" and result["member"]["id_int"] == int(PATRONI3_ID)
    assert "healthy" not in result["member"]  # the member list's shape
    assert result["initial_cluster"] == CLUSTER3 and result["member_count"] == 3
    assert "Nothing to do" in result["msg"] and "patroni3" in result["msg"]
    assert _changes(fake_http) == []
    assert undocumented_keys(mod, result) == []


def test_add_is_idempotent_for_a_member_added_but_not_started(fake_http, run_module):
    _route(fake_http, load_json("etcd_member_list_unstarted.json"))
    result = run_module(mod, _add_args())
    assert not result.get("failed"), result.get("msg")
    assert (result["changed"], result["action"]) == (False, "none")
    assert result["member"]["id_int"] == int(NEW_ID) and result["member"]["name"] == ""
    # the unstarted member is named after the module's name
    assert result["initial_cluster"] == CLUSTER3 + ",patroni4=" + NEW_PEER
    assert "has not started yet" in result["msg"] and "ETCD_INITIAL_CLUSTER=" + CLUSTER3 in result["msg"]
    assert _changes(fake_http) == []


def test_add_refused_when_the_name_has_other_peer_urls(fake_http, run_module):
    _route(fake_http)
    result = run_module(mod, _add_args(name="patroni3", peer_urls=["http://172.28.10.23:2380"]))
    assert result["failed"] and result["changed"] is False
    msg = result["msg"]
    assert "Cannot add etcd member patroni3 with peer URLs http://172.28.10.23:2380" in msg
    assert "with peer URLs http://172.28.10.13:2380" in msg and "remove it first (state=absent" in msg
    assert "etcdctl member update 1329f2bb091434fa --peer-urls=http://172.28.10.23:2380" in msg
    assert _changes(fake_http) == []
    assert undocumented_keys(mod, result) == []


def test_add_refused_while_another_member_has_not_started(fake_http, run_module):
    _route(fake_http, load_json("etcd_member_list_unstarted.json"))
    result = run_module(mod, _add_args(name="patroni5", peer_urls=["http://172.28.10.15:2380"]))
    assert result["failed"]
    assert "the unstarted member 5a2b1ae2f3e623b4 (peer URLs %s) was added earlier" % NEW_PEER in result["msg"]
    assert "one membership change at a time" in result["msg"]
    assert "etcdctl member remove 5a2b1ae2f3e623b4" in result["msg"]
    assert _changes(fake_http) == []


def test_add_refused_when_a_member_is_unhealthy(fake_http, run_module):
    _route(fake_http)
    fake_http.add("GET", P2 + "/health", (503, load_json("etcd_health_false.json")))
    result = run_module(mod, _add_args())
    assert result["failed"]
    msg = result["msg"]
    assert "Cannot add etcd member patroni4: 1 of the 3 voting members is unhealthy (patroni2: " in msg
    assert "raises the quorum from 2 to 3" in msg and "remove a member that is gone for good first" in msg
    assert "The members now:" in msg and "patroni2" in msg.split("The members now:")[1]
    assert _changes(fake_http) == []


def test_add_refused_when_a_member_is_unreachable(fake_http, run_module):
    _route(fake_http, down=("patroni3",))
    result = run_module(mod, _add_args())
    assert result["failed"] and "patroni3: " in result["msg"] and "Connection refused" in result["msg"]
    assert _changes(fake_http) == []


def test_add_refused_when_another_member_has_the_peer_url(fake_http, run_module):
    _route(fake_http)
    result = run_module(mod, _add_args(peer_urls=["http://172.28.10.13:2380"]))
    assert result["failed"]
    assert "peer URL(s) http://172.28.10.13:2380 already belong to member patroni3" in result["msg"]


def test_add_in_check_mode_sends_nothing(fake_http, run_module):
    _route(fake_http)
    result = run_module(mod, _add_args(), check_mode=True)
    assert not result.get("failed"), result.get("msg")
    assert (result["changed"], result["action"]) == (True, "added")
    assert _changes(fake_http) == []
    assert [m["name"] for m in result["members"]] == ["patroni1", "patroni2", "patroni3", ""]
    assert result["members"][-1] == {"name": "", "id": None, "id_int": None, "peer_urls": [NEW_PEER],
                                     "client_urls": [], "is_learner": False}
    assert result["member"] == result["members"][-1] and result["member_count"] == 4
    assert result["initial_cluster"] == CLUSTER3 + ",patroni4=" + NEW_PEER
    assert result["msg"].startswith("Would add etcd member patroni4 (peer URLs %s) through %s" % (NEW_PEER, P1))
    assert undocumented_keys(mod, result) == []


def test_add_refusal_in_check_mode_fails_too(fake_http, run_module):
    _route(fake_http, down=("patroni2",))
    result = run_module(mod, _add_args(), check_mode=True)
    assert result["failed"] and "unhealthy" in result["msg"] and _changes(fake_http) == []


def test_add_refused_by_etcd(fake_http, run_module):
    _route(fake_http)
    fake_http.add("POST", P1 + ADD, (503, {"error": "etcdserver: unhealthy cluster", "code": 14}))
    result = run_module(mod, _add_args())
    assert result["failed"] and result["changed"] is False
    assert "etcd refused to add etcd member patroni4" in result["msg"]
    assert "nothing was changed" in result["msg"] and "--strict-reconfig-check" in result["msg"]


def test_add_without_answer_may_have_changed(fake_http, run_module):
    _route(fake_http)  # member/add not routed: connection refused
    result = run_module(mod, _add_args())
    assert result["failed"] and result["changed"] is True
    assert "The change may have been made or not: run the module again" in result["msg"]


def test_add_needs_peer_urls(fake_http, run_module):
    result = run_module(mod, {"endpoints": [P1], "name": "patroni4"})
    assert result["failed"] and "peer_urls" in result["msg"]
    result = run_module(mod, _add_args(peer_urls=[""]))
    assert result["failed"] and "peer_urls is empty" in result["msg"] and fake_http.calls == []


def test_add_answer_without_members_falls_back_to_the_prediction(fake_http, run_module):
    _route(fake_http)
    answer = load_json("etcd_member_add.json")
    del answer["members"]
    fake_http.add("POST", P1 + ADD, answer)
    result = run_module(mod, _add_args())
    assert not result.get("failed"), result.get("msg")
    assert result["member"]["id_int"] == int(NEW_ID) and result["member_count"] == 4
    assert result["initial_cluster"] == CLUSTER3 + ",patroni4=" + NEW_PEER


# --------------------------------------------------------------------------------------------
# state=absent
# --------------------------------------------------------------------------------------------


def test_remove_sends_the_decimal_id(fake_http, run_module):
    _route(fake_http)
    fake_http.add("POST", P1 + REMOVE, load_json("etcd_member_remove.json"))
    result = run_module(mod, _remove_args())
    assert not result.get("failed"), result.get("msg")
    assert (result["changed"], result["action"]) == (True, "removed")
    changes = _changes(fake_http)
    assert len(changes) == 1 and changes[0]["url"] == P1 + REMOVE and changes[0]["body"] == {"ID": PATRONI3_ID}
    assert result["member"]["name"] == "patroni3" and result["member"]["id_int"] == int(PATRONI3_ID)
    assert [m["name"] for m in result["members"]] == ["patroni1", "patroni2"] and result["member_count"] == 2
    assert result["initial_cluster"] == "patroni1=http://172.28.10.11:2380,patroni2=http://172.28.10.12:2380"
    assert "Removed etcd member patroni3 (ID 1329f2bb091434fa) through %s, leaving 2 voting members (quorum 2)" % P1 \
        in result["msg"]
    assert undocumented_keys(mod, result) == []


def test_remove_is_sent_to_another_member_than_the_one_removed(fake_http, run_module):
    _route(fake_http, list_from=(P3,))
    fake_http.add("POST", P1 + REMOVE, load_json("etcd_member_remove.json"))
    result = run_module(mod, _remove_args(endpoints=[P3]))
    assert not result.get("failed"), result.get("msg")
    assert [c["url"] for c in _changes(fake_http)] == [P1 + REMOVE] and result["endpoint"] == P3


def test_remove_is_idempotent(fake_http, run_module):
    _route(fake_http)
    result = run_module(mod, _remove_args("patroni9", peer_urls=[NEW_PEER]))
    assert not result.get("failed"), result.get("msg")
    assert (result["changed"], result["action"], result["member"]) == (False, "none", None)
    assert "no etcd member named patroni9 nor an unstarted member with peer URLs %s" % NEW_PEER in result["msg"]
    assert _changes(fake_http) == [] and result["member_count"] == 3
    assert undocumented_keys(mod, result) == []


def test_remove_an_unstarted_member_by_its_peer_urls(fake_http, run_module):
    _route(fake_http, load_json("etcd_member_list_unstarted.json"))
    fake_http.add("POST", P1 + REMOVE, load_json("etcd_member_list.json"))
    result = run_module(mod, _remove_args("patroni4", peer_urls=[NEW_PEER]))
    assert not result.get("failed"), result.get("msg")
    assert _changes(fake_http)[0]["body"] == {"ID": NEW_ID}
    assert result["action"] == "removed" and result["member_count"] == 3


def test_remove_refused_by_min_members(fake_http, run_module):
    _route(fake_http)
    result = run_module(mod, _remove_args(min_members=3))
    assert result["failed"] and result["changed"] is False
    assert ("Refusing to remove etcd member patroni3 (ID 1329f2bb091434fa): 2 voting member(s) would remain, "
            "fewer than min_members=3 (the cluster has 3 now)") in result["msg"]
    assert _changes(fake_http) == []
    assert undocumented_keys(mod, result) == []


def test_remove_refused_when_the_rest_would_lose_quorum(fake_http, run_module):
    _route(fake_http, down=("patroni3",))
    result = run_module(mod, _remove_args("patroni1"))
    assert result["failed"]
    msg = result["msg"]
    assert "the 2 voting member(s) that would remain need 2 healthy for the quorum, but only 1 is healthy" in msg
    assert "(unhealthy: patroni3: " in msg and "without quorum" in msg
    assert _changes(fake_http) == []


def test_remove_a_dead_member_is_allowed(fake_http, run_module):
    _route(fake_http, down=("patroni3",))
    fake_http.add("POST", P1 + REMOVE, load_json("etcd_member_remove.json"))
    result = run_module(mod, _remove_args("patroni3"))
    assert not result.get("failed"), result.get("msg")
    assert _changes(fake_http)[0]["body"] == {"ID": PATRONI3_ID} and result["action"] == "removed"
    assert [m["healthy"] for m in result["members_before"]] == [True, True, False]


def test_remove_in_check_mode_sends_nothing(fake_http, run_module):
    _route(fake_http)
    result = run_module(mod, _remove_args(), check_mode=True)
    assert not result.get("failed"), result.get("msg")
    assert (result["changed"], result["action"]) == (True, "removed") and _changes(fake_http) == []
    assert [m["name"] for m in result["members"]] == ["patroni1", "patroni2"] and result["member_count"] == 2
    assert result["msg"].startswith("Would remove etcd member patroni3")


def test_remove_min_members_must_be_positive(fake_http, run_module):
    result = run_module(mod, _remove_args(min_members=0))
    assert result["failed"] and "at least 1" in result["msg"] and fake_http.calls == []


# --------------------------------------------------------------------------------------------
# Reading and authentication
# --------------------------------------------------------------------------------------------


def test_no_endpoint_answers(fake_http, run_module):
    result = run_module(mod, _add_args(endpoints=["http://127.0.0.1:1", "http://127.0.0.1:2"]))
    assert result["failed"] and result["changed"] is False
    assert result["msg"].startswith("Could not read the etcd member list, so nothing was changed")
    assert "http://127.0.0.1:1/v3/cluster/member/list" in result["msg"]
    assert "http://127.0.0.1:2/v3/cluster/member/list" in result["msg"]
    assert result["endpoint"] is None and result["members"] == [] and result["initial_cluster"] is None
    assert undocumented_keys(mod, result) == []


def test_endpoints_tried_in_order(fake_http, run_module):
    _route(fake_http, list_from=(P2,))
    fake_http.add("POST", P2 + ADD, load_json("etcd_member_add.json"))
    result = run_module(mod, _add_args(endpoints=["http://127.0.0.1:1", P2]))
    assert not result.get("failed"), result.get("msg")
    assert result["endpoint"] == P2 and [c["url"] for c in _changes(fake_http)] == [P2 + ADD]


def test_etcd_auth_uses_tokens_for_reads_and_the_change(fake_http, run_module):
    _route(fake_http)
    for url in URLS.values():
        fake_http.add("POST", url + "/v3/auth/authenticate",
                      lambda m, u, body: {"header": {}, "token": "tok-" + u.split("//")[1].split(":")[0]}
                      if body == {"name": "root", "password": "pw"} else (401, "bad"))
    fake_http.add("POST", P1 + ADD, load_json("etcd_member_add.json"))
    result = run_module(mod, _add_args(url_username="root", url_password="pw"))
    assert not result.get("failed"), result.get("msg")
    assert all(c["kwargs"]["url_username"] is None and not c["kwargs"]["force_basic_auth"] for c in fake_http.calls)
    change = _changes(fake_http)[0]
    assert change["kwargs"]["headers"]["Authorization"] == "tok-172.28.10.11"
    member_list = next(c for c in fake_http.calls if c["url"].endswith("/member/list"))
    assert member_list["kwargs"]["headers"]["Authorization"] == "tok-172.28.10.11"
    assert fake_http.count("POST", "/v3/auth/authenticate") == 3  # one token per member, reused for the change
    assert "pw" not in str(result)


def test_etcd_auth_permission_denied_hint(fake_http, run_module):
    _route(fake_http)
    fake_http.add("POST", P1 + ADD, (400, {"error": "etcdserver: permission denied", "code": 7}))
    result = run_module(mod, _add_args())
    assert result["failed"] and result["changed"] is False and "root role" in result["msg"]


# --------------------------------------------------------------------------------------------
# The pure logic (module_utils/pgha_etcd.py)
# --------------------------------------------------------------------------------------------


def _members(*specs: Any) -> List[Dict[str, Any]]:
    """Probed members from ``(name, peer_url, healthy)`` or ``(name, peer_url, healthy, is_learner)``; IDs 1, 2..."""
    out = []
    for i, spec in enumerate(specs, start=1):
        name, peer, healthy = spec[:3]
        out.append({"name": name, "id": "%x" % i, "id_int": i, "peer_urls": [peer] if peer else [],
                    "client_urls": ["http://%s:2379" % name] if name else [],
                    "is_learner": bool(spec[3]) if len(spec) > 3 else False, "healthy": healthy,
                    "error": None if healthy else "down"})
    return out


def three(healthy3: bool = True) -> List[Dict[str, Any]]:
    return _members(("a", "http://a:2380", True), ("b", "http://b:2380", True), ("c", "http://c:2380", healthy3))


def test_normalize_urls():
    assert normalize_urls(["http://b:2380/", " http://a:2380", "", "http://b:2380"]) == ["http://a:2380",
                                                                                        "http://b:2380"]


def test_plan_add_cases():
    assert plan_add(three(), "d", ["http://d:2380"]) == {"action": "add", "member": None, "problem": None,
                                                         "reason": None}
    same = plan_add(three(), "c", ["http://c:2380/"])
    assert same["action"] == "none" and same["problem"] is None and same["member"]["name"] == "c"
    moved = plan_add(three(), "c", ["http://c2:2380"])
    assert "http://c2:2380" in moved["problem"] and "http://c:2380" in moved["problem"]
    assert "state=absent" in moved["problem"]
    unstarted = three() + _members(("", "http://d:2380", False))[0:1]
    unstarted[-1].update(id="4", id_int=4)
    found = plan_add(unstarted, "d", ["http://d:2380"])
    assert found["action"] == "none" and found["problem"] is None and found["member"]["id_int"] == 4
    assert "has not started yet" in plan_add(unstarted, "e", ["http://e:2380"])["problem"]
    sick = plan_add(three(healthy3=False), "d", ["http://d:2380"])
    assert "c: down" in sick["problem"] and "quorum from 2 to 3" in sick["problem"]
    # an unhealthy learner does not count for the quorum
    learner = three() + _members(("l", "http://l:2380", False, True))[0:1]
    learner[-1].update(id="9", id_int=9)
    assert plan_add(learner, "d", ["http://d:2380"])["action"] == "add"
    twice = three() + three()[2:]
    assert "2 members have that name" in plan_add(twice, "c", ["http://c:2380"])["problem"]


@pytest.mark.parametrize("healthy,target,min_members,allowed,words", [
    ((True, True, True), "c", 1, True, None),
    ((True, True, False), "c", 1, True, None),               # the dead one: 2 remain, both healthy
    ((True, True, False), "a", 1, False, "only 1 is healthy"),
    ((True, True, True), "c", 3, False, "min_members=3"),
    ((True, True, True, False), "a", 1, True, None),                # 4 -> 3, 2 of 3 healthy
    ((True, True, False, False), "a", 1, False, "only 1 is healthy"),   # 4 -> 3, 1 of 3 healthy
    ((False, False, True, True), "a", 1, False, "no quorum now"),        # 4 -> 3, 2 of 3 ok, but 2 of 4 now
    ((True,), "a", 1, False, "min_members=1"),
])
def test_plan_remove_quorum_rules(healthy: tuple, target: str, min_members: int, allowed: bool,
                                  words: Optional[str]):
    names = "abcd"[:len(healthy)]
    members = _members(*[(n, "http://%s:2380" % n, h) for n, h in zip(names, healthy)])
    plan = plan_remove(members, target, [], min_members)
    if allowed:
        assert plan["action"] == "remove" and plan["problem"] is None and plan["member"]["name"] == target
    else:
        assert plan["action"] == "none" and words in plan["problem"], plan["problem"]


def test_plan_remove_absent_unstarted_and_learner():
    assert plan_remove(three(), "z", [], 1) == {"action": "none", "member": None, "problem": None,
                                                "reason": "there is no etcd member named z"}
    unstarted = three() + _members(("", "http://d:2380", False))[0:1]
    unstarted[-1].update(id="4", id_int=4)
    plan = plan_remove(unstarted, "d", ["http://d:2380"], 3)
    assert plan["action"] == "remove" and plan["member"]["id_int"] == 4
    learner = _members(("a", "http://a:2380", True), ("l", "http://l:2380", False, True))
    assert plan_remove(learner, "l", [], 1)["action"] == "remove"  # a learner leaves the voting members as they are


def test_predict_members_and_initial_cluster():
    members = three()
    added = predict_members(members, plan_add(members, "d", ["http://d:2380"]), ["http://d:2380"])
    assert [m["name"] for m in added] == ["a", "b", "c", ""] and "healthy" not in added[0]
    assert initial_cluster(added, "d", ["http://d:2380"]) == \
        "a=http://a:2380,b=http://b:2380,c=http://c:2380,d=http://d:2380"
    removed = predict_members(members, plan_remove(members, "b", [], 1), [])
    assert [m["name"] for m in removed] == ["a", "c"]
    assert predict_members(members, plan_remove(members, "z", [], 1), []) == [
        {k: m[k] for k in ("name", "id", "id_int", "peer_urls", "client_urls", "is_learner")} for m in members]


def test_initial_cluster_sorted_with_multiple_peer_urls_and_other_unstarted_left_out():
    members = [
        {"name": "zeta", "peer_urls": ["http://z1:2380", "http://z2:2380"]},
        {"name": "", "peer_urls": ["http://new:2380"]},
        {"name": "", "peer_urls": ["http://other:2380"]},
        {"name": "alpha", "peer_urls": ["http://a:2380"]},
    ]
    assert initial_cluster(members, "mid", ["http://new:2380/"]) == \
        "alpha=http://a:2380,mid=http://new:2380,zeta=http://z1:2380,zeta=http://z2:2380"


def test_remove_via():
    members = three()
    assert remove_via("http://vip:2379", members[0], members) == "http://vip:2379"
    assert remove_via("http://a:2379/", members[0], members) == "http://b:2379"
    lonely = _members(("a", "http://a:2380", True), ("b", "http://b:2380", False))
    assert remove_via("http://a:2379", lonely[0], lonely) == "http://a:2379"


def test_answers_and_hints():
    answer = load_json("etcd_member_add.json")
    assert answer_member(answer)["id_int"] == int(NEW_ID) and answer_member({"header": {}}) is None
    assert [m["name"] for m in members_from_answer(answer, [])] == ["patroni1", "patroni2", "patroni3", ""]
    fallback = parse_member_list(load_json("etcd_member_list.json"))
    assert members_from_answer({"header": {}}, fallback) == fallback
    assert "strict-reconfig-check" in (change_error_hint("etcdserver: unhealthy cluster") or "")
    assert change_error_hint("something else") is None
    removed = copy.deepcopy(load_json("etcd_member_remove.json"))
    assert [m["name"] for m in members_from_answer(removed, [])] == ["patroni1", "patroni2"]
