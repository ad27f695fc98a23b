# -*- coding: utf-8 -*-
# Pure logic for etcd_cluster_info: parse etcd v3 JSON-gateway answers (member list, /health,
# maintenance status), compute quorum, check wait conditions, render a table. No HTTP here.
"""etcd v3 gateway parsing, quorum computation, condition checks and table rendering."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

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
