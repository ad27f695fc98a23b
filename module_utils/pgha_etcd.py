# -*- coding: utf-8 -*-
# Pure logic for etcd_cluster_info and etcd_member: parse etcd v3 JSON-gateway answers (member list, /health,
# maintenance status), compute quorum, check wait conditions, render a table, plan a member add or remove and
# the initial cluster a new member starts with. No HTTP here (that is pgha_etcd_api).
"""etcd v3 gateway parsing, quorum computation, condition checks, table rendering and membership-change plans."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, TypedDict

from ansible.module_utils.pgha_table import text_table


def parse_id(value: Any) -> Optional[int]:
    """Parse an etcd uint64 ID.

    The JSON gateway encodes uint64 as a decimal string ("10276657743932975437"); plain ints are
    accepted too, and so is the hexadecimal form etcdctl prints ("8e9e05c52164694d").
    Returns None for missing/zero-like/unparseable values ("0" means "no leader" in etcd).
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value or None
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+", text):
            return int(text) or None
        if re.fullmatch(r"(0x)?[0-9a-fA-F]+", text):
            return int(text, 16) or None
    return None


def format_id(value: Optional[int]) -> Optional[str]:
    """Hexadecimal member ID as etcdctl prints it (``8e9e05c52164694d``)."""
    return None if value is None else "%x" % value


def _int_or_none(value: Any) -> Optional[int]:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d+", value.strip()):
        return int(value.strip())
    return None


def _str_list(value: Any) -> List[str]:
    if isinstance(value, list):
        return [str(v) for v in value if v]
    if isinstance(value, str) and value:
        return [value]
    return []


def validate_member_list(data: Any) -> Optional[str]:
    """Return None if ``data`` looks like a ``/v3/cluster/member/list`` answer, else the problem."""
    if not isinstance(data, dict):
        return "expected a JSON object with a 'members' list, got %s" % type(data).__name__
    if "members" not in data:
        if data.get("error") or data.get("message"):
            return "etcd answered with an error: %s" % (data.get("error") or data.get("message"))
        return "expected a 'members' list in the JSON object, found keys: %s" % (sorted(data) or "none")
    if not isinstance(data["members"], list):
        return "'members' is %s, expected a list" % type(data["members"]).__name__
    return None


