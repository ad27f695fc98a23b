#!/usr/bin/python
# -*- coding: utf-8 -*-
# Planned switchover of a Patroni cluster through the REST API, waiting until the new leader runs.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: patroni_switchover
short_description: Hand the leader role of a Patroni cluster to a replica and wait until it runs
description:
  - Reads C(GET <api_url>/cluster) and C(GET /config) from the first of O(api_urls) that answers.
  - >-
    Picks the member to hand the leader role to: O(candidate) when given (the module fails, saying why, when it
    cannot take over), otherwise the best eligible member. Eligible is a replica (V(replica), V(sync_standby) or
    V(quorum_standby)) in state C(streaming) (C(running) when no member streams, as Patroni before 3.0 reports
    replicas), without the C(nofailover) tag (or C(failover_priority) 0), without C(pending_restart) when
    O(exclude_pending_restart=true), and, when C(synchronous_mode) is on (V(true) or V(quorum)), a synchronous or
    quorum standby, the only members Patroni accepts then. Best is a synchronous or quorum standby first, then
    the lowest lag, then the name.
  - >-
    Sends C(POST /switchover) with C({"leader": <leader>, "candidate": <candidate>}) to the leader's own REST API
    (the scheme and host:port of its C(api_url) in C(/cluster), like C(patronictl switchover)). Patroni answers
    200 once the candidate has taken over, and 412 or 503 when it refuses or fails; the module then fails with
    Patroni's answer and a hint.
  - Then polls C(GET /cluster) (any of O(api_urls)) until the candidate is the leader in state C(running) on a
    timeline after the old one and, with O(wait_for_old_leader=true), the old leader streams from it on that
    timeline. Fails after O(timeout) seconds with the unmet condition and a C(patronictl list)-like table.
  - >-
    With O(any_candidate=true) the request names no candidate (C({"leader": <leader>})): Patroni lets the healthiest
    eligible member take over and the other replicas follow it at once. With a named candidate Patroni makes every
    other replica wait 2 seconds before it follows the new leader; with synchronous replication the new leader's
    first commits wait for a standby, so for that long (docs/failover.md measures both).
  - Nothing is sent when O(candidate) already is the leader (RV(changed=false)).
  - In check mode the module picks and reports the candidate and sends nothing.
