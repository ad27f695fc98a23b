#!/usr/bin/python
# -*- coding: utf-8 -*-
# Read (and optionally wait for) HAProxy backend/server states from the stats page's CSV export.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: haproxy_backends_info
short_description: Read HAProxy backend and server states from the stats CSV, optionally waiting for expectations
description:
  - Reads C(GET <stats_url>;csv) (the HAProxy stats page CSV export, see the HAProxy Management Guide, CSV format)
    and returns every backend with its servers, which servers are UP and which are not, and the frontends.
  - Server states are normalised to V(up) (C(UP), C(no check)), V(down), V(maint) (C(MAINT), C(MAINT (via ...))),
    V(drain) (C(DRAIN), C(NOLB)), V(transition) (C(UP 1/3) going down, C(DOWN 1/2) going up) or V(unknown).
  - With O(wait=true) it polls until O(expect) and O(expect_up_count) hold and fails after O(timeout) seconds with
    each unmet expectation and a table of the backends. Connection errors while waiting are retried.
  - Without O(wait) it fails only when the stats page cannot be read.
  - Read-only; never reports changed.
options:
  stats_url:
    description:
      - URL of the stats page, e.g. V(http://127.0.0.1:7000/). C(;csv) is appended unless the URL already contains it.
    type: str
    required: true
    aliases: [url]
  wait:
    description: Poll until the expectations hold; fail after O(timeout) seconds otherwise.
    type: bool
    default: false
  expect:
    description:
      - "Backend name -> list of the server names that must be UP, exactly (every other server of that backend
        must not be UP), e.g. C({\"primary\": [\"patroni1\"], \"replicas\": [\"patroni2\", \"patroni3\"]})."
    type: dict
  expect_up_count:
    description: "Backend name -> exact number of servers that must be UP, e.g. C({\"replicas\": 2})."
    type: dict
  timeout:
    description: Seconds to wait when O(wait=true).
    type: int
    default: 120
  interval:
    description: Seconds between two polls when O(wait=true).
    type: float
    default: 1
extends_documentation_fragment: [pgha_http]
author:
  - pgha project maintainers
"""

EXAMPLES = r"""
- name: Wait until HAProxy sends writes to patroni1 only and reads to the two replicas
  haproxy_backends_info:
    stats_url: http://127.0.0.1:7000/
    wait: true
    expect:
      primary: [patroni1]
      replicas: [patroni2, patroni3]
    timeout: 60

- name: Read the backends
  haproxy_backends_info:
    stats_url: http://127.0.0.1:7000/;csv
    url_username: admin
    url_password: "{{ haproxy_stats_password }}"
  register: haproxy

- name: Show which servers are UP
  ansible.builtin.debug:
    msg: "{{ haproxy.table.splitlines() }}"

- name: Wait until exactly two replicas serve reads
  haproxy_backends_info:
    stats_url: http://127.0.0.1:7000/
    wait: true
    expect_up_count:
      replicas: 2
"""

RETURN = r"""
backends:
  description: Backend (or listen section) name -> its state and servers.
  returned: always
  type: dict
  contains:
    status:
      description: Status of the BACKEND row (UP/DOWN), null if the proxy has no BACKEND row.
      type: str
    servers:
      description: The servers.
      type: list
      elements: dict
      contains:
        name: {description: Server name., type: str}
        status: {description: "Status as HAProxy prints it: UP, DOWN, MAINT, no check, UP 1/2, ...", type: str}
        state: {description: "Normalised: up, down, maint, drain, transition, unknown.", type: str}
        check_status: {description: "Last health check status, e.g. L7OK, L7STS, L4CON.", type: str}
        check_code: {description: Layer 5-7 code of the last check (HTTP status)., type: int}
        check_desc: {description: Human readable description of the last check., type: str}
        addr: {description: Server address ip:port., type: str}
        weight: {description: Effective weight., type: int}
        backup: {description: Backup server., type: bool}
        current_sessions: {description: Current sessions., type: int}
        last_change_seconds: {description: Seconds since the last UP/DOWN transition., type: int}
        check_failures: {description: Failed checks., type: int}
        down_transitions: {description: UP to DOWN transitions., type: int}
    up:
      description: Names of the servers in state up.
      type: list
      elements: str
    down:
      description: Names of the servers not up (down, maint, drain, transition...).
      type: list
      elements: str
    current_sessions:
      description: Current sessions of the backend.
      type: int
    last_change_seconds:
      description: Seconds since the backend's last status change.
      type: int
  sample:
    primary:
      status: UP
      up: [patroni1]
      down: [patroni2, patroni3]
      servers:
        - {name: patroni1, status: UP, state: up, check_status: L7OK, check_code: 200, addr: "172.28.10.11:8008"}
frontends:
  description: Frontend (or listen section) name -> status (OPEN/STOP/FULL), current_sessions, session_limit, mode.
  returned: always
  type: dict
table:
  description: Text table, one line per backend with its UP servers and the other servers with their status and check.
  returned: always
  type: str
healthy:
  description: True when every expectation holds (RV(problems) is empty).
  returned: always
  type: bool
problems:
  description: One sentence per expectation that does not hold.
  returned: always
  type: list
  elements: str
  sample: ["backend primary: expected UP exactly [patroni2], found UP [patroni1]; not UP: patroni2 (DOWN, L7STS 503)"]
rows:
  description:
    Every CSV row as a dict keyed by the CSV header names (pxname, svname, status, ...); empty fields are left out.
  returned: success
  type: list
  elements: dict
stats_url:
  description: The CSV URL that was read.
  returned: always
  type: str
  sample: http://127.0.0.1:7000/;csv
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

from ansible.module_utils.pgha_haproxy import (
    CsvError,
    check_expectations,
    compact_rows,
    parse_csv,
    render_table,
    stats_csv_url,
    summarize,
)
from ansible.module_utils.pgha_http import HttpOptions, RequestError, http_argument_spec, poll_until, request


def read_stats(url: str, opts: HttpOptions) -> Dict[str, Any]:
    """GET the CSV and parse it; returns {"ok", "rows", "summary"} or {"ok": False, "error"}."""
    try:
        _status, text = request("GET", url, opts)
        rows = parse_csv(text)
    except RequestError as exc:
        return {"ok": False, "error": exc.message}
    except CsvError as exc:
        return {"ok": False, "error": "%s did not return HAProxy stats CSV: %s" % (url, exc)}
    return {"ok": True, "rows": rows, "summary": summarize(rows)}


def _normalise_expect(module: AnsibleModule, value: Optional[Dict[str, Any]]) -> Dict[str, List[str]]:
    out: Dict[str, List[str]] = {}
    for backend, servers in (value or {}).items():
        if isinstance(servers, str):
            servers = [s.strip() for s in servers.split(",") if s.strip()]
        if servers is None:
            servers = []
        if not isinstance(servers, list):
            module.fail_json(msg="expect.%s must be a list of server names, got %r" % (backend, servers))
        out[str(backend)] = [str(s) for s in servers]
    return out


def _normalise_counts(module: AnsibleModule, value: Optional[Dict[str, Any]]) -> Dict[str, int]:
    out: Dict[str, int] = {}
    for backend, count in (value or {}).items():
        try:
            out[str(backend)] = int(count)
        except (TypeError, ValueError):
            module.fail_json(msg="expect_up_count.%s must be an integer, got %r" % (backend, count))
    return out


def build_argument_spec() -> Dict[str, Any]:
    """The module's argument_spec (a function so tests can compare it with DOCUMENTATION)."""
    spec: Dict[str, Any] = dict(
        stats_url=dict(type="str", required=True, aliases=["url"]),
        wait=dict(type="bool", default=False),
        expect=dict(type="dict"),
        expect_up_count=dict(type="dict"),
        timeout=dict(type="int", default=120),
        interval=dict(type="float", default=1.0),
    )
    spec.update(http_argument_spec(request_timeout=5.0))
    return spec


def main() -> None:
    module = AnsibleModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    p = module.params
    opts = HttpOptions.from_params(p)
    url = stats_csv_url(p["stats_url"])
    expect = _normalise_expect(module, p["expect"])
    counts = _normalise_counts(module, p["expect_up_count"])
    last_good: Dict[str, Any] = {}

    def attempt() -> Any:
        reading = read_stats(url, opts)
        if not reading["ok"]:
            return reading, False
        reading["problems"] = check_expectations(reading["summary"]["backends"], expect, counts)
        last_good.clear()
        last_good.update(reading)
        return reading, not reading["problems"]

    if p["wait"]:
        reading, ok, attempts, elapsed = poll_until(attempt, p["timeout"], p["interval"])
    else:
        reading, ok = attempt()
        attempts, elapsed = 1, 0.0

    if not last_good:
        module.fail_json(
            msg="Could not read HAProxy stats%s: %s"
                % (" during %ss of waiting (%d attempts)" % (elapsed, attempts) if p["wait"] else "", reading["error"]),
            stats_url=url, attempts=attempts, elapsed=elapsed, healthy=False,
        )
    summary = last_good["summary"]
    table = render_table(summary["backends"])
    problems = list(last_good["problems"])
    if not reading["ok"]:
        problems.append("the stats page did not answer the last poll: %s" % reading["error"])
    result: Dict[str, Any] = dict(
        changed=False,
        backends=summary["backends"],
        frontends=summary["frontends"],
        table=table,
        healthy=not problems,
        problems=problems,
        rows=compact_rows(last_good["rows"]),
        stats_url=url,
        attempts=attempts,
        elapsed=elapsed,
    )
    if p["wait"] and not ok:
        lines = ["Timed out after %ss (%d attempts) waiting for HAProxy (%s). Unmet expectation(s):"
                 % (elapsed, attempts, url)]
        lines.extend("  - %s" % prob for prob in problems)
        lines.append("Last state read:" if not reading["ok"] else "Actual state:")
        lines.append(table)
        result.pop("rows")  # keep the failure output readable; the table and backends say it all
        module.fail_json(msg="\n".join(lines), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
