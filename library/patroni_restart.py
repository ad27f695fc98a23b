#!/usr/bin/python
# -*- coding: utf-8 -*-
# Restart the PostgreSQL of one Patroni member through the REST API and wait until it is back.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: patroni_restart
short_description: Restart the PostgreSQL of one Patroni member and wait until it is back
description:
  - Reads C(GET <api_url>/cluster) from the first of O(api_urls) that answers and finds O(member) there.
  - With O(restart_pending=true) (the default) the member is restarted only when Patroni flags it with
    C(pending_restart) (a changed parameter needs a restart); otherwise the module reports RV(changed=false).
  - >-
    Sends C(POST /restart) to the member's own REST API (the scheme and host:port of its C(api_url) in
    C(/cluster), like C(patronictl restart) does). The body is C({"restart_pending": true}) with
    O(restart_pending=true), so Patroni itself refuses the restart if the flag was cleared meanwhile, and C({})
    otherwise. Patroni answers only once PostgreSQL is started again (or the restart failed).
  - Then polls C(GET /cluster) (any of O(api_urls)) until the member is back without the C(pending_restart) flag
    and in its role, a leader in state C(running) and a replica in state C(streaming) (C(running) is accepted
    when the replica was C(running) before, as Patroni before 3.0 never reports C(streaming)). A replica may come
    back as a different kind of standby (V(replica), V(sync_standby), V(quorum_standby)) since Patroni may move
    the synchronous role meanwhile. Fails after O(timeout) seconds with the unmet condition and a
    C(patronictl list)-like table.
  - In check mode nothing is sent; the module reports whether it would restart.
options:
  api_urls:
    description:
      - Patroni REST API base URLs of any members, e.g. V(http://172.28.10.11:8008). Tried in order; the first
        that answers C(GET /cluster) is used to find the member and to poll.
    type: list
    elements: str
    required: true
    aliases: [api_url]
  member:
    description: The member name as Patroni knows it (the C(name) in C(/cluster), what C(patronictl list) shows).
    type: str
    required: true
  restart_pending:
    description:
      - >-
        V(true) restarts only when the member has the C(pending_restart) flag (body C({"restart_pending": true})).
      - V(false) always restarts (body C({})).
    type: bool
    default: true
  wait_for_applied:
    description:
      - Also wait until the member has lost its C(pending_restart) flag, i.e. runs the new settings.
      - Set V(false) where the flag may legitimately stay, for example a replica after C(max_connections) (or
        C(max_worker_processes), C(max_prepared_transactions), C(max_locks_per_transaction), C(max_wal_senders))
        was lowered. A standby must run these at least as high as its primary, so Patroni keeps the old value
        until the primary has restarted with the lower one.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the member to be back after the restart.
      - The C(POST /restart) itself blocks until Patroni has started PostgreSQL again, so it counts against this
        time too; its HTTP timeout is the larger of O(timeout) and O(request_timeout).
    type: float
    default: 300
  interval:
    description: Seconds between two polls of C(GET /cluster).
    type: float
    default: 1
extends_documentation_fragment: [pgha_http]
notes:
  - Restarting the leader keeps it the leader (Patroni holds the leader lock during the restart) unless PostgreSQL
    does not come back within Patroni's C(primary_start_timeout); the module then times out, showing the new roles.
  - Restart one member at a time (see EXAMPLES); the module does not look at the other members.
author:
  - pgha project maintainers
"""

EXAMPLES = r"""
- name: Read the cluster
  patroni_cluster_info:
    api_urls: "{{ patroni_api_urls }}"
  register: patroni
  run_once: true

# A loop runs its items one after the other, so only one replica is down at any time.
- name: Restart the replicas waiting for a restart, one at a time
  patroni_restart:
    # e.g. patroni_api_urls: ["http://172.28.10.11:8008", "http://172.28.10.12:8008", "http://172.28.10.13:8008"]
    api_urls: "{{ patroni_api_urls }}"
    member: "{{ item.name }}"
    url_username: patroni
    url_password: "{{ patroni_restapi_password }}"
    timeout: 300
  loop: "{{ patroni.members | rejectattr('role', 'in', ['leader', 'standby_leader'])
            | selectattr('pending_restart') | list }}"
  loop_control:
    label: "{{ item.name }}"
  run_once: true

