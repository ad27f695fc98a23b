# -*- coding: utf-8 -*-
# Pure logic for the patroni_* modules: parse Patroni REST API answers, check wait conditions,
# render a patronictl-like table, and compute/apply dynamic-configuration patches.
# No HTTP here (see pgha_http), so everything is unit-testable with plain dicts.
"""Patroni parsing, condition checks, table rendering and config diff/merge-patch helpers."""

from __future__ import annotations

import copy
import re
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlparse

from ansible.module_utils.pgha_table import text_table

LEADER_ROLES = ("leader", "standby_leader")

# Raw role strings seen in Patroni's /cluster (1.x-4.x) and /patroni answers -> normalised role,
# spelled like Patroni 4 prints it in /cluster.
_ROLE_ALIASES = {
    "leader": "leader",
    "master": "leader",
    "primary": "leader",
    "standby_leader": "standby_leader",
    "replica": "replica",
    "standby": "replica",
    "sync_standby": "sync_standby",
    "synchronous_standby": "sync_standby",
    "quorum_standby": "quorum_standby",
}

_ROLE_DISPLAY = {
    "leader": "Leader",
    "standby_leader": "Standby Leader",
    "replica": "Replica",
    "sync_standby": "Sync Standby",
    "quorum_standby": "Quorum Standby",
}

TABLE_COLUMNS = ("Member", "Host", "Role", "State", "TL", "Receive LSN", "Replay LSN", "Lag")


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


def normalize_role(role: Any) -> str:
    """Map a Patroni role string ("Sync Standby", "master", "sync_standby"...) to Patroni 4 spelling."""
    if not isinstance(role, str) or not role.strip():
        return "unknown"
    key = re.sub(r"[\s\-]+", "_", role.strip().lower())
    return _ROLE_ALIASES.get(key, key)


def role_display(role: str) -> str:
    """Human spelling used by patronictl list ("Leader", "Sync Standby")."""
    return _ROLE_DISPLAY.get(role, role.replace("_", " ").title())


def parse_int(value: Any) -> Optional[int]:
    """Return ``value`` as int, or None for None/"unknown"/garbage (bools are not ints here)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
    return None


def format_lsn(value: Any) -> Optional[str]:
    """Return an LSN as PostgreSQL prints it ("0/4000060"); ints are converted, "unknown" -> None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return "%X/%X" % (value >> 32, value & 0xFFFFFFFF)
    if isinstance(value, str):
        text = value.strip()
        if not text or text.lower() == "unknown":
            return None
        return text
    return None


def _host_from_url(url: str) -> str:
    try:
        return urlparse(url).hostname or url
    except ValueError:
        return url


def _netloc_from_url(url: str) -> str:
    try:
        return urlparse(url).netloc or url
    except ValueError:
        return url


def parse_member(raw: Mapping[str, Any]) -> Dict[str, Any]:
    """Normalise one entry of Patroni's ``/cluster`` ``members`` list.

    Missing fields become None; ``lag`` is an int (bytes) or None when Patroni says "unknown" or
    leaves it out. The role as Patroni reported it is kept in ``patroni_role``.
    """
    patroni_role = raw.get("role")
    role = normalize_role(patroni_role)
    lag = parse_int(raw.get("lag"))
    if lag is None and "lag" not in raw:
        lag = parse_int(raw.get("replay_lag"))
        if lag is None:
            lag = parse_int(raw.get("receive_lag"))
    port = parse_int(raw.get("port"))
    return {
        "name": str(raw.get("name") or ""),
        "host": raw.get("host"),
        "port": port,
        "api_url": raw.get("api_url"),
        "role": role,
        "patroni_role": patroni_role,
        "state": str(raw.get("state") or "unknown"),
        "timeline": parse_int(raw.get("timeline")),
        "lsn": format_lsn(raw.get("lsn")),
        "receive_lsn": format_lsn(raw.get("receive_lsn")),
        "replay_lsn": format_lsn(raw.get("replay_lsn")),
        "lag": lag,
        "receive_lag": parse_int(raw.get("receive_lag")),
        "replay_lag": parse_int(raw.get("replay_lag")),
        "pending_restart": bool(raw.get("pending_restart", False)),
        "tags": dict(raw.get("tags") or {}),
        "error": None,
    }