options:
  api_urls:
    description:
      - Patroni REST API base URLs of any members, e.g. V(http://172.28.10.11:8008). Tried in order; the first
        that answers C(GET /cluster) is used to read the cluster, and any of them to poll.
    type: list
    elements: str
    required: true
    aliases: [api_url]
  candidate:
    description:
      - The member (its name in C(/cluster)) that becomes the leader. The module fails, saying why, when it cannot.
      - Omitted, the module picks the best eligible member (see the description).
    type: str
  any_candidate:
    description:
      - Name no candidate in the request and let Patroni pick the new leader among the eligible members (the
        module still checks that there is one, and reports the member that took over in RV(candidate)).
      - Mutually exclusive with O(candidate) and O(exclude_pending_restart), which need a named candidate.
    type: bool
    default: false
  require_candidate:
    description:
      - Without O(candidate), what to do when no member can take over.
      - V(true) fails, listing why each member cannot.
      - V(false) does nothing (RV(changed=false), RV(candidate=null)) and says why; a rolling restart then restarts
        the leader in place.
    type: bool
    default: true
  exclude_pending_restart:
    description:
      - Only members without C(pending_restart) (or Patroni 4's C(pending_restart_reason)) may take over.
      - A rolling restart uses it to hand the leader role to a replica that already runs the new settings.
      - When the leader's C(pending_restart_reason) lowers C(max_connections), C(max_prepared_transactions),
        C(max_locks_per_transaction), C(max_wal_senders) or C(max_worker_processes), no member may take over, as a
        replica runs the old value until the leader restarted (PostgreSQL needs a standby at least as high as its
        primary), whether Patroni flags it pending or not.
    type: bool
    default: false
  wait_for_old_leader:
    description:
      - Also wait until the old leader is back as a replica in state C(streaming) on the new leader's timeline.
      - V(false) returns as soon as the new leader runs.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the switchover, the C(POST /switchover) included (Patroni answers it only once the
        candidate has taken over; its HTTP timeout is the larger of O(timeout) and O(request_timeout)).
    type: float
    default: 120
  interval:
    description: Seconds between two polls of C(GET /cluster).
    type: float
    default: 1
extends_documentation_fragment: [pgha_http]
notes:
  - Writes stop for the time the switchover takes (a few seconds); sessions on the old leader are cut.
  - Patroni checks again before it acts (health and lag of the candidate against C(maximum_lag_on_failover),
    synchronous state) and answers 412 when that fails; the module shows its answer.
author:
  - pgha project maintainers
"""

EXAMPLES = r"""
- name: Hand the leader role to the best replica and wait until the old leader streams again
  patroni_switchover:
    # e.g. patroni_api_urls: ["http://172.28.10.11:8008", "http://172.28.10.12:8008", "http://172.28.10.13:8008"]
    api_urls: "{{ patroni_api_urls }}"
    url_username: patroni
    url_password: "{{ patroni_restapi_password }}"
  register: switchover
  run_once: true

- name: Show what happened
  ansible.builtin.debug:
    msg: "{{ switchover.msg }}"
  run_once: true

# Rolling restart: the replicas were restarted with the new settings; the leader still waits for its restart.
- name: Hand the leader role to a replica that already runs the new settings
  patroni_switchover:
    api_urls: "{{ patroni_api_urls }}"
    exclude_pending_restart: true
    url_username: patroni
    url_password: "{{ patroni_restapi_password }}"
    timeout: 180
  run_once: true

- name: Switch over, letting Patroni pick the new leader (the shortest write pause)
  patroni_switchover:
    api_urls: "{{ patroni_api_urls }}"
    any_candidate: true
    url_username: patroni
    url_password: "{{ patroni_restapi_password }}"
  run_once: true

- name: Make patroni2 the leader (nothing happens when it already is)
  patroni_switchover:
    api_url: https://172.28.10.11:8008
    candidate: patroni2
    url_username: patroni
    url_password: "{{ patroni_restapi_password }}"
    ca_path: /etc/pgha/tls/ca.crt
"""

RETURN = r"""
changed:
  description: A switchover was made (or would be, in check mode); false when O(candidate) already was the leader.
  returned: always
  type: bool
leader_before:
  description: The leader before the switchover.
  returned: always
  type: str
  sample: patroni1
candidate:
  description:
    - The member chosen to take over (the leader, when O(candidate) already was it); with O(any_candidate=true),
      the member that took over (before the request, in check mode, the best eligible one).
    - Null when no member can take over and O(require_candidate=false).
  returned: always
  type: str
  sample: patroni2
candidates:
  description: The members that could take over, best first (the choice is the first one unless O(candidate) is set).
  returned: always
  type: list
  elements: str
  sample: [patroni2, patroni3]
ineligible:
  description: The other members, each with why it cannot take over.
  returned: always
  type: dict
  sample: {patroni1: it is the leader, patroni3: it is tagged nofailover}
synchronous_mode:
  description: C(synchronous_mode) of the dynamic configuration, V(off), V(on) or V(quorum).
  returned: always
  type: str
  sample: "off"
timeline_before:
  description: The leader's timeline before the switchover.
  returned: always
  type: int
  sample: 1
timeline_after:
  description: The leader's timeline at the end (null when nothing was sent or nothing could be read afterwards).
  returned: always
  type: int
  sample: 2
elapsed:
  description: Seconds from sending C(POST /switchover) until the switchover was complete (0 when nothing was sent).
  returned: always
  type: float
  sample: 6.4
attempts:
  description: Number of C(GET /cluster) polls after the switchover request (0 when nothing was sent).
  returned: always
  type: int
status:
  description: HTTP status of C(POST /switchover) (null when nothing was sent or no answer came).
  returned: always
  type: int
  sample: 200
response:
  description: Patroni's answer to C(POST /switchover) (null when nothing was sent).
  returned: always
  type: str
  sample: Successfully switched over to "patroni2"
api_url:
  description: The REST API URL that answered the first C(GET /cluster).
  returned: always
  type: str
  sample: http://172.28.10.11:8008
switchover_url:
  description: The URL the switchover was (or would be) sent to, on the leader.
  returned: always
  type: str
  sample: http://172.28.10.11:8008/switchover
cluster:
  description:
    - Summary of the last C(/cluster) read (scope, members, leader, leaders, timeline, replicas_streaming, pause),
      as M(patroni_cluster_info) returns it; members also carry C(pending_restart_reason).
  returned: always
  type: dict
table:
  description: The members of RV(cluster) as C(patronictl list) shows them.
  returned: always
  type: str
errors:
  description: URLs that failed in the last C(GET /cluster) attempt before one answered, with their error.
  returned: always
  type: list
  elements: dict
members:
  description: Names of the members in C(/cluster) when O(candidate) is not one of them.
  returned: when O(candidate) is not found
  type: list
  elements: str
  sample: [patroni1, patroni2, patroni3]
msg:
  description: What happened, in one sentence (with the table when the module fails).
  returned: always
  type: str
  sample: Switched over from patroni1 to patroni2 in 6.4s (timeline 1 -> 2); patroni1 streams from it
"""

import time
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible.module_utils.basic import AnsibleModule

from ansible.module_utils.pgha_http import HttpOptions, RequestError, format_errors, request
from ansible.module_utils.pgha_patroni import (
    LEADER_ROLES,
    healthy_replica_states,
    member_endpoint,
    parse_restart_member,
    render_table,
    summarize_cluster,
    switchover_candidates,
    switchover_problem,
    synchronous_mode,
)
from ansible.module_utils.pgha_patroni_api import (
    patroni_api_urls,
    patroni_argument_spec,
    poll_cluster,
    poll_timeout_message,
    read_cluster_or_fail,
    read_config,
)

# Why Patroni may have answered a switchover with this status, for the failure message.
REFUSAL_HINTS = {
    400: "Patroni did not accept the request body.",
    401: "Patroni's restapi.authentication is set: give url_username/url_password (or they are wrong).",
    403: "Patroni refused the request: check the credentials, client certificate or restapi.allowlist.",
    412: "Patroni's own checks failed: the candidate is not healthy, lags more than maximum_lag_on_failover, is not "
         "the synchronous standby in synchronous mode, or the leader changed meanwhile. The cluster is unchanged.",
    503: "Patroni could not complete the switchover ('Switchover failed': the candidate did not take over, the old "
         "leader stays; 'Switchover status unknown': Patroni stopped waiting and it may still happen). Look at the "
         "cluster (patroni_cluster_info) before trying again.",
}


def summarize(data: Mapping[str, Any]) -> Dict[str, Any]:
    """The /cluster summary with pending_restart from Patroni 4's pending_restart_reason too."""
    return summarize_cluster(data, parse=parse_restart_member)


def choose(summary: Mapping[str, Any], candidate: Optional[str], sync_mode: Optional[str],
           exclude_pending_restart: bool) -> Dict[str, Any]:
    """The switchover plan: ``leader``, ``candidate`` and the lists, or ``problem`` (why there can be none)."""
    scope = summary.get("scope") or "?"
    leaders = [m for m in summary["members"] if m["role"] in LEADER_ROLES]
    eligible, ineligible = switchover_candidates(summary["members"], sync_mode, exclude_pending_restart)
    plan: Dict[str, Any] = {"leader": leaders[0]["name"] if leaders else None, "candidate": None,
                            "candidates": [m["name"] for m in eligible], "ineligible": ineligible, "problem": None,
                            "no_candidate": False}
    if len(leaders) != 1:
        plan["problem"] = ("Cannot switch over: cluster '%s' has %s; a switchover needs exactly one leader (without "
                           "one, Patroni elects a new leader by itself)"
                           % (scope, "no leader" if not leaders else "%d leaders (%s)"
                              % (len(leaders), ", ".join(m["name"] for m in leaders))))
    elif leaders[0]["state"] != "running":
        plan["problem"] = ("Cannot switch over: leader %s is in state '%s', not running; wait until it runs"
                           % (leaders[0]["name"], leaders[0]["state"]))
    elif candidate:
        plan["candidate"] = candidate
        if candidate != plan["leader"] and candidate in ineligible:
            plan["problem"] = ("Cannot switch over to %s: %s. Members that could take over from %s: %s"
                               % (candidate, ineligible[candidate], plan["leader"],
                                  ", ".join(plan["candidates"]) or "none"))
    elif not eligible:
        plan["no_candidate"] = True
        plan["problem"] = ("Cannot switch over: no member of cluster '%s' can take over from %s:\n%s"
                           % (scope, plan["leader"], "\n".join("  - %s: %s" % (name, why)
                                                             for name, why in sorted(ineligible.items())
                                                             if name != plan["leader"])))
    else:
        plan["candidate"] = eligible[0]["name"]
    return plan


def refusal_message(exc: RequestError, leader: str, candidate: str, url: str) -> str:
    """A readable message for a switchover request that Patroni refused or that got no answer."""
    if exc.status is None:
        return ("No answer to the switchover from %s to %s: %s. Patroni may still be switching over; look at the "
                "cluster (patroni_cluster_info) before trying again." % (leader, candidate, exc.message))
    hint = REFUSAL_HINTS.get(exc.status, "")
    return ("Patroni refused the switchover from %s to %s: POST %s answered HTTP %d: %s%s"
            % (leader, candidate, url, exc.status, exc.body.strip() or exc.message, ("\n" + hint) if hint else ""))


def wait_until_done(api_urls: List[str], opts: HttpOptions, plan: Mapping[str, Any], timeline_before: Optional[int],
                    wait_for_old_leader: bool, states: Tuple[str, ...], timeout: float,
                    interval: float) -> Dict[str, Any]:
    """Poll /cluster until switchover_problem() is None: the last reading, the last good one, ok, attempts."""

    def examine(data: Dict[str, Any]) -> Dict[str, Any]:
        summary = summarize(data)
        return {"summary": summary, "problem": switchover_problem(summary, plan["candidate"], plan["leader"],
                                                                  timeline_before, wait_for_old_leader, states)}

    return poll_cluster(api_urls, opts, examine, timeout, interval)


def build_argument_spec() -> Dict[str, Any]:
    """The module's argument_spec (a function so tests can compare it with DOCUMENTATION)."""
    return patroni_argument_spec(
        candidate=dict(type="str"),
        any_candidate=dict(type="bool", default=False),
        require_candidate=dict(type="bool", default=True),
        exclude_pending_restart=dict(type="bool", default=False),
        wait_for_old_leader=dict(type="bool", default=True),
        timeout=dict(type="float", default=120.0),
        interval=dict(type="float", default=1.0),
    )


def _read(module: AnsibleModule, api_urls: List[str], opts: HttpOptions) -> Dict[str, Any]:
    """The first /cluster and /config reads; fails the module when either cannot be had."""
    data, url, errors = read_cluster_or_fail(module, api_urls, opts, changed=False)
    config, _config_url, config_errors = read_config([url] + [u for u in api_urls if u != url], opts)
    if config is None:
        module.fail_json(msg="Could not read Patroni's dynamic configuration (GET /config), needed to know whether "
                             "synchronous_mode is on. Tried:\n%s" % format_errors(config_errors),
                         errors=config_errors, changed=False, api_url=url)
    return {"data": data, "api_url": url, "errors": errors, "config": config}


def main() -> None:
    module = AnsibleModule(argument_spec=build_argument_spec(), supports_check_mode=True,
                           mutually_exclusive=[("any_candidate", "candidate"),
                                               ("any_candidate", "exclude_pending_restart")])
    p = module.params
    opts = HttpOptions.from_params(p)
    api_urls = patroni_api_urls(module)

    first = _read(module, api_urls, opts)
    summary = summarize(first["data"])
    sync_mode = synchronous_mode(first["config"])
    plan = choose(summary, p["candidate"], sync_mode, p["exclude_pending_restart"])
    table = render_table(summary)
    result: Dict[str, Any] = dict(
        changed=False, leader_before=plan["leader"], candidate=plan["candidate"], candidates=plan["candidates"],
        ineligible=plan["ineligible"], synchronous_mode=sync_mode or "off", timeline_before=summary["timeline"],
        timeline_after=None, elapsed=0.0, attempts=0, status=None, response=None, api_url=first["api_url"],
        switchover_url=None, cluster=summary, table=table, errors=first["errors"],
    )
    names = [m["name"] for m in summary["members"]]
    if p["candidate"] and p["candidate"] not in names:
        module.fail_json(msg="Cannot switch over to %s: it is not a member of cluster '%s'; its members are: %s"
                             % (p["candidate"], summary.get("scope") or "?", ", ".join(names) or "none"),
                         members=names, **result)
    if plan["no_candidate"] and not p["require_candidate"]:
        module.exit_json(msg="%s\nNothing done (require_candidate=false)." % plan["problem"], **result)
    if plan["problem"]:
        module.fail_json(msg="%s\n%s" % (plan["problem"], table), **result)
    leader, candidate = plan["leader"], plan["candidate"]
    if candidate == leader:
        module.exit_json(msg="%s already is the leader; nothing to do" % leader,
                         **dict(result, timeline_after=summary["timeline"]))
    leader_api_url = next(m["api_url"] for m in summary["members"] if m["name"] == leader)
    try:
        url = member_endpoint(leader_api_url or "", "/switchover")
    except ValueError as exc:
        module.fail_json(msg="Cannot switch over: /cluster gives no usable REST API URL for the leader %s (%s)"
                             % (leader, exc), **result)
    result.update(switchover_url=url, changed=True)
    why = ("" if p["candidate"] else " (Patroni picks among: %s)" % ", ".join(plan["candidates"]) if p["any_candidate"]
           else " (the best of: %s)" % ", ".join(plan["candidates"]))
    if module.check_mode:
        module.exit_json(msg="Would switch over from %s to %s%s" % (leader, candidate, why), **result)

    body = {"leader": leader} if p["any_candidate"] else {"leader": leader, "candidate": candidate}
    states = healthy_replica_states(summary["members"])
    started = time.monotonic()
    try:
        status, text = request("POST", url, opts, body=body, timeout=max(p["timeout"], p["request_timeout"]))
    except RequestError as exc:
        module.fail_json(msg="%s\nThe cluster before the request:\n%s" % (refusal_message(exc, leader, candidate, url),
                                                                          table),
                         **dict(result, changed=exc.status is None, status=exc.status, response=exc.body.strip()))
    result.update(status=status, response=text.strip())
    if status != 200:
        module.fail_json(msg="Patroni did not confirm the switchover from %s to %s: POST %s answered HTTP %d instead "
                             "of 200: %s" % (leader, candidate, url, status, text.strip()), **result)

    remaining = max(0.0, p["timeout"] - (time.monotonic() - started))
    waited = wait_until_done(api_urls, opts, dict(plan, candidate=None) if p["any_candidate"] else plan,
                             summary["timeline"], p["wait_for_old_leader"], states, remaining, p["interval"])
    result.update(elapsed=round(time.monotonic() - started, 3), attempts=waited["attempts"],
                  errors=waited["reading"]["errors"])
    good = waited["good"]
    if good:
        result.update(cluster=good["summary"], table=render_table(good["summary"]),
                      timeline_after=good["summary"]["timeline"])
        if p["any_candidate"]:
            candidate = next((n for n in good["summary"].get("leaders") or [] if n != leader), candidate)
            result["candidate"] = candidate
    if not waited["ok"]:
        module.fail_json(msg=poll_timeout_message(waited, result["elapsed"], p["timeout"],
                                                  "the switchover from %s to %s to complete" % (leader, candidate),
                                                  "the request", {"api_url": first["api_url"], "summary": summary}),
                         **result)
    after = (" (timeline %s -> %s)" % (summary["timeline"], result["timeline_after"])
             if result["timeline_after"] is not None else "")
    module.exit_json(msg="Switched over from %s to %s in %ss%s%s"
                         % (leader, candidate, result["elapsed"], after,
                            "; %s streams from it" % leader if p["wait_for_old_leader"] else ""), **result)


if __name__ == "__main__":
    main()
