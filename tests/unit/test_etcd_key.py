"""Tests of library/etcd_key.py with a fake HTTP layer (no network), and of its pure logic in pgha_etcd_kv.

The answers are in the etcd 3.4 JSON gateway's format as the lab's etcd (3.4.23) gives them: int64 fields as decimal
strings, keys base64-encoded, zero or empty fields left out (a range that finds nothing is a bare ``header``, without
``kvs`` and ``count``, as captured; a deleterange that deletes nothing has no ``deleted``). RANGE_MEMBERS is captured
from the lab; range_answer() and delete_answer() write the others by hand in the same format (the lab's keys are not
deleted for a capture). Errors are ``{"error", "message", "code"}`` with an HTTP status, as the gateway sends them.
"""

from __future__ import annotations

import base64
import copy
from typing import Any, Dict, List

import pytest

import etcd_key as mod
from ansible.module_utils.pgha_etcd_api import EtcdAuth, kv_delete, kv_range
from ansible.module_utils.pgha_etcd_kv import (
    decode_key,
    delete_body,
    encode_key,
    key_problem,
    key_range,
    kv_error_hint,
    parse_delete,
    parse_range,
    prefix_range_end,
    range_body,
    validate_kv_answer,
    with_hint,
)
from ansible.module_utils.pgha_http import HttpOptions
from pgha_test_helpers import undocumented_keys

P1, P2, P3 = "https://172.28.10.11:2379", "https://172.28.10.12:2379", "https://172.28.10.13:2379"
RANGE, DELETE, AUTH = "/v3/kv/range", "/v3/kv/deleterange", "/v3/auth/authenticate"
MEMBERS = "/service/demo/members/"
PATRONI4 = MEMBERS + "patroni4"


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


HEADER = {"cluster_id": "8996819289027500194", "member_id": "14753882640485016451", "revision": "57",
          "raft_term": "2"}


def range_answer(*keys: str) -> Dict[str, Any]:
    """A keys_only range answer listing ``keys`` (the gateway leaves kvs and count out when there is none)."""
    answer: Dict[str, Any] = {"header": dict(HEADER)}
    if keys:
        answer["kvs"] = [{"key": b64(k), "create_revision": str(10 + i), "mod_revision": str(40 + i),
                          "version": "3", "lease": "7587883393497006881"} for i, k in enumerate(keys)]
        answer["count"] = str(len(keys))
    return answer


def delete_answer(deleted: int) -> Dict[str, Any]:
    answer: Dict[str, Any] = {"header": dict(HEADER, revision="58")}
    if deleted:
        answer["deleted"] = str(deleted)
    return answer


# Captured from the lab on 2026-12-02: POST https://172.28.10.11:2379/v3/kv/range, body {"key": b64(MEMBERS),
# "range_end": b64("/service/demo/members0"), "keys_only": true}.
RANGE_MEMBERS: Dict[str, Any] = {
    "header": {"cluster_id": "8996819289027500194", "member_id": "14753882640485016451", "revision": "58",
               "raft_term": "2"},
    "kvs": [
        {"key": "L3NlcnZpY2UvZGVtby9tZW1iZXJzL3BhdHJvbmkx", "create_revision": "2", "mod_revision": "56",
         "version": "15", "lease": "4085787637222100232"},
        {"key": "L3NlcnZpY2UvZGVtby9tZW1iZXJzL3BhdHJvbmky", "create_revision": "14", "mod_revision": "57",
         "version": "13", "lease": "4085787637222100248"},
        {"key": "L3NlcnZpY2UvZGVtby9tZW1iZXJzL3BhdHJvbmkz", "create_revision": "17", "mod_revision": "58",
         "version": "13", "lease": "4085787637222100255"},
    ],
    "count": "3",
}


def _deletes(fake_http) -> List[Dict[str, Any]]:
    return [c for c in fake_http.calls if c["url"].endswith(DELETE)]


def _args(**extra: Any) -> Dict[str, Any]:
    return dict({"endpoints": [P1, P2, P3], "key": PATRONI4}, **extra)


# --------------------------------------------------------------------------------------------
# One key
# --------------------------------------------------------------------------------------------


