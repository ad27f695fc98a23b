"""Main-flow tests of library/etcd_cluster_info.py with a fake HTTP layer (no network).

Relies on: etcd_member_list.json = members patroni1..3 with one client URL each (decimal-string IDs);
etcd_status_<name>.json per member agreeing on one leader; etcd_status_no_leader.json without leader;
etcd_health_true.json / etcd_health_false.json.
"""

from __future__ import annotations

import copy

import etcd_cluster_info as mod
from pgha_test_helpers import load_json, undocumented_keys


def _member_urls():
    data = load_json("etcd_member_list.json")
    return {m["name"]: m["clientURLs"][0].rstrip("/") for m in data["members"]}


def _route_member(fake_http, url, name, healthy=True, status=None):
    fake_http.add("GET", url + "/health",
                  load_json("etcd_health_true.json") if healthy else (503, load_json("etcd_health_false.json")))
    fake_http.add("POST", url + "/v3/maintenance/status", status or load_json("etcd_status_%s.json" % name))


def _route_all_healthy(fake_http, member_list=None):
    urls = _member_urls()
    first = urls["patroni1"]
    fake_http.add("POST", first + "/v3/cluster/member/list", member_list or load_json("etcd_member_list.json"))
    for name, url in urls.items():
        _route_member(fake_http, url, name)
    return urls


def test_all_healthy(fake_http, run_module):
    urls = _route_all_healthy(fake_http)
    result = run_module(mod, {"endpoints": [urls["patroni1"]], "expect_healthy": 3, "expect_quorum": True})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False and result["healthy"] is True
    assert (result["member_count"], result["healthy_count"], result["quorum"]) == (3, 3, True)
    assert [m["name"] for m in result["members"]] == ["patroni1", "patroni2", "patroni3"]
    assert result["leader"] in ("patroni1", "patroni2", "patroni3")
    assert all(m["healthy"] and m["error"] is None for m in result["members"])
    assert result["endpoint"] == urls["patroni1"] and result["error"] is None
    assert "quorum OK" in result["table"]
    assert undocumented_keys(mod, result) == []
    # the member list and the status calls are POSTs with an empty JSON body
    assert all(c["body"] == {} for c in fake_http.calls if c["method"] == "POST")


def test_member_ids_as_ints(fake_http, run_module):
    data = copy.deepcopy(load_json("etcd_member_list.json"))
    for m in data["members"]:
        m["ID"] = int(m["ID"])
    urls = _route_all_healthy(fake_http, member_list=data)
    for name, url in urls.items():
        st = copy.deepcopy(load_json("etcd_status_%s.json" % name))
        st["leader"] = int(st["leader"])
        st["header"]["member_id"] = int(st["header"]["member_id"])
        fake_http.add("POST", url + "/v3/maintenance/status", st)
    result = run_module(mod, {"endpoints": [urls["patroni1"]]})
    assert result["leader"] and sum(m["is_leader"] for m in result["members"]) == 1
    assert all(isinstance(m["id_int"], int) and m["id"] == "%x" % m["id_int"] for m in result["members"])


def test_quorum_lost_one_of_three(fake_http, fake_clock, run_module):
    urls = _member_urls()
    fake_http.add("POST", urls["patroni1"] + "/v3/cluster/member/list", load_json("etcd_member_list.json"))
    _route_member(fake_http, urls["patroni1"], "patroni1", healthy=False,
                  status=load_json("etcd_status_no_leader.json"))
    endpoints = [urls["patroni2"], urls["patroni1"]]  # patroni2 is down: the member list comes from patroni1
    result = run_module(mod, {"endpoints": endpoints, "wait": True, "expect_quorum": False, "timeout": 5})
    assert not result.get("failed"), result.get("msg")
    assert (result["healthy_count"], result["quorum"], result["leader"]) == (0, False, None)
    assert result["errors"][0]["url"].startswith(urls["patroni2"])
    down = [m for m in result["members"] if m["name"] != "patroni1"]
    assert all("Connection refused" in m["error"] for m in down)

    result = run_module(mod, {"endpoints": endpoints, "wait": True, "expect_quorum": True, "timeout": 3})
    assert result["failed"]
    assert "expected etcd quorum (2 of 3 members healthy), found 0 healthy" in result["msg"]
    assert "quorum LOST" in result["msg"] and "patroni3" in result["msg"]


