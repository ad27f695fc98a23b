"""Tests of the pure helpers of chaos/tools/bench_failover.py (no playbook is run)."""
import importlib.util
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "bench_failover", Path(__file__).resolve().parents[2] / "chaos" / "tools" / "bench_failover.py")
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)


def test_gap_stats():
    assert bench.gap_stats([2.0, 4.0, 3.0]) == {"min": 2.0, "median": 3.0, "p95": 4.0, "max": 4.0}
    assert bench.gap_stats([]) == {"min": None, "median": None, "p95": None, "max": None}


def test_report_from_events_picks_the_report_task():
    events = [
        {"event": "runner_on_ok", "event_data": {"task": "Stop the load", "res": {"x": 1}}},
        {"event": "runner_on_ok",
         "event_data": {"task": "Write the report", "res": {"summary_row": {"write_gap_s": 2.5}}}},
    ]
    assert bench.report_from_events(events) == {"summary_row": {"write_gap_s": 2.5}}
    assert bench.report_from_events([{"event": "playbook_on_start"}]) is None


@pytest.mark.parametrize("value,text", [(None, "-"), (2.0, "2.0"), (12.345, "12.3")])
def test_format_seconds(value, text):
    assert bench.format_seconds(value) == text


def test_render_table_lists_each_experiment():
    rows = [{"experiment": "crash failover", "gaps": [20.0, 22.0], "stats": bench.gap_stats([20.0, 22.0]), "failed": 1}]
    table = bench.render_table(rows)
    assert "crash failover" in table and "20.0" in table and "22.0" in table
    assert table.splitlines()[2].split()[-1] == "1"
