#!/usr/bin/python
# -*- coding: utf-8 -*-
# Read (and optionally wait for) the alerts Alertmanager has firing: which ones fired, which cleared.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: alertmanager_alerts_info
short_description: Read the alerts firing in Alertmanager, optionally waiting until some fired or cleared
description:
  - Reads C(GET <url>/api/v2/alerts?active=true&silenced=false&inhibited=false) (Alertmanager's API v2) and
    returns every firing alert that is neither silenced nor inhibited, with its name, instance, severity and
    when it started.
  - With O(wait=true) it polls until every alert of O(expect_firing) has been seen firing (at any poll of this
    call, or listed in O(seen)) and no alert of O(expect_not_firing) is firing, and fails after O(timeout)
    seconds with each unmet expectation and a table of the firing alerts. An alert that fires and clears between
    two polls is missed, so poll more often than the shortest firing you want to see (O(interval)).
  - Without O(wait) it fails only when Alertmanager cannot be read.
  - Read-only; never reports changed. The chaos experiments use it to hold a fault until its alerts fire and
    to wait after the restore until they resolved.
options:
  url:
    description: Alertmanager's base URL, e.g. V(https://172.28.10.41:9093).
    type: str
    required: true
  expect_firing:
    description:
      - Alert names (the C(alertname) label) that must have fired. With O(wait=true) the module waits until each
        one was seen firing at least once.
    type: list
    elements: str
    default: []
  expect_not_firing:
    description: Alert names that must not be firing (e.g. after the fault was repaired).
    type: list
    elements: str
    default: []
  seen:
    description:
      - Alert names already seen firing earlier (the RV(seen) of a previous call), counted as fired for
        O(expect_firing).
    type: list
    elements: str
    default: []
  wait:
    description: Poll until the expectations hold; fail after O(timeout) seconds otherwise.
extends_documentation_fragment: [pgha_http, pgha_wait]
author:
  - pgha project maintainers
"""

EXAMPLES = r"""
- name: Wait until the member down and leader changed alerts fired
  alertmanager_alerts_info:
    url: https://172.28.10.41:9093
    ca_path: /etc/pgha/tls/ca.crt
    url_username: admin
    url_password: "{{ alertmanager_web_password }}"
    expect_firing: [PatroniMemberDown, PatroniLeaderChanged]
    wait: true
    timeout: 180
  register: alerts

- name: Wait until they cleared after the repair
  alertmanager_alerts_info:
    url: https://172.28.10.41:9093
    ca_path: /etc/pgha/tls/ca.crt
    url_username: admin
    url_password: "{{ alertmanager_web_password }}"
    expect_not_firing: [PatroniMemberDown]
    wait: true
    timeout: 120

- name: Show what fires now
  ansible.builtin.debug:
    msg: "{{ alerts.table.splitlines() }}"
"""

RETURN = r"""
alerts:
  description: The firing alerts of the last answer, critical first, then by name and instance.
  returned: always
  type: list
  elements: dict
  contains:
    alertname: {description: The alert's name., type: str}
    instance: {description: "Its instance label (or name label), empty when it has neither.", type: str}
    severity: {description: "Its severity label (critical, warning, info), empty without one.", type: str}
    starts_at: {description: When Alertmanager says it started firing (RFC 3339)., type: str}
    summary: {description: Its summary annotation., type: str}
    labels: {description: Every label., type: dict}
  sample:
    - {alertname: PatroniMemberDown, instance: patroni1, severity: warning, starts_at: "2026-12-07T03:10:05.123Z",
       summary: "Patroni REST API on patroni1 does not answer", labels: {alertname: PatroniMemberDown, job: patroni}}
firing:
  description: Names of the alerts firing in the last answer, sorted.
  returned: always
  type: list
  elements: str
seen:
  description: Names seen firing at any poll of this call, plus O(seen), sorted.
  returned: always
  type: list
  elements: str
missing:
  description: Names of O(expect_firing) not seen firing.
  returned: always
  type: list
  elements: str
still_firing:
  description: Names of O(expect_not_firing) firing in the last answer.
  returned: always
  type: list
  elements: str
table:
  description: Text table of the firing alerts, one line each.
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
  sample: ["PatroniMemberDown has not fired"]
attempts:
  description: Number of polls made.
  returned: always
  type: int
elapsed:
  description: Seconds spent polling.
  returned: always
  type: float
"""

import json
from typing import Any, Dict, Iterable, List, Set

from ansible.module_utils.basic import AnsibleModule

from ansible.module_utils.pgha_http import (
    HttpOptions,
    RequestError,
    fail_unread,
    http_argument_spec,
    info_result,
    join_url,
    last_problems,
    poll_conditions,
    request,
    timeout_message,
    wait_argument_spec,
)

ALERTS_PATH = "api/v2/alerts?active=true&silenced=false&inhibited=false"
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def firing_alerts(data: Any) -> List[Dict[str, Any]]:
    """The active alerts of an Alertmanager API v2 answer (a JSON list), critical first, then by name and
    instance. Raises ValueError when the answer is not such a list."""
    if not isinstance(data, list):
        raise ValueError("expected a JSON list of alerts, got %s" % type(data).__name__)
    out = []
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("labels"), dict):
            raise ValueError("an alert without labels: %r" % (item,))
        if (item.get("status") or {}).get("state", "active") != "active":
            continue
        labels = {str(k): str(v) for k, v in item["labels"].items()}
        out.append({
            "alertname": labels.get("alertname", ""),
            "instance": labels.get("instance") or labels.get("name") or "",
            "severity": labels.get("severity", ""),
            "starts_at": str(item.get("startsAt") or ""),
            "summary": str((item.get("annotations") or {}).get("summary") or ""),
            "labels": labels,
        })
    return sorted(out, key=lambda a: (SEVERITY_ORDER.get(a["severity"], 3), a["alertname"], a["instance"]))


def render_table(alerts: Iterable[Dict[str, Any]]) -> str:
    """One line per alert: severity, name, instance, start; or a line saying nothing fires."""
    lines = ["%-8s %-34s %-12s since %s" % (a["severity"] or "-", a["alertname"], a["instance"] or "-",
                                            a["starts_at"] or "?") for a in alerts]
    return "\n".join(lines) if lines else "no alert firing"


def expectation_problems(firing: Iterable[Dict[str, Any]], seen: Set[str], expect_firing: Iterable[str],
                         expect_not_firing: Iterable[str]) -> List[str]:
    """One sentence per expected alert not seen firing and per alert that should not fire but does."""
    now: Dict[str, List[str]] = {}
    for alert in firing:
        now.setdefault(alert["alertname"], []).append(alert["instance"] or "-")
    problems = ["%s has not fired" % name for name in expect_firing if name not in seen]
    problems += ["%s is still firing (%s)" % (name, ", ".join(now[name])) for name in expect_not_firing
                 if name in now]
    return problems


def build_argument_spec() -> Dict[str, Any]:
    """The module's argument_spec (a function so tests can compare it with DOCUMENTATION)."""
    return dict(
        url=dict(type="str", required=True),
        expect_firing=dict(type="list", elements="str", default=[]),
        expect_not_firing=dict(type="list", elements="str", default=[]),
        seen=dict(type="list", elements="str", default=[]),
        **wait_argument_spec(),
        **http_argument_spec(request_timeout=5.0),
    )


def main() -> None:
    module = AnsibleModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    p = module.params
    opts = HttpOptions.from_params(p)
    url = join_url(p["url"], ALERTS_PATH)
    seen: Set[str] = set(p["seen"])

    def read() -> Dict[str, Any]:
        try:
            _status, text = request("GET", url, opts)
            alerts = firing_alerts(json.loads(text))
        except RequestError as exc:
            return {"ok": False, "error": exc.message}
        except ValueError as exc:
            return {"ok": False, "error": "%s did not answer with Alertmanager's alert list: %s" % (url, exc)}
        seen.update(a["alertname"] for a in alerts)
        return {"ok": True, "alerts": alerts}

    poll = poll_conditions(read, lambda reading: expectation_problems(
        reading["alerts"], seen, p["expect_firing"], p["expect_not_firing"]), p)
    reading, good = poll["reading"], poll["good"]
    if not good:
        fail_unread(module, poll, "Could not read the alerts of Alertmanager", ": %s" % reading["error"], url=url)
    alerts = good["alerts"]
    firing = sorted({a["alertname"] for a in alerts})
    table = render_table(alerts)
    problems = last_problems(poll, "Alertmanager did not answer the last poll: %s" % reading.get("error"))
    result = info_result(poll, table, problems, alerts=alerts, firing=firing, seen=sorted(seen),
                         missing=[n for n in p["expect_firing"] if n not in seen],
                         still_firing=[n for n in p["expect_not_firing"] if n in firing])
    if p["wait"] and not poll["ok"]:
        module.fail_json(msg=timeout_message(poll, "the alerts of Alertmanager (%s)" % p["url"], problems,
                                             ["Firing now:", table], unmet="expectation(s)"), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