def test_deletes_one_key(fake_http, run_module):
    fake_http.add("POST", P1 + RANGE, range_answer(PATRONI4))
    fake_http.add("POST", P1 + DELETE, delete_answer(1))
    result = run_module(mod, _args())
    assert not result.get("failed"), result.get("msg")
    assert (result["changed"], result["keys"], result["deleted"], result["endpoint"]) == (True, [PATRONI4], 1, P1)
    read = fake_http.calls[0]
    assert read["url"] == P1 + RANGE and read["body"] == {"key": b64(PATRONI4), "keys_only": True}
    deletes = _deletes(fake_http)
    assert len(deletes) == 1 and deletes[0]["body"] == {"key": b64(PATRONI4)}  # no range_end: that key only
    assert deletes[0]["kwargs"]["timeout"] == 3.0
    assert result["msg"] == "Deleted key %s through %s." % (PATRONI4, P1)
    assert undocumented_keys(mod, result) == []


def test_missing_key_changes_nothing_and_sends_no_delete(fake_http, run_module):
    fake_http.add("POST", P1 + RANGE, range_answer())
    result = run_module(mod, _args())
    assert not result.get("failed"), result.get("msg")
    assert (result["changed"], result["keys"], result["deleted"], result["endpoint"]) == (False, [], 0, P1)
    assert _deletes(fake_http) == [] and len(fake_http.calls) == 1
    assert result["msg"] == "Nothing to do: etcd has no key %s (read through %s)." % (PATRONI4, P1)
    assert undocumented_keys(mod, result) == []


def test_check_mode_reports_what_would_be_deleted(fake_http, run_module):
    fake_http.add("POST", P1 + RANGE, range_answer(PATRONI4))
    result = run_module(mod, _args(), check_mode=True)
    assert not result.get("failed"), result.get("msg")
    assert (result["changed"], result["keys"], result["deleted"]) == (True, [PATRONI4], 1)
    assert _deletes(fake_http) == []
    assert result["msg"] == "Would delete key %s through %s." % (PATRONI4, P1)
    assert undocumented_keys(mod, result) == []


def test_check_mode_with_nothing_to_delete(fake_http, run_module):
    fake_http.add("POST", P1 + RANGE, range_answer())
    result = run_module(mod, _args(), check_mode=True)
    assert (result["changed"], result["keys"], result["deleted"]) == (False, [], 0) and _deletes(fake_http) == []


def test_key_gone_between_read_and_delete(fake_http, run_module):
    fake_http.add("POST", P1 + RANGE, range_answer(PATRONI4))
    fake_http.add("POST", P1 + DELETE, delete_answer(0))  # the TTL ran out meanwhile
    result = run_module(mod, _args())
    assert not result.get("failed"), result.get("msg")
    assert (result["changed"], result["keys"], result["deleted"]) == (False, [PATRONI4], 0)
    assert "was gone when the delete came" in result["msg"]


# --------------------------------------------------------------------------------------------
# A prefix
# --------------------------------------------------------------------------------------------


def test_prefix_deletes_every_key_under_it(fake_http, run_module):
    fake_http.add("POST", P1 + RANGE, copy.deepcopy(RANGE_MEMBERS))
    fake_http.add("POST", P1 + DELETE, delete_answer(3))
    result = run_module(mod, _args(key=MEMBERS, prefix=True))
    assert not result.get("failed"), result.get("msg")
    names = [MEMBERS + n for n in ("patroni1", "patroni2", "patroni3")]
    assert (result["changed"], result["keys"], result["deleted"]) == (True, names, 3)
    expected = {"key": b64(MEMBERS), "range_end": b64("/service/demo/members0")}  # '/' + 1 is '0'
    assert fake_http.calls[0]["body"] == dict(expected, keys_only=True)
    assert _deletes(fake_http)[0]["body"] == expected
    assert result["msg"] == "Deleted 3 keys under prefix %s through %s: %s." % (MEMBERS, P1, ", ".join(names))
    assert undocumented_keys(mod, result) == []


def test_prefix_in_check_mode_lists_the_keys(fake_http, run_module):
    fake_http.add("POST", P1 + RANGE, copy.deepcopy(RANGE_MEMBERS))
    result = run_module(mod, _args(key=MEMBERS, prefix=True), check_mode=True)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True and result["deleted"] == 3 and len(result["keys"]) == 3
    assert result["msg"].startswith("Would delete 3 keys under prefix %s through %s: %spatroni1, " % (MEMBERS, P1,
                                                                                                       MEMBERS))
    assert _deletes(fake_http) == []


def test_prefix_with_nothing_under_it(fake_http, run_module):
    fake_http.add("POST", P1 + RANGE, range_answer())
    result = run_module(mod, _args(key="/service/gone/", prefix=True))
    assert (result["changed"], result["deleted"]) == (False, 0) and _deletes(fake_http) == []
    assert result["msg"].startswith("Nothing to do: etcd has no key under prefix /service/gone/ ")