def parse_restart_member(raw: Mapping[str, Any]) -> Dict[str, Any]:
    """parse_member() plus Patroni 4's ``pending_restart_reason`` (which also counts as pending)."""
    member = parse_member(raw)
    reason = raw.get("pending_restart_reason")
    member["pending_restart_reason"] = dict(reason) if isinstance(reason, Mapping) else reason
    member["pending_restart"] = bool(member["pending_restart"] or reason)
    return member


def member_endpoint(member_api_url: str, path: str) -> str:
    """``<scheme>://<host:port><path>`` from a member's /cluster ``api_url`` (which ends in ``/patroni``).

    patronictl does the same: only scheme and netloc of ``api_url`` are kept. ValueError if it is not absolute.
    """
    parts = urlparse(member_api_url)
    if not parts.scheme or not parts.netloc:
        raise ValueError("api_url %r is not an absolute URL" % member_api_url)
    return "%s://%s/%s" % (parts.scheme, parts.netloc, path.lstrip("/"))


def validate_cluster_json(data: Any) -> Optional[str]:
    """Return None if ``data`` looks like a ``/cluster`` answer, else what is wrong with it."""
    if not isinstance(data, dict):
        return "expected a JSON object with a 'members' list, got %s" % type(data).__name__
    members = data.get("members")
    if not isinstance(members, list):
        return "expected a 'members' list in the JSON object, found keys: %s" % (sorted(data) or "none")
    for i, m in enumerate(members):
        if not isinstance(m, dict):
            return "members[%d] is %s, expected an object" % (i, type(m).__name__)
    return None


def summarize_cluster(data: Mapping[str, Any],
                      parse: Callable[[Mapping[str, Any]], Dict[str, Any]] = parse_member) -> Dict[str, Any]:
    """Turn a ``/cluster`` answer into the module's summary (members, leader, timeline, counts).

    ``parse`` turns each member (parse_restart_member() also reads Patroni 4's pending_restart_reason).
    """
    members = [parse(m) for m in data.get("members") or []]
    members.sort(key=lambda m: m["name"])
    return _summary(members, scope=data.get("scope"), pause=bool(data.get("pause", False)))


def _summary(members: List[Dict[str, Any]], scope: Any, pause: bool) -> Dict[str, Any]:
    leaders = [m for m in members if m["role"] in LEADER_ROLES]
    leader = leaders[0] if leaders else None
    streaming = [m for m in members if m["role"] not in LEADER_ROLES and m["state"] == "streaming"]
    return {
        "scope": scope if scope is None else str(scope),
        "members": members,
        "leader": leader["name"] if leader else None,
        "leaders": [m["name"] for m in leaders],
        "timeline": leader["timeline"] if leader else None,
        "replicas_streaming": len(streaming),
        "pause": pause,
    }