def test_nothing_answers_without_wait_fails_listing_endpoints(fake_http, run_module):
    result = run_module(mod, {"endpoints": ["http://127.0.0.1:1", "http://127.0.0.1:2"]})
    assert result["failed"]
    assert "http://127.0.0.1:1/v3/cluster/member/list" in result["msg"]
    assert "http://127.0.0.1:2/v3/cluster/member/list" in result["msg"]
    assert result["quorum"] is False and result["members"] == []


def test_nothing_answers_is_fine_when_waiting_for_lost_quorum(fake_http, fake_clock, run_module):
    result = run_module(mod, {"endpoints": ["http://127.0.0.1:1"], "wait": True, "expect_quorum": False})
    assert not result.get("failed")
    assert result["quorum"] is False and result["error"] and result["attempts"] == 1


def test_wait_for_healthy_members(fake_http, fake_clock, run_module):
    urls = _route_all_healthy(fake_http)
    fake_http.add("GET", urls["patroni3"] + "/health", [(503, load_json("etcd_health_false.json")),
                                                         load_json("etcd_health_true.json")])
    result = run_module(mod, {"endpoints": [urls["patroni1"]], "wait": True, "expect_healthy": 3,
                              "interval": 0.5, "timeout": 10})
    assert not result.get("failed") and result["attempts"] == 2 and fake_clock.sleeps == [0.5]


def test_member_list_error_answer(fake_http, run_module):
    fake_http.add("POST", "http://e:2379/v3/cluster/member/list", {"error": "etcdserver: request timed out",
                                                                  "code": 14})
    result = run_module(mod, {"endpoints": ["http://e:2379"]})
    assert result["failed"] and "etcdserver: request timed out" in result["msg"]


def test_request_timeout_default_is_short(fake_http, run_module):
    urls = _route_all_healthy(fake_http)
    run_module(mod, {"endpoints": [urls["patroni1"]]})
    assert {c["kwargs"]["timeout"] for c in fake_http.calls} == {3.0}


def test_etcd_auth_uses_tokens_not_basic_auth(fake_http, run_module):
    urls = _route_all_healthy(fake_http)
    for url in urls.values():
        fake_http.add("POST", url + "/v3/auth/authenticate",
                      lambda m, u, body: {"header": {}, "token": "tok-" + u.split(":")[2].split("/")[0]}
                      if body == {"name": "root", "password": "pw"} else (401, "bad"))
    result = run_module(mod, {"endpoints": [urls["patroni1"]], "url_username": "root", "url_password": "pw"})
    assert not result.get("failed"), result.get("msg")
    assert all(c["kwargs"]["url_username"] is None and not c["kwargs"]["force_basic_auth"] for c in fake_http.calls)
    member_list = next(c for c in fake_http.calls if c["url"].endswith("/member/list"))
    assert member_list["kwargs"]["headers"]["Authorization"].startswith("tok-")
    status_calls = [c for c in fake_http.calls if c["url"].endswith("/maintenance/status")]
    assert len(status_calls) == 3 and all(c["kwargs"]["headers"].get("Authorization") for c in status_calls)
    assert fake_http.count("POST", "/v3/auth/authenticate") == 3  # one token per member, not per request


def test_etcd_auth_wrong_password(fake_http, run_module):
    urls = _route_all_healthy(fake_http)
    fake_http.add("POST", urls["patroni1"] + "/v3/auth/authenticate",
                  (400, {"error": "etcdserver: authentication failed, invalid user ID or password", "code": 3}))
    result = run_module(mod, {"endpoints": [urls["patroni1"]], "url_username": "root", "url_password": "bad"})
    assert result["failed"] and "authentication failed" in result["msg"]
