"""chaos/library/chaos_report.py on a synthetic run directory; psycopg2 is replaced by a fake (no database)."""

from __future__ import annotations

import json
import os
import types
from typing import Any, Dict, List

import pytest
from ansible.module_utils import pgha_ledger as L

import chaos_report as mod
from pgha_test_helpers import undocumented_keys, warning_texts

T0 = 1_700_000_000.0
DSN = {"host": "10.0.0.100", "port": 5000, "dbname": "app", "user": "app", "password": "S3cretPassw0rd"}
TABLE = """+ Cluster: demo ----------+---------+-----------+----+
| Member   | Host         | Role    | State     | TL |
+----------+--------------+---------+-----------+----+
| patroni1 | 172.28.10.11 | Leader  | running   |  1 |
+----------+--------------+---------+-----------+----+"""


def make_run(run_dir: str, gap: float = 3.0) -> List[int]:
    """10 s of load: writes on A, a `gap`-second failover at t=4, writes on B; reads throughout. Returns ok ids."""
    os.makedirs(run_dir)
    recs: List[Dict[str, Any]] = []
    i, t, ok_ids = 1, 0.0, []
    while t < 10.0:
        in_gap = 4.0 <= t < 4.0 + gap
        outcome = "error" if in_gap else "ok"
        if in_gap and abs(t - 5.0) < 1e-6:
            outcome = "unknown"
        server = "172.28.10.11" if t < 4.0 else "172.28.10.12"
        recs.append(L.make_record("write", T0 + t, T0 + t + 0.003, outcome, id=i,
                                  server=server if outcome == "ok" else None, timeline=1 if t < 4 else 2,
                                  error=None if outcome == "ok" else "OperationalError: down"))
        if outcome == "ok":
            ok_ids.append(i)
        recs.append(L.make_record("read", T0 + t, T0 + t + 0.002, "ok", server="172.28.10.13", in_recovery=True))
        i += 1
        t = round(t + (0.5 if in_gap else 0.02), 6)
    recs += watched_failover()
    with open(os.path.join(run_dir, "ledger.jsonl"), "w") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in recs)
    with open(os.path.join(run_dir, "events.jsonl"), "w") as fh:
        for ev in (L.make_event("load_started", t=T0), L.make_event("fault_injected", "stop patroni1", t=T0 + 4),
                   L.make_event("fault_cleared", "start patroni1", t=T0 + 8),
                   L.make_event("load_stopped", t=T0 + 10.01)):
            fh.write(json.dumps(ev) + "\n")
    with open(os.path.join(run_dir, "run.json"), "w") as fh:
        json.dump({"run_id": "leader_stop-1", "table": "chaos_ledger", "rate": 50,
                   "writer": {"password": "S3cretPassw0rd"},
                   "lb_watch": {"balancers": [{"name": "haproxy1", "address": "10.0.0.21"},
                                              {"name": "haproxy3", "address": "10.0.0.23"}],
                                "url_username": "admin", "url_password": "St4tsPassw0rd", "vip": "10.0.0.100"}}, fh)
    return ok_ids


def watched_failover() -> List[Dict[str, Any]]:
    """What the watchers and pollers saw of make_run's failover (fault at 4.0): the key released at 5.0 and taken by
    patroni2 at 5.5, patroni2 writable at 6.0, UP on haproxy1 at 6.5 and on haproxy2 at 6.8; the VIP on haproxy1."""
    recs = []
    for k in range(100):
        t = k / 10
        value = "patroni1" if t < 5.0 else None if t < 5.5 else "patroni2"
        recs.append(L.make_record("dcs", T0 + t, T0 + t + 0.003, "ok", node="https://10.0.0.11:2379", value=value,
                                  revision=None if value is None else 100 + k))
        for balancer, up_at in (("haproxy1", 6.5), ("haproxy2", 6.8)):
            up = ["patroni1"] if t < 4.5 else [] if t < up_at else ["patroni2"]
            recs.append(L.make_record("lb", T0 + t, T0 + t + 0.002, "ok", node=balancer, up=up))
        recs.append(L.make_record("vip", T0 + t, T0 + t + 0.002, "ok", node="10.0.0.100", balancer="haproxy1"))
        if k % 5 == 0:
            for node, server, writable in (("patroni1", "172.28.10.11", t < 4.0), ("patroni2", "172.28.10.12",
                                                                                  t >= 6.0)):
                recs.append(L.make_record("poll", T0 + t, T0 + t + 0.002, "ok", node=node, round=k // 5,
                                          server=server, writable=writable, in_recovery=not writable))
    return recs