def test_prefix_count_that_differs_from_the_read_is_told(fake_http, run_module):
    fake_http.add("POST", P1 + RANGE, copy.deepcopy(RANGE_MEMBERS))
    fake_http.add("POST", P1 + DELETE, delete_answer(4))  # a key was written in between
    result = run_module(mod, _args(key=MEMBERS, prefix=True))
    assert result["changed"] is True and result["deleted"] == 4 and len(result["keys"]) == 3
    assert "etcd reported 4 deleted where 3 were read" in result["msg"]


@pytest.mark.parametrize("key,prefix,words", [
    ("", False, "key is empty"),
    ("", True, "key is empty"),
    ("/", True, "key is '/' with prefix=true: that would delete every key in etcd"),
])
def test_refused_keys_send_nothing(fake_http, run_module, key: str, prefix: bool, words: str):
    result = run_module(mod, _args(key=key, prefix=prefix))
    assert result["failed"] and result["changed"] is False and words in result["msg"]
    assert fake_http.calls == []
    assert undocumented_keys(mod, result) == []


def test_slash_alone_without_prefix_is_one_key(fake_http, run_module):
    fake_http.add("POST", P1 + RANGE, range_answer())
    result = run_module(mod, _args(key="/"))
    assert not result.get("failed") and fake_http.calls[0]["body"] == {"key": b64("/"), "keys_only": True}


def test_only_state_absent(fake_http, run_module):
    result = run_module(mod, _args(state="present"))
    assert result["failed"] and "state" in result["msg"] and "absent" in result["msg"] and fake_http.calls == []


def test_empty_endpoints(fake_http, run_module):
    result = run_module(mod, _args(endpoints=["", ""]))
    assert result["failed"] and "endpoints is empty" in result["msg"] and fake_http.calls == []


# --------------------------------------------------------------------------------------------
# Endpoints and failures
# --------------------------------------------------------------------------------------------


def test_endpoints_tried_in_order_and_the_delete_goes_to_the_one_that_answered(fake_http, run_module):
    fake_http.add("POST", P2 + RANGE, {"unexpected": True})  # answers, but not a range answer
    fake_http.add("POST", P3 + RANGE, range_answer(PATRONI4))
    fake_http.add("POST", P3 + DELETE, delete_answer(1))
    result = run_module(mod, _args())
    assert not result.get("failed"), result.get("msg")
    assert result["endpoint"] == P3 and [c["url"] for c in _deletes(fake_http)] == [P3 + DELETE]
    assert [c["url"] for c in fake_http.calls] == [P1 + RANGE, P2 + RANGE, P3 + RANGE, P3 + DELETE]
    msg = result["msg"]
    assert msg.startswith("Deleted key %s through %s." % (PATRONI4, P3))
    assert "Endpoints tried before it" in msg and "Connection refused" in msg and "unexpected answer" in msg


def test_no_endpoint_answers(fake_http, run_module):
    fake_http.add("POST", P2 + RANGE, (503, {"error": "etcdserver: request timed out", "code": 14}))
    result = run_module(mod, _args())
    assert result["failed"] and result["changed"] is False
    assert (result["keys"], result["deleted"], result["endpoint"]) == ([], 0, None)
    msg = result["msg"]
    assert msg.startswith("Could not read key %s from etcd, so nothing was deleted. Every endpoint was tried"
                          % PATRONI4)
    lines = msg.splitlines()[1:]
    assert len(lines) == 3 and [P1, P2, P3] == [next(u for u in (P1, P2, P3) if u in line) for line in lines]
    assert "Connection refused" in lines[0] and "HTTP 503" in lines[1] and "request timed out" in lines[1]
    assert _deletes(fake_http) == []
    assert undocumented_keys(mod, result) == []


def test_delete_refused_changes_nothing(fake_http, run_module):
    fake_http.add("POST", P1 + RANGE, range_answer(PATRONI4))
    fake_http.add("POST", P1 + DELETE, (503, {"error": "etcdserver: no leader", "code": 14}))
    result = run_module(mod, _args())
    assert result["failed"] and result["changed"] is False and result["keys"] == [PATRONI4]
    assert "etcd refused to delete key %s, nothing was deleted" % PATRONI4 in result["msg"]
    assert "no leader" in result["msg"]