- name: Then the leader, if it waits for a restart too
  patroni_restart:
    api_urls: "{{ patroni_api_urls }}"
    member: "{{ patroni.leader }}"
    url_username: patroni
    url_password: "{{ patroni_restapi_password }}"
  when: patroni.leader is not none
  run_once: true

- name: Restart patroni3 unconditionally
  patroni_restart:
    api_url: http://172.28.10.11:8008
    member: patroni3
    restart_pending: false
    url_username: patroni
    url_password: "{{ patroni_restapi_password }}"
  register: restart

- name: Show how long it took
  ansible.builtin.debug:
    msg: "{{ restart.member }} is back {{ restart.after.state }} after {{ restart.elapsed }}s"
"""

RETURN = r"""
changed:
  description: The member was restarted (or would be, in check mode).
  returned: always
  type: bool
restarted:
  description:
    - Patroni restarted PostgreSQL (C(POST /restart) answered 200). V(false) when nothing was sent (no pending
      restart, check mode) or the request failed.
    - If the member is then not back within O(timeout) the module fails with RV(restarted=true).
  returned: always
  type: bool
member:
  description: The member name.
  returned: always
  type: str
  sample: patroni2
role:
  description: >-
    The member's normalised role before the restart: leader, standby_leader, replica, sync_standby or
    quorum_standby.
  returned: always
  type: str
  sample: replica
elapsed:
  description: Seconds from sending C(POST /restart) until the member was back (0 when nothing was sent).
  returned: always
  type: float
  sample: 4.2
attempts:
  description: Number of C(GET /cluster) polls after the restart (0 when nothing was sent).
  returned: always
  type: int