class FakeCursor:
    def __init__(self, ids: List[int], seen: Dict[str, Any]) -> None:
        self.ids, self.seen = ids, seen

    def __enter__(self) -> "FakeCursor":
        return self

    def __exit__(self, *a: Any) -> None:
        pass

    def execute(self, query: Any, params: Any) -> None:
        self.seen["params"] = params

    def fetchall(self) -> List[Any]:
        return [(i,) for i in self.ids]


def fake_psycopg2(ids: List[int], failures: int = 0) -> Any:
    seen: Dict[str, Any] = {"connects": 0}

    def connect(**kwargs: Any) -> Any:
        seen["connects"] += 1
        seen["kwargs"] = kwargs
        if seen["connects"] <= failures:
            raise RuntimeError("could not connect: timeout expired")
        return types.SimpleNamespace(cursor=lambda: FakeCursor(ids, seen), close=lambda: None)

    return types.SimpleNamespace(connect=connect, seen=seen)


@pytest.fixture
def no_sleep(monkeypatch):
    monkeypatch.setattr(mod.time, "sleep", lambda s: None)


@pytest.fixture
def fast_png(monkeypatch):
    """Tests that do not look at the plot skip matplotlib's drawing (test_report_files_and_figures draws it)."""

    def fake(path, *args):
        with open(path, "wb") as fh:
            fh.write(b"png")

    monkeypatch.setattr(mod, "render_png", fake)


def base_args(tmp_path, **kw: Any) -> Dict[str, Any]:
    out = {"run_dir": str(tmp_path / "run"), "experiment": "leader_stop", "report_dir": str(tmp_path / "reports"),
           "settings": {"patroni_ttl": 30, "patroni_loop_wait": 10},
           "state_before": {"leader": "patroni1", "table": TABLE}, "state_after": {"leader": "patroni2"},
           "assertions": [{"name": "new leader", "passed": True, "detail": "patroni1 -> patroni2"}],
           "final_ids_dsn": DSN, "bounds": {"max_write_gap_s": 10, "max_failed_writes": 20, "max_lost_writes": 0}}
    out.update(kw)
    return out


