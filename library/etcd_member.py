#!/usr/bin/python
# -*- coding: utf-8 -*-
# Add or remove one member of an etcd v3 cluster through its JSON gateway (runtime reconfiguration), refusing
# the changes that could cost the quorum.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: etcd_member
short_description: Add or remove one etcd member (runtime reconfiguration), refusing changes that risk the quorum
description:
  - Does what C(etcdctl member add) and C(etcdctl member remove) do, through the etcd v3 JSON gateway (etcd 3.4+),
    one member at a time and only when the cluster can take it.
  - Reads the members with C(POST <endpoint>/v3/cluster/member/list), trying O(endpoints) in order until one
    answers, and asks each member for C(GET <client_url>/health) and C(POST <client_url>/v3/maintenance/status),
    as M(etcd_cluster_info) does.
  - >-
    O(state=present) adds the member with C(POST /v3/cluster/member/add) (a voting member, not a learner) to the
    endpoint that answered. Nothing is done when a member with these O(peer_urls) is there already, started
    (named O(name)) or added earlier and not started yet (no name). It refuses when a member named O(name) has
    other peer URLs (remove it first), when another member has one of these peer URLs, when another member was
    added and has not started yet (one change at a time), and when any voting member is unhealthy: adding a member
    raises the quorum while that member is missing, the classic way to lose the quorum (etcd's documentation says
    to remove a dead member before adding its replacement).
  - >-
    After an add, the new member has to start with C(ETCD_INITIAL_CLUSTER) set to RV(initial_cluster) and
    C(ETCD_INITIAL_CLUSTER_STATE=existing), and an empty data directory. Until it runs it counts for the quorum
    as a missing member.
  - >-
    O(state=absent) removes the member named O(name) (or, when there is none and O(peer_urls) is given, the
    unstarted member with exactly these peer URLs) with C(POST /v3/cluster/member/remove). It refuses when fewer
    than O(min_members) voting members would remain, when the members that would remain could not hold the quorum
    (healthy ones fewer than C(remaining // 2 + 1)) and when the cluster has no quorum now. Removing a dead member
    of three while the two others are healthy is allowed. The removal is sent to another member than the one
    removed.
  - In check mode every read and every refusal is done, and RV(changed), RV(action) and RV(members) say what would
    happen; no change is sent.
options:
  endpoints:
    description: etcd client URLs, e.g. V(http://172.28.10.11:2379), tried in order for the member list.
    type: list
    elements: str
    required: true
    aliases: [endpoint]
  name:
    description:
      - The member's name (its C(ETCD_NAME), the inventory hostname in this project).
      - A member added but not started yet has no name in the member list; it is found by its O(peer_urls).
    type: str
    required: true
  peer_urls:
    description:
      - The member's peer URLs (its C(ETCD_INITIAL_ADVERTISE_PEER_URLS)), e.g. V(http://172.28.10.14:2380).
      - Required with O(state=present). With O(state=absent) they find a member added but not started yet.
    type: list
    elements: str
    aliases: [peer_url]
  state:
    description:
      - V(present) adds the member, V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  min_members:
    description:
      - With O(state=absent), the removal is refused when fewer voting members would remain.
      - At least 1 (etcd cannot remove its last member).
    type: int
    default: 1
  request_timeout:
    description:
      - Timeout in seconds of each HTTP request that reads; keep it short, a member without quorum may hang.
      - The member add or remove request waits at least 10 seconds (etcd answers once the change is committed).
    type: float
    default: 3
  url_username:
    description:
      - etcd user (etcd authentication enabled; membership changes need the root role). Not sent as HTTP basic
        auth, which the etcd gateway does not support; the module gets a token from C(POST /v3/auth/authenticate)
        on each member it talks to.
    type: str
  url_password:
    description: Password of O(url_username).
    type: str
extends_documentation_fragment: [pgha_http]
notes:
  - etcd's JSON gateway encodes 64-bit IDs as decimal strings; RV(member.id) is the hexadecimal form C(etcdctl)
    prints.
  - Run it once per change (C(run_once)), from a host that reaches the members' client URLs.
author:
  - pgha project maintainers
"""

EXAMPLES = r"""
- name: Add patroni4 to the etcd cluster (nothing happens when it is a member already)
  etcd_member:
    endpoints: [http://172.28.10.11:2379, http://172.28.10.12:2379, http://172.28.10.13:2379]
    name: patroni4
    peer_urls: [http://172.28.10.14:2380]
  register: etcd_add
  run_once: true

- name: Show how the new member must start
  ansible.builtin.debug:
    msg: "ETCD_INITIAL_CLUSTER={{ etcd_add.initial_cluster }} ETCD_INITIAL_CLUSTER_STATE=existing"
  run_once: true

- name: Remove a dead member, keeping at least three
  etcd_member:
    endpoints: [https://172.28.10.11:2379, https://172.28.10.12:2379]
    name: patroni3
    state: absent
    min_members: 3
    ca_path: /etc/pgha/tls/ca.crt
    url_username: root
    url_password: "{{ etcd_root_password }}"
  run_once: true

- name: Remove a member that was added but never started
  etcd_member:
    endpoints: [http://172.28.10.11:2379]
    name: patroni4
    peer_urls: [http://172.28.10.14:2380]
    state: absent
  run_once: true
"""

RETURN = r"""
changed:
  description: A member was added or removed (or would be, in check mode).
  returned: always
  type: bool
action:
  description: V(added), V(removed) or V(none) (what would be done, in check mode).
  returned: always
  type: str
  sample: added
member:
  description:
    - The member added, removed or found, as the member list shows it (a member added but not started yet has
      no name and no client URLs); null when there is none.
    - In check mode the member to be added has no ID yet (null).
  returned: always
  type: dict
  contains:
    name: {description: Member name (empty for a member added but not started)., type: str}
    id: {description: Member ID in hexadecimal as etcdctl prints it., type: str}
    id_int: {description: Member ID as an integer., type: int}
    peer_urls: {description: Peer URLs., type: list, elements: str}
    client_urls: {description: Client URLs., type: list, elements: str}
    is_learner: {description: The member is a non-voting learner., type: bool}
  sample: {name: "", id: 5a2b1ae2f3e623b4, id_int: 6497316449468949428, peer_urls: [http://172.28.10.14:2380],
           client_urls: [], is_learner: false}
members_before:
  description:
    - The members before the change, sorted by name (unstarted members last), each with what
      M(etcd_cluster_info) returns for it (RV(member)'s keys and C(healthy), C(is_leader), C(leader_id),
      C(version), C(db_size), C(raft_term), C(raft_index), C(error)).
  returned: always
  type: list
  elements: dict
members:
  description:
    - The members after the change (the member list of etcd's answer; in check mode the predicted one), shaped like
      RV(member).
  returned: always
  type: list
  elements: dict
member_count:
  description: Number of voting members in RV(members).
  returned: always
  type: int
  sample: 4
initial_cluster:
  description:
    - "C(ETCD_INITIAL_CLUSTER) for a member that joins RV(members): C(name=peer_url) entries, one per peer URL,
      sorted by name; the member added but not started yet is named O(name), other unstarted members are left out."
    - Null when the member list could not be read.
  returned: always
  type: str
  sample: patroni1=http://172.28.10.11:2380,patroni2=http://172.28.10.12:2380,patroni4=http://172.28.10.14:2380
endpoint:
  description: The endpoint that answered the member list, null if none did.
  returned: always
  type: str
  sample: http://172.28.10.11:2379
msg:
  description: What was done or would be done (or why not), in a sentence or two.
  returned: always
  type: str
  sample: >-
    Added etcd member patroni4 (ID 5a2b1ae2f3e623b4, peer URLs http://172.28.10.14:2380) through
    http://172.28.10.11:2379: 4 voting members (quorum 3) now, the new one missing until it starts. Start it now
    with ETCD_INITIAL_CLUSTER=... and ETCD_INITIAL_CLUSTER_STATE=existing, from an empty data directory.
"""

from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible.module_utils.basic import AnsibleModule

from ansible.module_utils.pgha_etcd import (
    MemberPlan,
    answer_member,
    basic_member,
    change_error_hint,
    find_member,
    initial_cluster,
    member_label,
    members_from_answer,
    normalize_urls,
    plan_add,
    plan_remove,
    predict_members,
    remove_via,
    render_table,
    summarize,
    voting_members,
)
from ansible.module_utils.pgha_etcd_api import EtcdAuth, member_add, member_remove, read_etcd
from ansible.module_utils.pgha_http import HttpOptions, RequestError, http_argument_spec

ACTIONS = {"add": "added", "remove": "removed", "none": "none"}


def build_argument_spec() -> Dict[str, Any]:
    """The module's argument_spec (a function so tests can compare it with DOCUMENTATION)."""
    return dict(
        endpoints=dict(type="list", elements="str", required=True, aliases=["endpoint"]),
        name=dict(type="str", required=True),
        peer_urls=dict(type="list", elements="str", aliases=["peer_url"]),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        min_members=dict(type="int", default=1),
        **http_argument_spec(request_timeout=3.0),
    )


def unread_result() -> Dict[str, Any]:
    """The result fields (without msg) when the module fails before the member list is read."""
    return dict(changed=False, action="none", member=None, members_before=[], members=[], member_count=0,
                initial_cluster=None, endpoint=None)


def check_params(module: AnsibleModule) -> Tuple[List[str], str, List[str]]:
    """The non-empty endpoints, the name and the normalized peer URLs; fails the module when they cannot do."""
    p = module.params
    endpoints = [e for e in p["endpoints"] if e]
    name = (p["name"] or "").strip()
    peer_urls = normalize_urls(p["peer_urls"] or [])
    fields = unread_result()
    if not endpoints:
        module.fail_json(msg="endpoints is empty: give at least one etcd client URL, e.g. http://10.0.0.1:2379",
                         **fields)
    if not name:
        module.fail_json(msg="name is empty: give the member's name (its ETCD_NAME)", **fields)
    if p["state"] == "present" and not peer_urls:
        module.fail_json(msg="peer_urls is empty: give the peer URLs of member %s (its "
                             "ETCD_INITIAL_ADVERTISE_PEER_URLS), e.g. http://10.0.0.4:2380" % name, **fields)
    if p["min_members"] < 1:
        module.fail_json(msg="min_members is %d: it must be at least 1 (etcd cannot remove its last member)"
                             % p["min_members"], **fields)
    return endpoints, name, peer_urls


def outcome(action: str, member: Optional[Mapping[str, Any]], before: List[Dict[str, Any]],
            after: List[Dict[str, Any]], name: str, peer_urls: List[str], endpoint: str) -> Dict[str, Any]:
    """The module's result fields (without msg) for ``action`` (added/removed/none) and the member lists."""
    return dict(changed=action != "none", action=action, member=None if member is None else basic_member(member),
                members_before=before, members=after, member_count=len(voting_members(after)),
                initial_cluster=initial_cluster(after, name, peer_urls), endpoint=endpoint)


def quorum_text(result: Mapping[str, Any]) -> str:
    """``4 voting members (quorum 3)`` for the members after the change."""
    count = result["member_count"]
    return "%d voting member%s (quorum %d)" % (count, "" if count == 1 else "s", count // 2 + 1)


def start_settings(result: Mapping[str, Any]) -> str:
    """How a member added but not started yet has to start."""
    return ("ETCD_INITIAL_CLUSTER=%s and ETCD_INITIAL_CLUSTER_STATE=existing, from an empty data directory"
            % result["initial_cluster"])


def unchanged_message(plan: MemberPlan, result: Mapping[str, Any], name: str) -> str:
    """Why nothing is to be done; for a member added but not started yet, how to start it."""
    member = plan["member"]
    if member is not None and not member.get("name"):
        return "Nothing to do: %s. Start it as %s with %s." % (plan["reason"], name, start_settings(result))
    return "Nothing to do: %s." % plan["reason"]


def change_message(result: Mapping[str, Any], name: str, url: str, check_mode: bool) -> str:
    """What was done (or would be, in check mode), with the new quorum and, after an add, how to start the member."""
    member = result["member"] or {}
    if result["action"] == "added":
        what = "etcd member %s (%speer URLs %s)" % (name, "ID %s, " % member["id"] if member.get("id") else "",
                                                   ", ".join(member.get("peer_urls") or []))
        if check_mode:
            return ("Would add %s through %s, making %s. It would then have to start with %s."
                    % (what, url, quorum_text(result), start_settings(result)))
        return ("Added %s through %s: %s now, the new one missing until it starts. Start it now with %s."
                % (what, url, quorum_text(result), start_settings(result)))
    what = "etcd member %s" % member_label(member)
    if check_mode:
        return "Would remove %s through %s, leaving %s." % (what, url, quorum_text(result))
    return ("Removed %s through %s, leaving %s. Empty its data directory before it ever joins again."
            % (what, url, quorum_text(result)))


def change_failure(exc: RequestError, what: str) -> Tuple[str, bool]:
    """The message for a membership change that etcd refused or did not answer, and whether it may have been made."""
    if exc.status is None:
        return ("No usable answer when trying to %s: %s. The change may have been made or not: run the module again "
                "(it finds what is there) or look at the members with etcd_cluster_info." % (what, exc.message), True)
    hint = change_error_hint(exc.body or exc.message)
    return ("etcd refused to %s, nothing was changed: %s%s" % (what, exc.message, ("\n" + hint) if hint else ""),
            False)


def send_change(module: AnsibleModule, plan: MemberPlan, url: str, name: str, peer_urls: List[str],
                opts: HttpOptions, auth: EtcdAuth, result: Mapping[str, Any]) -> Any:
    """Send the member add or remove of ``plan`` to ``url``: etcd's answer; fails the module when there is none."""
    target = plan["member"]
    target_id = 0
    if plan["action"] == "add":
        what = "add etcd member %s with peer URLs %s through %s" % (name, ", ".join(peer_urls), url)
    else:
        what = "remove etcd member %s through %s" % (member_label(target or {}), url)
        if target is None or target.get("id_int") is None:
            module.fail_json(msg="Cannot %s: the member list gives no ID for it" % what, **result)
        target_id = int(target["id_int"])
    try:
        if plan["action"] == "add":
            return member_add(url, peer_urls, opts, auth)
        return member_remove(url, target_id, opts, auth)
    except RequestError as exc:
        msg, maybe = change_failure(exc, what)
        module.fail_json(msg=msg, **dict(result, changed=maybe))


def main() -> None:
    module = AnsibleModule(argument_spec=build_argument_spec(), supports_check_mode=True,
                           required_if=[("state", "present", ["peer_urls"])])
    p = module.params
    # etcd takes credentials as a token, never as HTTP basic auth (see EtcdAuth)
    opts = HttpOptions.from_params(p).without_basic_auth()
    endpoints, name, peer_urls = check_params(module)
    auth = EtcdAuth(p["url_username"], p["url_password"], opts)

    reading = read_etcd(endpoints, opts, auth)
    if not reading["ok"]:
        module.fail_json(msg="Could not read the etcd member list, so nothing was changed: %s" % reading["error"],
                         **unread_result())
    before: List[Dict[str, Any]] = reading["members"]
    endpoint: str = reading["endpoint"]
    adding = p["state"] == "present"
    plan = plan_add(before, name, peer_urls) if adding else plan_remove(before, name, peer_urls, p["min_members"])
    result = outcome("none", plan["member"], before, [basic_member(m) for m in before], name, peer_urls, endpoint)
    if plan["problem"]:
        module.fail_json(msg="%s\nThe members now:\n%s" % (plan["problem"], render_table(before, summarize(before))),
                         **result)
    if plan["action"] == "none":
        module.exit_json(msg=unchanged_message(plan, result, name), **result)

    target = plan["member"]
    url = endpoint if adding or target is None else remove_via(endpoint, target, before)
    predicted = predict_members(before, plan, peer_urls)
    if module.check_mode:
        member = find_member(predicted, peer_urls) if adding else target
        result = outcome(ACTIONS[plan["action"]], member, before, predicted, name, peer_urls, endpoint)
        module.exit_json(msg=change_message(result, name, url, True), **result)

    answer = send_change(module, plan, url, name, peer_urls, opts, auth, result)
    after = members_from_answer(answer, predicted)
    member = target
    if adding:  # the new member with its ID, from etcd's answer
        member = answer_member(answer) or find_member(after, peer_urls) or find_member(predicted, peer_urls)
    result = outcome(ACTIONS[plan["action"]], member, before, after, name, peer_urls, endpoint)
    module.exit_json(msg=change_message(result, name, url, False), **result)

if __name__ == "__main__":
    main()
