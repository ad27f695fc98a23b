"""Tests of the pure helpers of chaos/tools/bench_path.py (no pgbench is run)."""
from pgha_test_helpers import load_tool

bench = load_tool("bench_path")


def test_workloads_tpcb_first_then_select_only():
    assert bench.workloads([1, 4, 8], tpcb_clients=4, threads=2) == [
        ("tpcb -c 4", 4, 2, []), ("select-only -c 1", 1, 1, ["-S"]), ("select-only -c 4", 4, 2, ["-S"]),
        ("select-only -c 8", 8, 2, ["-S"])]


def test_ratio():
    assert bench.ratio(790.0, 1000.0) == 0.79
    assert bench.ratio(None, 1000.0) is None and bench.ratio(500.0, 0.0) is None


def test_render_table_prints_both_paths_and_the_ratio():
    results = {"tpcb -c 4": {"vip": {"tps": 790.0, "tps_min": 780.0, "tps_max": 800.0},
                             "direct": {"tps": 1000.0, "tps_min": 990.0, "tps_max": 1010.0}, "ratio": 0.79},
               "select-only -c 1": {"vip": {}, "direct": {"tps": 3000.0}, "ratio": None}}
    table = bench.render_table(results)
    assert "tpcb -c 4" in table and "790" in table and "1000" in table and "0.790" in table
    assert "780-800 / 990-1010" in table
    assert "select-only -c 1" in table and "n/a" in table