def test_report_files_and_figures(tmp_path, monkeypatch, run_module):
    ok_ids = make_run(str(tmp_path / "run"))
    fake = fake_psycopg2(ok_ids)
    monkeypatch.setattr(mod, "psycopg2", fake)
    result = run_module(mod, base_args(tmp_path))
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True and result["passed"] is True and result["failures"] == []
    assert undocumented_keys(mod, result) == []
    assert fake.seen["params"] == ("leader_stop-1",)  # run_id from run.json
    out = result["report_dir"]
    assert os.path.basename(out).startswith("leader_stop-") and out.endswith("Z")
    an = result["analysis"]
    assert an["write_gap_s"] == pytest.approx(3.0, abs=0.05)
    assert an["gap_start"] == pytest.approx(3.983, abs=0.01) and an["gap_end"] == pytest.approx(7.003, abs=0.01)
    assert an["failed_writes"] == 6 and an["unknown_writes"] == 1
    assert an["lost_writes"]["count"] == 0 and an["lost_writes"]["checked"] is True
    assert an["split_brain"]["detected"] is False and an["reads"]["ok"] > 0
    row = result["summary_row"]
    assert row["experiment"] == "leader_stop" and row["passed"] is True and row["lost_writes"] == 0

    with open(result["files"]["json"]) as fh:
        doc = json.load(fh)
    assert doc["summary_row"] == row and doc["passed"] is True
    assert doc["analysis"]["writes"]["ok"] == len(ok_ids)
    assert [e["event"] for e in doc["events"]] == ["load_started", "fault_injected", "fault_cleared", "load_stopped"]
    assert doc["events"][1]["rel"] == 4.0
    assert doc["state_before"]["leader"] == "patroni1" and doc["settings"]["patroni_ttl"] == 30
    assert "S3cretPassw0rd" not in json.dumps(doc) and "S3cretPassw0rd" not in json.dumps(result)

    md = open(result["files"]["md"]).read()
    assert "| leader_stop | yes | 3.020 | 6 | 1 | 0 | no |" in md
    assert "| 4.000 | fault_injected | stop patroni1 |" in md
    assert "| patroni1 | 172.28.10.11 | Leader  | running   |  1 |" in md
    assert "| new leader | yes | patroni1 -> patroni2 |" in md
    assert "**PASSED**" in md

    # The failover's phases: in the module's result (what bench_failover reads), report.json and report.md.
    phases = {p["name"]: p for p in an["phases"]}
    assert list(phases) == ["fault", "last_write", "leader_key_changed", "promoted", "haproxy_up[haproxy1]",
                            "haproxy_up[haproxy2]", "haproxy_up[haproxy3]", "vrrp_master", "vip_moved", "first_write"]
    assert [phases[n]["at_s"] for n in ("leader_key_changed", "promoted", "haproxy_up[haproxy1]",
                                        "haproxy_up[haproxy2]", "first_write")] == [1.003, 2.002, 2.502, 2.802, 3.003]
    assert phases["haproxy_up[haproxy3]"]["at_s"] is None and phases["vip_moved"]["at_s"] is None
    assert an["failover"]["new_leader"] == "patroni2" and an["failover"]["first_write_server"] == "172.28.10.12"
    assert an["watches"]["dcs"]["ok"] == 100
    assert doc["analysis"]["phases"] == an["phases"] and doc["analysis"]["failover"]["old_leader"] == "patroni1"
    assert "St4tsPassw0rd" not in json.dumps(doc) and doc["load_config"]["lb_watch"]["url_username"] == "admin"
    section = md.split("## Phases")[1].split("## Events")[0]
    assert ("`fault_injected` at 4.000 s: old leader patroni1, new leader patroni2 (172.28.10.12); VIP answered by "
            "haproxy1, then n/a; first write on 172.28.10.12.") in section
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    assert rows[0] == "| phase | after the fault (s) | step (s) | from | detail |"
    # The pause began with a write that ended 17 ms before the fault was marked: in time order, it comes first.
    assert rows[1:] == [
        "| last_write | -0.017 | n/a | n/a | id 200 on 172.28.10.11 (timeline 1) |",
        "| fault | 0.000 | 0.017 | last_write | stop patroni1 |",
        "| leader_key_changed | 1.003 | 1.003 | fault | patroni1 -> no key (mod_revision None) |",
        "| promoted | 2.002 | 0.999 | leader_key_changed | patroni2 writable (timeline None) |",
        "| haproxy_up[haproxy1] | 2.502 | 0.500 | promoted | UP: patroni2 |",
        "| haproxy_up[haproxy2] | 2.802 | 0.300 | haproxy_up[haproxy1] | UP: patroni2 |",
        "| first_write | 3.003 | 0.201 | haproxy_up[haproxy2] | id 207 on 172.28.10.12 (timeline 2) |",
        "| haproxy_up[haproxy3] | n/a | n/a | n/a |  |",
        "| vrrp_master | n/a | n/a | n/a |  |",
        "| vip_moved | n/a | n/a | n/a |  |",
    ]
    png = result["files"]["png"]
    assert os.path.getsize(png) > 10000
    with open(png, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_bounds_failures_are_readable(tmp_path, monkeypatch, run_module, fast_png):
    ok_ids = make_run(str(tmp_path / "run"), gap=4.0)
    monkeypatch.setattr(mod, "psycopg2", fake_psycopg2([i for i in ok_ids if i != 10]))
    bounds = {"max_write_gap_s": 2.5, "max_failed_writes": 3, "max_lost_writes": 0}
    result = run_module(mod, base_args(tmp_path, bounds=bounds,
                                       assertions=[{"name": "old leader back as replica", "passed": False}]))
    assert result["passed"] is False and result["summary_row"]["passed"] is False
    text = "\n".join(result["failures"])
    assert "write gap 4.0" in text and "> max_write_gap_s 2.5 s" in text
    assert "failed write attempts" in text and "> max_failed_writes 3" in text
    assert "1 acknowledged write(s) lost > max_lost_writes 0 (ids 10)" in text
    assert "assertion failed: old leader back as replica" in text
    assert result["analysis"]["lost_writes"]["ids"] == [10]
    md = open(result["files"]["md"]).read()
    assert "**FAILED:**" in md and "1 (ids 10)" in md


def test_lost_writes_without_a_bound_are_reported_but_do_not_fail(tmp_path, monkeypatch, run_module, fast_png):
    """A crash with asynchronous replication: losses are counted, the run passes on its other bounds."""
    ok_ids = make_run(str(tmp_path / "run"))
    monkeypatch.setattr(mod, "psycopg2", fake_psycopg2([i for i in ok_ids if i not in (10, 11)]))
    result = run_module(mod, base_args(tmp_path, bounds={"max_write_gap_s": 10}))
    assert result["passed"] is True, result["failures"]
    assert result["analysis"]["lost_writes"]["count"] == 2 and result["summary_row"]["lost_writes"] == 2


def test_unreachable_final_ids_fail_the_lost_write_bound(tmp_path, monkeypatch, run_module, no_sleep, fast_png):
    make_run(str(tmp_path / "run"))
    fake = fake_psycopg2([], failures=99)
    monkeypatch.setattr(mod, "psycopg2", fake)
    result = run_module(mod, base_args(tmp_path, connect_retries=3))
    assert fake.seen["connects"] == 3
    assert result["passed"] is False
    assert any("lost writes could not be checked" in f and "timeout expired" in f for f in result["failures"])
    assert result["analysis"]["lost_writes"]["count"] is None
    assert any("could not read the final ids" in w for w in warning_texts(result))


def test_retries_until_the_final_ids_answer(tmp_path, monkeypatch, run_module, no_sleep, fast_png):
    ok_ids = make_run(str(tmp_path / "run"))
    fake = fake_psycopg2(ok_ids, failures=2)
    monkeypatch.setattr(mod, "psycopg2", fake)
    result = run_module(mod, base_args(tmp_path))
    assert result["passed"] is True and fake.seen["connects"] == 3
    assert fake.seen["kwargs"]["connect_timeout"] == 3 and fake.seen["kwargs"]["password"] == DSN["password"]


def test_without_final_ids_dsn_lost_writes_are_not_checked(tmp_path, run_module, fast_png):
    make_run(str(tmp_path / "run"))
    args = base_args(tmp_path)
    del args["final_ids_dsn"]
    result = run_module(mod, args)
    assert result["passed"] is True and result["analysis"]["lost_writes"]["count"] is None
    assert any("not checked" in w for w in warning_texts(result))
    assert "not checked" in open(result["files"]["md"]).read()


def test_check_mode_computes_and_writes_nothing(tmp_path, monkeypatch, run_module):
    make_run(str(tmp_path / "run"))
    monkeypatch.setattr(mod, "psycopg2", fake_psycopg2([]))
    result = run_module(mod, base_args(tmp_path), check_mode=True)
    assert result["changed"] is True and "nothing written" in result["msg"]
    assert result["passed"] is False  # every acknowledged write is "lost" against an empty table
    assert not os.path.exists(str(tmp_path / "reports"))


def test_missing_ledger_fails(tmp_path, run_module):
    result = run_module(mod, base_args(tmp_path))
    assert result["failed"] and "no ledger" in result["msg"]


def test_empty_ledger_reports_without_crashing(tmp_path, monkeypatch, run_module):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "ledger.jsonl").write_text("")
    monkeypatch.setattr(mod, "psycopg2", fake_psycopg2([]))
    result = run_module(mod, base_args(tmp_path))
    assert not result.get("failed")
    assert result["passed"] is False and "no write was attempted" in result["failures"][0]
    assert os.path.getsize(result["files"]["png"]) > 0


