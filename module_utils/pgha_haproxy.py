# -*- coding: utf-8 -*-
# Pure logic for haproxy_backends_info: parse HAProxy's stats CSV ("show stat" / "<stats uri>;csv",
# Management Guide section 9.1), normalise server states, check expectations, render a table. Standard library
# only: the chaos load client (chaos/tools/pgha_loadprobe.py) uses the parsing too, as a plain module.
"""HAProxy stats CSV parsing, server state normalisation, expectation checks and table rendering."""

from __future__ import annotations

import csv
import io
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence

try:
    from ansible.module_utils.pgha_table import text_table
except ImportError:  # chaos/tools/pgha_loadprobe.py imports this file plainly, with no Ansible at hand
    from pgha_table import text_table

# Values of the "type" column.
TYPE_NAMES = {"0": "frontend", "1": "backend", "2": "server", "3": "listener"}


def stats_csv_url(url: str) -> str:
    """Return the CSV export URL for a stats page URL.

    ``http://h:7000/`` -> ``http://h:7000/;csv``; ``http://h:7000`` -> ``http://h:7000/;csv``;
    ``http://h:7000/stats`` -> ``http://h:7000/stats;csv``; a URL already containing ``;csv`` is kept.
    """
    if ";csv" in url:
        return url
    scheme_sep = url.find("://")
    path_start = url.find("/", scheme_sep + 3 if scheme_sep >= 0 else 0)
    if path_start < 0:
        return url + "/;csv"
    return url + ";csv"


class CsvError(ValueError):
    """The text is not a HAProxy stats CSV export."""


