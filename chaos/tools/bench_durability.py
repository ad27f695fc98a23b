#!/usr/bin/env python3
"""Durability benchmark: the price and the proof of each patroni_durability mode, side by side in one run.

`make bench-durability` (N=5 by default) puts the lab in each mode in turn (chaos/durability_mode.yml, Patroni's
dynamic configuration, as a rerun of site.yml does), then:
  * runs pgbench (TPC-B-like, -c 8 -j 2 -T 30 by default) through the VIP's write port, the modes interleaved over
    3 rounds after a warm-up: the median TPS (and its spread), the latency p50/p99 of that run from pgbench's
    per-transaction log, and the ratio to async;
  * runs chaos/network_partition.yml and chaos/leader_crash.yml N times each in that mode (-e chaos_durability):
    lost acknowledged writes (min / median / max) and the write gap, read from each run's report (ansible-runner
    events).
It prints one table and writes every figure to reports/bench-durability-<UTC time>.json. The cluster is put back
in the inventory's mode at the end. Figures, not asserts: an experiment that fails its own bounds is counted.
--runs 0 measures pgbench only.
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

# The ledger's module_utils, importable in the venv (scripts/module_utils_hook.py).
from ansible.module_utils.pgha_ledger import percentile
from bench_common import run_playbook, write_figures

MODES = ("async", "sync", "quorum", "strict")
EXPERIMENTS = {"partition": "chaos/network_partition.yml", "crash": "chaos/leader_crash.yml"}


# ---------------------------------------------------------------------------------------------- pgbench
def parse_pgbench(output: str) -> Dict[str, Optional[float]]:
    """TPS (without the initial connection time) and the average latency (ms) from pgbench's summary."""
    def number(pattern: str) -> Optional[float]:
        found = re.search(pattern, output, re.MULTILINE)
        return float(found.group(1)) if found else None

    return {"tps": number(r"^tps = ([0-9.]+) \(without initial connection time\)"),
            "latency_avg_ms": number(r"^latency average = ([0-9.]+) ms")}


def latencies_ms(log_lines: Iterable[str]) -> List[float]:
    """Per-transaction latencies (ms) from pgbench -l logs: `client tx latency_us script epoch us` per line."""
    out = []
    for line in log_lines:
        fields = line.split()
        if len(fields) >= 3 and fields[2].isdigit():
            out.append(int(fields[2]) / 1000.0)
    return out


def latency_summary(values: Sequence[float]) -> Dict[str, Optional[float]]:
    return {"p50_ms": percentile(values, 50), "p99_ms": percentile(values, 99), "transactions": len(values)}