def test_phases_markdown_without_a_fault_and_the_plot_marks():
    an = L.analyze([L.make_record("write", T0, T0 + 0.01, "ok", id=1, server="a")])
    assert mod.phases_markdown(an.failover, an.phases, T0) == ["No fault_injected event: no phases."]
    assert mod.phases_markdown({}, [], None) == ["No fault_injected event: no phases."]
    assert mod.phase_marks(an.phases, T0) == []
    phases = [{"name": "fault", "t": T0 + 4, "at_s": 0.0}, {"name": "promoted", "t": T0 + 6.002, "at_s": 2.002},
              {"name": "vip_moved", "t": None, "at_s": None}, {"name": "first_write", "t": T0 + 7.003, "at_s": 3.003}]
    assert mod.phase_marks(phases, T0) == [(6.002, "promoted +2.00 s"), (7.003, "first_write +3.00 s")]
    assert mod.phase_marks(phases, None) == []


def test_without_secrets_at_any_depth():
    cfg = {"rate": 50, "lb_watch": {"url_password": "x", "balancers": [{"name": "h", "password": "y"}]},
           "dcs_watch": {"client_key": "/k"}}
    assert mod.without_secrets(cfg) == {"rate": 50, "lb_watch": {"balancers": [{"name": "h"}]},
                                        "dcs_watch": {"client_key": "/k"}}


