"""Tests of the pure helpers of chaos/tools/bench_failover.py (no playbook is run)."""
import pytest

from pgha_test_helpers import load_tool

bench = load_tool("bench_failover")


def test_gap_stats():
    assert bench.gap_stats([2.0, 4.0, 3.0]) == {"min": 2.0, "median": 3.0, "p95": 4.0, "max": 4.0}
    assert bench.gap_stats([]) == {"min": None, "median": None, "p95": None, "max": None}


@pytest.mark.parametrize("value,text", [(None, "-"), (2.0, "2.0"), (12.345, "12.3")])
def test_format_seconds(value, text):
    assert bench.format_seconds(value) == text


def test_render_table_lists_each_experiment():
    rows = [{"experiment": "crash failover", "gaps": [20.0, 22.0], "stats": bench.gap_stats([20.0, 22.0]), "failed": 1}]
    table = bench.render_table(rows)
    assert "crash failover" in table and "20.0" in table and "22.0" in table
    assert table.splitlines()[2].split()[-1] == "1"


def run_phases(key: float, promoted: float, up: float, first: float) -> list:
    """A run's phases as chaos_report returns them (steps from the phase observed just before)."""
    phases = [{"name": "fault", "at_s": 0.0, "step_s": None, "after": None}]
    prev = ("fault", 0.0)
    for name, at in (("leader_key_changed", key), ("promoted", promoted), ("haproxy_up[haproxy1]", up),
                     ("vip_moved", None), ("first_write", first)):
        phases.append({"name": name, "at_s": at, "step_s": None if at is None else round(at - prev[1], 3),
                       "after": None if at is None else prev[0]})
        prev = prev if at is None else (name, at)
    return phases


def test_phase_stats_median_min_max_of_phases_and_steps():
    runs = [run_phases(0.3, 1.2, 2.0, 2.2), run_phases(0.5, 1.0, 2.4, 2.6), run_phases(0.4, 1.1, 2.2, 2.3),
            [], run_phases(0.2, None, None, 1.9)]
    stats = {(s["kind"], s["what"]): s for s in bench.phase_stats(runs)}
    assert list(stats)[:4] == [("phase", "leader_key_changed"), ("phase", "promoted"),
                               ("phase", "haproxy_up[haproxy1]"), ("phase", "first_write")]
    assert ("phase", "vip_moved") not in stats and ("phase", "fault") not in stats
    assert stats[("phase", "leader_key_changed")] == {"kind": "phase", "what": "leader_key_changed", "n": 4,
                                                      "median": pytest.approx(0.35), "min": 0.2, "max": 0.5}
    assert stats[("phase", "promoted")]["n"] == 3 and stats[("phase", "promoted")]["median"] == 1.1
    step = stats[("step", "promoted -> haproxy_up[haproxy1]")]
    assert step["n"] == 3 and step["median"] == pytest.approx(1.1) and step["min"] == pytest.approx(0.8)
    # The run without a promotion: its first write counts from the leader key's change.
    assert stats[("step", "leader_key_changed -> first_write")]["n"] == 1
    assert stats[("step", "haproxy_up[haproxy1] -> first_write")]["max"] == pytest.approx(0.2)
    assert bench.phase_stats([]) == []


def test_phases_of_a_report_result_and_one_line_per_run():
    res = {"analysis": {"phases": run_phases(0.3, 1.2, 2.0, 2.2)}}
    assert bench.phases_of(res)[1]["name"] == "leader_key_changed"
    assert bench.phases_of(None) == [] and bench.phases_of({"analysis": {}}) == []
    assert bench.format_phases(bench.phases_of(res)) == (
        "leader_key_changed +0.30 s, promoted +1.20 s, haproxy_up[haproxy1] +2.00 s, first_write +2.20 s")
    assert bench.format_phases([]) == "none observed"


def test_render_phase_table_lists_each_experiment():
    rows = [{"experiment": "graceful failover", "phases": bench.phase_stats([run_phases(0.3, 1.2, 2.0, 2.2),
                                                                             run_phases(0.5, 1.0, 2.4, 2.6)])},
            {"experiment": "VIP failover", "phases": []}]
    lines = bench.render_phase_table(rows).splitlines()
    assert lines[0].split()[:2] == ["experiment", "phase"]
    assert lines[2].split() == ["graceful", "failover", "leader_key_changed", "2", "0.40", "0.30", "0.50"]
    assert lines[3].split() == ["promoted", "2", "1.10", "1.00", "1.20"]
    assert "  step fault -> leader_key_changed" in bench.render_phase_table(rows)
    assert lines[-1].startswith("VIP failover") and "no phases" in lines[-1]


def test_fault_detail_is_the_fault_phase_detail():
    phases = [{"name": "fault", "at_s": 0.0, "detail": "node patroni1 killed (docker); etcd leader: patroni1"},
              {"name": "promoted", "at_s": 19.0, "detail": "patroni2 writable"}]
    assert bench.fault_detail(phases) == "node patroni1 killed (docker); etcd leader: patroni1"
    assert bench.fault_detail([]) == ""


def test_per_fault_rows_split_an_experiment_with_two_faults():
    res = {"analysis": {"fault_gaps": [{"event": "fault_injected", "gap_s": 0.8},
                                       {"event": "node_killed", "gap_s": 1.9}]}}
    runs = [bench.fault_gaps_of(res), {"fault_injected": 1.0, "node_killed": 2.1}]
    assert runs[0] == {"fault_injected": 0.8, "node_killed": 1.9}
    rows = bench.per_fault_rows("VIP failover", runs, failed=0)
    assert [r["experiment"] for r in rows] == ["VIP failover: fault_injected", "VIP failover: node_killed"]
    assert rows[0]["stats"]["median"] == 0.9 and rows[1]["gaps"] == [1.9, 2.1]
    assert "VIP failover: node_killed" in bench.render_table(rows)
    assert "node_killed" not in bench.render_phase_table(rows)
    # One fault per run: no extra rows.
    assert bench.per_fault_rows("graceful failover", [{"fault_injected": 2.0}], failed=0) == []


def test_parse_extra_vars():
    assert bench.parse_extra_vars(["keepalived_preempt=true", "x=a=b"]) == {"keepalived_preempt": "true", "x": "a=b"}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        bench.parse_extra_vars(["novalue"])
