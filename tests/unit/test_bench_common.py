"""Tests of chaos/tools/bench_common.py, what the benchmarks share (no playbook is run)."""
import json

from pgha_test_helpers import load_tool

bench = load_tool("bench_common")


def test_report_from_events_picks_the_report_task():
    events = [
        {"event": "runner_on_ok", "event_data": {"task": "Stop the load", "res": {"x": 1}}},
        {"event": "runner_on_ok",
         "event_data": {"task": "Write the report", "res": {"summary_row": {"write_gap_s": 2.5}}}},
    ]
    assert bench.report_from_events(events) == {"summary_row": {"write_gap_s": 2.5}}
    assert bench.report_from_events([{"event": "playbook_on_start"}]) is None


def test_write_figures(tmp_path):
    out = bench.write_figures(tmp_path, "bench-x", {"runs": 5}, {"a": 1})
    assert out.parent == tmp_path / "reports" and out.name.startswith("bench-x-") and out.suffix == ".json"
    assert json.loads(out.read_text()) == {"settings": {"runs": 5}, "results": {"a": 1}}