def test_unique_report_dir(tmp_path):
    import datetime
    now = datetime.datetime(2026, 11, 25, 22, 45, 0, tzinfo=datetime.timezone.utc)
    first = mod.unique_report_dir(str(tmp_path), "leader stop", now)
    assert first.endswith("leader_stop-20261125T224500Z")
    os.makedirs(first)
    assert mod.unique_report_dir(str(tmp_path), "leader stop", now) == first + "-2"


def test_plot_series_scales_or_drops_the_partial_last_second():
    buckets = [{"t": 0.0, "writes_ok": 50, "reads_ok": 50, "errors": 0},
               {"t": 1.0, "writes_ok": 50, "reads_ok": 49, "errors": 1},
               {"t": 2.0, "writes_ok": 25, "reads_ok": 25, "errors": 0}]
    x, ys = mod.plot_series(buckets, 2.5)
    assert x == [0.0, 1.0, 2.0, 2.5]
    assert ys["writes_ok"] == [50, 50, 50, 50] and ys["errors"] == [0, 1, 0, 0]
    x, ys = mod.plot_series(buckets, 2.1)  # a tenth of a second: dropped
    assert x == [0.0, 1.0, 2.0] and ys["reads_ok"] == [50, 49, 49]
    assert mod.plot_series([], None) == ([], {"writes_ok": [], "reads_ok": [], "errors": []})


def test_gap_failures_name_the_operation_and_its_bound():
    stats = L.OpStats(max_gap_s=4.0, gap_start=T0 + 1, gap_end=T0 + 5, trailing_gap_s=3.0)
    assert mod.gap_failures("read", stats, 2.5, T0) == [
        "read gap 4.000 s > max_read_gap_s 2.5 s (1.0 s .. 5.0 s after load start)",
        "reads had not resumed when the load stopped: no successful read in the last 3.000 s > max_read_gap_s 2.5 s",
    ]
    assert mod.gap_failures("write", stats, 5, T0) == []
    assert mod.gap_failures("write", L.OpStats(), 1, T0) == []


def _analysis_with(interleaved: int, writable_rounds: int) -> L.Analysis:
    an = L.Analysis()
    an.split_brain.interleaved_writes = interleaved
    an.split_brain.writable_rounds = writable_rounds
    an.split_brain.detected = bool(interleaved or writable_rounds)
    return an


@pytest.mark.parametrize("interleaved, rounds, bounds, failed", [
    (0, 0, {}, False),
    (0, 3, {}, True),                                   # two writable nodes: split brain by default
    (0, 3, {"allow_writable_overlap": True}, False),    # ... accepted where the experiment shows it (frozen leader)
    (2, 0, {"allow_writable_overlap": True}, True),     # interleaved acknowledgements never are
    (2, 3, {"allow_split_brain": True}, False),
])
def test_split_brain_bounds(interleaved, rounds, bounds, failed):
    an = _analysis_with(interleaved, rounds)
    assert mod.split_brain_failed(an, bounds) is failed
    assert any(f.startswith("split brain") for f in mod.evaluate(an, bounds, [], None, False)) is failed
    # The summary's column says whether two primaries acknowledged writes, or were writable unexpectedly.
    row = mod.summary_row("x", True, an, "/r", bounds)
    shown = {k: v for k, v in bounds.items() if k != "allow_split_brain"}
    assert row["split_brain"] is mod.split_brain_failed(an, shown)