def parse_member_list(data: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """Members from a member-list answer, sorted by name. Unstarted members have an empty name."""
    members = []
    for raw in data.get("members") or []:
        if not isinstance(raw, dict):
            continue
        mid = parse_id(raw.get("ID", raw.get("id")))
        members.append({
            "name": str(raw.get("name") or ""),
            "id": format_id(mid),
            "id_int": mid,
            "peer_urls": _str_list(raw.get("peerURLs", raw.get("peer_urls"))),
            "client_urls": _str_list(raw.get("clientURLs", raw.get("client_urls"))),
            "is_learner": bool(raw.get("isLearner", raw.get("is_learner", False))),
        })
    members.sort(key=lambda m: (m["name"] == "", m["name"], m["id"] or ""))
    return members


def parse_health(data: Any) -> Tuple[bool, Optional[str]]:
    """Interpret a ``GET /health`` answer: ``(healthy, reason_if_not)``."""
    if not isinstance(data, dict) or "health" not in data:
        return False, "unexpected /health answer: %r" % (data,)
    value = data.get("health")
    healthy = value is True or (isinstance(value, str) and value.strip().lower() == "true")
    if healthy:
        return True, None
    reason = data.get("reason")
    return False, "health=%s%s" % (value, " (%s)" % reason if reason else "")


def parse_status(data: Any) -> Dict[str, Any]:
    """Interpret a ``POST /v3/maintenance/status`` answer. Zero/absent fields become None."""
    if not isinstance(data, dict):
        data = {}
    header = data.get("header") if isinstance(data.get("header"), dict) else {}
    errors = data.get("errors")
    return {
        "member_id": parse_id(header.get("member_id")),
        "leader_id": parse_id(data.get("leader")),
        "version": data.get("version"),
        "db_size": _int_or_none(data.get("dbSize")),
        "db_size_in_use": _int_or_none(data.get("dbSizeInUse")),
        "raft_term": _int_or_none(data.get("raftTerm", header.get("raft_term"))),
        "raft_index": _int_or_none(data.get("raftIndex")),
        "is_learner": bool(data.get("isLearner", False)),
        "errors": [str(e) for e in errors] if isinstance(errors, list) else [],
    }


def merge_member(
    member: Mapping[str, Any],
    health: Optional[Tuple[bool, Optional[str]]],
    health_error: Optional[str],
    status: Optional[Mapping[str, Any]],
    status_error: Optional[str],
) -> Dict[str, Any]:
    """Combine a member-list entry with its /health and status results into the returned member."""
    out = dict(member)
    errors: List[str] = []
    healthy = False
    if not member.get("client_urls"):
        errors.append("member has not started yet (no client URLs in the member list)")
    if health is not None:
        healthy = health[0]
        if not healthy and health[1]:
            errors.append("/health: %s" % health[1])
    elif health_error:
        errors.append(health_error)
    st = dict(status) if status else {}
    if status_error:
        errors.append(status_error)
    for e in st.get("errors") or []:
        errors.append("status: %s" % e)
    member_id = st.get("member_id") or member.get("id_int")
    leader_id = st.get("leader_id")
    out.update({
        "healthy": bool(healthy),
        "is_leader": bool(leader_id is not None and member_id is not None and leader_id == member_id),
        "leader_id": format_id(leader_id),
        "version": st.get("version"),
        "db_size": st.get("db_size"),
        "raft_term": st.get("raft_term"),
        "raft_index": st.get("raft_index"),
        "error": "; ".join(errors) if errors else None,
    })
    return out


def summarize(members: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """Counts, quorum and leader name for merged members (see merge_member())."""
    voting = [m for m in members if not m.get("is_learner")]
    member_count = len(voting)
    healthy_count = sum(1 for m in voting if m.get("healthy"))
    quorum_size = member_count // 2 + 1
    leaders = [m for m in members if m.get("is_leader")]
    leader = (leaders[0]["name"] or leaders[0]["id"]) if leaders else None
    return {
        "member_count": member_count,
        "healthy_count": healthy_count,
        "quorum_size": quorum_size,
        "quorum": member_count > 0 and healthy_count >= quorum_size,
        "leader": leader,
    }


def check_conditions(
    summary: Mapping[str, Any],
    members: Sequence[Mapping[str, Any]],
    expect_healthy: Optional[int] = None,
    expect_quorum: Optional[bool] = None,
    error: Optional[str] = None,
) -> List[str]:
    """Return one sentence per unmet condition (empty list = all conditions hold).

    ``error`` is set when no endpoint answered the member list: that is a problem in itself unless
    ``expect_quorum`` is False (a cluster nobody can reach has certainly lost quorum).
    """
    if error is not None and expect_quorum is not False:
        return ["could not read the etcd member list: %s" % error]
    problems: List[str] = []
    unhealthy = ", ".join(
        "%s (%s)" % (m.get("name") or m.get("id"), m.get("error") or "unhealthy")
        for m in members if not m.get("healthy")
    )
    if expect_healthy is not None and summary["healthy_count"] < expect_healthy:
        problems.append(
            "expected at least %d healthy etcd member(s), found %d of %d%s"
            % (expect_healthy, summary["healthy_count"], summary["member_count"],
               ": unhealthy: %s" % unhealthy if unhealthy else (" (%s)" % error if error else ""))
        )
    if expect_quorum is True and not summary["quorum"]:
        problems.append(
            "expected etcd quorum (%d of %d members healthy), found %d healthy%s"
            % (summary["quorum_size"], summary["member_count"], summary["healthy_count"],
               ": unhealthy: %s" % unhealthy if unhealthy else (" (%s)" % error if error else ""))
        )
    if expect_quorum is False and summary["quorum"]:
        problems.append(
            "expected etcd quorum to be lost, but %d of %d members are healthy (quorum needs %d)"
            % (summary["healthy_count"], summary["member_count"], summary["quorum_size"])
        )
    return problems


def _size(value: Optional[int]) -> str:
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return "%d %s" % (size, unit) if unit == "B" else "%.1f %s" % (size, unit)
        size = size / 1024.0
    return str(size)


TABLE_COLUMNS = ("Name", "ID", "Client URL", "Healthy", "Leader", "Version", "DB size", "Raft term", "Error")


def render_table(members: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]) -> str:
    """A plain text table of the members plus a one-line quorum summary."""
    rows = []
    for m in members:
        rows.append((
            m.get("name") or "(unstarted)",
            m.get("id") or "",
            ", ".join(m.get("client_urls") or []),
            "yes" if m.get("healthy") else "NO",
            "*" if m.get("is_leader") else "",
            str(m.get("version") or ""),
            _size(m.get("db_size")),
            "" if m.get("raft_term") is None else str(m["raft_term"]),
            m.get("error") or "",
        ))
    out = text_table(TABLE_COLUMNS, rows)
    out.append(
        "etcd: %d/%d healthy, quorum %s (needs %d), leader: %s"
        % (summary["healthy_count"], summary["member_count"], "OK" if summary["quorum"] else "LOST",
           summary["quorum_size"], summary["leader"] or "none")
    )
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Membership changes (etcd_member): one member added or removed at a time, never at the cost of quorum
# --------------------------------------------------------------------------------------------

# The keys of a member as parse_member_list() returns it (the probed members carry more).
MEMBER_KEYS = ("name", "id", "id_int", "peer_urls", "client_urls", "is_learner")

# What etcd's refusal of a membership change means (its gRPC error text, as the gateway passes it on) and what to do.
CHANGE_ERROR_HINTS = (
    ("unhealthy cluster", "etcd's own check (--strict-reconfig-check) found that the change could cost the quorum: "
                          "a member is not connected to the leader. Look at the members (etcd_cluster_info)."),
    ("not enough started members", "etcd's own check: too few members have started for this change (a member "
                                   "added earlier has not started yet?). Start it or remove it first."),
    ("peer urls already exists", "Another member already has these peer URLs: read the member list again."),
    ("member id already exist", "The member exists already: run the module again, it finds it."),
    ("member not found", "The member is gone already (removed meanwhile?): run the module again."),
    ("member urls are invalid", "etcd does not accept these peer URLs: give scheme, host and port, no path "
                                "(e.g. http://10.0.0.4:2380)."),
    ("permission denied", "etcd authentication is on: give url_username/url_password of a user with the root role."),
    ("user name is empty", "etcd authentication is on: give url_username/url_password of a user with the root role."),
    ("invalid auth token", "etcd authentication is on: give url_username/url_password of a user with the root role."),
)


class MemberPlan(TypedDict):
    """What etcd_member is to do (see plan_add() and plan_remove()).

    ``action`` is "add", "remove" or "none"; ``member`` the member to remove or the one found (None when adding,
    or when there is none); ``problem`` why the change is refused (None when it is not); ``reason`` why nothing
    is to be done (action "none" without a problem).
    """

    action: str
    member: Optional[Dict[str, Any]]
    problem: Optional[str]
    reason: Optional[str]


def _plan(action: str, member: Optional[Mapping[str, Any]] = None, problem: Optional[str] = None,
          reason: Optional[str] = None) -> MemberPlan:
    return {"action": action, "member": None if member is None else dict(member), "problem": problem,
            "reason": reason}


def normalize_urls(urls: Sequence[str]) -> List[str]:
    """URLs sorted, without blanks, duplicates and trailing slashes (etcd keeps a member's peer URLs sorted)."""
    return sorted({u.strip().rstrip("/") for u in urls if u and u.strip()})


def _urls(urls: Sequence[str]) -> str:
    return ", ".join(urls) or "none"


def _same_member(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether ``a`` and ``b`` are the same member: by ID, or by peer URLs for members without one (predicted)."""
    if a.get("id_int") is not None or b.get("id_int") is not None:
        return bool(a.get("id_int") == b.get("id_int"))
    return normalize_urls(a.get("peer_urls") or []) == normalize_urls(b.get("peer_urls") or [])


def basic_member(member: Mapping[str, Any]) -> Dict[str, Any]:
    """A member in the member list's shape (see MEMBER_KEYS), without what probing it added."""
    out = {key: member.get(key) for key in MEMBER_KEYS}
    out["peer_urls"] = list(member.get("peer_urls") or [])
    out["client_urls"] = list(member.get("client_urls") or [])
    out["is_learner"] = bool(member.get("is_learner"))
    out["name"] = str(member.get("name") or "")
    return out


def new_member(peer_urls: Sequence[str]) -> Dict[str, Any]:
    """A member just added, as the member list shows it until it starts: no name, no ID yet, no client URLs."""
    return {"name": "", "id": None, "id_int": None, "peer_urls": normalize_urls(peer_urls), "client_urls": [],
            "is_learner": False}


def member_label(member: Mapping[str, Any]) -> str:
    """``patroni2 (ID 2d2a...)``, or ``the unstarted member 2d2a... (peer URLs ...)`` for one without a name."""
    if member.get("name"):
        return "%s (ID %s)" % (member["name"], member.get("id") or "?")
    return "the unstarted member %s (peer URLs %s)" % (member.get("id") or "?", _urls(member.get("peer_urls") or []))


def voting_members(members: Sequence[Mapping[str, Any]]) -> List[Mapping[str, Any]]:
    """The members that count for the quorum (not learners; unstarted members do count)."""
    return [m for m in members if not m.get("is_learner")]


def describe_unhealthy(members: Sequence[Mapping[str, Any]]) -> str:
    """``patroni2: <why>; patroni3: <why>`` for the unhealthy members among ``members``."""
    return "; ".join("%s: %s" % (m.get("name") or "unstarted member %s" % (m.get("id") or "?"),
                                 m.get("error") or "unhealthy")
                     for m in members if not m.get("healthy"))


def find_member(members: Sequence[Mapping[str, Any]], peer_urls: Sequence[str]) -> Optional[Dict[str, Any]]:
    """The member with exactly these peer URLs, None if there is none."""
    wanted = normalize_urls(peer_urls)
    found = next((m for m in members if normalize_urls(m.get("peer_urls") or []) == wanted), None)
    return None if found is None else dict(found)


def _duplicate_names(name: str, named: Sequence[Mapping[str, Any]]) -> str:
    return ("Cannot manage etcd member %s: %d members have that name (%s). Remove the wrong one by its ID with "
            "'etcdctl member remove <ID>' first." % (name, len(named), ", ".join(member_label(m) for m in named)))


def plan_add(members: Sequence[Mapping[str, Any]], name: str, peer_urls: Sequence[str]) -> MemberPlan:
    """Whether adding member ``name`` with ``peer_urls`` to the probed ``members`` is needed and safe.

    Nothing to do when it is there with these peer URLs, started (named) or added but not started yet (no name).
    Refused: a member of that name with other peer URLs, another member with one of these peer URLs, another
    member added but not started yet, and any unhealthy voting member (adding raises the quorum while it is missing).
    """
    wanted = normalize_urls(peer_urls)
    named = [m for m in members if m.get("name") == name]
    if len(named) > 1:
        return _plan("none", problem=_duplicate_names(name, named))
    if named:
        found = named[0]
        if normalize_urls(found.get("peer_urls") or []) == wanted:
            return _plan("none", found, reason="%s is a member already, with peer URLs %s"
                                               % (member_label(found), _urls(wanted)))
        return _plan("none", found, problem=(
            "Cannot add etcd member %s with peer URLs %s: the cluster already has a member of that name, %s, with "
            "peer URLs %s. etcd does not change a member's peer URLs by adding it again: remove it first "
            "(state=absent; its data directory must be emptied before it starts as the new member), then add it, "
            "or change its peer URLs in place with 'etcdctl member update %s --peer-urls=%s'."
            % (name, _urls(wanted), member_label(found), _urls(found.get("peer_urls") or []), found.get("id") or "?",
               ",".join(wanted))))
    unstarted = [m for m in members if not m.get("name")]
    for m in unstarted:
        if normalize_urls(m.get("peer_urls") or []) == wanted:
            return _plan("none", m, reason="%s was added already and has not started yet" % member_label(m))
    if unstarted:
        other = unstarted[0]
        return _plan("none", problem=(
            "Cannot add etcd member %s with peer URLs %s: %s was added earlier and has not started yet. etcd takes "
            "one membership change at a time: the added member already counts for the quorum, and adding another "
            "before it runs can cost the quorum. Start that member (with the ETCD_INITIAL_CLUSTER it was added "
            "with and ETCD_INITIAL_CLUSTER_STATE=existing), or remove it (state=absent with its peer_urls, or "
            "'etcdctl member remove %s'), then try again." % (name, _urls(wanted), member_label(other),
                                                             other.get("id") or "<ID>")))
    for m in members:
        taken = sorted(set(normalize_urls(m.get("peer_urls") or [])) & set(wanted))
        if taken:
            return _plan("none", problem=(
                "Cannot add etcd member %s: peer URL(s) %s already belong to member %s. Each member needs its own "
                "peer URLs: check peer_urls, or remove %s first (state=absent)."
                % (name, _urls(taken), member_label(m), m.get("name") or "it")))
    voting = voting_members(members)
    unhealthy = [m for m in voting if not m.get("healthy")]
    if unhealthy:
        return _plan("none", problem=(
            "Cannot add etcd member %s: %d of the %d voting members %s unhealthy (%s). Adding a member raises the "
            "quorum from %d to %d while %s missing, the classic way to lose the quorum. Bring %s back first "
            "(etcd_cluster_info shows the members), or remove a member that is gone for good first (state=absent), "
            "then add the new one."
            % (name, len(unhealthy), len(voting), "is" if len(unhealthy) == 1 else "are", describe_unhealthy(voting),
               len(voting) // 2 + 1, (len(voting) + 1) // 2 + 1, "it is" if len(unhealthy) == 1 else "they are",
               "it" if len(unhealthy) == 1 else "them")))
    return _plan("add")


def plan_remove(members: Sequence[Mapping[str, Any]], name: str, peer_urls: Sequence[str],
                min_members: int) -> MemberPlan:
    """Whether removing member ``name`` from the probed ``members`` is needed and safe.

    The member is the one named ``name`` or, when none is and ``peer_urls`` are given, the unstarted member with
    exactly these peer URLs. Refused when fewer than ``min_members`` voting members would remain, when the
    remaining ones could not hold the quorum (healthy < remaining // 2 + 1), and when the cluster has no quorum now.
    """
    named = [m for m in members if m.get("name") == name]
    if len(named) > 1:
        return _plan("none", problem=_duplicate_names(name, named))
    wanted = normalize_urls(peer_urls)
    target: Optional[Mapping[str, Any]] = named[0] if named else None
    if target is None and wanted:
        target = next((m for m in members if not m.get("name") and normalize_urls(m.get("peer_urls") or []) == wanted),
                      None)
    if target is None:
        return _plan("none", reason="there is no etcd member named %s%s" % (
            name, " nor an unstarted member with peer URLs %s" % _urls(wanted) if wanted else ""))
    label = member_label(target)
    voting = voting_members(members)
    remaining = [m for m in voting if not _same_member(m, target)]
    if not target.get("is_learner") and len(remaining) < min_members:
        return _plan("none", target, problem=(
            "Refusing to remove etcd member %s: %d voting member(s) would remain, fewer than min_members=%d (the "
            "cluster has %d now). Add a member first, or lower min_members if this is really meant."
            % (label, len(remaining), min_members, len(voting))))
    healthy = [m for m in remaining if m.get("healthy")]
    need = len(remaining) // 2 + 1
    if len(healthy) < need:
        return _plan("none", target, problem=(
            "Refusing to remove etcd member %s: the %d voting member(s) that would remain need %d healthy for the "
            "quorum, but only %d %s healthy (unhealthy: %s). The cluster would be left without quorum. Bring the "
            "unhealthy member(s) back first (or remove one that is gone for good first), then try again."
            % (label, len(remaining), need, len(healthy), "is" if len(healthy) == 1 else "are",
               describe_unhealthy(remaining))))
    healthy_now = sum(1 for m in voting if m.get("healthy"))
    if healthy_now < len(voting) // 2 + 1:
        return _plan("none", target, problem=(
            "Refusing to remove etcd member %s: the cluster has no quorum now (%d of %d voting members healthy, "
            "%d needed), so etcd cannot commit a membership change (unhealthy: %s). Bring members back first."
            % (label, healthy_now, len(voting), len(voting) // 2 + 1, describe_unhealthy(voting))))
    return _plan("remove", target)


def predict_members(members: Sequence[Mapping[str, Any]], plan: MemberPlan,
                    peer_urls: Sequence[str]) -> List[Dict[str, Any]]:
    """The member list after ``plan`` is carried out (what check mode reports), in the member list's shape."""
    before = [basic_member(m) for m in members]
    if plan["action"] == "add":
        return before + [new_member(peer_urls)]  # unstarted members come last, as in parse_member_list()
    target = plan["member"]
    if plan["action"] == "remove" and target is not None:
        return [m for m in before if not _same_member(m, target)]
    return before


def initial_cluster(members: Sequence[Mapping[str, Any]], name: str, peer_urls: Sequence[str]) -> str:
    """``ETCD_INITIAL_CLUSTER`` for a member joining ``members``: ``name=peer_url,...`` sorted by name.

    The unstarted member with exactly ``peer_urls`` is named ``name`` (the member being added); other unstarted
    members, having no name, are left out. Each peer URL of a member is an entry of its own.
    """
    wanted = normalize_urls(peer_urls)
    entries: List[Tuple[str, str]] = []
    for m in members:
        urls = list(m.get("peer_urls") or [])
        member_name = m.get("name") or (name if wanted and normalize_urls(urls) == wanted else "")
        if member_name:
            entries.extend((str(member_name), url) for url in urls)
    return ",".join("%s=%s" % entry for entry in sorted(entries, key=lambda entry: entry[0]))


def remove_via(endpoint: str, target: Mapping[str, Any], members: Sequence[Mapping[str, Any]]) -> str:
    """Where to send the removal of ``target``: ``endpoint``, unless it is the target's own client URL.

    A member that removes itself stops serving as soon as the change applies and may drop the answer: then the
    first healthy remaining member's client URL is used instead (``endpoint`` if there is none).
    """
    own = {u.rstrip("/") for u in target.get("client_urls") or []}
    if endpoint.rstrip("/") not in own:
        return endpoint
    for m in members:
        if not _same_member(m, target) and m.get("healthy") and m.get("client_urls"):
            return str(m["client_urls"][0])
    return endpoint


def change_error_hint(text: str) -> Optional[str]:
    """What an etcd refusal of a membership change means and what to do (None for an unknown error)."""
    lowered = text.lower()
    return next((hint for needle, hint in CHANGE_ERROR_HINTS if needle in lowered), None)


def members_from_answer(answer: Any, fallback: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """The member list in a member add/remove answer (its ``members``), or ``fallback`` when it has none."""
    if validate_member_list(answer) is None:
        return parse_member_list(answer)
    return [basic_member(m) for m in fallback]


def answer_member(answer: Any) -> Optional[Dict[str, Any]]:
    """The ``member`` of a member add answer in the member list's shape (None when it has none)."""
    raw = answer.get("member") if isinstance(answer, dict) else None
    members = parse_member_list({"members": [raw]}) if isinstance(raw, dict) else []
    return members[0] if members else None
