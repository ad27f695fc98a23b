#!/usr/bin/python
# -*- coding: utf-8 -*-
# Build the report of one chaos experiment from the load's ledger: figures, bounds, markdown, JSON and a plot.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: chaos_report
short_description: Analyse a chaos experiment's load ledger and write its report (JSON, markdown, timeline plot)
description:
  - Reads C(ledger.jsonl) and C(events.jsonl) of a run made by C(pg_load_probe) (in O(run_dir)) and computes write
    and read availability (longest gap between successful operations, failed and unknown attempts, latency),
    lost writes (acknowledged ids missing from the table, read back through O(final_ids_dsn)) and split brain
    (writes acknowledged by two servers interleaved in time, or two nodes writable in one poll round).
  - Evaluates O(bounds) and O(assertions) into RV(passed) and RV(failures). It does not fail because of them; assert
    on RV(passed) in the playbook.
  - Decomposes the failover after the first C(fault_injected) event into phases, from the records of the load's
    watchers (the C(dcs_watch) and C(lb_watch) options of M(pg_load_probe)), its node polls and its writes -
    C(leader_key_changed), C(promoted), C(haproxy_up[<balancer>]), C(vip_moved), C(first_write), each in seconds
    after the fault (RV(analysis.phases)).
  - With O(alerts), computes from the records of the load's alerts watcher (the C(alert_watch) option of
    M(pg_load_probe)) when each alert fired and resolved (RV(alerts)), checks the alerts the experiment expects and
    writes them in an "Alerts" section of the report and as marks on the plot.
  - Writes C(report.json), C(report.md) and C(timeline.png) into C(<report_dir>/<experiment>-<UTC timestamp>/).
  - In check mode everything is computed and nothing is written.
  - Run it on the controller (C(delegate_to=localhost)); it needs C(psycopg2) for O(final_ids_dsn) and
    C(matplotlib) for the plot (both in the project's virtualenv).
options:
  run_dir:
    description: The run directory given to C(pg_load_probe).
    type: path
    required: true
  experiment:
    description: Name of the experiment (report title, directory name, summary row), e.g. V(leader_stop).
    type: str
    required: true
  report_dir:
    description: Directory under which C(<experiment>-<YYYYmmddTHHMMSSZ>/) is created.
    type: path
    required: true
  settings:
    description:
      - Settings that shaped the result, shown in the report as given (Patroni ttl/loop_wait/retry_timeout,
        HAProxy check timings, keepalived advert_int, ...). Do not put secrets here.
    type: dict
    default: {}
  state_before:
    description:
      - The cluster before the experiment, e.g. a C(patroni_cluster_info) result. Its C(table) field, when
        present, is shown in the markdown; the whole dict goes to C(report.json).
    type: dict
  state_after:
    description: The cluster after the experiment, like O(state_before).
    type: dict
  assertions:
    description: Checks made by the playbook; a failed one makes RV(passed) false.
    type: list
    elements: dict
    default: []
    suboptions:
      name: {description: What was checked., type: str, required: true}
      passed: {description: Whether it held., type: bool, required: true}
      detail: {description: Measured value or explanation., type: str, default: ""}
  final_ids_dsn:
    description:
      - Where to read the ids that really are in the table at the end (C(SELECT id FROM <table> WHERE run_id = ...)),
        normally the write port of the balancer once the cluster is healthy again. Tried O(connect_retries) times.
      - Without it lost writes are not checked (reported as null, with a warning).
    type: dict
    suboptions:
      host: {description: Host or address., type: str, required: true}
      port: {description: TCP port., type: int, default: 5432}
      dbname: {description: Database., type: str, required: true}
      user: {description: Role., type: str, required: true}
      password: {description: Password (never returned)., type: str}
      sslmode: {description: libpq sslmode., type: str}
  run_id:
    description: Key of the run's rows; default the one in C(<run_dir>/run.json), else the base name of O(run_dir).
    type: str
  table:
    description: Table of the rows; default the one in C(<run_dir>/run.json), else V(chaos_ledger).
    type: str
  connect_retries:
    description: Attempts to read the final ids (2 seconds apart, each with a short connect and statement timeout).
    type: int
    default: 5
  bounds:
    description: Limits the run must respect; unset ones are not checked.
    type: dict
    suboptions:
      max_write_gap_s:
        description:
          - Longest time without a successful write, in seconds. Checked on the longest gap between two successful
            writes and on the gap at the end (writes that had not resumed when the load stopped).
        type: float
      max_read_gap_s:
        description: The same for reads.
        type: float
      max_failed_writes:
        description: Most failed write attempts (error + unknown).
        type: int
      max_lost_writes:
        description:
          - Most acknowledged writes missing from the table. Omitted, lost writes are counted and
            reported but do not fail the run (e.g. a crash with asynchronous replication).
        type: int
      max_recovery_loss_window_s:
        description:
          - With a C(recovery_target) event (a restore drill), the longest a write acknowledged before the target
            may have been acknowledged before it and still be missing after the restore (a restore from the
            archive alone loses at most C(archive_timeout) of writes).
        type: float
      allow_split_brain:
        description: Accept evidence of two primaries at once (acknowledged writes interleaved between servers, or
          poll rounds with two writable nodes).
        type: bool
        default: false
      max_vip_moves:
        description:
          - Most times the balancer answering the VIP may change (RV(analysis.vip_holders)); V(0) asserts that the
            VIP never moved. Unset, the moves are only reported.
        type: int
      max_ack_overlap_s:
        description:
          - Longest time an earlier primary may still acknowledge writes after a later one acknowledged its first
            (RV(analysis.ack_overlap_s)). V(0) asserts a clean handover; unset, it is only reported.
        type: float
      allow_writable_overlap:
        description:
          - Accept poll rounds where two nodes were writable (C(pg_is_in_recovery()) false on both), while still
            failing on acknowledged writes interleaved between servers.
          - For experiments that show a primary nobody writes to any more (a frozen Patroni keeps its PostgreSQL
            primary until it runs again); the overlap stays in the report.
        type: bool
        default: false
  alerts:
    description:
      - What the monitoring (Prometheus and Alertmanager) must show of the experiment, checked against the alerts
        Alertmanager listed during the load (records of kind C(alerts)). Unset, nothing is expected.
      - With O(alerts.monitoring), these checks are added to the assertions (so they pass or fail the run like
        O(assertions)) - per expected alert V(alert <name> fired after the fault) (an interval of it began at or
        after the first C(fault_injected) event), with O(alerts.max_fire_s) V(alert <name> fired within <max_fire_s>
        s of the fault), and V(no unexpected critical alert) (no alert of severity critical that is neither
        expected nor allowed began during the run). Without any answer of Alertmanager in the ledger, nothing is
        checked when nothing is expected; otherwise the expected alerts fail (no answer from Alertmanager was
        recorded).
    type: dict
    suboptions:
      expected:
        description: Names (the alertname label) of the alerts that must fire after the fault.
        type: list
        elements: str
        default: []
      allowed:
        description:
          - Critical alerts that may fire without being expected (e.g. a restore from backup stops the whole
            cluster); they do not fail V(no unexpected critical alert).
        type: list
        elements: str
        default: []
      max_fire_s:
        description: Most seconds from the fault to each expected alert's firing; unset, the time is only reported.
        type: float
      resolved:
        description:
          - What the playbook saw after the restore, shown in the report's "resolved after restore" column (not
            checked here), the summary of the wait of chaos/tasks/alerts_resolved.yml - C(checked) (the alerts waited
            for), C(still_firing) (those that did not resolve) and C(elapsed_s) (seconds from the beginning of the
            restore until the others had resolved).
        type: dict
        default: {}
      monitoring:
        description:
          - Whether the inventory has a monitoring host. V(false) - the report says that the alerts were not checked
            and makes no alert assertion.
        type: bool
        default: true
