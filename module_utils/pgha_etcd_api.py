# -*- coding: utf-8 -*-
# The HTTP side of the etcd_* modules: etcd token authentication, the member list with each member's /health and
# maintenance status, the membership changes (member add/remove) and the key reads and deletes (etcd_key) through
# etcd's v3 JSON gateway (HTTP through pgha_http, parsing and the decisions in pgha_etcd and pgha_etcd_kv).
"""etcd v3 JSON gateway requests of the etcd_* modules: auth tokens, reads, member add/remove, key range/delete."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from ansible.module_utils.pgha_etcd import (
    merge_member,
    parse_health,
    parse_member_list,
    parse_status,
    validate_member_list,
)
from ansible.module_utils.pgha_etcd_kv import delete_body, range_body, validate_kv_answer
from ansible.module_utils.pgha_http import (
    HttpOptions,
    RequestError,
    first_answer,
    format_errors,
    join_url,
    request_json,
)

# etcd answers a membership change once it is committed, within its own request timeout (5 s + 2 election timeouts,
# 7 s by default): the change request waits at least this long, whatever the (short) request_timeout of the reads.
CHANGE_TIMEOUT = 10.0


class EtcdAuth:
    """etcd v3 authentication: a token from ``POST /v3/auth/authenticate``, sent as ``Authorization``.

    etcd's gateway does not understand HTTP basic auth (it would take "Basic ..." for a bad token), so
    url_username/url_password are used here to get a token, per client URL (etcd's default "simple"
    tokens are only valid on the member that issued them). Tokens live for one module run only.
    """

    def __init__(self, username: Optional[str], password: Optional[str], opts: HttpOptions) -> None:
        self.username = username
        self.password = password
        self.opts = opts
        self.tokens: Dict[str, str] = {}

    def headers(self, base_url: str) -> Dict[str, str]:
        if not self.username:
            return {}
        key = base_url.rstrip("/")
        if key not in self.tokens:
            url = join_url(key, "/v3/auth/authenticate")
            data = request_json("POST", url, self.opts, body={"name": self.username, "password": self.password or ""})
            token = data.get("token") if isinstance(data, dict) else None
            if not token:
                raise RequestError(url, "POST %s did not return a token (wrong url_username/url_password, or etcd "
                                        "authentication disabled?): %r" % (url, data))
            self.tokens[key] = str(token)
        return {"Authorization": self.tokens[key]}


def probe_member(member: Dict[str, Any], opts: HttpOptions, auth: EtcdAuth) -> Dict[str, Any]:
    """Ask one member for /health and maintenance status through its client URLs."""
    health: Optional[Tuple[bool, Optional[str]]] = None
    health_errors: List[str] = []
    answering: Optional[str] = None
    for url in member["client_urls"]:
        try:
            health = parse_health(request_json("GET", join_url(url, "/health"), opts, accept_status=(503,)))
            answering = url
            break
        except RequestError as exc:
            health_errors.append(exc.message)
    status = None
    status_error = None
    for url in ([answering] if answering else []) + [u for u in member["client_urls"] if u != answering]:
        try:
            status = parse_status(request_json("POST", join_url(url, "/v3/maintenance/status"), opts, body={},
                                               headers=auth.headers(url)))
            status_error = None
            break
        except RequestError as exc:
            status_error = exc.message
    if health is None and status is None and health_errors:
        status_error = None  # same unreachable host: say it once
    return merge_member(member, health, "; ".join(health_errors) or None, status, status_error)


def read_etcd(endpoints: List[str], opts: HttpOptions, auth: EtcdAuth) -> Dict[str, Any]:
    """The member list from the first endpoint that answers, each member probed (see probe_member()).

    Returns ``ok``, ``members``, ``raw`` (the member-list answer), ``endpoint`` (the one that answered),
    ``errors`` (``[{"url", "error"}]`` of the endpoints that failed) and ``error`` (why none answered, or None).
    """

    def fetch(url: str) -> Any:
        full = join_url(url, "/v3/cluster/member/list")
        data = request_json("POST", full, opts, body={}, headers=auth.headers(url))
        problem = validate_member_list(data)
        if problem:
            raise RequestError(full, "%s: unexpected answer: %s" % (full, problem))
        return data

    data, url, errors = first_answer(endpoints, fetch)
    if data is None:
        return {
            "ok": False, "members": [], "raw": {}, "endpoint": None, "errors": errors,
            "error": "no endpoint answered POST /v3/cluster/member/list:\n%s" % format_errors(errors),
        }
    members = [probe_member(m, opts, auth) for m in parse_member_list(data)]
    return {"ok": True, "members": members, "raw": data, "endpoint": url, "errors": errors, "error": None}


def _change(url: str, path: str, body: Dict[str, Any], opts: HttpOptions, auth: EtcdAuth) -> Any:
    """POST one membership change to ``url`` (no retry on another endpoint: the change may have been made)."""
    return request_json("POST", join_url(url, path), opts, body=body, headers=auth.headers(url),
                        timeout=max(opts.request_timeout, CHANGE_TIMEOUT))


def member_add(url: str, peer_urls: Sequence[str], opts: HttpOptions, auth: EtcdAuth) -> Any:
    """``POST <url>/v3/cluster/member/add`` of a voting member: etcd's answer (``member`` and ``members``)."""
    return _change(url, "/v3/cluster/member/add", {"peerURLs": list(peer_urls), "isLearner": False}, opts, auth)


def member_remove(url: str, member_id: int, opts: HttpOptions, auth: EtcdAuth) -> Any:
    """``POST <url>/v3/cluster/member/remove`` (the gateway takes the uint64 ID as a decimal string)."""
    return _change(url, "/v3/cluster/member/remove", {"ID": str(member_id)}, opts, auth)


def _kv(url: str, path: str, body: Dict[str, Any], opts: HttpOptions, auth: EtcdAuth) -> Any:
    """POST one kv request to ``url``: etcd's answer, checked (an unexpected one raises RequestError)."""
    full = join_url(url, path)
    data = request_json("POST", full, opts, body=body, headers=auth.headers(url))
    problem = validate_kv_answer(data)
    if problem:
        raise RequestError(full, "%s: unexpected answer: %s" % (full, problem))
    return data


def kv_range(url: str, key: bytes, range_end: Optional[bytes], opts: HttpOptions, auth: EtcdAuth,
             keys_only: bool = False, count_only: bool = False) -> Any:
    """``POST <url>/v3/kv/range`` of ``key`` (up to ``range_end``, excluded): etcd's answer (base64 ``kvs``)."""
    return _kv(url, "/v3/kv/range", range_body(key, range_end, keys_only=keys_only, count_only=count_only), opts,
               auth)


def kv_delete(url: str, key: bytes, range_end: Optional[bytes], opts: HttpOptions, auth: EtcdAuth,
              prev_kv: bool = False) -> Any:
    """``POST <url>/v3/kv/deleterange`` of ``key`` (up to ``range_end``): etcd's answer (``deleted``, a string)."""
    return _kv(url, "/v3/kv/deleterange", delete_body(key, range_end, prev_kv=prev_kv), opts, auth)