def test_delete_without_answer_may_have_changed(fake_http, run_module):
    fake_http.add("POST", P1 + RANGE, range_answer(PATRONI4))  # deleterange not routed: connection refused
    result = run_module(mod, _args())
    assert result["failed"] and result["changed"] is True
    assert "may have been deleted or not: run the module again" in result["msg"]
    assert len(_deletes(fake_http)) == 1  # not retried on another endpoint


# --------------------------------------------------------------------------------------------
# Authentication and TLS options
# --------------------------------------------------------------------------------------------


def _authenticate(method: str, url: str, body: Any) -> Any:
    if body == {"name": "root", "password": "pw"}:
        return {"header": {}, "token": "tok-" + url.split("//")[1].split(":")[0]}
    return (400, {"error": "etcdserver: authentication failed, invalid user ID or password", "code": 3})


def test_auth_tokens_for_the_read_and_the_delete(fake_http, run_module):
    for url in (P1, P2, P3):
        fake_http.add("POST", url + AUTH, _authenticate)
    fake_http.add("POST", P2 + RANGE, range_answer(PATRONI4))
    fake_http.add("POST", P2 + DELETE, delete_answer(1))
    result = run_module(mod, _args(endpoints=["http://127.0.0.1:1", P2], url_username="root", url_password="pw",
                                   ca_path="/tmp/ca.crt"))
    assert not result.get("failed"), result.get("msg")
    assert all(c["kwargs"]["url_username"] is None and not c["kwargs"]["force_basic_auth"] for c in fake_http.calls)
    assert all(c["kwargs"]["ca_path"] == "/tmp/ca.crt" for c in fake_http.calls)
    for call in fake_http.calls:
        if call["url"].startswith(P2) and not call["url"].endswith(AUTH):
            assert call["kwargs"]["headers"]["Authorization"] == "tok-172.28.10.12"
    assert fake_http.count("POST", P2 + AUTH) == 1  # one token for the read and the delete
    assert "pw" not in str(result)


def test_wrong_password_says_to_check_the_credentials(fake_http, run_module):
    for url in (P1, P2, P3):
        fake_http.add("POST", url + AUTH, _authenticate)
    result = run_module(mod, _args(url_username="root", url_password="wrong"))
    assert result["failed"] and result["changed"] is False
    lines = result["msg"].splitlines()[1:]
    assert len(lines) == 3 and all("check url_username/url_password" in line for line in lines)
    assert all("authentication failed" in line for line in lines)
    assert fake_http.count("POST", RANGE) == 0 and "wrong" not in str(result)


def test_auth_needed_but_not_given(fake_http, run_module):
    for url in (P1, P2, P3):
        fake_http.add("POST", url + RANGE, (400, {"error": "etcdserver: user name is empty", "code": 3}))
    result = run_module(mod, _args())
    assert result["failed"] and "etcd authentication is on: give url_username/url_password" in result["msg"]


def test_permission_denied_on_the_delete(fake_http, run_module):
    fake_http.add("POST", P1 + RANGE, range_answer(PATRONI4))
    fake_http.add("POST", P1 + DELETE, (403, {"error": "etcdserver: permission denied", "code": 7}))
    result = run_module(mod, _args())
    assert result["failed"] and result["changed"] is False
    assert "nothing was deleted" in result["msg"] and "check url_username/url_password" in result["msg"]


# --------------------------------------------------------------------------------------------
# The pure logic (module_utils/pgha_etcd_kv.py) and the requests (module_utils/pgha_etcd_api.py)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix,end", [
    (b"/service/demo/members/", b"/service/demo/members0"),
    (b"a", b"b"),
    (b"a\xff", b"b"),
    (b"a\xfe\xff\xff", b"a\xff"),
    (b"\xff\xff", b"\x00"),  # etcd: every key from the prefix on
    (b"", b"\x00"),
])
def test_prefix_range_end(prefix: bytes, end: bytes):
    assert prefix_range_end(prefix) == end


def test_key_range_and_bodies():
    assert key_range("/a/b", False) == (b"/a/b", None)
    assert key_range("/a/", True) == (b"/a/", b"/a0")
    assert key_range("/d\u00e9mo/", True) == ("/d\u00e9mo/".encode(), "/d\u00e9mo0".encode())
    assert range_body(b"/a", None) == {"key": "L2E="}
    assert range_body(b"/a/", b"/a0", keys_only=True, count_only=True) == {
        "key": "L2Ev", "range_end": "L2Ew", "keys_only": True, "count_only": True}
    assert delete_body(b"/a", None) == {"key": "L2E="}
    assert delete_body(b"/a/", b"/a0", prev_kv=True) == {"key": "L2Ev", "range_end": "L2Ew", "prev_kv": True}


