#!/usr/bin/env python3
"""Backup and restore figures of the lab's pgBackRest repository: sizes, times and throughput.

`make bench-backup` grows the database with pgbench (``--scale``, 50 = about 750 MB), then, each through the
project's own playbooks with ansible-runner:

1. ``playbooks/backup.yml -e backup_type=full``: a full backup (from a replica);
2. ``--load-seconds`` of pgbench TPC-B-like through the VIP, then ``playbooks/backup.yml -e backup_type=incr``;
3. ``playbooks/restore.yml -e restore_target=latest``: the whole cluster restored from the repository (stop,
   restore on one node and replay, a full backup of the new timeline, the replicas rebuilt, the verify).

It prints the size, repository size, duration and throughput (GB of database per minute) of each backup and
the restore's steps, and writes them to reports/bench-backup-<UTC>.json. The pgbench tables are dropped at the
end (and a new full backup keeps the repository small for the next runs). Figures, not asserts.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

# The sibling tools' helpers (the script's own directory is on sys.path when it runs).
from bench_common import run_playbook, write_figures
from bench_durability import pgbench_init, run_pgbench

GIB = 1024 ** 3
INFO_TASK = "Read the repository"
RESTORE_STEPS = ("Stop Patroni on the leader", "Wait until the restored node leads the new cluster",
                 "Take a full backup of the restored cluster", "Wait for one leader and every replica streaming on "
                 "its timeline")


def throughput_gb_min(size: Optional[int], seconds: Optional[float]) -> Optional[float]:
    """GiB of database per minute (None when either is unknown or the time is 0)."""
    if not size or not seconds:
        return None
    return round(size / GIB / (seconds / 60.0), 2)


def backup_figures(run: Dict[str, Any]) -> Dict[str, Any]:
    """The new backup of a playbooks/backup.yml run: label, type, sizes, duration, throughput."""
    info = ((run.get("tasks") or {}).get(INFO_TASK) or {}).get("res") or {}
    last = info.get("last_backup") or {}
    return {"status": run.get("status"), "label": last.get("label"), "type": last.get("type"),
            "size": last.get("size"), "repo_size": last.get("repo_size"), "delta": last.get("delta"),
            "repo_delta": last.get("repo_delta"), "duration_s": last.get("duration_s"),
            "gb_per_min": throughput_gb_min(last.get("delta") or last.get("size"), last.get("duration_s"))}


def step_durations(run: Dict[str, Any], names: Sequence[str]) -> Dict[str, Optional[float]]:
    tasks = run.get("tasks") or {}
    return {name: (round(tasks[name]["duration_s"], 1) if tasks.get(name, {}).get("duration_s") is not None
                   else None) for name in names}


def render(figures: Dict[str, Any]) -> str:
    lines = ["%-8s %-40s %10s %10s %10s %8s %10s" % ("backup", "label", "size MiB", "delta MiB", "repo MiB",
                                                   "time s", "GiB/min")]
    for key in ("full", "incr"):
        b = figures.get(key) or {}

        def mib(v: Any) -> str:
            return "%.0f" % (v / 1048576) if isinstance(v, (int, float)) else "n/a"
        lines.append("%-8s %-40s %10s %10s %10s %8s %10s" % (key, b.get("label") or "n/a", mib(b.get("size")),
                                                             mib(b.get("delta")), mib(b.get("repo_size")),
                                                             b.get("duration_s") if b.get("duration_s") is not None
                                                             else "n/a", b.get("gb_per_min") or "n/a"))
    r = figures.get("restore") or {}
    lines.append("")
    lines.append("restore (playbooks/restore.yml, latest): %s s in all, %s" % (
        r.get("seconds"), r.get("status")))
    for name, secs in (r.get("steps") or {}).items():
        lines.append("  %-70s %s s" % (name, secs))
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", default="inventories/lab", help="inventory, relative to the project")
    parser.add_argument("--service-file", default=".lab/pg_service.conf", help="libpq service file (make up writes it)")
    parser.add_argument("--scale", type=int, default=50, help="pgbench scale (50: about 750 MB)")
    parser.add_argument("--load-seconds", type=int, default=60, help="pgbench between the full and the incr backup")
    parser.add_argument("--no-restore", action="store_true", help="skip the restore")
    args = parser.parse_args(argv)
    project = Path(__file__).resolve().parents[2]  # chaos/tools/ -> the project
    env = dict(os.environ, PGSERVICEFILE=str(project / args.service_file))
    figures: Dict[str, Any] = {}
    started = time.monotonic()
    pgbench_init("primary", env, args.scale)
    figures["pgbench_init_s"] = round(time.monotonic() - started, 1)
    print("pgbench -i -s %d: %.0f s" % (args.scale, figures["pgbench_init_s"]), flush=True)
    try:
        figures["full"] = backup_figures(run_playbook(project, args.inventory, "playbooks/backup.yml",
                                                      {"backup_type": "full"}))
        print("full backup: %s" % figures["full"], flush=True)
        figures["load"] = run_pgbench("primary", env, 4, 2, args.load_seconds)
        print("pgbench %d s: %.0f TPS" % (args.load_seconds, figures["load"].get("tps") or 0), flush=True)
        figures["incr"] = backup_figures(run_playbook(project, args.inventory, "playbooks/backup.yml",
                                                      {"backup_type": "incr"}))
        print("incr backup: %s" % figures["incr"], flush=True)
        if not args.no_restore:
            started = time.monotonic()
            run = run_playbook(project, args.inventory, "playbooks/restore.yml",
                               {"restore_target": "latest", "restore_confirm": "demo"})
            figures["restore"] = {"status": run["status"], "seconds": round(time.monotonic() - started, 1),
                                  "steps": step_durations(run, RESTORE_STEPS)}
            print("restore: %s" % figures["restore"], flush=True)
    finally:
        pgbench_init("primary", env, args.scale, drop=True)
    out = write_figures(project, "bench-backup", vars(args), figures)
    print()
    print(render(figures))
    print("\nfigures: %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
