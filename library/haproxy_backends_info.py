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
  expect:
    description:
      - "Backend name -> list of the server names that must be UP, exactly (every other server of that backend
        must not be UP), e.g. C({\"primary\": [\"patroni1\"], \"replicas\": [\"patroni2\", \"patroni3\"]})."
    type: dict
  expect_up_count:
    description: "Backend name -> exact number of servers that must be UP, e.g. C({\"replicas\": 2})."
    type: dict
extends_documentation_fragment: [pgha_http, pgha_wait]
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
from ansible.module_utils.pgha_http import (
    HttpOptions,
    RequestError,
    fail_unread,
    http_argument_spec,
    info_result,
    last_problems,
    poll_conditions,
    request,
    timeout_message,
    wait_argument_spec,
)


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
    return dict(
        stats_url=dict(type="str", required=True, aliases=["url"]),
        expect=dict(type="dict"),
        expect_up_count=dict(type="dict"),
        **wait_argument_spec(),
        **http_argument_spec(request_timeout=5.0),
    )


def main() -> None:
    module = AnsibleModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    p = module.params
    opts = HttpOptions.from_params(p)
    url = stats_csv_url(p["stats_url"])
    expect = _normalise_expect(module, p["expect"])
    counts = _normalise_counts(module, p["expect_up_count"])
    poll = poll_conditions(lambda: read_stats(url, opts),
                           lambda reading: check_expectations(reading["summary"]["backends"], expect, counts), p)
    reading, good = poll["reading"], poll["good"]
    if not good:
        fail_unread(module, poll, "Could not read HAProxy stats", ": %s" % reading["error"], stats_url=url)

    summary = good["summary"]
    table = render_table(summary["backends"])
    # reading has an "error" only when it got no answer, the one case last_problems() uses the sentence in
    problems = last_problems(poll, "the stats page did not answer the last poll: %s" % reading.get("error"))
    result = info_result(poll, table, problems, backends=summary["backends"], frontends=summary["frontends"],
                         rows=compact_rows(good["rows"]), stats_url=url)
    if p["wait"] and not poll["ok"]:
        result.pop("rows")  # keep the failure output readable; the table and backends say it all
        state = ["Last state read:" if not reading["ok"] else "Actual state:", table]
        module.fail_json(msg=timeout_message(poll, "HAProxy (%s)" % url, problems, state, unmet="expectation(s)"),
                         **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