notes:
  - Times in the report are seconds since the load started (the C(load_started) event).
  - The write gap runs from the end of the last successful write before it to the end of the first successful write
    after it. The gaps before the first and after the last successful write are reported apart
    (C(leading_gap_s), C(trailing_gap_s)).
author:
  - pgha project maintainers
"""

EXAMPLES = r"""
- name: Build the report
  chaos_report:
    run_dir: "{{ chaos_run_dir }}/leader_stop"
    experiment: leader_stop
    report_dir: "{{ chaos_report_dir }}"
    settings:
      patroni_ttl: "{{ patroni_ttl | default(30) }}"
      patroni_loop_wait: "{{ patroni_loop_wait | default(10) }}"
    state_before: "{{ chaos_state_before }}"
    state_after: "{{ chaos_state }}"
    assertions:
      - name: a new leader was elected
        passed: "{{ chaos_state.leader != chaos_state_before.leader }}"
        detail: "{{ chaos_state_before.leader }} -> {{ chaos_state.leader }}"
    final_ids_dsn:
      {host: "{{ cluster_vip }}", port: 5000, dbname: app, user: app, password: "{{ patroni_app_password }}"}
    bounds:
      max_write_gap_s: "{{ chaos_bound_graceful_write_gap_s }}"
      max_lost_writes: "{{ chaos_bound_lost_writes }}"
  delegate_to: localhost
  run_once: true
  register: chaos_report_result

- name: The experiment must respect its bounds
  ansible.builtin.assert:
    that: chaos_report_result.passed
    fail_msg: "{{ chaos_report_result.failures }}"
  run_once: true
"""

RETURN = r"""
report_dir:
  description: Directory of this report (not created in check mode).
  returned: always
  type: str
  sample: /work/main/reports/leader_stop-20261125T224500Z
files:
  description: Paths of report.json, report.md and timeline.png (png null when matplotlib is missing).
  returned: always
  type: dict
passed:
  description: Every bound and assertion held.
  returned: always
  type: bool
failures:
  description: One readable sentence per bound or assertion that did not hold.
  returned: always
  type: list
  elements: str
  sample: ["write gap 23.4 s > max_write_gap_s 20.0 s (12.1 s .. 35.5 s after load start)"]
analysis:
  description: The main figures (the full analysis is in report.json). Times are seconds since the load started.
  returned: always
  type: dict
  contains:
    write_gap_s: {description: Longest time between two successful writes (null with fewer than two)., type: float}
    gap_start: {description: Start of that gap., type: float}
    gap_end: {description: End of that gap., type: float}
    leading_gap_s: {description: Load start to the first successful write., type: float}
    trailing_gap_s: {description: Last successful write to the load stop., type: float}
    ok_writes: {description: Successful writes., type: int}
    failed_writes: {description: Failed write attempts (error + unknown)., type: int}
    unknown_writes: {description: Writes whose COMMIT broke off (maybe written)., type: int}
    write_latency_ms: {description: p50/p90/p99/max of successful writes., type: dict}
    lost_writes:
      {description: "count (null when unchecked), ids (first 20), unknown_present, unknown_absent.", type: dict}
    split_brain: {description: "detected (bool) and detail.", type: dict}
    reads: {description: "Read figures: gap_s, gap_start, gap_end, ok, failed, latency_ms.", type: dict}
    ack_spans:
      description: "Per server and timeline, in the order they began: first and last acknowledged write (s) and count."
      type: list
      elements: dict
    ack_overlap_s:
      description: Seconds an earlier primary still acknowledged writes after a later one's first (0.0 for a clean
        handover, null with one primary).
      type: float
    vip_holders:
      description: The balancer that answered the VIP, each time that changed (balancer, at_s after the load start).
      type: list
      elements: dict
    failover:
      description:
        - What the first C(fault_injected) event changed - fault_event, fault_t (epoch), fault_detail, old_leader (the
          leader key before the fault), new_leader (the promoted node), new_leader_address, balancer_before and
          balancer_after (who answered through the VIP), first_write_server. Null where the data is missing.
      type: dict
    phases:
      description:
        - The failover phase by phase, in this order - fault, leader_key_changed (the leader key gone or changed in
          etcd), promoted (another node writable), haproxy_up[<balancer>] (the new leader UP in that balancer's write
          backend), vip_moved (the VIP answered by the other balancer), first_write (the first acknowledged write of
          the recovery).
        - Each has name, t (epoch), at_s (seconds after the fault), step_s and after (seconds since the phase
          observed last before it, and its name) and detail; t, at_s, step_s and after are null when it was not
          observed.
      type: list
      elements: dict
    fault_gaps:
      description:
        - Per fault event (fault_injected, node_killed) in time order - event, detail, t, and the longest write pause
          that ended after it and began before the next fault (gap_s, gap_start, gap_end; seconds since the load
          started); what that fault alone cost the client.
      type: list
      elements: dict
    watches:
      description: The watchers' attempts by kind (dcs, lb, vip, alerts) and outcome (ok, error, unknown, total).
      type: dict
    duration_s: {description: Duration of the load., type: float}
settings:
  description: The settings the experiment ran with (as given in O(settings)).
  returned: always
  type: dict
