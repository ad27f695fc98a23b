#!/usr/bin/python
# -*- coding: utf-8 -*-
# Read (and optionally wait for) the health and quorum of an etcd v3 cluster through its JSON gateway.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: etcd_cluster_info
short_description: Read etcd cluster membership, member health and quorum, optionally waiting for conditions
description:
  - Lists the members with C(POST <endpoint>/v3/cluster/member/list) (etcd v3 JSON gateway, etcd 3.4+),
    trying O(endpoints) in order until one answers.
  - For each member it calls C(GET <client_url>/health) and C(POST <client_url>/v3/maintenance/status) to find
    whether it is healthy, which member is leader, its version, database size and raft term.
  - Quorum holds when at least C(member_count // 2 + 1) voting members are healthy.
  - With O(wait=true) it polls until the conditions hold and fails after O(timeout) seconds with the unmet
    conditions and a table of the members. If no endpoint answers at all, the cluster is reported with no members
    and no quorum; that fails unless O(wait=true) and O(expect_quorum=false).
  - Read-only; never reports changed.
options:
  endpoints:
    description: etcd client URLs, e.g. V(http://172.28.10.11:2379), tried in order for the member list.
    type: list
    elements: str
    required: true
    aliases: [endpoint]
  expect_healthy:
    description: At least this many members are healthy.
    type: int
  expect_quorum:
    description:
      - V(true) waits until quorum holds; V(false) waits until quorum is lost (chaos tests).
      - Unset means quorum is not a condition (it is still reported).
    type: bool
  timeout:
    description: Seconds to wait when O(wait=true). One poll may overrun it by a few request timeouts.
  request_timeout:
    description: Timeout in seconds of each HTTP request; keep it short, a member without quorum may hang.
    type: float
    default: 3
  url_username:
    description:
      - etcd user (etcd authentication enabled). Not sent as HTTP basic auth, which the etcd gateway does not
        support; the module gets a token from C(POST /v3/auth/authenticate) on each member it talks to.
    type: str
  url_password:
    description: Password of O(url_username).
    type: str
extends_documentation_fragment: [pgha_http, pgha_wait]
notes:
  - etcd's JSON gateway encodes 64-bit IDs as decimal strings; RV(members[].id) is the hexadecimal form C(etcdctl)
    prints.
author:
  - pgha project maintainers
"""

EXAMPLES = r"""
- name: Wait until all three etcd members are healthy
  etcd_cluster_info:
    endpoints: [http://172.28.10.11:2379, http://172.28.10.12:2379, http://172.28.10.13:2379]
    wait: true
    expect_healthy: 3
    expect_quorum: true
  register: etcd

- name: Show the members
  ansible.builtin.debug:
    msg: "{{ etcd.table.splitlines() }}"

- name: After stopping two of three members, wait until quorum is lost
  etcd_cluster_info:
    endpoints: [http://172.28.10.11:2379, http://172.28.10.12:2379, http://172.28.10.13:2379]
    wait: true
    expect_quorum: false
    timeout: 60
"""

RETURN = r"""
members:
  description: Members from the member list, sorted by name (unstarted members last).
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Member name (empty for a member added but not started)., type: str}
    id: {description: Member ID in hexadecimal as etcdctl prints it., type: str}
    id_int: {description: Member ID as an integer., type: int}
    peer_urls: {description: Peer URLs., type: list, elements: str}
    client_urls: {description: Client URLs., type: list, elements: str}
    is_learner: {description: Member is a non-voting learner., type: bool}
    healthy: {description: "C(/health) answered C({\"health\": \"true\"})", type: bool}
    is_leader: {description: The member reports itself as the raft leader., type: bool}
    leader_id: {description: "Leader ID (hex) as this member sees it, null if it sees no leader.", type: str}
    version: {description: etcd server version., type: str}
    db_size: {description: Database size in bytes., type: int}
    raft_term: {description: Raft term., type: int}
    raft_index: {description: Raft index., type: int}
    error: {description: "Why the member is unhealthy or could not be asked, null if all went fine.", type: str}
  sample:
    - {name: patroni1, id: 8e9e05c52164694d, healthy: true, is_leader: true, version: 3.4.23, db_size: 20480,
       raft_term: 2, error: null}
member_count:
  description: Number of voting members in the member list (0 when no endpoint answered).
  returned: always
  type: int
  sample: 3
healthy_count:
  description: Number of healthy voting members.
  returned: always
  type: int
  sample: 3
quorum_size:
  description: Healthy members needed for quorum.
  returned: always
  type: int
  sample: 2
quorum:
  description: healthy_count >= member_count // 2 + 1 (false when no endpoint answered).
  returned: always
  type: bool
leader:
  description: Name of the leader member, null if none.
  returned: always
  type: str
  sample: patroni1
table:
  description: Text table of the members and a quorum summary line.
  returned: always
  type: str
healthy:
  description: True when every requested condition holds (RV(problems) is empty).
  returned: always
  type: bool
problems:
  description: One sentence per condition that does not hold.
  returned: always
  type: list
  elements: str
endpoint:
  description: The endpoint that answered the member list, null if none did.
  returned: always
  type: str
error:
  description: Why no member list could be read (every endpoint and its error), null otherwise.
  returned: always
  type: str
errors:
  description: Endpoints that failed for the member list in the last attempt, with their error.
  returned: always
  type: list
  elements: dict
raw:
  description: The member-list JSON answer (empty dict if none).
  returned: always
  type: dict
attempts:
  description: Number of polls made.
  returned: always
  type: int
elapsed:
  description: Seconds spent polling.
  returned: always
  type: float
"""

from typing import Any, Dict, List, Optional, Tuple

from ansible.module_utils.basic import AnsibleModule

from ansible.module_utils.pgha_etcd import (
    check_conditions,
    merge_member,
    parse_health,
    parse_member_list,
    parse_status,
    render_table,
    summarize,
    validate_member_list,
)
from ansible.module_utils.pgha_http import (
    HttpOptions,
    RequestError,
    first_answer,
    format_errors,
    http_argument_spec,
    info_result,
    join_url,
    poll_readings,
    request_json,
    timeout_message,
    wait_argument_spec,
)


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


def build_argument_spec() -> Dict[str, Any]:
    """The module's argument_spec (a function so tests can compare it with DOCUMENTATION)."""
    return dict(
        endpoints=dict(type="list", elements="str", required=True, aliases=["endpoint"]),
        expect_healthy=dict(type="int"),
        expect_quorum=dict(type="bool"),
        **wait_argument_spec(),
        **http_argument_spec(request_timeout=3.0),
    )


def main() -> None:
    module = AnsibleModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    p = module.params
    # etcd takes credentials as a token, never as HTTP basic auth (see EtcdAuth)
    opts = HttpOptions.from_params(p).without_basic_auth()
    endpoints = [e for e in p["endpoints"] if e]
    if not endpoints:
        module.fail_json(msg="endpoints is empty: give at least one etcd client URL, e.g. http://10.0.0.1:2379")

    def attempt() -> Tuple[Dict[str, Any], bool]:
        # Even a member list nobody answered is checked: check_conditions() weighs its error against expect_quorum.
        auth = EtcdAuth(p["url_username"], p["url_password"], opts)  # fresh tokens for every poll
        reading = read_etcd(endpoints, opts, auth)
        reading["summary"] = summarize(reading["members"])
        reading["problems"] = check_conditions(
            reading["summary"], reading["members"], p["expect_healthy"], p["expect_quorum"], reading["error"]
        )
        return reading, not reading["problems"]

    poll = poll_readings(attempt, p["wait"], p["timeout"], p["interval"])
    reading, summary = poll["reading"], poll["reading"]["summary"]
    table = render_table(reading["members"], summary)
    result = info_result(
        poll, table, reading["problems"], members=reading["members"], member_count=summary["member_count"],
        healthy_count=summary["healthy_count"], quorum_size=summary["quorum_size"], quorum=summary["quorum"],
        leader=summary["leader"], endpoint=reading["endpoint"], error=reading["error"], errors=reading["errors"],
        raw=reading["raw"],
    )
    if not p["wait"] and reading["endpoint"] is None:
        module.fail_json(msg="Could not read the etcd member list: %s" % reading["error"], **result)
    if p["wait"] and not poll["ok"]:
        if reading["endpoint"] is None:
            state = ["No endpoint answered the member list in the last attempt:", format_errors(reading["errors"])]
        else:
            state = ["Actual state (member list from %s):" % reading["endpoint"], table]
        module.fail_json(msg=timeout_message(poll, "etcd", reading["problems"], state), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
