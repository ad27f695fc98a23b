#!/usr/bin/env python3
"""Failover benchmark: repeat the failover experiments and print write-gap and phase statistics.

`make bench-failover` (N=5 by default) runs, N times each, chaos/leader_failover.yml (graceful),
chaos/leader_crash.yml (node killed), chaos/switchover.yml (planned), chaos/network_partition.yml
(leader cut off), chaos/leader_freeze.yml (Patroni frozen on the leader) and
chaos/haproxy_failover.yml (VIP moved between balancers) through ansible-runner against the
lab, reads each run's report from the runner events, and prints min / median / p95 / max of the
longest write gap with the Patroni, HAProxy and keepalived settings used, then per experiment the
median, min and max of every failover phase (seconds after the fault: leader key changed in etcd,
new leader promoted, UP in each HAProxy's write pool, VIP moved, first acknowledged write) and of
the steps between them. Figures, not asserts: a run that fails its own bounds is counted and
listed, and its gap and phases still enter the statistics.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

# The ledger's module_utils, importable in the venv (scripts/module_utils_hook.py); this tool needs the venv anyway
# (ansible-runner).
from ansible.module_utils.pgha_ledger import percentile
from bench_common import run_playbook

EXPERIMENTS: Dict[str, str] = {
    "graceful failover": "chaos/leader_failover.yml",
    "crash failover": "chaos/leader_crash.yml",
    "switchover": "chaos/switchover.yml",
    "network partition": "chaos/network_partition.yml",
    "frozen Patroni": "chaos/leader_freeze.yml",
    "VIP failover": "chaos/haproxy_failover.yml",
}


def gap_stats(gaps: Sequence[float]) -> Dict[str, Optional[float]]:
    """min / median / p95 / max of the write gaps of one experiment."""
    if not gaps:
        return {"min": None, "median": None, "p95": None, "max": None}
    return {"min": min(gaps), "median": statistics.median(gaps), "p95": percentile(gaps, 95), "max": max(gaps)}


def phases_of(res: Optional[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """The failover phases of one run's chaos_report result (empty when it has none)."""
    return list(((res or {}).get("analysis") or {}).get("phases") or [])


def fault_detail(phases: Sequence[Mapping[str, Any]]) -> str:
    """What the fault phase says was done (e.g. which node was killed and whether it led etcd)."""
    return next((str(p.get("detail") or "") for p in phases if p.get("name") == "fault"), "")


def fault_gaps_of(res: Optional[Mapping[str, Any]]) -> Dict[str, float]:
    """The write pause of each fault of one run (event name -> seconds; the first of each name), from its report."""
    out: Dict[str, float] = {}
    for g in ((res or {}).get("analysis") or {}).get("fault_gaps") or []:
        if g.get("gap_s") is not None and g.get("event") not in out:
            out[str(g["event"])] = float(g["gap_s"])
    return out


def per_fault_rows(name: str, runs: Sequence[Mapping[str, float]], failed: int) -> List[Dict[str, Any]]:
    """Extra table rows for an experiment that injects several faults (e.g. HAProxy stopped, then the balancer
    killed): the write gap of each fault on its own."""
    events = sorted({event for run in runs for event in run})
    if len(events) < 2:
        return []
    rows = []
    for event in events:
        gaps = [run[event] for run in runs if event in run]
        rows.append({"experiment": "%s: %s" % (name, event), "gaps": gaps, "stats": gap_stats(gaps),
                     "failed": failed, "phases": [], "per_fault": True})
    return rows


def spread(values: Sequence[float]) -> Dict[str, Any]:
    return {"n": len(values), "median": statistics.median(values), "min": min(values), "max": max(values)}


def phase_stats(runs: Iterable[Sequence[Mapping[str, Any]]]) -> List[Dict[str, Any]]:
    """Per phase (seconds after the fault) and per step between two phases (``"promoted -> first_write"``): n, median,
    min and max over the runs that observed it; phases in the order they come, then the steps."""
    at: Dict[str, List[float]] = {}
    steps: Dict[str, List[float]] = {}
    for phases in runs:
        for phase in phases:
            name = str(phase.get("name"))
            if name == "fault" or phase.get("at_s") is None:
                continue
            at.setdefault(name, []).append(float(phase["at_s"]))
            if phase.get("after") is not None and phase.get("step_s") is not None:
                steps.setdefault("%s -> %s" % (phase["after"], name), []).append(float(phase["step_s"]))
    return ([dict(spread(v), what=k, kind="phase") for k, v in at.items()]
            + [dict(spread(v), what=k, kind="step") for k, v in steps.items()])