summary_row:
  description: One row for a table of all experiments (the same columns as the report's summary).
  returned: always
  type: dict
  sample: {experiment: leader_stop, passed: true, write_gap_s: 6.2, failed_writes: 14, unknown_writes: 1,
           lost_writes: 0, split_brain: false, read_gap_s: 1.1, alerts: 2/2 fired,
           report: /work/main/reports/leader_stop-20261125T224500Z}
events:
  description: The run's events with C(rel), seconds since the load started.
  returned: always
  type: list
  elements: dict
alerts:
  description:
    - The alerts of the run (also in C(report.json)) - monitoring, expected, allowed, max_fire_s, answers and
      errors (looks of the alerts watcher that got an answer or failed), fault_t (epoch of the first
      C(fault_injected) event), fired (the expected alerts that fired after the fault), resolved (as given in
      O(alerts.resolved)) and intervals.
    - Each interval - alert, instance, severity, starts_at (Alertmanager's), fired_t and resolved_t (epoch of the
      answer that first listed it and of the first that no longer did, null when still firing at the end),
      firing_at_start, fired_after_fault_s (null when it fired before the fault or without one) and duration_s.
  returned: always
  type: dict
  sample: {monitoring: true, expected: [PatroniMemberDown], allowed: [], max_fire_s: 120.0, answers: 95, errors: 0,
           fault_t: 1732570012.3, fired: [PatroniMemberDown], resolved: {},
           intervals: [{alert: PatroniMemberDown, instance: patroni1, severity: critical,
                        starts_at: "2026-11-25T22:45:20.1Z", fired_t: 1732570084.6, resolved_t: null,
                        firing_at_start: false, fired_after_fault_s: 72.3, duration_s: 10.2}]}
"""

import datetime
import json
import os
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible.module_utils.basic import AnsibleModule

from ansible.module_utils.pgha_dsn import dsn_options
from ansible.module_utils.pgha_ledger import (
    Analysis,
    OpStats,
    alert_answers,
    alert_checks,
    alert_intervals,
    analyze,
    count_outcomes,
    fault_time,
    read_jsonl,
    relative_events,
    timeline_buckets,
)

try:
    import psycopg2
    from psycopg2 import sql
except ImportError:  # pragma: no cover - reported when final_ids_dsn is used
    HAS_PSYCOPG2 = False
else:
    HAS_PSYCOPG2 = True

IDS_LIMIT = 20


# ------------------------------------------------------------------------------------------- final ids
def read_final_ids(dsn: Dict[str, Any], table: str, run_id: str, retries: int,
                   sleep: Optional[Callable[[float], None]] = None) -> Tuple[Optional[List[int]], Optional[str]]:
    """Ids of the run in the table, or (None, last error) after ``retries`` attempts (2 s apart)."""
    sleep = sleep or time.sleep
    if not HAS_PSYCOPG2:
        return None, "psycopg2 is not installed for this interpreter"
    query = sql.SQL("SELECT id FROM {} WHERE run_id = %s").format(sql.Identifier(*table.split(".")))
    error = None
    for attempt in range(max(1, retries)):
        if attempt:
            sleep(2)
        conn = None
        try:
            kwargs = dict(host=dsn["host"], port=dsn.get("port") or 5432, dbname=dsn["dbname"], user=dsn["user"],
                          password=dsn.get("password") or "", connect_timeout=3, keepalives=1, keepalives_idle=1,
                          keepalives_interval=1, keepalives_count=3, options="-c statement_timeout=10000",
                          application_name="pgha-chaos-report")
            if dsn.get("sslmode"):
                kwargs["sslmode"] = dsn["sslmode"]
            conn = psycopg2.connect(**kwargs)
            with conn.cursor() as cur:
                cur.execute(query, (run_id,))
                return [int(row[0]) for row in cur.fetchall()], None
        except Exception as exc:  # noqa: BLE001 - retried, then reported
            error = "%s: %s" % (type(exc).__name__, " ".join(str(exc).split()))
        finally:
            if conn is not None:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001 - closing a broken connection may fail too
                    pass
    return None, error


# ------------------------------------------------------------------------------------------- evaluation
def rel(t: Optional[float], t0: Optional[float]) -> Optional[float]:
    return None if t is None or t0 is None else round(t - t0, 3)


def gap_failures(op: str, stats: OpStats, bound: float, t0: Optional[float]) -> List[str]:
    """Where the ``op`` ("write" or "read") gaps break ``max_<op>_gap_s``: the longest gap, the one at the end."""
    failures = []
    if stats.max_gap_s is not None and stats.max_gap_s > bound:
        failures.append("%s gap %.3f s > max_%s_gap_s %s s (%s s .. %s s after load start)"
                        % (op, stats.max_gap_s, op, bound, rel(stats.gap_start, t0), rel(stats.gap_end, t0)))
    if stats.trailing_gap_s is not None and stats.trailing_gap_s > bound:
        failures.append("%ss had not resumed when the load stopped: no successful %s in the last %.3f s "
                        "> max_%s_gap_s %s s" % (op, op, stats.trailing_gap_s, op, bound))
    return failures


def evaluate(an: Analysis, bounds: Dict[str, Any], assertions: List[Dict[str, Any]],
             lost_error: Optional[str], lost_wanted: bool) -> List[str]:
    """Readable failures of the bounds and assertions (empty: passed)."""
    failures = []
    w, r, t0 = an.writes, an.reads, an.load_start
    if w.attempts == 0:
        failures.append("no write was attempted: the ledger is empty or missing")
    elif w.ok == 0:
        failures.append("no write succeeded (%d attempts; last error: %s)" % (w.attempts, w.last_error))
    gap = bounds.get("max_write_gap_s")
    if gap is not None and w.ok:
        failures.extend(gap_failures("write", w, gap, t0))
    rgap = bounds.get("max_read_gap_s")
    if rgap is not None:
        if r.ok == 0:
            failures.append("no read succeeded (%d attempts)" % r.attempts)
        else:
            failures.extend(gap_failures("read", r, rgap, t0))
    max_failed = bounds.get("max_failed_writes")
    if max_failed is not None and w.failed > max_failed:
        failures.append("%d failed write attempts (%d error, %d unknown) > max_failed_writes %d"
                        % (w.failed, w.error, w.unknown, max_failed))
    max_lost = bounds.get("max_lost_writes")
    if max_lost is not None and lost_wanted:
        if not an.lost.checked:
            failures.append("lost writes could not be checked: %s" % (lost_error or "final ids unavailable"))
        elif (an.lost.lost or 0) > max_lost:
            failures.append("%d acknowledged write(s) lost > max_lost_writes %d (ids %s)"
                            % (an.lost.lost or 0, max_lost, ", ".join(str(i) for i in an.lost.lost_ids[:IDS_LIMIT])))
    window = bounds.get("max_recovery_loss_window_s")
    if window is not None and an.recovery is not None and (an.recovery.loss_window_s or 0) > window:
        failures.append("the restore lost writes acknowledged up to %.1f s before the target > "
                        "max_recovery_loss_window_s %s" % (an.recovery.loss_window_s or 0, window))
    if an.recovery is not None and an.recovery.present_discarded:
        failures.append("%d acknowledged write(s) that started after the recovery target are still in the table "
                        "(ids %s): the restore did not stop at the target"
                        % (len(an.recovery.present_discarded),
                           ", ".join(str(i) for i in an.recovery.present_discarded[:IDS_LIMIT])))
    if an.lost.error_present:
        failures.append("%d write(s) reported failed before COMMIT exist in the table (ids %s)"
                        % (len(an.lost.error_present), ", ".join(str(i) for i in an.lost.error_present[:IDS_LIMIT])))
    if split_brain_failed(an, bounds):
        failures.append("split brain: %s" % an.split_brain.detail)
    max_overlap = bounds.get("max_ack_overlap_s")
    overlap = an.ack_overlap_s or 0.0
    if max_overlap is not None and overlap > max_overlap:
        spans = ", ".join("%s (timeline %s) %s .. %s" % (sp["server"], sp["timeline"], rel(sp["first"], t0),
                                                          rel(sp["last"], t0)) for sp in an.ack_spans)
        failures.append("an old primary still acknowledged writes %.3f s after the next one acknowledged its first "
                        "> max_ack_overlap_s %s (acknowledgements: %s)" % (overlap, max_overlap, spans))
    max_moves = bounds.get("max_vip_moves")
    moves = max(0, len(an.vip_holders) - 1)
    if max_moves is not None and moves > max_moves:
        failures.append("the VIP moved %d time(s) > max_vip_moves %d (%s)" % (
            moves, max_moves, ", ".join("%s at %s s" % (h["balancer"], rel(h["t"], t0)) for h in an.vip_holders)))
    for a in assertions:
        if not a.get("passed"):
            detail = " (%s)" % a["detail"] if a.get("detail") else ""
            failures.append("assertion failed: %s%s" % (a.get("name"), detail))
    return failures


def short_analysis(an: Analysis) -> Dict[str, Any]:
    w, r, t0 = an.writes, an.reads, an.load_start
    return {
        "write_gap_s": w.max_gap_s, "gap_start": rel(w.gap_start, t0), "gap_end": rel(w.gap_end, t0),
        "leading_gap_s": w.leading_gap_s, "trailing_gap_s": w.trailing_gap_s,
        "ok_writes": w.ok, "failed_writes": w.failed, "error_writes": w.error, "unknown_writes": w.unknown,
        "write_latency_ms": w.latency_ms, "ok_writes_per_s": w.ok_per_s, "write_servers": w.servers,
        "write_timelines": w.timelines,
        "lost_writes": {"count": an.lost.lost, "ids": an.lost.lost_ids[:IDS_LIMIT], "checked": an.lost.checked,
                        "unknown_present": an.lost.unknown_present[:IDS_LIMIT],
                        "unknown_absent": an.lost.unknown_absent[:IDS_LIMIT],
                        "error_present": an.lost.error_present[:IDS_LIMIT]},
        "split_brain": {"detected": an.split_brain.detected, "detail": an.split_brain.detail,
                        "interleaved_writes": an.split_brain.interleaved_writes,
                        "writable_rounds": an.split_brain.writable_rounds},
        "reads": {"gap_s": r.max_gap_s, "gap_start": rel(r.gap_start, t0), "gap_end": rel(r.gap_end, t0),
                  "leading_gap_s": r.leading_gap_s, "trailing_gap_s": r.trailing_gap_s, "ok": r.ok,
                  "failed": r.failed, "latency_ms": r.latency_ms, "servers": r.servers},
        "ack_spans": [dict(sp, first=rel(sp["first"], t0), last=rel(sp["last"], t0)) for sp in an.ack_spans],
        "ack_overlap_s": an.ack_overlap_s,
        "vip_holders": [{"balancer": h["balancer"], "at_s": rel(h["t"], t0)} for h in an.vip_holders],
        "failover": an.failover, "phases": an.phases, "watches": an.watches,
        "fault_gaps": [dict(g, t=rel(g["t"], t0), gap_start=rel(g["gap_start"], t0), gap_end=rel(g["gap_end"], t0))
                       for g in an.fault_gaps],
        "duration_s": an.duration_s,
    }


def split_brain_failed(an: Analysis, bounds: Mapping[str, Any]) -> bool:
    """Two primaries the bounds do not accept: interleaved acknowledgements always count, two writable nodes in
    one poll round unless allow_writable_overlap."""
    if bounds.get("allow_split_brain"):
        return False
    if bounds.get("allow_writable_overlap"):
        return an.split_brain.interleaved_writes > 0
    return an.split_brain.detected


def summary_row(experiment: str, passed: bool, an: Analysis, report_dir: str,
                bounds: Mapping[str, Any], alerts: str = "-") -> Dict[str, Any]:
    """One row of the table of all experiments; ``alerts`` is alerts_summary()'s cell."""
    return {
        "experiment": experiment, "passed": passed, "write_gap_s": an.writes.max_gap_s,
        "failed_writes": an.writes.failed, "unknown_writes": an.writes.unknown, "lost_writes": an.lost.lost,
        "split_brain": split_brain_failed(an, {k: v for k, v in bounds.items() if k != "allow_split_brain"}),
        "read_gap_s": an.reads.max_gap_s, "alerts": alerts, "report": report_dir,
    }


# ---------------------------------------------------------------------------------------------- alerts
def alerts_report(records: List[Dict[str, Any]], events: List[Dict[str, Any]],
                  option: Mapping[str, Any]) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """The run's alerts (the ``alerts`` key of report.json) and the assertions they make (empty without
    monitoring), from the ledger's alerts records and the module's ``alerts`` option."""
    expected = [str(name) for name in option.get("expected") or []]
    allowed = [str(name) for name in option.get("allowed") or []]
    max_fire_s = option.get("max_fire_s")
    doc: Dict[str, Any] = {"monitoring": option.get("monitoring") is not False, "expected": expected,
                           "allowed": allowed, "max_fire_s": max_fire_s, "answers": 0, "errors": 0,
                           "fault_t": fault_time(events), "fired": [], "resolved": dict(option.get("resolved") or {}),
                           "intervals": []}
    if not doc["monitoring"]:
        return doc, []
    counts = count_outcomes(records)["alerts"]
    doc.update(answers=len(alert_answers(records)), errors=counts["total"] - counts["ok"],
               intervals=alert_intervals(records, events))
    checks = alert_checks(doc["intervals"], expected, max_fire_s, answered=doc["answers"] > 0, allowed=allowed)
    doc["fired"] = [name for name in expected
                    if any(c["passed"] and c["name"] == "alert %s fired after the fault" % name for c in checks)]
    return doc, checks


def alerts_summary(alerts: Mapping[str, Any], checks: List[Dict[str, Any]]) -> str:
    """The summary row's alerts cell: "2/3 fired" (expected alerts that fired after the fault) or "none expected",
    then ", unexpected critical" when one fired; "-" without monitoring, or without an answer and nothing expected."""
    if not alerts.get("monitoring") or (not alerts["answers"] and not alerts["expected"]):
        return "-"
    text = "%d/%d fired" % (len(alerts["fired"]), len(alerts["expected"])) if alerts["expected"] else "none expected"
    if any(c["name"] == "no unexpected critical alert" and not c["passed"] for c in checks):
        text += ", unexpected critical"
    return text


# ---------------------------------------------------------------------------------------------- rendering
SUMMARY_COLUMNS = [("experiment", "experiment"), ("passed", "passed"), ("write gap (s)", "write_gap_s"),
                   ("failed writes", "failed_writes"), ("unknown writes", "unknown_writes"),
                   ("lost writes", "lost_writes"), ("split brain", "split_brain"), ("read gap (s)", "read_gap_s"),
                   ("alerts", "alerts")]


def cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "%.3f" % value
    return str(value).replace("|", "\\|").replace("\n", " ")


def md_table(header: List[str], rows: List[List[Any]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(cell(v) for v in row) + " |" for row in rows)
    return lines


def lost_cell(lost: Dict[str, Any], error: Optional[str]) -> str:
    if not lost["checked"]:
        return "not checked" + (" (%s)" % error if error else "")
    text = str(lost["lost"])
    if lost["lost_ids"]:
        text += " (ids %s)" % ", ".join(str(i) for i in lost["lost_ids"][:IDS_LIMIT])
    return text


def phases_markdown(failover: Mapping[str, Any], phases: List[Dict[str, Any]], t0: Optional[float]) -> List[str]:
    """The failover's phases: when each came, in seconds after the fault, and the step from the previous one."""
    if not failover or failover.get("fault_t") is None:
        return ["No %s event: no phases." % (failover or {}).get("fault_event", "fault_injected")]
    lines = ["`%s` at %s s: old leader %s, new leader %s (%s); VIP answered by %s, then %s; first write on %s."
             % (failover["fault_event"], cell(rel(failover["fault_t"], t0)), cell(failover["old_leader"]),
                cell(failover["new_leader"]), cell(failover["new_leader_address"]), cell(failover["balancer_before"]),
                cell(failover["balancer_after"]), cell(failover["first_write_server"])), ""]
    # In the order they came (each step counts from the row above); those not observed last.
    ordered = sorted(phases, key=lambda p: (p["t"] is None, p["t"] or 0.0))
    return lines + md_table(["phase", "after the fault (s)", "step (s)", "from", "detail"],
                            [[p["name"], p["at_s"], p["step_s"], p["after"], p["detail"]] for p in ordered])


def alert_time(t: Optional[float], fault_t: Optional[float], t0: Optional[float]) -> str:
    """An alert's time in the Alerts table: seconds after the fault (negative before it), or since the load
    started without a fault event."""
    if t is None:
        return "n/a"
    if fault_t is not None:
        return "%.1f" % (t - fault_t)
    return "n/a" if t0 is None else "%.1f after the load started" % (t - t0)


def restore_cell(resolved: Mapping[str, Any], alert: str) -> str:
    """What the playbook saw of ``alert`` after the restore: the ``resolved`` suboption of ``alerts``, the summary
    of chaos/tasks/alerts_resolved.yml's wait (checked, still_firing, elapsed_s)."""
    if alert in (resolved.get("still_firing") or []):
        return "still firing"
    if alert not in (resolved.get("checked") or []):
        return "not checked"
    elapsed = resolved.get("elapsed_s")
    try:
        return "resolved" if elapsed is None else "within %.1f s" % float(elapsed)
    except (TypeError, ValueError):
        return "resolved"


def alerts_markdown(alerts: Mapping[str, Any], t0: Optional[float]) -> List[str]:
    """The report's Alerts section: the expected alerts, then when each alert fired and resolved."""
    if not alerts.get("monitoring"):
        return ["No monitoring host in the inventory: alerts not checked."]
    expected = alerts.get("expected") or []
    bound = " within %g s" % alerts["max_fire_s"] if alerts.get("max_fire_s") is not None else ""
    lines = ["Expected to fire after the fault%s: %s." % (bound, ", ".join("`%s`" % n for n in expected) or "none")]
    if alerts.get("allowed"):
        lines.append("Critical alerts allowed without being expected: %s."
                     % ", ".join("`%s`" % n for n in alerts["allowed"]))
    lines.append("")
    if not alerts.get("answers"):
        return lines + ["No answer from Alertmanager was recorded (%d failed look(s)): the load watches it with "
                        "pg_load_probe's alert_watch." % alerts.get("errors", 0)]
    lines += ["Alertmanager answered %d time(s), %d look(s) failed; times in seconds after the fault."
              % (alerts["answers"], alerts.get("errors", 0)), ""]
    intervals = alerts.get("intervals") or []
    if not intervals:
        return lines + ["No alert fired during the run."]
    fault_t, resolved = alerts.get("fault_t"), alerts.get("resolved") or {}
    rows = []
    for iv in intervals:
        fired = "firing at the start" if iv["firing_at_start"] else alert_time(iv["fired_t"], fault_t, t0)
        gone = "after the load stopped" if iv["resolved_t"] is None else alert_time(iv["resolved_t"], fault_t, t0)
        rows.append([iv["alert"], iv["instance"] or "-", iv["severity"] or "-", fired, gone,
                     restore_cell(resolved, iv["alert"])])
    return lines + md_table(["alert", "instance", "severity", "fired (s after fault)", "resolved (s after fault)",
                             "resolved after restore"], rows)


def render_markdown(doc: Dict[str, Any]) -> str:
    an = doc["analysis"]
    w, r = an["writes"], an["reads"]
    t0 = an["load_start"]
    row = doc["summary_row"]
    out = ["# Chaos experiment: %s" % doc["experiment"], ""]
    out.append("Generated %s; load %s s, run_id `%s`." % (doc["generated_at"], cell(an["duration_s"]), doc["run_id"]))
    out += ["", "## Summary", ""]
    out += md_table([c[0] for c in SUMMARY_COLUMNS], [[row[c[1]] for c in SUMMARY_COLUMNS]])
    out += [""]
    if doc["failures"]:
        out += ["**FAILED:**", ""] + ["- %s" % f for f in doc["failures"]] + [""]
    else:
        out += ["**PASSED**: every bound and assertion held.", ""]
    out += ["![timeline](timeline.png)", "", "## Figures", ""]
    lw = doc["analysis"]["lost"]
    rows = [
        ["writes ok / error / unknown", "%d / %d / %d" % (w["ok"], w["error"], w["unknown"]),
         "reads ok / error", "%d / %d" % (r["ok"], r["error"] + r["unknown"])],
        ["longest write gap (s)", "%s (%s .. %s)" % (cell(w["max_gap_s"]), cell(rel(w["gap_start"], t0)),
                                                     cell(rel(w["gap_end"], t0))),
         "longest read gap (s)", "%s (%s .. %s)" % (cell(r["max_gap_s"]), cell(rel(r["gap_start"], t0)),
                                                    cell(rel(r["gap_end"], t0)))],
        ["failed writes in that gap", w["failed_in_gap"], "failed reads in that gap", r["failed_in_gap"]],
        ["leading / trailing write gap (s)", "%s / %s" % (cell(w["leading_gap_s"]), cell(w["trailing_gap_s"])),
         "leading / trailing read gap (s)", "%s / %s" % (cell(r["leading_gap_s"]), cell(r["trailing_gap_s"]))],
        ["ok writes per s", w["ok_per_s"], "ok reads per s", r["ok_per_s"]],
        ["write latency p50 / p99 / max (ms)", "%s / %s / %s" % tuple(cell(w["latency_ms"].get(k)) for k in
                                                                      ("p50", "p99", "max")),
         "read latency p50 / p99 / max (ms)", "%s / %s / %s" % tuple(cell(r["latency_ms"].get(k)) for k in
                                                                     ("p50", "p99", "max"))],
        ["writes acknowledged by", ", ".join(w["servers"]) or "n/a",
         "reads answered by", ", ".join(r["servers"]) or "n/a"],
        ["write timelines", ", ".join(str(t) for t in w["timelines"]) or "n/a", "polls ok / error",
         "%s / %s" % (an["polls"].get("ok", 0), an["polls"].get("error", 0))],
        ["lost writes", lost_cell(lw, doc["final_ids"].get("error")),
         "unknown writes present / absent", "%d / %d" % (len(lw["unknown_present"]), len(lw["unknown_absent"]))],
        ["split brain", an["split_brain"]["detail"], "rows of the run in the table", cell(lw["final_rows"])],
    ]
    out += md_table(["figure", "writes", "figure", "reads / other"], rows)
    rc = an.get("recovery")
    if rc:
        out += ["", "## Point-in-time recovery", ""]
        out += md_table(["figure", "value"], [
            ["recovery target (s)", cell(rel(rc["target"], t0))],
            ["acknowledged before the target / missing", "%d / %d" % (rc["kept"], len(rc["missing_kept"]))],
            ["acknowledged after the target, before the restore / still present",
             "%d / %d" % (rc["discarded"], len(rc["present_discarded"]))],
            ["in flight at the target (either way)", rc["straddling"]],
            ["missing writes acknowledged up to (s before the target)", cell(rc["loss_window_s"])],
            ["recovery time: restore command to the restored cluster's first acknowledged write (s)",
             cell(rc["recovery_time_s"])],
            ["acknowledged by the restored cluster (timeline %s) / missing" % cell(rc["restored_timeline"]),
             "%d / %d" % (rc["new_writes"], len(rc["missing_new"]))],
        ])
    out += ["", "## Phases", ""] + phases_markdown(an["failover"], an["phases"], t0)
    if len(an.get("fault_gaps") or []) > 1:
        out += ["", "Write pause caused by each fault (the longest that began before the next one):", ""]
        out += md_table(["t (s)", "fault", "write gap (s)", "from .. to (s)", "detail"],
                        [[g["t"], g["event"], g["gap_s"], "%s .. %s" % (cell(g["gap_start"]), cell(g["gap_end"])),
                          g["detail"]] for g in an["fault_gaps"]])
    out += ["", "## Alerts", ""] + alerts_markdown(doc.get("alerts") or {}, t0)
    out += ["", "## Events", ""]
    events = doc["events"]
    if events:
        out += md_table(["t (s)", "event", "detail"], [[e.get("rel"), e.get("event"), e.get("detail")] for e in events])
    else:
        out.append("No events.")
    spans = an.get("ack_spans") or []
    if spans:
        out += ["", "## Acknowledged by", ""]
        out += md_table(["server", "timeline", "first ack (s)", "last ack (s)", "writes"],
                        [[sp["server"], sp["timeline"], rel(sp["first"], t0), rel(sp["last"], t0), sp["writes"]]
                         for sp in spans])
        out += ["", "An old primary acknowledged writes for %s s after the next one's first (0: a clean handover)."
                % cell(an.get("ack_overlap_s"))]
    holders = an.get("vip_holders") or []
    if holders:
        out += ["", "## VIP holder (who answered the VIP)", ""]
        out += md_table(["t (s)", "balancer"], [[rel(h["t"], t0), h["balancer"]] for h in holders[:50]])
    changes = an.get("writable_changes") or []
    if changes:
        out += ["", "## Writable nodes (direct polls)", ""]
        out += md_table(["t (s)", "round", "writable"],
                        [[rel(c["t"], t0), c["round"], ", ".join(c["writable"]) or "none"] for c in changes[:50]])
    for title, key in (("Cluster before", "state_before"), ("Cluster after", "state_after")):
        state = doc.get(key)
        if isinstance(state, dict) and state.get("table"):
            out += ["", "## %s" % title, "", "```", str(state["table"]).rstrip(), "```"]
    out += ["", "## Assertions", ""]
    if doc["assertions"]:
        out += md_table(["assertion", "passed", "detail"],
                        [[a.get("name"), bool(a.get("passed")), a.get("detail")] for a in doc["assertions"]])
    else:
        out.append("None.")
    out += ["", "## Bounds", ""]
    bounds = {k: v for k, v in doc["bounds"].items() if v is not None}
    out += md_table(["bound", "value"], [[k, v] for k, v in sorted(bounds.items())]) if bounds else ["None."]
    if doc["settings"]:
        out += ["", "## Settings", ""]
        out += md_table(["setting", "value"],
                        [[k, json.dumps(v) if isinstance(v, (dict, list)) else v]
                         for k, v in sorted(doc["settings"].items())])
    return "\n".join(out) + "\n"


def plot_series(buckets: List[Dict[str, Any]], t_end: Optional[float],
                bucket_seconds: float = 1.0) -> Tuple[List[float], Dict[str, List[float]]]:
    """Step-plot series (x has one more point than the values, closing the last step).

    The last bucket usually covers only part of a second (the load stopped inside it): its counts are scaled to a
    per-second rate over the part covered, or dropped when that part is under a quarter of a bucket.
    """
    keys = ("writes_ok", "reads_ok", "errors")
    if not buckets:
        return [], {k: [] for k in keys}
    rows = list(buckets)
    scale = [1.0] * len(rows)
    if t_end is not None:
        covered = t_end - rows[-1]["t"]
        if covered < bucket_seconds * 0.25 and len(rows) > 1:
            rows.pop()
            scale.pop()
        elif covered < bucket_seconds:
            scale[-1] = bucket_seconds / max(covered, 1e-9)
    end = rows[-1]["t"] + bucket_seconds
    if t_end is not None and rows[-1]["t"] < t_end < end:
        end = t_end
    x = [r["t"] for r in rows] + [end]
    series = {k: [r[k] * f / bucket_seconds for r, f in zip(rows, scale)] for k in keys}
    for k in keys:
        series[k].append(series[k][-1])
    return x, series


def phase_marks(phases: List[Dict[str, Any]], t0: Optional[float]) -> List[Tuple[float, str]]:
    """Where the plot marks the observed phases after the fault (seconds since the load started) and their labels."""
    if t0 is None:
        return []
    return [(round(p["t"] - t0, 3), "%s +%.2f s" % (p["name"], p["at_s"])) for p in phases
            if p["name"] != "fault" and p.get("t") is not None and p.get("at_s") is not None]


def alert_marks(intervals: List[Dict[str, Any]], t0: Optional[float], limit: int = 20) -> List[Tuple[float, str]]:
    """Where the plot marks the alerts that fired during the run (seconds since the load started) and their labels;
    those already firing at the start are left out."""
    if t0 is None:
        return []
    marks = []
    for iv in intervals:
        if iv["firing_at_start"]:
            continue
        after = "" if iv["fired_after_fault_s"] is None else " +%.1f s" % iv["fired_after_fault_s"]
        label = "%s%s%s" % (iv["alert"], " " + iv["instance"] if iv["instance"] else "", after)
        marks.append((round(iv["fired_t"] - t0, 3), label))
    return marks[:limit]


def render_png(path: str, buckets: List[Dict[str, Any]], events: List[Dict[str, Any]], an: Analysis,
               title: str, alerts: Sequence[Tuple[float, str]] = ()) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 5), dpi=100)
    try:
        t0 = an.load_start
        x, ys = plot_series(buckets, an.duration_s)
        ax.step(x, ys["writes_ok"], where="post", color="tab:blue", lw=3.0, alpha=0.8, label="ok writes/s")
        ax.step(x, ys["reads_ok"], where="post", color="tab:green", lw=1.4, ls="--", label="ok reads/s")
        ax.step(x, ys["errors"], where="post", color="tab:red", lw=1.4, label="failed writes+reads/s")
        w = an.writes
        if (w.max_gap_s is not None and w.gap_start is not None and w.gap_end is not None and t0 is not None
                and w.max_gap_s >= 0.5):
            ax.axvspan(w.gap_start - t0, w.gap_end - t0, color="tab:red", alpha=0.12,
                       label="longest write gap %.2f s" % w.max_gap_s)
        ymax = max([1.0] + [max(vals) for vals in ys.values() if vals])
        right = max([an.duration_s or 0.0] + ([x[-1]] if x else []) + [1.0])
        ax.set_xlim(0, right)
        ax.set_ylim(0, ymax * 1.35)
        for i, e in enumerate(events):
            if e.get("rel") is None:
                continue
            ax.axvline(e["rel"], color="0.35", ls=":", lw=1.0)
            near_right = e["rel"] > 0.8 * right
            ax.text(e["rel"], ymax * (1.32 - 0.09 * (i % 3)),
                    ("%s (%.1f s) " if near_right else " %s (%.1f s)") % (e.get("event"), e["rel"]),
                    fontsize=8, va="top", ha="right" if near_right else "left", color="0.15")
        styles = ["--", "-.", (0, (1, 1)), (0, (5, 1, 1, 1))]
        for i, (x_phase, label) in enumerate(phase_marks(an.phases, t0)):
            ax.axvline(x_phase, color=matplotlib.colormaps["Dark2"](i % 8), ls=styles[i % len(styles)], lw=1.2,
                       label=label)
        # The alerts that fired: a cyan dotted line (a colour no phase uses) with a marker at the top and the
        # alert's name along it.
        for i, (x_alert, label) in enumerate(alerts):
            ax.axvline(x_alert, color="tab:cyan", ls=(0, (1, 2)), lw=1.4,
                       label="alert fired (Alertmanager)" if i == 0 else None)
            ax.plot([x_alert], [ymax * 1.04], marker="v", ms=7, color="tab:cyan", ls="none")
            ax.text(x_alert, ymax * 1.01, label + " ", rotation=90, fontsize=7, va="top", ha="right",
                    color="#0b6e78", bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 1})
        ax.set_xlabel("seconds since load start")
        ax.set_ylabel("per second")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8, ncol=4, frameon=False)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


