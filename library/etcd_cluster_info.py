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

from typing import Any, Dict, Tuple

from ansible.module_utils.basic import AnsibleModule

from ansible.module_utils.pgha_etcd import check_conditions, render_table, summarize
from ansible.module_utils.pgha_etcd_api import EtcdAuth, read_etcd
from ansible.module_utils.pgha_http import (
    HttpOptions,
    format_errors,
    http_argument_spec,
    info_result,
    poll_readings,
    timeout_message,
    wait_argument_spec,
)


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