def format_phases(phases: Sequence[Mapping[str, Any]]) -> str:
    """One run's observed phases on one line: ``leader_key_changed +0.31 s, promoted +1.02 s, ...``."""
    seen = ["%s +%.2f s" % (p["name"], p["at_s"]) for p in phases if p.get("name") != "fault"
            and p.get("at_s") is not None]
    return ", ".join(seen) or "none observed"


def render_phase_table(rows: List[Dict[str, Any]]) -> str:
    """Per experiment, the median / min / max of every phase and of every step between phases."""
    header = "%-18s %-48s %3s %8s %8s %8s" % ("experiment", "phase (s after the fault) / step (s)", "n", "median",
                                             "min", "max")
    lines = [header, "-" * len(header)]
    for row in rows:
        if row.get("per_fault"):
            continue
        stats = row.get("phases") or []
        if not stats:
            lines.append("%-18s %-48s" % (row["experiment"], "no phases (no watcher records or no fault event)"))
        for i, st in enumerate(stats):
            label = st["what"] if st["kind"] == "phase" else "  step " + st["what"]
            lines.append("%-18s %-48s %3d %8.2f %8.2f %8.2f" % (row["experiment"] if i == 0 else "", label, st["n"],
                                                               st["median"], st["min"], st["max"]))
    return "\n".join(lines)


def format_seconds(value: Optional[float]) -> str:
    return "-" if value is None else "%.1f" % value


def render_table(rows: List[Dict[str, Any]]) -> str:
    """The benchmark's summary table."""
    header = "%-18s %3s %8s %8s %8s %8s %7s" % ("experiment", "n", "min s", "median s", "p95 s", "max s", "failed")
    lines = [header, "-" * len(header)]
    for row in rows:
        st = row["stats"]
        lines.append("%-18s %3d %8s %8s %8s %8s %7d" % (
            row["experiment"], len(row["gaps"]), format_seconds(st["min"]), format_seconds(st["median"]),
            format_seconds(st["p95"]), format_seconds(st["max"]), row["failed"]))
    return "\n".join(lines)


def parse_extra_vars(pairs: Sequence[str]) -> Dict[str, str]:
    """``KEY=VALUE`` strings (``-e``) as extra variables for every run."""
    out: Dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError("-e takes KEY=VALUE, not %r" % pair)
        out[key.strip()] = value
    return out


def run_once(project: Path, inventory: str, playbook: str,
             extravars: Optional[Dict[str, str]] = None) -> Optional[Dict[str, Any]]:
    """Run one experiment playbook with ansible-runner; return its chaos_report result."""
    report: Optional[Dict[str, Any]] = run_playbook(project, inventory, playbook, dict(extravars or {}))["report"]
    return report


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions per experiment (default 5)")
    parser.add_argument("--inventory", default="inventories/lab", help="inventory, relative to the project")
    parser.add_argument("--only", action="append", choices=sorted(EXPERIMENTS), help="run only these")
    parser.add_argument("-e", "--extra-vars", action="append", default=[], metavar="KEY=VALUE",
                        help="extra variable for every run (e.g. chaos_durability=async); repeatable")
    args = parser.parse_args(argv)
    try:
        extravars = parse_extra_vars(args.extra_vars)
    except ValueError as exc:
        parser.error(str(exc))
    project = Path(__file__).resolve().parents[2]  # chaos/tools/ -> the project

    rows: List[Dict[str, Any]] = []
    settings: Dict[str, Any] = {}
    for name in args.only or list(EXPERIMENTS):
        gaps: List[float] = []
        runs: List[List[Dict[str, Any]]] = []
        per_fault: List[Dict[str, float]] = []
        failed = 0
        for i in range(args.runs):
            res = run_once(project, args.inventory, EXPERIMENTS[name], extravars)
            if not res:
                failed += 1
                print("%s run %d: no report (the experiment did not get that far)" % (name, i + 1), flush=True)
                continue
            row = res.get("summary_row") or {}
            gap = row.get("write_gap_s")
            if gap is not None:
                gaps.append(float(gap))
            failed += 0 if row.get("passed") else 1
            settings = res.get("settings") or settings
            runs.append(phases_of(res))
            per_fault.append(fault_gaps_of(res))
            print("%s run %d: write gap %s s, passed %s (%s); fault: %s; phases: %s" % (
                name, i + 1, format_seconds(gap), row.get("passed"), res.get("report_dir"), fault_detail(runs[-1]),
                format_phases(runs[-1])), flush=True)
        rows.append({"experiment": name, "gaps": gaps, "stats": gap_stats(gaps), "failed": failed,
                     "phases": phase_stats(runs)})
        rows.extend(per_fault_rows(name, per_fault, failed))

    print()
    print(render_table(rows))
    print()
    print(render_phase_table(rows))
    print()
    print("settings: " + ", ".join("%s=%s" % kv for kv in sorted(settings.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