def without_secrets(value: Any) -> Any:
    """``value`` without the entries whose key names a password, at any depth (the load's run.json has some)."""
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if "password" not in str(k).lower()}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


def unique_report_dir(report_dir: str, experiment: str, now: datetime.datetime) -> str:
    base = os.path.join(report_dir, "%s-%s" % (safe_name(experiment), now.strftime("%Y%m%dT%H%M%SZ")))
    path, n = base, 2
    while os.path.exists(path):
        path, n = "%s-%d" % (base, n), n + 1
    return path


def safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".") or "experiment"


# ------------------------------------------------------------------------------------------------- module
def build_argument_spec() -> Dict[str, Any]:
    """The module's argument_spec (a function so tests can compare it with DOCUMENTATION)."""
    return dict(
        run_dir=dict(type="path", required=True),
        experiment=dict(type="str", required=True),
        report_dir=dict(type="path", required=True),
        settings=dict(type="dict", default={}),
        state_before=dict(type="dict"),
        state_after=dict(type="dict"),
        assertions=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            passed=dict(type="bool", required=True),
            detail=dict(type="str", default=""),
        )),
        final_ids_dsn=dict(type="dict", options=dsn_options()),
        run_id=dict(type="str"),
        table=dict(type="str"),
        connect_retries=dict(type="int", default=5),
        bounds=dict(type="dict", apply_defaults=True, options=dict(
            max_write_gap_s=dict(type="float"),
            max_read_gap_s=dict(type="float"),
            max_failed_writes=dict(type="int"),
            max_lost_writes=dict(type="int"),
            max_recovery_loss_window_s=dict(type="float"),
            allow_split_brain=dict(type="bool", default=False),
            allow_writable_overlap=dict(type="bool", default=False),
            max_ack_overlap_s=dict(type="float"),
            max_vip_moves=dict(type="int"),
        )),
        alerts=dict(type="dict", apply_defaults=True, options=dict(
            expected=dict(type="list", elements="str", default=[]),
            allowed=dict(type="list", elements="str", default=[]),
            max_fire_s=dict(type="float"),
            resolved=dict(type="dict", default={}),
            monitoring=dict(type="bool", default=True),
        )),
    )


