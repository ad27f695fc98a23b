#!/usr/bin/env python3
"""Saturate CPUs for a while: the soak's "host under load" (chaos/soak.yml, chaos_soak_cpu_burners).

Starts N busy processes at normal priority, each spinning until the deadline, then exits 0. It
ends by itself, so a playbook that dies does not leave it running. In the lab every container
shares the host's CPUs, so burning them on the control host starves etcd, Patroni, PostgreSQL,
HAProxy and keepalived alike.
"""
from __future__ import annotations

import argparse
import multiprocessing
import time
from typing import List, Optional


def spin_until(deadline: float) -> int:
    """Busy-loop until time.monotonic() reaches deadline; returns the number of rounds done."""
    rounds = 0
    while time.monotonic() < deadline:
        for _ in range(10000):
            pass
        rounds += 1
    return rounds


def burn(workers: int, seconds: float) -> List[int]:
    """Run ``workers`` spinning processes for ``seconds``; returns each one's exit code."""
    if workers < 1:
        raise ValueError(f"workers must be 1 or more, not {workers}")
    if seconds <= 0:
        raise ValueError(f"seconds must be more than 0, not {seconds}")
    deadline = time.monotonic() + seconds
    procs = [multiprocessing.Process(target=spin_until, args=(deadline,), daemon=True) for _ in range(workers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    return [proc.exitcode if proc.exitcode is not None else -1 for proc in procs]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=multiprocessing.cpu_count(),
                        help="busy processes (default: one per CPU)")
    parser.add_argument("--seconds", type=float, required=True, help="how long they spin")
    args = parser.parse_args(argv)
    try:
        codes = burn(args.workers, args.seconds)
    except ValueError as exc:
        parser.error(str(exc))
    return 0 if all(code == 0 for code in codes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