before:
  description: >-
    The member as read from C(/cluster) before the restart (the keys of the C(members) of M(patroni_cluster_info),
    plus C(pending_restart_reason)).
  returned: always
  type: dict
  contains:
    name: {description: Member name., type: str}
    role: {description: Normalised role., type: str}
    state: {description: "Patroni state: running, streaming, starting, stopped, ...", type: str}
    api_url: {description: The member's REST API URL as Patroni reports it., type: str}
    pending_restart:
      description: PostgreSQL needs a restart (C(pending_restart) or a C(pending_restart_reason) in C(/cluster)).
      type: bool
    pending_restart_reason:
      description: "Patroni 4: the parameters that need the restart, with old and new value (null if not reported)."
      type: dict
  sample: {name: patroni2, role: replica, state: streaming, api_url: "http://172.28.10.12:8008/patroni",
           pending_restart: true}
after:
  description: The member as read from C(/cluster) once back (equals RV(before) when nothing was sent).
  returned: always
  type: dict
cluster:
  description:
    - Summary of the last C(/cluster) read (scope, members, leader, leaders, timeline, replicas_streaming, pause),
      as M(patroni_cluster_info) returns it.
  returned: always
  type: dict
api_url:
  description: The REST API URL that answered the first C(GET /cluster).
  returned: always
  type: str
  sample: http://172.28.10.11:8008
restart_url:
  description: The URL the restart was (or would be) sent to.
  returned: always
  type: str
  sample: http://172.28.10.12:8008/restart
body:
  description: The JSON body of C(POST /restart).
  returned: always
  type: dict
  sample: {"restart_pending": true}
status:
  description: HTTP status of C(POST /restart) (null when nothing was sent or no answer came).
  returned: always
  type: int
  sample: 200
response:
  description: Patroni's answer to C(POST /restart) (null when nothing was sent).
  returned: always
  type: str
  sample: restarted successfully
errors:
  description: URLs that failed in the last C(GET /cluster) attempt before one answered, with their error.
  returned: always
  type: list
  elements: dict
members:
  description: Names of the members in C(/cluster) when O(member) is not one of them.
  returned: when O(member) is not found
  type: list
  elements: str
  sample: [patroni1, patroni2, patroni3]
msg:
  description: What happened, in one sentence.
  returned: always
  type: str
  sample: Restarted PostgreSQL on patroni2 (replica); back streaming after 4.2s
"""

import json
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible.module_utils.basic import AnsibleModule

from ansible.module_utils.pgha_http import HttpOptions, RequestError, request
from ansible.module_utils.pgha_patroni import LEADER_ROLES, member_endpoint, parse_restart_member, summarize_cluster
from ansible.module_utils.pgha_patroni_api import (
    patroni_api_urls,
    patroni_argument_spec,
    poll_cluster,
    poll_timeout_message,
    read_cluster_or_fail,
)

Errors = List[Dict[str, str]]


# --------------------------------------------------------------------------------------------
# Reading /cluster
# --------------------------------------------------------------------------------------------


def find_member(data: Mapping[str, Any], name: str) -> Optional[Dict[str, Any]]:
    """The parsed member called ``name`` in a /cluster answer, or None."""
    for raw in data.get("members") or []:
        if str(raw.get("name") or "") == name:
            return parse_restart_member(raw)
    return None


def member_names(data: Mapping[str, Any]) -> List[str]:
    return sorted(str(m.get("name") or "?") for m in data.get("members") or [])


# --------------------------------------------------------------------------------------------
# POST /restart
# --------------------------------------------------------------------------------------------


def restart_url(member_api_url: str) -> str:
    """``<scheme>://<host:port>/restart`` from the member's /cluster ``api_url`` (which ends in ``/patroni``)."""
    return member_endpoint(member_api_url, "/restart")


def restart_body(restart_pending: bool) -> Dict[str, Any]:
    # Patroni tests the presence of the key, not its value: never send {"restart_pending": false}.
    return {"restart_pending": True} if restart_pending else {}


def send_restart(url: str, body: Dict[str, Any], opts: HttpOptions, timeout: float) -> Tuple[int, str]:
    """POST the restart; Patroni answers when PostgreSQL is up again. 4xx/5xx raise RequestError."""
    return request("POST", url, opts, body=body, timeout=timeout)


def restart_failure(exc: RequestError, name: str, url: str, body: Dict[str, Any]) -> str:
    """A readable message for a restart request that failed."""
    if exc.status is None:
        return ("Could not restart %s: %s. Patroni may still be restarting it; check with patroni_cluster_info."
                % (name, exc.message))
    hint = {
        401: "Patroni's restapi.authentication is set: give url_username/url_password (or they are wrong).",
        403: "Patroni refused the request: check the credentials, client certificate or restapi.allowlist.",
        503: "Patroni could not restart PostgreSQL (see its log); 'restart conditions are not satisfied' with "
             "restart_pending=true means the member no longer waits for a restart.",
    }.get(exc.status, "")
    return ("Could not restart %s: POST %s with body %s answered HTTP %d: %s%s"
            % (name, url, _json(body), exc.status, exc.body.strip() or exc.message, ("\n" + hint) if hint else ""))


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


# --------------------------------------------------------------------------------------------
# Waiting until the member is back
# --------------------------------------------------------------------------------------------


def is_leader(role: str) -> bool:
    return role in LEADER_ROLES


def expected_states(before: Mapping[str, Any]) -> Tuple[str, ...]:
    """States that count as "back" for the member's role before the restart."""
    if before["role"] == "leader":
        return ("running",)
    if before["role"] == "standby_leader":
        return ("running", "streaming")
    if before["state"] == "running":
        # Patroni < 3.0 reports replicas as running, never streaming.
        return ("streaming", "running")
    return ("streaming",)


def back_problem(after: Optional[Mapping[str, Any]], before: Mapping[str, Any],
                 wait_for_applied: bool = True) -> Optional[str]:
    """None when ``after`` shows the member back as before the restart, else why it is not."""
    name = before["name"]
    if after is None:
        return "%s is not in /cluster (its member key is missing from the DCS)" % name
    if is_leader(after["role"]) != is_leader(before["role"]):
        return "%s is %s, it was %s before the restart" % (name, after["role"], before["role"])
    states = expected_states(before)
    if after["state"] not in states:
        return "%s is in state '%s', expected %s" % (name, after["state"], " or ".join("'%s'" % s for s in states))
    if wait_for_applied and after["pending_restart"]:
        return "%s still has the pending_restart flag" % name
    return None


def wait_until_back(
    api_urls: List[str], opts: HttpOptions, before: Mapping[str, Any], timeout: float, interval: float,
    wait_for_applied: bool = True,
) -> Dict[str, Any]:
    """Poll /cluster until back_problem() is None. Returns the last reading plus the last good one."""

    def examine(data: Dict[str, Any]) -> Dict[str, Any]:
        after = find_member(data, before["name"])
        return {"summary": summarize_cluster(data), "after": after,
                "problem": back_problem(after, before, wait_for_applied)}

    return poll_cluster(api_urls, opts, examine, timeout, interval)


# --------------------------------------------------------------------------------------------
# Module
# --------------------------------------------------------------------------------------------


def build_argument_spec() -> Dict[str, Any]:
    """The module's argument_spec (a function so tests can compare it with DOCUMENTATION)."""
    return patroni_argument_spec(
        member=dict(type="str", required=True),
        restart_pending=dict(type="bool", default=True),
        wait_for_applied=dict(type="bool", default=True),
        timeout=dict(type="float", default=300.0),
        interval=dict(type="float", default=1.0),
    )


def _initial_read(module: AnsibleModule, api_urls: List[str], name: str, opts: HttpOptions) -> Dict[str, Any]:
    """First /cluster read and the member in it; fails the module when either is missing."""
    data, url, errors = read_cluster_or_fail(module, api_urls, opts, member=name, changed=False, restarted=False)
    before = find_member(data, name)
    if before is None:
        names = member_names(data)
        module.fail_json(
            msg="Member '%s' is not in Patroni cluster '%s' (read from %s); its members are: %s"
                % (name, data.get("scope") or "?", url, ", ".join(names) or "none"),
            members=names, errors=errors, member=name, changed=False, restarted=False, api_url=url)
    return {"data": data, "api_url": url, "errors": errors, "before": before}


def main() -> None:
    module = AnsibleModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    p = module.params
    opts = HttpOptions.from_params(p)
    api_urls = patroni_api_urls(module)
    name: str = p["member"]

    first = _initial_read(module, api_urls, name, opts)
    before: Dict[str, Any] = first["before"]
    body = restart_body(p["restart_pending"])
    try:
        url = restart_url(before["api_url"] or "")
    except ValueError as exc:
        module.fail_json(msg="Cannot restart %s: /cluster gives no usable REST API URL for it (%s)" % (name, exc),
                         member=name, before=before, changed=False, restarted=False)
    result: Dict[str, Any] = dict(
        changed=False, restarted=False, member=name, role=before["role"], elapsed=0.0, attempts=0,
        before=before, after=before, cluster=summarize_cluster(first["data"]), api_url=first["api_url"],
        restart_url=url, body=body, status=None, response=None, errors=first["errors"],
    )

    if p["restart_pending"] and not before["pending_restart"]:
        module.exit_json(msg="%s has no pending restart; nothing to do" % name, **result)
    result["changed"] = True
    if module.check_mode:
        module.exit_json(msg="Would restart PostgreSQL on %s (%s)" % (name, before["role"]), **result)

    started = time.monotonic()
    try:
        status, text = send_restart(url, body, opts, timeout=max(p["timeout"], p["request_timeout"]))
    except RequestError as exc:
        module.fail_json(msg=restart_failure(exc, name, url, body),
                         **dict(result, changed=False, status=exc.status, response=exc.body.strip()))
    result.update(status=status, response=text.strip())
    if status != 200:
        module.fail_json(msg="Could not restart %s: POST %s with body %s answered HTTP %d instead of 200: %s"
                             % (name, url, _json(body), status, text.strip()), **dict(result, changed=False))

    result["restarted"] = True
    remaining = max(0.0, p["timeout"] - (time.monotonic() - started))
    waited = wait_until_back(api_urls, opts, before, remaining, p["interval"], p["wait_for_applied"])
    result.update(elapsed=round(time.monotonic() - started, 3), attempts=waited["attempts"],
                  errors=waited["reading"]["errors"])
    if waited["good"]:
        result.update(after=waited["good"]["after"], cluster=waited["good"]["summary"])
    if not waited["ok"]:
        module.fail_json(msg=poll_timeout_message(waited, result["elapsed"], p["timeout"],
                                                  "%s to be back after the restart" % name, "the restart",
                                                  {"api_url": first["api_url"], "summary": result["cluster"]}),
                         **result)
    module.exit_json(msg="Restarted PostgreSQL on %s (%s); back %s after %ss"
                         % (name, before["role"], result["after"]["state"], result["elapsed"]), **result)


if __name__ == "__main__":
    main()