def parse_csv(text: str) -> List[Dict[str, str]]:
    """Parse the stats CSV into one dict per row, keyed by the header's field names.

    The header line starts with ``# pxname,svname,...``; the trailing empty field and the ``-`` separator
    (between proxy and module statistics) are dropped.
    Raises CsvError if the header is missing (e.g. an HTML stats page or a login page came back).
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("#"):
        first = lines[0][:120] if lines else "(empty answer)"
        raise CsvError("expected a CSV header starting with '# pxname,svname', got: %r" % first)
    header = [h.strip() for h in next(csv.reader([lines[0].lstrip("#").strip()]))]
    if len(header) < 2 or header[0] != "pxname" or header[1] != "svname":
        raise CsvError("CSV header does not start with 'pxname,svname': %r" % lines[0][:120])
    rows = []
    for values in csv.reader(io.StringIO("\n".join(lines[1:]))):
        if not values or values[0].startswith("#"):
            continue
        row = {name: (values[i] if i < len(values) else "") for i, name in enumerate(header) if name and name != "-"}
        rows.append(row)
    return rows


def normalize_state(status: str) -> str:
    """Map a server ``status`` to up / down / maint / drain / transition / unknown.

    "UP", "no check" -> up; "DOWN" -> down; "MAINT", "MAINT (via x/y)", "MAINT (resolution)" -> maint;
    "DRAIN", "NOLB" -> drain; "UP 1/3" (going down), "DOWN 1/2" (going up) -> transition.
    """
    text = (status or "").strip().upper()
    if not text:
        return "unknown"
    if text.startswith("MAINT"):
        return "maint"
    if text == "NO CHECK":
        return "up"
    if re.match(r"^(UP|DOWN|NOLB|DRAIN)\s+\d+/\d+", text):
        return "transition"
    if text.startswith("UP"):
        return "up"
    if text.startswith("DOWN"):
        return "down"
    if text.startswith(("DRAIN", "NOLB")):
        return "drain"
    return "unknown"


def _int(value: Optional[str]) -> Optional[int]:
    if value is None:
        return None
    value = value.strip()
    return int(value) if re.fullmatch(r"-?\d+", value) else None


def _row_type(row: Mapping[str, str]) -> str:
    kind = TYPE_NAMES.get((row.get("type") or "").strip())
    if kind:
        return kind
    sv = row.get("svname")
    return "frontend" if sv == "FRONTEND" else "backend" if sv == "BACKEND" else "server"


def summarize(rows: Sequence[Mapping[str, str]]) -> Dict[str, Any]:
    """Group rows into ``backends`` (with their servers) and ``frontends``.

    In a ``listen`` section the proxy has a FRONTEND row, server rows and a BACKEND row; it appears
    in both dicts under the same name.
    """
    backends: Dict[str, Dict[str, Any]] = {}
    frontends: Dict[str, Dict[str, Any]] = {}

    def backend(name: str) -> Dict[str, Any]:
        if name not in backends:
            backends[name] = {"status": None, "servers": [], "up": [], "down": [], "current_sessions": None,
                              "last_change_seconds": None}
        return backends[name]

    for row in rows:
        kind = _row_type(row)
        px = row.get("pxname", "")
        if kind == "frontend":
            frontends[px] = {
                "status": row.get("status", ""),
                "current_sessions": _int(row.get("scur")),
                "session_limit": _int(row.get("slim")),
                "mode": row.get("mode") or None,
            }
        elif kind == "backend":
            be = backend(px)
            be["status"] = row.get("status", "")
            be["current_sessions"] = _int(row.get("scur"))
            be["last_change_seconds"] = _int(row.get("lastchg"))
        elif kind == "server":
            status = row.get("status", "")
            server = {
                "name": row.get("svname", ""),
                "status": status,
                "state": normalize_state(status),
                "check_status": row.get("check_status") or None,
                "check_code": _int(row.get("check_code")),
                "check_desc": row.get("check_desc") or None,
                "addr": row.get("addr") or None,
                "weight": _int(row.get("weight")),
                "backup": row.get("bck") == "1",
                "current_sessions": _int(row.get("scur")),
                "last_change_seconds": _int(row.get("lastchg")),
                "check_failures": _int(row.get("chkfail")),
                "down_transitions": _int(row.get("chkdown")),
            }
            be = backend(px)
            be["servers"].append(server)
            (be["up"] if server["state"] == "up" else be["down"]).append(server["name"])
        # listeners (type 3) only appear with "option socket-stats"; not needed here
    return {"backends": backends, "frontends": frontends}


def compact_rows(rows: Sequence[Mapping[str, str]]) -> List[Dict[str, str]]:
    """Rows without the fields HAProxy left empty (most of them for a given row type)."""
    return [{k: v for k, v in row.items() if v != ""} for row in rows]


def _server_brief(server: Mapping[str, Any]) -> str:
    detail = [server["status"]]
    if server.get("check_status"):
        check = server["check_status"]
        if server.get("check_code") is not None:
            check += " %s" % server["check_code"]
        detail.append(check)
    if server.get("check_desc") and server.get("state") != "up":
        detail.append(server["check_desc"])
    return "%s (%s)" % (server["name"], ", ".join(detail))


def check_expectations(
    backends: Mapping[str, Mapping[str, Any]],
    expect: Optional[Mapping[str, Sequence[str]]] = None,
    expect_up_count: Optional[Mapping[str, int]] = None,
) -> List[str]:
    """Return one sentence per unmet expectation.

    ``expect``: backend -> exact list of servers that must be UP (the others must not be UP).
    ``expect_up_count``: backend -> exact number of UP servers.
    """
    problems: List[str] = []
    known = ", ".join(sorted(backends)) or "none"
    for name, wanted in (expect or {}).items():
        be = backends.get(name)
        if be is None:
            problems.append("backend %s not found in the stats (known: %s)" % (name, known))
            continue
        wanted_set = sorted(set(wanted or []))
        up = sorted(be["up"])
        if up != wanted_set:
            not_up = [_server_brief(s) for s in be["servers"] if s["state"] != "up"]
            unknown = sorted(set(wanted_set) - {s["name"] for s in be["servers"]})
            msg = "backend %s: expected UP exactly [%s], found UP [%s]" % (name, ", ".join(wanted_set), ", ".join(up))
            if not_up:
                msg += "; not UP: %s" % "; ".join(not_up)
            if unknown:
                msg += "; no such server(s): %s" % ", ".join(unknown)
            problems.append(msg)
    for name, count in (expect_up_count or {}).items():
        be = backends.get(name)
        if be is None:
            problems.append("backend %s not found in the stats (known: %s)" % (name, known))
            continue
        if len(be["up"]) != int(count):
            problems.append("backend %s: expected %d server(s) UP, found %d [%s]"
                            % (name, int(count), len(be["up"]), ", ".join(be["up"])))
    return problems


def render_table(backends: Mapping[str, Mapping[str, Any]]) -> str:
    """One line per backend: its status, the UP servers and the other servers with their status."""
    columns = ("Backend", "Status", "UP", "Not UP")
    rows = []
    for name in sorted(backends):
        be = backends[name]
        not_up = [_server_brief(s) for s in be["servers"] if s["state"] != "up"]
        rows.append((name, be.get("status") or "", ", ".join(be["up"]) or "-", "; ".join(not_up) or "-"))
    return "\n".join(text_table(columns, rows))