def member_from_status(api_url: str, status: Optional[Mapping[str, Any]],
                       error: Optional[str] = None) -> Dict[str, Any]:
    """Build a member entry from one node's own ``GET /patroni`` answer (works without the DCS).

    ``status`` None means the node did not answer: the entry gets state "unreachable" and ``error``.
    LSNs come from ``xlog``; lag is computed later by members_summary() against the leader.
    """
    answered = status is not None
    status = dict(status or {})
    patroni: Dict[str, Any] = status["patroni"] if isinstance(status.get("patroni"), dict) else {}
    xlog: Dict[str, Any] = status["xlog"] if isinstance(status.get("xlog"), dict) else {}
    role = normalize_role(status.get("role")) if answered else "unknown"
    if role == "replica" and status.get("sync_standby"):
        role = "sync_standby"
    elif role == "replica" and status.get("quorum_standby"):
        role = "quorum_standby"
    state = str(status.get("state") or "unknown") if answered else "unreachable"
    if answered and role not in LEADER_ROLES and status.get("replication_state"):
        state = str(status["replication_state"])
    receive = parse_int(xlog.get("received_location"))
    replay = parse_int(xlog.get("replayed_location"))
    location = parse_int(xlog.get("location"))
    lsn_int = location if location is not None else max([v for v in (receive, replay) if v is not None], default=None)
    return {
        "name": str(patroni.get("name") or _netloc_from_url(api_url)),
        "host": _host_from_url(api_url),
        "port": None,
        "api_url": api_url,
        "role": role,
        "patroni_role": status.get("role"),
        "state": state,
        "timeline": parse_int(status.get("timeline")),
        "lsn": format_lsn(lsn_int),
        "receive_lsn": format_lsn(receive),
        "replay_lsn": format_lsn(replay),
        "lag": None,
        "receive_lag": None,
        "replay_lag": None,
        "pending_restart": bool(status.get("pending_restart", False)),
        "tags": dict(status.get("tags") or {}),
        "error": error,
        "_lsn_int": lsn_int,
        "_receive_int": receive,
        "_replay_int": replay,
        "_scope": patroni.get("scope"),
        "_pause": bool(status.get("pause", False)),
    }