def test_ack_overlap_bound():
    an = L.analyze([L.make_record("write", T0, T0 + 0.01, "ok", id=1, server="a", timeline=1),
                    L.make_record("write", T0 + 1, T0 + 1.01, "ok", id=2, server="b", timeline=2),
                    L.make_record("write", T0 + 2, T0 + 2.01, "ok", id=3, server="a", timeline=1)])
    assert an.ack_overlap_s == pytest.approx(1.0)
    failures = mod.evaluate(an, {"max_ack_overlap_s": 0}, [], None, False)
    assert any("still acknowledged writes 1.000 s after" in f and "a (timeline 1)" in f for f in failures)
    assert not any("acknowledged writes" in f for f in mod.evaluate(an, {}, [], None, False))


def _vip(t: float, balancer: str):
    return L.make_record("vip", T0 + t, T0 + t + 0.01, "ok", node="10.0.0.100", balancer=balancer)


def test_vip_moves_bound():
    """max_vip_moves 0 fails on a move and names who answered when; unset, a move is only reported."""
    writes = [L.make_record("write", T0 + t, T0 + t + 0.01, "ok", id=i, server="a", timeline=1)
              for i, t in enumerate((0.0, 1.0, 2.0), 1)]
    an = L.analyze(writes + [_vip(0, "haproxy1"), _vip(1, "haproxy3"), _vip(2, "haproxy1")])
    failures = mod.evaluate(an, {"max_vip_moves": 0}, [], None, False)
    assert any(f.startswith("the VIP moved 2 time(s) > max_vip_moves 0") and "haproxy3 at 1.01 s" in f
               for f in failures), failures
    assert not any("VIP moved" in f for f in mod.evaluate(an, {"max_vip_moves": 2}, [], None, False))
    assert not any("VIP moved" in f for f in mod.evaluate(an, {}, [], None, False))
    still = L.analyze(writes + [_vip(0, "haproxy1"), _vip(1, "haproxy1")])
    assert not any("VIP moved" in f for f in mod.evaluate(still, {"max_vip_moves": 0}, [], None, False))


# ------------------------------------------------------------------------------------------------ alerts
def am(name: str, instance: str, severity: str) -> Dict[str, Any]:
    return {"alertname": name, "instance": instance, "severity": severity, "starts_at": "2023-11-14T22:13:20Z"}


DOWN, CHANGED = am("PatroniMemberDown", "patroni1", "critical"), am("PatroniLeaderChanged", "demo", "info")


def alert_looks() -> List[Dict[str, Any]]:
    """Alertmanager every 0.5 s during make_run (fault at 4.0): PatroniMemberDown on patroni1 from 6.0 to 9.0,
    PatroniLeaderChanged from 7.0 to the end; no answer at 8.0."""
    recs = []
    for k in range(20):
        t = k / 2
        if t == 8.0:
            recs.append(L.make_record("alerts", T0 + t, T0 + t + 1.0, "error", error="URLError: timed out"))
            continue
        firing = ([DOWN] if 6.0 <= t < 9.0 else []) + ([CHANGED] if t >= 7.0 else [])
        recs.append(L.make_record("alerts", T0 + t, T0 + t, "ok", firing=firing))
    return recs


def add_records(run_dir: str, recs: List[Dict[str, Any]]) -> None:
    with open(os.path.join(run_dir, "ledger.jsonl"), "a") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in recs)


