#!/usr/bin/python
# -*- coding: utf-8 -*-
# Read (and optionally wait for) the state of a Patroni cluster through its REST API.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: patroni_cluster_info
short_description: Read the state of a Patroni cluster, optionally waiting for conditions
description:
  - Reads C(GET <api_url>/cluster) from the Patroni REST API and returns the members (role, state,
    timeline, LSNs, lag), the leader, a C(patronictl list)-like table and the conditions that do not hold.
  - O(api_urls) are tried in turn until one answers, so the module still works when a node is down.
  - With O(wait=true) it polls until every condition holds and fails after O(timeout) seconds with a message
    listing each unmet condition and the table of the actual state. Connection errors while waiting are retried.
  - Without O(wait) it never fails because of conditions (they are returned in RV(problems)); it fails only when
    no REST API answers at all.
  - Read-only; never reports changed.
options:
  api_urls:
    description:
      - Patroni REST API base URLs, e.g. V(http://172.28.10.11:8008). Tried in order until one answers.
    type: list
    elements: str
    required: true
    aliases: [api_url]
  source:
    description:
      - V(cluster) reads C(/cluster) from the first URL that answers (the DCS view, what C(patronictl list) shows).
      - V(members) reads C(GET /patroni) from B(every) URL and builds the member list from each node's own view.
        It works while the DCS (etcd) has no quorum, when C(/cluster) may fail or show a stale leader, so use it
        with O(expect_no_leader). Nodes that do not answer are listed with state V(unreachable).
        Lag is computed against the leader's WAL position when there is a leader.
    type: str
    choices: [cluster, members]
    default: cluster
  wait:
    description: Poll until all conditions below hold; fail after O(timeout) seconds otherwise.
  expect_leader:
    description:
      Exactly one member is leader (or standby leader) and it is C(running). Ignored if O(expect_no_leader=true).
    type: bool
    default: true
  expect_no_leader:
    description:
      - No member is leader, e.g. after the DCS lost quorum and Patroni demoted the primary.
      - With O(source=members), a node that does not answer also counts as a problem (it cannot be confirmed).
    type: bool
    default: false
  expect_replicas:
    description: At least this many non-leader members are in state C(streaming).
    type: int
  same_timeline:
    description: Every streaming replica is on the leader's timeline (checked only when there is one leader).
    type: bool
    default: true
  max_lag:
    description: Every streaming replica lags at most this many bytes; an unknown lag counts as a problem.
    type: int
  expect_leader_name:
    description: The leader is this member (e.g. after a switchover).
    type: str
  expect_not_leader_name:
    description: This member is not the leader (e.g. after a failover away from it).
    type: str
  expect_min_timeline:
    description:
      - The leader runs on this timeline or a later one. After a failover Patroni names the new leader in the DCS
        before PostgreSQL has finished its promotion; waiting for the next timeline waits for the promotion.
    type: int
extends_documentation_fragment: [pgha_http, pgha_wait]
notes:
  - Lag values are bytes, as Patroni reports them in C(/cluster).
author:
  - pgha project maintainers
"""

EXAMPLES = r"""
- name: Show the cluster like patronictl list
  patroni_cluster_info:
    # e.g. patroni_api_urls: ["http://172.28.10.11:8008", "http://172.28.10.12:8008", "http://172.28.10.13:8008"]
    api_urls: "{{ patroni_api_urls }}"
  register: patroni

- name: Print it
  ansible.builtin.debug:
    msg: "{{ patroni.table.splitlines() }}"

- name: Wait until the cluster is healthy after deployment
  patroni_cluster_info:
    api_urls:
      - http://172.28.10.11:8008
      - http://172.28.10.12:8008
      - http://172.28.10.13:8008
    wait: true
    expect_replicas: 2
    max_lag: 1048576
    timeout: 180

- name: Wait for the switchover to patroni2
  patroni_cluster_info:
    api_urls: [http://172.28.10.12:8008, http://172.28.10.13:8008]
    wait: true
    expect_leader_name: patroni2
    expect_replicas: 1

- name: With etcd quorum lost, wait until no node runs as primary any more
  patroni_cluster_info:
    api_urls: [http://172.28.10.11:8008, http://172.28.10.12:8008, http://172.28.10.13:8008]
    source: members
    wait: true
    expect_no_leader: true
    timeout: 90
"""

RETURN = r"""
members:
  description: Cluster members sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Member name., type: str}
    host: {description: PostgreSQL host., type: str}
    port: {description: PostgreSQL port (null if unknown)., type: int}
    api_url: {description: The member's REST API URL as Patroni reports it., type: str}
    role:
      {description: "Normalised role: leader, replica, sync_standby, quorum_standby, standby_leader (or unknown).",
       type: str}
    patroni_role: {description: Role exactly as Patroni reported it., type: str}
    state:
      {description: "Patroni state: running, streaming, stopped, starting, ... (unreachable with source=members).",
       type: str}
    timeline: {description: "Timeline, null if not reported.", type: int}
    lsn: {description: "WAL position used for lag, null if unknown.", type: str}
    receive_lsn: {description: "Last received LSN (replicas), null if unknown.", type: str}
    replay_lsn: {description: "Last replayed LSN (replicas), null if unknown.", type: str}
    lag: {description: "Replication lag in bytes, null for the leader or when Patroni says unknown.", type: int}
    receive_lag: {description: Lag of the receive LSN in bytes., type: int}
    replay_lag: {description: Lag of the replay LSN in bytes., type: int}
    pending_restart: {description: PostgreSQL needs a restart to apply configuration., type: bool}
    tags: {description: Patroni tags of the member., type: dict}
    error: {description: "With source=members, why the node did not answer; otherwise null.", type: str}
  sample:
    - {name: patroni1, host: 172.28.10.11, port: 5432, role: leader, patroni_role: leader, state: running, timeline: 1,
       lag: null, receive_lsn: null, replay_lsn: null}
    - {name: patroni2, host: 172.28.10.12, port: 5432, role: replica, patroni_role: replica, state: streaming,
       timeline: 1, lag: 0, receive_lsn: 0/4000060, replay_lsn: 0/4000060}
leader:
  description: Name of the leader, null if there is none (first one if several).
  returned: always
  type: str
  sample: patroni1
timeline:
  description: The leader's timeline, null without a leader.
  returned: always
  type: int
  sample: 1
scope:
  description: Patroni scope (cluster name).
  returned: always
  type: str
  sample: demo
pause:
  description: The cluster is in maintenance mode.
  returned: always
  type: bool
replicas_streaming:
  description: Number of non-leader members in state streaming.
  returned: always
  type: int
  sample: 2
synchronous:
  description:
    - Synchronous replication as the cluster runs it, C(patronictl list)'s C(Sync Standby) / C(Quorum Standby) roles
      as data.
    - C(mode), C(strict) and C(node_count) come from the dynamic configuration (C(GET /config), read once at the
      end from the REST API that answered); they are null when it did not answer it.
  returned: always
  type: dict
  contains:
    mode:
      description: "C(synchronous_mode): V(false), V(true) or V(quorum)."
      type: raw
    strict:
      description: C(synchronous_mode_strict).
      type: bool
    node_count:
      description: C(synchronous_node_count).
      type: int
    standbys:
      description: Names of the members that are synchronous or quorum standbys now.
      type: list
      elements: str
  sample: {mode: quorum, strict: false, node_count: 1, standbys: [patroni2, patroni3]}
table:
  description: Text table like patronictl list (Member, Host, Role, State, TL, Receive LSN, Replay LSN, Lag in bytes).
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
  sample: ["expected at least 2 streaming replica(s), found 1 (not streaming: patroni3 stopped)"]
raw:
  description: The JSON answer of C(/cluster) (with O(source=members), a dict of API URL to its C(/patroni) answer).
  returned: always
  type: dict
api_url:
  description: The REST API URL that answered (with O(source=members), the first one).
  returned: always
  type: str
  sample: http://172.28.10.11:8008
source:
  description: The O(source) used (V(cluster) or V(members)).
  returned: always
  type: str
  sample: cluster
errors:
  description: URLs that failed in the last attempt, with their error.
  returned: always
  type: list
  elements: dict
attempts:
  description: Number of polls made.
  returned: always
  type: int
elapsed:
  description: Seconds spent polling.
  returned: always
  type: float
"""

from typing import Any, Dict, List, Optional

from ansible.module_utils.basic import AnsibleModule

from ansible.module_utils.pgha_http import (
    HttpOptions,
    RequestError,
    fail_unread,
    format_errors,
    info_result,
    join_url,
    last_problems,
    poll_conditions,
    request_json,
    timeout_message,
    wait_argument_spec,
)
from ansible.module_utils.pgha_patroni import (
    check_conditions,
    member_from_status,
    members_summary,
    render_table,
    summarize_cluster,
)
from ansible.module_utils.pgha_patroni_api import patroni_api_urls, patroni_argument_spec, read_config
from ansible.module_utils.pgha_patroni_api import read_cluster as first_cluster

# The options that are conditions, passed to check_conditions() as they are.
CONDITIONS = ("expect_leader", "expect_no_leader", "expect_replicas", "same_timeline", "max_lag",
              "expect_leader_name", "expect_not_leader_name", "expect_min_timeline")


def read_cluster(api_urls: List[str], opts: HttpOptions) -> Dict[str, Any]:
    """GET /cluster from the first URL that answers with a usable document."""
    data, url, errors = first_cluster(api_urls, opts)
    if data is None:
        return {"ok": False, "errors": errors, "endpoint": "GET /cluster"}
    return {"ok": True, "summary": summarize_cluster(data), "raw": data, "api_url": url, "errors": errors}


def read_members(api_urls: List[str], opts: HttpOptions) -> Dict[str, Any]:
    """GET /patroni from every URL; each node describes itself."""
    members = []
    raw: Dict[str, Any] = {}
    errors: List[Dict[str, str]] = []
    answered: Optional[str] = None
    for url in api_urls:
        full = join_url(url, "/patroni")
        try:
            status = request_json("GET", full, opts, accept_status=(503,))
            if not isinstance(status, dict):
                raise RequestError(full, "%s: expected a JSON object, got %s" % (full, type(status).__name__))
        except RequestError as exc:
            errors.append({"url": exc.url or full, "error": exc.message})
            members.append(member_from_status(url, None, exc.message))
            continue
        answered = answered or url
        raw[url] = status
        members.append(member_from_status(url, status))
    if answered is None:
        return {"ok": False, "errors": errors, "endpoint": "GET /patroni"}
    return {"ok": True, "summary": members_summary(members), "raw": raw, "api_url": answered, "errors": errors}


SYNCHRONOUS_ROLES = ("sync_standby", "quorum_standby")


def synchronous_state(summary: Dict[str, Any], config: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The synchronous replication settings (from /config, None when unread) and who is a synchronous standby."""
    cfg = config or {}
    return {
        "mode": cfg.get("synchronous_mode", False) if config is not None else None,
        "strict": bool(cfg.get("synchronous_mode_strict", False)) if config is not None else None,
        "node_count": cfg.get("synchronous_node_count", 1) if config is not None else None,
        "standbys": [m["name"] for m in summary["members"] if m["role"] in SYNCHRONOUS_ROLES],
    }


def build_argument_spec() -> Dict[str, Any]:
    """The module's argument_spec (a function so tests can compare it with DOCUMENTATION)."""
    return patroni_argument_spec(
        source=dict(type="str", choices=["cluster", "members"], default="cluster"),
        **wait_argument_spec(),
        expect_leader=dict(type="bool", default=True),
        expect_no_leader=dict(type="bool", default=False),
        expect_replicas=dict(type="int"),
        same_timeline=dict(type="bool", default=True),
        max_lag=dict(type="int"),
        expect_leader_name=dict(type="str"),
        expect_not_leader_name=dict(type="str"),
        expect_min_timeline=dict(type="int"),
    )


def main() -> None:
    module = AnsibleModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    p = module.params
    opts = HttpOptions.from_params(p)
    api_urls = patroni_api_urls(module)
    reader = read_members if p["source"] == "members" else read_cluster
    conditions = {name: p[name] for name in CONDITIONS}
    poll = poll_conditions(lambda: reader(api_urls, opts),
                           lambda reading: check_conditions(reading["summary"], **conditions), p)
    reading, good = poll["reading"], poll["good"]
    if not good:
        tried = "\n".join("  - %s" % u for u in api_urls)
        fail_unread(module, poll, "No Patroni REST API answered %s" % reading["endpoint"],
                    ". Tried:\n%s" % (format_errors(reading["errors"]) or tried), errors=reading["errors"])

    summary = good["summary"]
    table = render_table(summary)
    problems = last_problems(poll, "no Patroni REST API answered the last poll")
    result = info_result(
        poll, table, problems, members=summary["members"], leader=summary["leader"], timeline=summary["timeline"],
        scope=summary["scope"], pause=summary["pause"], replicas_streaming=summary["replicas_streaming"],
        raw=good["raw"], api_url=good["api_url"], errors=reading["errors"], source=p["source"],
        synchronous=synchronous_state(summary, read_config([good["api_url"]], opts)[0]),
    )
    if p["wait"] and not poll["ok"]:
        if reading["ok"]:
            state = ["Actual state (from %s):" % good["api_url"]]
        else:
            state = ["The last attempt reached no REST API:", format_errors(reading["errors"]),
                     "Last state read successfully (from %s):" % good["api_url"]]
        module.fail_json(msg=timeout_message(poll, "Patroni cluster '%s'" % (summary["scope"] or "?"), problems,
                                             state + [table]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
