"""Tests of the pure helpers of chaos/tools/bench_backup.py and bench_common.task_results (nothing is run)."""
from pgha_test_helpers import load_tool

bench = load_tool("bench_backup")
common = load_tool("bench_common")

GIB = 1024 ** 3


def test_throughput_in_gib_per_minute():
    assert bench.throughput_gb_min(GIB, 30.0) == 2.0
    assert bench.throughput_gb_min(None, 30.0) is None and bench.throughput_gb_min(GIB, 0) is None


def test_backup_figures_from_the_info_task_of_the_run():
    res = {"last_backup": {"label": "20261201-120000F", "type": "full", "size": GIB, "repo_size": GIB // 10,
                           "delta": GIB, "repo_delta": GIB // 10, "duration_s": 60}}
    run = {"status": "successful", "tasks": {bench.INFO_TASK: {"res": res, "duration_s": 1.2, "host": "backup1"}}}
    fig = bench.backup_figures(run)
    assert (fig["label"], fig["type"], fig["gb_per_min"], fig["status"]) == ("20261201-120000F", "full", 1.0,
                                                                             "successful")
    assert bench.backup_figures({"status": "failed", "tasks": {}})["label"] is None


def test_task_results_keep_the_last_ok_result_and_its_duration():
    events = [
        {"event": "runner_on_ok", "event_data": {"task": "A", "res": {"x": 1}, "duration": 1.5, "host": "h"}},
        {"event": "runner_on_failed", "event_data": {"task": "B", "res": {"msg": "no"}}},
        {"event": "runner_on_ok", "event_data": {"task": "A", "res": {"x": 2}, "duration": 2.5, "host": "h"}},
    ]
    assert common.task_results(events) == {"A": {"res": {"x": 2}, "duration_s": 2.5, "host": "h"}}


def test_render_shows_each_backup_and_the_restore_steps():
    figures = {"full": {"label": "F", "size": 1048576 * 750, "delta": 1048576 * 750, "repo_size": 1048576 * 80,
                        "duration_s": 40, "gb_per_min": 1.1},
               "restore": {"seconds": 300.0, "status": "successful", "steps": {"Take a full backup": 50.0}}}
    text = bench.render(figures)
    assert "full" in text and "750" in text and "1.1" in text and "incr" in text
    assert "300.0 s in all, successful" in text and "Take a full backup" in text