def pgbench_figures(runs: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """The median run's figures (by TPS) over several pgbench runs, with the spread of the TPS."""
    if not runs:
        return {"runs": 0}
    tps = sorted(r["tps"] for r in runs if r.get("tps") is not None)
    median = sorted(runs, key=lambda r: r.get("tps") or 0.0)[len(runs) // 2]
    return dict(median, runs=len(runs), tps=statistics.median(tps) if tps else None,
                tps_min=tps[0] if tps else None, tps_max=tps[-1] if tps else None)


def run_pgbench(service: str, env: Dict[str, str], clients: int, threads: int, seconds: int,
                extra: Sequence[str] = ()) -> Dict[str, Any]:
    """One pgbench run through ``service`` (a libpq service name), with ``extra`` options (e.g. -S for
    select-only); figures from its output and its log."""
    with tempfile.TemporaryDirectory(prefix="pgbench-") as tmp:
        proc = subprocess.run(
            ["pgbench", "-n", "-c", str(clients), "-j", str(threads), "-T", str(seconds), "-l",
             "--log-prefix=%s/tx" % tmp, *extra, "service=%s" % service],
            env=env, capture_output=True, text=True, timeout=seconds + 120, check=False)
        lines: List[str] = []
        for path in glob.glob(os.path.join(tmp, "tx*")):
            with open(path, encoding="utf-8") as fh:
                lines.extend(fh)
    if proc.returncode != 0:
        raise RuntimeError("pgbench failed (rc %d): %s" % (proc.returncode, proc.stderr.strip()[-500:]))
    return dict(parse_pgbench(proc.stdout), **latency_summary(latencies_ms(lines)))


def pgbench_init(service: str, env: Dict[str, str], scale: int, drop: bool = False) -> None:
    args = ["pgbench", "-i", "-I", "d"] if drop else ["pgbench", "-i", "-q", "-s", str(scale)]
    proc = subprocess.run(args + ["service=%s" % service], env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    if proc.returncode != 0:
        raise RuntimeError("%s failed (rc %d): %s" % (" ".join(args), proc.returncode, proc.stderr.strip()[-500:]))


# ---------------------------------------------------------------------------------------------- playbooks
# ---------------------------------------------------------------------------------------------- figures
def spread(values: Sequence[float]) -> Dict[str, Optional[float]]:
    if not values:
        return {"min": None, "median": None, "max": None}
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def experiment_figures(reports: Sequence[Optional[Dict[str, Any]]]) -> Dict[str, Any]:
    """Lost acknowledged writes and write gaps over the runs of one experiment in one mode."""
    rows = [(r or {}).get("summary_row") or {} for r in reports]
    lost = [float(row["lost_writes"]) for row in rows if row.get("lost_writes") is not None]
    gaps = [float(row["write_gap_s"]) for row in rows if row.get("write_gap_s") is not None]
    return {"runs": len(reports), "failed": sum(1 for row in rows if not row.get("passed")),
            "lost": spread(lost), "gap_s": spread(gaps), "reports": [(r or {}).get("report_dir") for r in reports]}


def fmt(value: Optional[float], digits: int = 1) -> str:
    return "-" if value is None else "%.*f" % (digits, value)


def render_table(results: Dict[str, Dict[str, Any]]) -> str:
    """One line per mode: TPS, its ratio to async, latency, lost writes and gaps of partition and crash."""
    base = (results.get("async") or {}).get("pgbench", {}).get("tps")
    header = ("%-7s %8s %6s %8s %8s | %-17s %-14s | %-17s %-14s" % (
        "mode", "TPS", "x async", "p50 ms", "p99 ms", "partition lost", "gap s (med)", "crash lost", "gap s (med)"))
    lines = [header, "-" * len(header)]
    for mode, res in results.items():
        pg = res.get("pgbench") or {}
        tps = pg.get("tps")
        ratio = tps / base if tps and base else None
        cells = []
        for name in ("partition", "crash"):
            ex = res.get(name) or {"lost": spread([]), "gap_s": spread([]), "runs": 0, "failed": 0}
            lost = ex["lost"]
            cells.append("%-17s %-14s" % ("%s/%s/%s (n=%d)" % (fmt(lost["min"], 0), fmt(lost["median"], 0),
                                                                 fmt(lost["max"], 0), ex["runs"]),
                                          fmt(ex["gap_s"]["median"])))
        lines.append("%-7s %8s %6s %8s %8s | %s | %s" % (mode, fmt(tps), fmt(ratio, 2), fmt(pg.get("p50_ms"), 2),
                                                        fmt(pg.get("p99_ms"), 2), cells[0], cells[1]))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- main
def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="partition and crash runs per mode (default 5)")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--inventory", default="inventories/lab", help="inventory, relative to the project")
    parser.add_argument("--service-file", default=".lab/pg_service.conf",
                        help="libpq service file with service=primary (make up writes it)")
    parser.add_argument("--scale", type=int, default=10, help="pgbench scale (default 10)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--pgbench-runs", type=int, default=3,
                        help="pgbench rounds (every mode once per round), the median per mode is kept")
    args = parser.parse_args(argv)
    project = Path(__file__).resolve().parents[2]  # chaos/tools/ -> the project
    env = dict(os.environ, PGSERVICEFILE=str(project / args.service_file))

    results: Dict[str, Dict[str, Any]] = {mode: {} for mode in args.modes}

    def switch(mode: Optional[str]) -> None:
        run = run_playbook(project, args.inventory, "chaos/durability_mode.yml",
                           {"chaos_durability": mode} if mode else {})
        if run["status"] != "successful":
            raise RuntimeError("could not put the cluster in mode %s (rc %s)" % (mode or "of the inventory", run["rc"]))

    pgbench_init("primary", env, args.scale)
    try:
        # pgbench: the modes interleaved round by round (a drift of the machine's load hits every mode alike),
        # after a warm-up run that is not counted.
        tps_runs: Dict[str, List[Dict[str, Any]]] = {mode: [] for mode in args.modes}
        switch(args.modes[0])
        run_pgbench("primary", env, args.clients, args.threads, max(10, args.seconds // 3))
        for rnd in range(args.pgbench_runs):
            for mode in args.modes:
                switch(mode)
                tps_runs[mode].append(run_pgbench("primary", env, args.clients, args.threads, args.seconds))
                print("pgbench round %d, %s: %.1f TPS" % (rnd + 1, mode, tps_runs[mode][-1]["tps"] or 0), flush=True)
        for mode in args.modes:
            results[mode].update(pgbench=pgbench_figures(tps_runs[mode]), pgbench_runs=tps_runs[mode])
        # The failovers, N runs of each experiment in each mode (the experiment sets the mode for its duration).
        for mode in args.modes:
            for name, playbook in EXPERIMENTS.items():
                reports = []
                for i in range(args.runs):
                    run = run_playbook(project, args.inventory, playbook, {"chaos_durability": mode})
                    row = (run["report"] or {}).get("summary_row") or {}
                    print("%s %s run %d: lost %s, write gap %s s, passed %s" % (
                        mode, name, i + 1, row.get("lost_writes"), row.get("write_gap_s"), row.get("passed")),
                        flush=True)
                    reports.append(run["report"])
                results[mode][name] = experiment_figures(reports)
    finally:
        switch(None)
        pgbench_init("primary", env, args.scale, drop=True)

    out = write_figures(project, "bench-durability", vars(args), results)
    print()
    print(render_table(results))
    print("\nfigures: %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