def test_report_with_alerts(tmp_path, monkeypatch, run_module):
    run_dir = str(tmp_path / "run")
    ok_ids = make_run(run_dir)
    add_records(run_dir, alert_looks())
    monkeypatch.setattr(mod, "psycopg2", fake_psycopg2(ok_ids))
    alerts = {"expected": ["PatroniMemberDown", "PatroniLeaderChanged", "EtcdMemberDown"], "max_fire_s": 2.5,
              "resolved": {"checked": ["PatroniMemberDown", "PatroniLeaderChanged"],
                           "still_firing": ["PatroniLeaderChanged"], "elapsed_s": 1.5}}
    result = run_module(mod, base_args(tmp_path, alerts=alerts))
    assert not result.get("failed"), result.get("msg")
    assert undocumented_keys(mod, result) == []
    # The alert checks fail the run like the playbook's assertions.
    assert result["passed"] is False
    assert result["failures"] == [
        "assertion failed: alert PatroniLeaderChanged fired within 2.5 s of the fault (+3.0 s on demo)",
        "assertion failed: alert EtcdMemberDown fired after the fault (never seen firing (seen: PatroniMemberDown, "
        "PatroniLeaderChanged))"]
    assert result["summary_row"]["alerts"] == "2/3 fired"
    got = result["alerts"]
    assert (got["answers"], got["errors"], got["fault_t"]) == (19, 1, T0 + 4)
    assert got["fired"] == ["PatroniMemberDown", "PatroniLeaderChanged"]
    assert [(iv["alert"], iv["fired_after_fault_s"], iv["resolved_t"] and iv["resolved_t"] - T0)
            for iv in got["intervals"]] == [("PatroniMemberDown", 2.0, 9.0), ("PatroniLeaderChanged", 3.0, None)]

    with open(result["files"]["json"]) as fh:
        doc = json.load(fh)
    assert doc["alerts"]["expected"] == alerts["expected"] and doc["alerts"]["resolved"] == alerts["resolved"]
    assert doc["alerts"]["intervals"] == got["intervals"] and doc["analysis"]["watches"]["alerts"]["ok"] == 19
    checks = {a["name"]: a for a in doc["assertions"]}
    assert checks["new leader"]["passed"] is True  # the playbook's, first
    assert checks["alert PatroniMemberDown fired after the fault"] == {
        "name": "alert PatroniMemberDown fired after the fault", "passed": True,
        "detail": "patroni1 +2.0 s after the fault"}
    assert checks["alert PatroniMemberDown fired within 2.5 s of the fault"]["passed"] is True
    assert checks["no unexpected critical alert"]["passed"] is True

    md = open(result["files"]["md"]).read()
    assert "| leader_stop | no | 3.020 | 6 | 1 | 0 | no |" in md and md.count("| 2/3 fired |") == 1
    section = md.split("## Alerts")[1].split("## Events")[0]
    assert ("Expected to fire after the fault within 2.5 s: `PatroniMemberDown`, `PatroniLeaderChanged`, "
            "`EtcdMemberDown`.") in section
    assert "Alertmanager answered 19 time(s), 1 look(s) failed" in section
    assert [line for line in section.splitlines() if line.startswith("| ")] == [
        "| alert | instance | severity | fired (s after fault) | resolved (s after fault) | resolved after restore |",
        "| PatroniMemberDown | patroni1 | critical | 2.0 | 5.0 | within 1.5 s |",
        "| PatroniLeaderChanged | demo | info | 3.0 | after the load stopped | still firing |",
    ]
    assert "| alert EtcdMemberDown fired after the fault | no |" in md
    # The plot is drawn with the alerts marked.
    assert os.path.getsize(result["files"]["png"]) > 10000
    assert mod.alert_marks(got["intervals"], T0) == [(6.0, "PatroniMemberDown patroni1 +2.0 s"),
                                                    (7.0, "PatroniLeaderChanged demo +3.0 s")]


def test_report_without_a_monitoring_host(tmp_path, monkeypatch, run_module, fast_png):
    run_dir = str(tmp_path / "run")
    ok_ids = make_run(run_dir)
    add_records(run_dir, alert_looks())
    monkeypatch.setattr(mod, "psycopg2", fake_psycopg2(ok_ids))
    result = run_module(mod, base_args(tmp_path, alerts={"monitoring": False, "expected": ["EtcdMemberDown"]}))
    assert result["passed"] is True, result["failures"]
    assert result["summary_row"]["alerts"] == "-"
    assert result["alerts"]["monitoring"] is False and result["alerts"]["intervals"] == []
    doc = json.load(open(result["files"]["json"]))
    assert [a["name"] for a in doc["assertions"]] == ["new leader"]
    md = open(result["files"]["md"]).read()
    assert md.split("## Alerts")[1].split("## Events")[0].strip() == \
        "No monitoring host in the inventory: alerts not checked."
    assert "| leader_stop | yes | 3.020 | 6 | 1 | 0 | no |" in md