def test_encode_and_decode_keys():
    assert encode_key(b"/service/demo/leader") == b64("/service/demo/leader")
    assert decode_key(b64("/service/demo/leader")) == "/service/demo/leader"
    assert decode_key(b64("/d\u00e9mo")) == "/d\u00e9mo"
    assert decode_key(base64.b64encode(b"/bin\xff").decode()) == "/bin\\xff"
    assert decode_key("not base64!") == "not base64!" and decode_key(None) == ""


def test_key_problem():
    assert key_problem("/service/demo/members/patroni4", False) is None
    assert key_problem("/service/demo/members/", True) is None
    assert key_problem("/", False) is None
    assert "key is empty" in (key_problem("", False) or "")
    assert "prefix=true" in (key_problem("/", True) or "")


def test_parse_answers():
    keys, count = parse_range(copy.deepcopy(RANGE_MEMBERS))
    assert keys == [MEMBERS + "patroni1", MEMBERS + "patroni2", MEMBERS + "patroni3"] and count == 3
    assert parse_range(range_answer()) == ([], 0)
    assert parse_range({"header": {}, "count": "5"}) == ([], 5)  # count_only
    assert parse_delete(delete_answer(2)) == (2, [])
    assert parse_delete(delete_answer(0)) == (0, [])
    with_prev = dict(delete_answer(1), prev_kvs=[{"key": b64(PATRONI4), "value": b64("{}")}])
    assert parse_delete(with_prev) == (1, [PATRONI4])


def test_validate_kv_answer():
    assert validate_kv_answer(copy.deepcopy(RANGE_MEMBERS)) is None and validate_kv_answer(delete_answer(0)) is None
    assert "JSON object" in (validate_kv_answer([]) or "")
    assert "no leader" in (validate_kv_answer({"error": "etcdserver: no leader"}) or "")
    assert "found keys: ['kvs']" in (validate_kv_answer({"kvs": []}) or "")
    assert "'kvs' is dict" in (validate_kv_answer({"header": {}, "kvs": {}}) or "")


def test_error_hints():
    assert "check url_username/url_password" in (kv_error_hint("authentication failed, invalid user ID or password")
                                                 or "")
    assert "leave url_username/url_password unset" in (kv_error_hint("etcdserver: authentication is not enabled")
                                                       or "")
    # what the lab's etcd gives without ca_path, without client_cert, with a client_key of another certificate
    assert "check ca_path" in (kv_error_hint("POST https://172.28.10.11:2379/v3/kv/range failed: "
                                             "SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate "
                                             "verify failed: unable to get local issuer certificate (_ssl.c:1006)")
                               or "")
    assert "client_cert" in (kv_error_hint("SSLEOFError: EOF occurred in violation of protocol (_ssl.c:2427)") or "")
    assert "client_key" in (kv_error_hint("POST https://x/v3/kv/range failed: KEY_VALUES_MISMATCH") or "")
    assert "refused the client certificate" in (kv_error_hint("POST https://172.28.10.11:2379/v3/kv/range failed: "
                                                              "SSLV3_ALERT_BAD_CERTIFICATE") or "")
    assert kv_error_hint("Connection refused") is None
    assert with_hint("Connection refused") == "Connection refused"
    assert with_hint("x: permission denied").startswith("x: permission denied (the etcd user may not")


def test_kv_requests(fake_http):
    fake_http.add("POST", P1 + RANGE, {"header": {}, "count": "3"})
    fake_http.add("POST", P1 + DELETE, delete_answer(1))
    opts = HttpOptions(request_timeout=2.0)
    auth = EtcdAuth(None, None, opts)
    assert kv_range(P1 + "/", b"/a/", b"/a0", opts, auth, count_only=True) == {"header": {}, "count": "3"}
    assert kv_delete(P1, b"/a", None, opts, auth, prev_kv=True) == delete_answer(1)
    assert fake_http.calls[0]["body"] == {"key": "L2Ev", "range_end": "L2Ew", "count_only": True}
    assert fake_http.calls[1]["body"] == {"key": "L2E=", "prev_kv": True}
    assert all("Authorization" not in c["kwargs"]["headers"] for c in fake_http.calls)
