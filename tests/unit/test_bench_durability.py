"""Tests of the pure helpers of chaos/tools/bench_durability.py (no playbook, no pgbench is run)."""
import pytest

from pgha_test_helpers import load_tool

bench = load_tool("bench_durability")

PGBENCH_OUTPUT = """pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: <builtin: TPC-B (sort of)>
scaling factor: 10
query mode: simple
number of clients: 8
number of threads: 2
maximum number of tries: 1
duration: 30 s
number of transactions actually processed: 12345
number of failed transactions: 0 (0.000%)
latency average = 19.441 ms
initial connection time = 61.330 ms
tps = 411.501234 (without initial connection time)
"""


def test_parse_pgbench_summary():
    assert bench.parse_pgbench(PGBENCH_OUTPUT) == {"tps": pytest.approx(411.501234), "latency_avg_ms": 19.441}
    assert bench.parse_pgbench("pgbench: error: connection failed") == {"tps": None, "latency_avg_ms": None}


def test_latencies_from_the_transaction_log():
    lines = ["0 0 12000 0 1733000000 1", "1 0 3500 0 1733000000 2", "garbage", "2 0 x 0 1 1"]
    assert bench.latencies_ms(lines) == [12.0, 3.5]
    summary = bench.latency_summary([float(v) for v in range(1, 101)])
    assert summary == {"p50_ms": 50.0, "p99_ms": 99.0, "transactions": 100}


def test_experiment_figures_over_runs():
    reports = [{"summary_row": {"lost_writes": 0, "write_gap_s": 20.0, "passed": True}, "report_dir": "/r/1"},
               {"summary_row": {"lost_writes": 3, "write_gap_s": 25.0, "passed": True}, "report_dir": "/r/2"},
               None]
    figures = bench.experiment_figures(reports)
    assert figures["runs"] == 3 and figures["failed"] == 1
    assert figures["lost"] == {"min": 0.0, "median": 1.5, "max": 3.0}
    assert figures["gap_s"]["median"] == 22.5


def test_table_has_the_ratio_to_async():
    results = {
        "async": {"pgbench": {"tps": 400.0, "p50_ms": 18.0, "p99_ms": 40.0},
                  "partition": bench.experiment_figures([{"summary_row": {"lost_writes": 300, "write_gap_s": 25}}]),
                  "crash": bench.experiment_figures([])},
        "quorum": {"pgbench": {"tps": 360.0, "p50_ms": 20.0, "p99_ms": 45.0}},
    }
    table = bench.render_table(results).splitlines()
    assert table[0].split()[:3] == ["mode", "TPS", "x"]
    assert table[2].startswith("async") and " 1.00 " in table[2] and "300/300/300 (n=1)" in table[2]
    assert table[3].startswith("quorum") and " 0.90 " in table[3]


def test_pgbench_figures_keep_the_median_run():
    runs = [{"tps": 900.0, "p50_ms": 9.0}, {"tps": 1100.0, "p50_ms": 7.0}, {"tps": 1000.0, "p50_ms": 8.0}]
    figures = bench.pgbench_figures(runs)
    assert (figures["tps"], figures["tps_min"], figures["tps_max"], figures["runs"]) == (1000.0, 900.0, 1100.0, 3)
    assert figures["p50_ms"] == 8.0
    assert bench.pgbench_figures([]) == {"runs": 0}
