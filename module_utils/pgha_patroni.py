# -*- coding: utf-8 -*-
# Pure logic for the patroni_* modules: parse Patroni REST API answers, check wait conditions,
# render a patronictl-like table, and compute/apply dynamic-configuration patches.
# No HTTP here (see pgha_http), so everything is unit-testable with plain dicts.
"""Patroni parsing, condition checks, table rendering and config diff/merge-patch helpers."""

from __future__ import annotations

import copy
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlparse

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


def summarize_cluster(data: Mapping[str, Any]) -> Dict[str, Any]:
    """Turn a ``/cluster`` answer into the module's summary (members, leader, timeline, counts)."""
    members = [parse_member(m) for m in data.get("members") or []]
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


def member_from_status(api_url: str, status: Optional[Mapping[str, Any]], error: Optional[str] = None) -> Dict[str, Any]:
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
    widths = [len(c) for c in TABLE_COLUMNS]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    numeric = {4, 7}

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, (w, c) in enumerate(zip(widths, cells)):
            out.append(" %s " % (c.rjust(w) if i in numeric and cells is not TABLE_COLUMNS else c.ljust(w)))
        return "|" + "|".join(out) + "|"

    title = "+ Cluster: %s " % (summary.get("scope") or "?")
    if summary.get("pause"):
        title += "(maintenance mode) "
    header = title + sep[len(title):] if len(title) < len(sep) else title + "--+"
    lines = [header, line(TABLE_COLUMNS), sep]
    lines.extend(line(r) for r in rows)
    lines.append(sep)
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
    parts = [p for p in dotted.split(".")]
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
