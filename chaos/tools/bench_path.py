#!/usr/bin/env python3
"""The price of the proxy path: pgbench through the VIP (HAProxy) against libpq's own multi-host path.

`make bench-path` runs, on the lab, pgbench TPC-B-like (-c 4 -j 2) and select-only (-S, 1, 4 and 8 clients)
through two libpq services of .lab/pg_service.conf (written by `make up`):

* ``primary``: the VIP's write port, HAProxy forwarding to the leader;
* ``primary-direct``: every database node in one ``host=`` list with ``target_session_attrs=read-write``, so
  libpq itself finds the leader (no hop, client-side failover).

The two paths alternate run by run, round after round (a drift of the machine's load hits both alike), and
the median TPS of each is kept. It prints, per workload, both medians and the ratio VIP / direct, and writes
the figures to reports/bench-path-<UTC>.json. Figures, not asserts.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

# The sibling tool's pgbench helpers (the script's own directory is on sys.path when it runs).
from bench_common import write_figures
from bench_durability import pgbench_figures, pgbench_init, run_pgbench

PATHS: Dict[str, str] = {"vip": "primary", "direct": "primary-direct"}


Workload = Tuple[str, int, int, List[str]]


def workloads(select_clients: Sequence[int], tpcb_clients: int, threads: int) -> List[Workload]:
    """(name, clients, threads, extra pgbench options) of each workload: TPC-B-like first, then select-only."""
    out: List[Workload] = [("tpcb -c %d" % tpcb_clients, tpcb_clients, min(threads, tpcb_clients), [])]
    out += [("select-only -c %d" % c, c, min(threads, c), ["-S"]) for c in select_clients]
    return out


def ratio(vip: Optional[float], direct: Optional[float]) -> Optional[float]:
    """VIP TPS as a share of the direct TPS (None when either is missing or direct is 0)."""
    if vip is None or not direct:
        return None
    return round(vip / direct, 3)


def render_table(results: Dict[str, Dict[str, Any]]) -> str:
    header = "%-20s %12s %12s %8s %22s" % ("workload", "VIP TPS", "direct TPS", "ratio", "VIP / direct min-max")
    lines = [header, "-" * len(header)]
    for name, res in results.items():
        vip, direct = res.get("vip") or {}, res.get("direct") or {}

        def cell(fig: Dict[str, Any], key: str = "tps") -> str:
            return "%.0f" % fig[key] if fig.get(key) is not None else "n/a"

        spread = "%s-%s / %s-%s" % (cell(vip, "tps_min"), cell(vip, "tps_max"), cell(direct, "tps_min"),
                                    cell(direct, "tps_max"))
        r = res.get("ratio")
        lines.append("%-20s %12s %12s %8s %22s" % (name, cell(vip), cell(direct), "%.3f" % r if r is not None
                                                   else "n/a", spread))
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service-file", default=".lab/pg_service.conf",
                        help="libpq service file with services primary and primary-direct (make up writes it)")
    parser.add_argument("--scale", type=int, default=10, help="pgbench scale (default 10)")
    parser.add_argument("--seconds", type=int, default=20, help="length of each pgbench run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each path per workload; the median is kept")
    parser.add_argument("--tpcb-clients", type=int, default=4)
    parser.add_argument("--select-clients", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.seconds < 1:
        parser.error("--rounds and --seconds must be 1 or more")
    project = Path(__file__).resolve().parents[2]  # chaos/tools/ -> the project
    env = dict(os.environ, PGSERVICEFILE=str(project / args.service_file))

    results: Dict[str, Dict[str, Any]] = {}
    pgbench_init(PATHS["vip"], env, args.scale)
    try:
        # A warm-up run that is not counted (caches, connections, the first checkpoint).
        run_pgbench(PATHS["direct"], env, args.tpcb_clients, args.threads, max(5, args.seconds // 2))
        for name, clients, threads, extra in workloads(args.select_clients, args.tpcb_clients, args.threads):
            runs: Dict[str, List[Dict[str, Any]]] = {path: [] for path in PATHS}
            for rnd in range(args.rounds):
                for path, service in PATHS.items():
                    runs[path].append(run_pgbench(service, env, clients, threads, args.seconds, extra))
                    print("%s round %d, %s: %.1f TPS" % (name, rnd + 1, path, runs[path][-1]["tps"] or 0), flush=True)
            results[name] = {path: pgbench_figures(runs[path]) for path in PATHS}
            results[name]["ratio"] = ratio(results[name]["vip"].get("tps"), results[name]["direct"].get("tps"))
    finally:
        pgbench_init(PATHS["vip"], env, args.scale, drop=True)

    out = write_figures(project, "bench-path", vars(args), results)
    print()
    print(render_table(results))
    print("\nfigures: %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