def main() -> None:
    module = AnsibleModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    p = module.params
    run_dir = os.path.abspath(p["run_dir"])
    run_cfg: Dict[str, Any] = {}
    try:
        with open(os.path.join(run_dir, "run.json"), encoding="utf-8") as fh:
            loaded = json.load(fh)
            run_cfg = loaded if isinstance(loaded, dict) else {}
    except (OSError, ValueError):
        pass
    run_id = p["run_id"] or run_cfg.get("run_id") or os.path.basename(os.path.normpath(run_dir))
    table = p["table"] or run_cfg.get("table") or "chaos_ledger"
    ledger_path = os.path.join(run_dir, "ledger.jsonl")
    if not os.path.exists(ledger_path):
        module.fail_json(msg="no ledger at %s: was the load started with pg_load_probe run_dir=%s?"
                             % (ledger_path, run_dir))
    records = read_jsonl(ledger_path)
    raw_events = read_jsonl(os.path.join(run_dir, "events.jsonl"))

    final_ids: Optional[List[int]] = None
    final_error: Optional[str] = None
    if p["final_ids_dsn"]:
        final_ids, final_error = read_final_ids(p["final_ids_dsn"], table, run_id, p["connect_retries"])
        if final_error:
            module.warn("could not read the final ids from %s:%s: %s"
                        % (p["final_ids_dsn"]["host"], p["final_ids_dsn"]["port"], final_error))
    else:
        module.warn("final_ids_dsn not given: lost writes are not checked")

    balancers = [str(b["name"]) for b in (run_cfg.get("lb_watch") or {}).get("balancers") or []
                 if isinstance(b, dict) and b.get("name")]
    an = analyze(records, raw_events, final_ids, balancers=balancers)
    events = relative_events(raw_events, an.load_start)
    bounds = dict(p["bounds"] or {})
    alerts, alert_assertions = alerts_report(records, raw_events, p["alerts"] or {})
    assertions = list(p["assertions"]) + alert_assertions
    failures = evaluate(an, bounds, assertions, final_error, bool(p["final_ids_dsn"]))
    passed = not failures
    now = datetime.datetime.now(datetime.timezone.utc)
    out_dir = unique_report_dir(p["report_dir"], p["experiment"], now)
    json_path, md_path, png_path = (os.path.join(out_dir, name) for name in ("report.json", "report.md",
                                                                             "timeline.png"))
    files: Dict[str, Optional[str]] = {"json": json_path, "md": md_path, "png": png_path}
    row = summary_row(p["experiment"], passed, an, out_dir, bounds, alerts_summary(alerts, alert_assertions))
    doc = {
        "experiment": p["experiment"], "run_id": run_id, "table": table, "run_dir": run_dir,
        "generated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "passed": passed, "failures": failures,
        "summary_row": row, "bounds": bounds, "settings": p["settings"] or {},
        "timings": {"load_start": an.load_start, "load_stop": an.load_stop, "duration_s": an.duration_s},
        "counts": {"writes": {"ok": an.writes.ok, "error": an.writes.error, "unknown": an.writes.unknown,
                              "attempts": an.writes.attempts},
                   "reads": {"ok": an.reads.ok, "error": an.reads.error, "unknown": an.reads.unknown,
                             "attempts": an.reads.attempts},
                   "polls": an.polls},
        "final_ids": {"checked": final_ids is not None, "rows": None if final_ids is None else len(final_ids),
                      "error": final_error},
        "analysis": an.to_dict(), "events": events,
        "state_before": p["state_before"], "state_after": p["state_after"], "assertions": assertions,
        "alerts": alerts,
        "load_config": without_secrets({k: v for k, v in run_cfg.items() if k not in ("writer", "reader")}),
    }
    result: Dict[str, Any] = dict(changed=True, report_dir=out_dir, files=files, passed=passed, failures=failures,
                                  analysis=short_analysis(an), summary_row=row, events=events,
                                  settings=doc["settings"], alerts=alerts)
    if module.check_mode:
        result["msg"] = "check mode: report computed, nothing written"
        module.exit_json(**result)

    os.makedirs(out_dir)
    buckets = timeline_buckets(records, 1.0, an.load_start, an.load_stop)
    with open(json_path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2, sort_keys=False, default=str)
        fh.write("\n")
    with open(md_path, "w", encoding="utf-8") as fh:
        fh.write(render_markdown(doc))
    try:
        render_png(png_path, buckets, events, an, "%s - writes/reads per second" % p["experiment"],
                   alert_marks(alerts["intervals"], an.load_start))
    except ImportError as exc:
        module.warn("timeline.png not drawn: %s (pip install matplotlib into the controller's virtualenv)" % exc)
        files["png"] = None
    result["msg"] = "report written to %s (%s)" % (out_dir, "passed" if passed else "FAILED")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