def test_report_without_alert_records(tmp_path, monkeypatch, run_module, fast_png):
    """No alerts option and no alerts watcher (older playbooks): nothing checked; expected alerts without any
    answer from Alertmanager fail."""
    ok_ids = make_run(str(tmp_path / "run"))
    monkeypatch.setattr(mod, "psycopg2", fake_psycopg2(ok_ids))
    result = run_module(mod, base_args(tmp_path))
    assert result["passed"] is True and result["summary_row"]["alerts"] == "-"
    assert "No answer from Alertmanager was recorded (0 failed look(s))" in open(result["files"]["md"]).read()
    result = run_module(mod, base_args(tmp_path, alerts={"expected": ["PatroniMemberDown"]}))
    assert result["failures"] == ["assertion failed: alert PatroniMemberDown fired after the fault (no answer from "
                                  "Alertmanager was recorded)"]
    assert result["summary_row"]["alerts"] == "0/1 fired"


def test_alerts_report_unexpected_critical_and_allowed():
    quorum = am("EtcdQuorumLost", "etcd", "critical")
    recs = [L.make_record("alerts", T0 + t, T0 + t, "ok", firing=f) for t, f in
            ((0.0, []), (5.0, [DOWN, quorum]), (6.0, [DOWN]))]
    events = [L.make_event("fault_injected", t=T0 + 4)]
    doc, checks = mod.alerts_report(recs, events, {"expected": ["PatroniMemberDown"]})
    bad = [c for c in checks if not c["passed"]]
    assert bad == [{"name": "no unexpected critical alert", "passed": False, "detail": "EtcdQuorumLost/etcd at +1.0 s"}]
    assert mod.alerts_summary(doc, checks) == "1/1 fired, unexpected critical"
    doc, checks = mod.alerts_report(recs, events, {"expected": ["PatroniMemberDown"], "allowed": ["EtcdQuorumLost"]})
    assert all(c["passed"] for c in checks) and mod.alerts_summary(doc, checks) == "1/1 fired"
    doc, checks = mod.alerts_report(recs, events, {"allowed": ["EtcdQuorumLost", "PatroniMemberDown"]})
    assert [c["name"] for c in checks] == ["no unexpected critical alert"] and checks[0]["passed"]
    assert mod.alerts_summary(doc, checks) == "none expected"
    assert "Critical alerts allowed without being expected: `EtcdQuorumLost`, `PatroniMemberDown`." in \
        mod.alerts_markdown(doc, T0)


def test_alert_cells_and_marks():
    assert mod.alert_time(T0 + 7.5, T0 + 4, T0) == "3.5" and mod.alert_time(None, T0, T0) == "n/a"
    assert mod.alert_time(T0 + 2, T0 + 4, T0) == "-2.0"  # before the fault
    assert mod.alert_time(T0 + 2, None, T0) == "2.0 after the load started"
    # The summary of chaos/tasks/alerts_resolved.yml's wait.
    waited = {"checked": ["A", "B"], "still_firing": ["B"], "elapsed_s": 31.5}
    assert [mod.restore_cell(waited, n) for n in "ABC"] == ["within 31.5 s", "still firing", "not checked"]
    assert mod.restore_cell(dict(waited, elapsed_s=None), "A") == "resolved"
    intervals = [{"alert": "A", "instance": "", "fired_t": T0 + 1, "firing_at_start": True,
                  "fired_after_fault_s": None},
                 {"alert": "B", "instance": "n1", "fired_t": T0 + 2, "firing_at_start": False,
                  "fired_after_fault_s": None},
                 {"alert": "C", "instance": "", "fired_t": T0 + 9.5, "firing_at_start": False,
                  "fired_after_fault_s": 5.5}]
    assert mod.alert_marks(intervals, T0) == [(2.0, "B n1"), (9.5, "C +5.5 s")]
    assert mod.alert_marks(intervals, None) == [] and len(mod.alert_marks(intervals * 30, T0)) == 20
    assert mod.alerts_markdown({}, T0) == ["No monitoring host in the inventory: alerts not checked."]
    none_fired = {"monitoring": True, "expected": [], "answers": 3, "errors": 0, "intervals": []}
    assert mod.alerts_markdown(none_fired, T0)[-1] == "No alert fired during the run."