def members_summary(members: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Summary built from per-node ``/patroni`` answers (see member_from_status())."""
    leader_lsn = None
    for m in members:
        if m["role"] in LEADER_ROLES and m.get("_lsn_int") is not None:
            leader_lsn = m["_lsn_int"]
            break
    scope = None
    pause = False
    clean = []
    for m in members:
        m = dict(m)
        if m["role"] not in LEADER_ROLES and leader_lsn is not None:
            for key, lsn in (("lag", m.get("_lsn_int")), ("receive_lag", m.get("_receive_int")),
                             ("replay_lag", m.get("_replay_int"))):
                if lsn is not None:
                    m[key] = max(0, leader_lsn - lsn)
        scope = scope or m.get("_scope")
        pause = pause or m.get("_pause", False)
        for key in ("_lsn_int", "_receive_int", "_replay_int", "_scope", "_pause"):
            m.pop(key, None)
        clean.append(m)
    clean.sort(key=lambda m: m["name"])
    return _summary(clean, scope=scope, pause=pause)


# --------------------------------------------------------------------------------------------
# Conditions
# --------------------------------------------------------------------------------------------


def _describe(members: Iterable[Mapping[str, Any]]) -> str:
    parts = ["%s: %s %s" % (m["name"], m["role"], m["state"]) for m in members]
    return ", ".join(parts) if parts else "no members"


def check_conditions(
    summary: Mapping[str, Any],
    expect_leader: bool = True,
    expect_no_leader: bool = False,
    expect_replicas: Optional[int] = None,
    same_timeline: bool = True,
    max_lag: Optional[int] = None,
    expect_leader_name: Optional[str] = None,
    expect_not_leader_name: Optional[str] = None,
    expect_min_timeline: Optional[int] = None,
) -> List[str]:
    """Return one readable sentence per condition that does not hold (empty list = all good).

    ``expect_no_leader`` overrides ``expect_leader`` (they contradict each other).
    """
    problems: List[str] = []
    members: List[Mapping[str, Any]] = list(summary.get("members") or [])
    leaders = [m for m in members if m["role"] in LEADER_ROLES]
    leader = leaders[0] if len(leaders) == 1 else None
    non_leaders = [m for m in members if m["role"] not in LEADER_ROLES]
    streaming = [m for m in non_leaders if m["state"] == "streaming"]

    if not members:
        problems.append("the cluster has no members registered")

    if expect_no_leader:
        if leaders:
            problems.append(
                "expected no leader (e.g. DCS quorum lost), but %s"
                % ", ".join("%s is %s (%s)" % (m["name"], m["role"], m["state"]) for m in leaders)
            )
        unreachable = [m for m in members if m["state"] == "unreachable"]
        if unreachable:
            problems.append(
                "cannot confirm there is no leader: %s did not answer"
                % ", ".join("%s (%s)" % (m["name"], m.get("error") or "no answer") for m in unreachable)
            )
    elif expect_leader:
        if not leaders:
            problems.append("expected exactly one leader, found none (%s)" % _describe(members))
        elif len(leaders) > 1:
            problems.append("expected exactly one leader, found %d: %s"
                            % (len(leaders), ", ".join(m["name"] for m in leaders)))
        elif leader is not None and leader["state"] != "running":
            problems.append("leader %s is in state '%s', expected 'running'" % (leader["name"], leader["state"]))

    if expect_leader_name and not expect_no_leader:
        names = [m["name"] for m in leaders]
        if names != [expect_leader_name]:
            problems.append("expected leader %s, found %s" % (expect_leader_name, ", ".join(names) or "no leader"))

    if expect_not_leader_name:
        if any(m["name"] == expect_not_leader_name for m in leaders):
            problems.append("expected %s not to be the leader, but it still is" % expect_not_leader_name)

    if expect_min_timeline is not None and not expect_no_leader:
        timelines = [m["timeline"] for m in leaders]
        if not timelines or any(t is None or t < expect_min_timeline for t in timelines):
            problems.append("expected the leader on timeline %d or later, found %s" % (
                expect_min_timeline,
                ", ".join("%s on timeline %s" % (m["name"], m["timeline"]) for m in leaders) or "no leader"))

    if expect_replicas is not None and len(streaming) < expect_replicas:
        others = [m for m in non_leaders if m["state"] != "streaming"]
        problems.append(
            "expected at least %d streaming replica(s), found %d%s"
            % (expect_replicas, len(streaming),
               " (not streaming: %s)" % ", ".join("%s %s" % (m["name"], m["state"]) for m in others) if others else "")
        )

    if same_timeline and leader is not None and leader["timeline"] is not None:
        for m in streaming:
            if m["timeline"] is None:
                problems.append("replica %s: timeline unknown, expected leader's timeline %d"
                                % (m["name"], leader["timeline"]))
            elif m["timeline"] != leader["timeline"]:
                problems.append("replica %s is on timeline %d, leader %s is on timeline %d"
                                % (m["name"], m["timeline"], leader["name"], leader["timeline"]))

    if max_lag is not None:
        for m in streaming:
            if m["lag"] is None:
                problems.append("replica %s: lag unknown, expected at most %d bytes" % (m["name"], max_lag))
            elif m["lag"] > max_lag:
                problems.append("replica %s lags %d bytes behind, expected at most %d" % (m["name"], m["lag"], max_lag))

    return problems


# --------------------------------------------------------------------------------------------
# Switchover: who may take over the leader role, and when it has
# --------------------------------------------------------------------------------------------

SYNC_ROLES = ("sync_standby", "quorum_standby")
STANDBY_ROLES = ("replica",) + SYNC_ROLES


def synchronous_mode(config: Mapping[str, Any]) -> Optional[str]:
    """``synchronous_mode`` of the dynamic configuration: "quorum", "on", or None when it is off."""
    value = config.get("synchronous_mode")
    if isinstance(value, str) and value.strip().lower() == "quorum":
        return "quorum"
    return "on" if _as_bool(value) else None


def healthy_replica_states(members: Iterable[Mapping[str, Any]]) -> Tuple[str, ...]:
    """States of a healthy replica in this cluster: "streaming"; also "running" when no member streams.

    Patroni before 3.0 reports every replica as "running"; 3.0 and later say "streaming" once it streams.
    """
    if any(m["role"] not in LEADER_ROLES and m["state"] == "streaming" for m in members):
        return ("streaming",)
    return ("streaming", "running")


def switchover_refusal(member: Mapping[str, Any], sync_mode: Optional[str], exclude_pending_restart: bool,
                       states: Sequence[str] = ("streaming",)) -> Optional[str]:
    """Why ``member`` cannot take over the leader role in a switchover, or None when it can.

    Patroni itself refuses a member tagged nofailover (or failover_priority 0) and, in synchronous mode, any
    member that is not a synchronous (or quorum) standby ("candidate name does not match with sync_standby").
    """
    role, state = member["role"], member["state"]
    if role in LEADER_ROLES:
        return "it is the %s" % role_display(role).lower()
    if role not in STANDBY_ROLES:
        return "its role is %s, not a replica" % role
    if state not in states:
        return "it is %s, not %s" % (state, " or ".join(states))
    tags = member.get("tags") or {}
    if _as_bool(tags.get("nofailover")):
        return "it is tagged nofailover"
    if parse_int(tags.get("failover_priority")) == 0:
        return "its failover_priority tag is 0"
    if sync_mode and role not in SYNC_ROLES:
        return ("synchronous_mode is %s and it is not a synchronous standby (Patroni hands the leader role only to "
                "a sync_standby or quorum_standby)" % sync_mode)
    if exclude_pending_restart and member.get("pending_restart"):
        return "it has a pending restart (exclude_pending_restart)"
    return None


# PostgreSQL refuses to run a hot standby with one of these below its primary's value; Patroni starts a
# replica with the value of its control file (the primary's, replayed) when the configuration is lower.
STANDBY_FLOOR_PARAMETERS = ("max_connections", "max_prepared_transactions", "max_locks_per_transaction",
                            "max_wal_senders", "max_worker_processes")


def lowered_standby_floor(reason: Any) -> List[str]:
    """The standby-floor parameters that a member's ``pending_restart_reason`` lowers, as ``name old -> new``.

    A replica cannot run such a lowered value before the leader does: a switchover to it would hand the leader
    role to a member that still runs the old value and must be restarted again.
    """
    if not isinstance(reason, Mapping):
        return []
    lowered: List[str] = []
    for name in STANDBY_FLOOR_PARAMETERS:
        change = reason.get(name)
        if not isinstance(change, Mapping):
            continue
        old, new = parse_int(change.get("old_value")), parse_int(change.get("new_value"))
        if old is not None and new is not None and new < old:
            lowered.append("%s %d -> %d" % (name, old, new))
    return lowered


def switchover_candidates(
    members: Sequence[Mapping[str, Any]], sync_mode: Optional[str], exclude_pending_restart: bool,
    states: Optional[Sequence[str]] = None,
) -> Tuple[List[Mapping[str, Any]], Dict[str, str]]:
    """The members that may take over, best first, and the others with the reason.

    Best first: synchronous (or quorum) standbys, as they have every committed transaction; then the lowest lag
    (unknown last); then the name.
    """
    states = healthy_replica_states(members) if states is None else states
    eligible: List[Mapping[str, Any]] = []
    ineligible: Dict[str, str] = {}
    lowered = [change for m in members if m["role"] in LEADER_ROLES
               for change in lowered_standby_floor(m.get("pending_restart_reason"))]
    for m in members:
        why = switchover_refusal(m, sync_mode, exclude_pending_restart, states)
        if why is None and exclude_pending_restart and lowered:
            why = ("the leader's pending restart lowers %s: a replica runs the old value until the leader restarted "
                   "(PostgreSQL needs a standby at least as high as its primary)" % ", ".join(lowered))
        if why is None:
            eligible.append(m)
        else:
            ineligible[m["name"]] = why
    eligible.sort(key=lambda m: (m["role"] not in SYNC_ROLES, m.get("lag") is None, m.get("lag") or 0, m["name"]))
    return eligible, ineligible


def switchover_problem(
    summary: Mapping[str, Any], candidate: Optional[str], old_leader: str, timeline_before: Optional[int],
    wait_for_old_leader: bool = True, states: Sequence[str] = ("streaming",),
) -> Optional[str]:
    """None when ``summary`` shows the switchover done, else what is still missing.

    Done: ``candidate`` (None: any member but ``old_leader``) is the leader, running, on a timeline after
    ``timeline_before``; with ``wait_for_old_leader`` also ``old_leader`` is a replica in one of ``states`` on the
    new leader's timeline.
    """
    members = {m["name"]: m for m in summary.get("members") or []}
    if candidate is None:
        others = [name for name in summary.get("leaders") or [] if name != old_leader]
        if not others:
            leaders = ", ".join(summary.get("leaders") or []) or "nobody"
            return "no member but %s leads yet (the leader is %s)" % (old_leader, leaders)
        candidate = others[0]
    new = members.get(candidate)
    if new is None:
        return "%s is not in /cluster" % candidate
    if new["role"] not in LEADER_ROLES:
        return "%s is %s (%s), the leader is %s" % (candidate, new["role"], new["state"],
                                                    ", ".join(summary.get("leaders") or []) or "nobody")
    if new["state"] != "running":
        return "new leader %s is in state '%s', expected 'running'" % (candidate, new["state"])
    if timeline_before is not None and (new["timeline"] is None or new["timeline"] <= timeline_before):
        return "new leader %s is on timeline %s, expected a timeline after %d" % (candidate, new["timeline"],
                                                                                   timeline_before)
    if not wait_for_old_leader:
        return None
    old = members.get(old_leader)
    if old is None:
        return "old leader %s is not in /cluster" % old_leader
    if old["role"] in LEADER_ROLES:
        return "old leader %s is still %s" % (old_leader, old["role"])
    if old["state"] not in states:
        return "old leader %s is %s (%s), expected %s" % (old_leader, old["role"], old["state"], " or ".join(states))
    if old["timeline"] != new["timeline"]:
        return "old leader %s is on timeline %s, the new leader on %s" % (old_leader, old["timeline"],
                                                                         new["timeline"])
    return None


# --------------------------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def render_table(summary: Mapping[str, Any]) -> str:
    """Render the members like ``patronictl list`` (lag in bytes)."""
    rows: List[Tuple[str, ...]] = []
    for m in summary.get("members") or []:
        host = _cell(m.get("host"))
        if m.get("port") not in (None, 5432):
            host = "%s:%s" % (host, m["port"])
        is_leader = m["role"] in LEADER_ROLES
        if is_leader:
            lag = ""
        else:
            lag = "unknown" if m.get("lag") is None else str(m["lag"])
        rows.append((
            _cell(m.get("name")),
            host,
            role_display(m["role"]),
            _cell(m.get("state")),
            _cell(m.get("timeline")),
            "" if is_leader else _cell(m.get("receive_lsn")),
            "" if is_leader else _cell(m.get("replay_lsn")),
            lag,
        ))
    lines = text_table(TABLE_COLUMNS, rows, right={4, 7})  # TL and Lag are numbers
    title = "+ Cluster: %s " % (summary.get("scope") or "?")
    if summary.get("pause"):
        title += "(maintenance mode) "
    rule = lines[0]
    lines[0] = title + rule[len(title):] if len(title) < len(rule) else title + "--+"
    if summary.get("pause"):
        lines.append(" Maintenance mode: on")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Dynamic configuration: comparison, patch, merge-patch
# --------------------------------------------------------------------------------------------

_TRUE = ("on", "true", "yes", "1")
_FALSE = ("off", "false", "no", "0")


def _as_bool(value: Any) -> Optional[bool]:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


def _as_number(value: Any) -> Optional[float]:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", text):
            return float(text)
    return None


def values_equal(desired: Any, current: Any) -> bool:
    """Compare two scalar/list config values the way PostgreSQL would read them.

    "on"/"true"/True are equal, "100"/100/100.0 are equal; other strings compare exactly.
    """
    if isinstance(desired, dict) or isinstance(current, dict):
        return isinstance(desired, dict) and isinstance(current, dict) and not compute_patch(desired, current) \
            and not compute_patch(current, desired)
    if isinstance(desired, (list, tuple)) or isinstance(current, (list, tuple)):
        if not (isinstance(desired, (list, tuple)) and isinstance(current, (list, tuple))):
            return False
        return len(desired) == len(current) and all(values_equal(d, c) for d, c in zip(desired, current))
    if desired is None or current is None:
        return desired is None and current is None
    if type(desired) is type(current) and desired == current:
        return True
    if isinstance(desired, bool) or isinstance(current, bool):
        d, c = _as_bool(desired), _as_bool(current)
        return d is not None and d == c
    dn, cn = _as_number(desired), _as_number(current)
    if dn is not None and cn is not None:
        return dn == cn
    if dn is None and cn is None:
        db, cb = _as_bool(desired), _as_bool(current)
        if db is not None and cb is not None:
            return db == cb
    return str(desired) == str(current)


def compute_patch(desired: Mapping[str, Any], current: Mapping[str, Any]) -> Dict[str, Any]:
    """Return the JSON merge-patch that makes ``current`` contain ``desired``.

    Only keys present in ``desired`` are compared. A None value in ``desired`` means "remove":
    it is kept in the patch only when the key currently exists.
    """
    patch: Dict[str, Any] = {}
    for key, want in desired.items():
        have_key = isinstance(current, Mapping) and key in current
        have = current.get(key) if have_key else None
        if want is None:
            if have_key:
                patch[key] = None
        elif isinstance(want, Mapping):
            if isinstance(have, Mapping):
                sub = compute_patch(want, have)
                if sub:
                    patch[key] = sub
            else:
                patch[key] = _strip_nones(want)
        elif not have_key or not values_equal(want, have):
            patch[key] = copy.deepcopy(want)
    return patch


def _strip_nones(value: Mapping[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for k, v in value.items():
        if v is None:
            continue
        out[k] = _strip_nones(v) if isinstance(v, Mapping) else copy.deepcopy(v)
    return out


def resolve_dotted_key(config: Mapping[str, Any], dotted: str) -> Optional[List[str]]:
    """Find the path of ``dotted`` ("postgresql.parameters.work_mem") inside ``config``.

    Key names may themselves contain dots (e.g. "auto_explain.log_min_duration"), so at each level
    the longest matching key wins. Returns the list of keys, or None if it is not in ``config``.
    """
    parts = dotted.split(".")
    path: List[str] = []
    node: Any = config
    i = 0
    while i < len(parts):
        if not isinstance(node, Mapping):
            return None
        for j in range(len(parts), i, -1):
            candidate = ".".join(parts[i:j])
            if candidate in node:
                path.append(candidate)
                node = node[candidate]
                i = j
                break
        else:
            return None
    return path


def add_removals(patch: Dict[str, Any], current: Mapping[str, Any], absent: Iterable[str]) -> List[str]:
    """Add ``null`` entries to ``patch`` for every dotted key of ``absent`` present in ``current``.

    Returns the list of dotted keys that were actually present (and will be removed).
    """
    removed: List[str] = []
    for dotted in absent:
        path = resolve_dotted_key(current, dotted)
        if path is None:
            continue
        node = patch
        for key in path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
        node[path[-1]] = None
        removed.append(".".join(path))
    return removed


def find_conflicts(desired: Mapping[str, Any], absent: Iterable[str]) -> List[str]:
    """Dotted keys listed in ``absent`` that ``desired`` also sets to a non-null value."""
    conflicts = []
    for dotted in absent:
        path = resolve_dotted_key(desired, dotted)
        if path is None:
            continue
        node: Any = desired
        for key in path:
            node = node[key]
        if node is not None:
            conflicts.append(dotted)
    return conflicts


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge-patch (what Patroni's ``PATCH /config`` does). Returns a new object."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result: Dict[str, Any] = copy.deepcopy(dict(target)) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def status_name(status: Mapping[str, Any], fallback: str) -> str:
    """Member name from a ``GET /patroni`` answer (``patroni.name``), or ``fallback``."""
    patroni = status.get("patroni") if isinstance(status, Mapping) else None
    if isinstance(patroni, Mapping) and patroni.get("name"):
        return str(patroni["name"])
    return fallback
