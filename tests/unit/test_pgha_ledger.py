"""chaos/module_utils/pgha_ledger.py on synthetic ledgers: gaps, losses, unknown outcomes, split brain, buckets."""

from __future__ import annotations

import json
import threading
from typing import Any, Dict, List, Optional

import pytest
from ansible.module_utils import pgha_ledger as L

T0 = 1_700_000_000.0
A, B = "172.28.10.11", "172.28.10.12"


def write(i: int, t: float, outcome: str = "ok", server: Optional[str] = A, timeline: Optional[int] = 1,
          dur: float = 0.004) -> Dict[str, Any]:
    ok = outcome == "ok"
    return L.make_record("write", T0 + t, T0 + t + dur, outcome, id=i, server=server if ok else None,
                         timeline=timeline if ok else None, in_recovery=False if ok else None,
                         error=None if ok else "OperationalError: boom")


def read(t: float, outcome: str = "ok", server: str = B) -> Dict[str, Any]:
    return L.make_record("read", T0 + t, T0 + t + 0.002, outcome, server=server if outcome == "ok" else None,
                         in_recovery=True if outcome == "ok" else None, timeline=1 if outcome == "ok" else None,
                         error=None if outcome == "ok" else "refused")


def poll(rnd: int, node: str, writable: Optional[bool], t: Optional[float] = None) -> Dict[str, Any]:
    t = rnd * 0.5 if t is None else t
    if writable is None:
        return L.make_record("poll", T0 + t, T0 + t + 0.002, "error", node=node, round=rnd, error="timeout")
    return L.make_record("poll", T0 + t, T0 + t + 0.002, "ok", node=node, round=rnd, writable=writable,
                         in_recovery=not writable, timeline=1)


def steady(first_id: int, t_from: float, t_to: float, rate: float = 50.0, **kw: Any) -> List[Dict[str, Any]]:
    out = []
    i, t = first_id, t_from
    while t < t_to - 1e-9:
        out.append(write(i, t, **kw))
        i += 1
        t += 1.0 / rate
    return out


def events(start: float = 0.0, stop: float = 10.0, *extra: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [L.make_event(L.LOAD_STARTED, t=T0 + start)] + list(extra) + [L.make_event(L.LOAD_STOPPED, t=T0 + stop)]


def ids(records: List[Dict[str, Any]], outcome: str = "ok") -> List[int]:
    return [r["id"] for r in records if r["kind"] == "write" and r["outcome"] == outcome]


# ------------------------------------------------------------------------------------------- records
def test_make_record_has_every_field_and_validates():
    rec = write(1, 0.0)
    assert set(rec) == set(L.RECORD_FIELDS)
    with pytest.raises(ValueError):
        L.make_record("insert", 1.0, 2.0, "ok")
    with pytest.raises(ValueError):
        L.make_record("write", 1.0, 2.0, "maybe")
    with pytest.raises(ValueError):
        L.make_event("")


def test_jsonl_round_trip_skips_partial_lines(tmp_path):
    path = str(tmp_path / "ledger.jsonl")
    with L.JsonlAppender(path) as app:
        assert app.append(write(1, 0.0))
        assert app.append(write(2, 0.02))
    assert not app.append(write(3, 0.04))  # closed: ignored, never raises
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"kind": "write", "id": 4, "sta')  # a line being written
    assert [r["id"] for r in L.read_jsonl(path)] == [1, 2]
    assert L.read_jsonl(str(tmp_path / "missing.jsonl")) == []


def test_appender_is_thread_safe(tmp_path):
    path = str(tmp_path / "ledger.jsonl")
    app = L.JsonlAppender(path)

    def work(base: int) -> None:
        for i in range(200):
            app.append(write(base + i, i * 0.01))

    threads = [threading.Thread(target=work, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    app.close()
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    assert len(lines) == 800 and all(json.loads(line)["kind"] == "write" for line in lines)


def test_ledger_tail_returns_only_new_complete_lines(tmp_path):
    path = str(tmp_path / "ledger.jsonl")
    tail = L.LedgerTail(path)
    assert tail.poll() == []
    L.append_jsonl(path, write(1, 0.0))
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"kind": "write", "id": 2')
    assert [r["id"] for r in tail.poll()] == [1]
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(', "outcome": "ok"}\n')
    assert [r["id"] for r in tail.poll()] == [2]
    assert tail.poll() == []


def test_count_outcomes():
    recs = [write(1, 0), write(2, 1, "error"), write(3, 2, "unknown"), read(0), read(1, "error"), poll(0, "n1", True)]
    c = L.count_outcomes(recs)
    assert c["write"] == {"ok": 1, "error": 1, "unknown": 1, "total": 3}
    assert c["read"] == {"ok": 1, "error": 1, "unknown": 0, "total": 2}
    assert c["poll"]["ok"] == 1


def test_percentile_nearest_rank():
    assert L.percentile([], 50) is None
    assert L.percentile([5.0], 99) == 5.0
    assert L.percentile(list(range(1, 101)), 50) == 50
    assert L.percentile(list(range(1, 101)), 99) == 99
    # Unsorted input, the ends (chaos/tools/bench_failover.py uses it for its p95).
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert L.percentile(values, 0) == 1.0 and L.percentile(values, 50) == 3.0 and L.percentile(values, 95) == 5.0
    assert L.percentile(values, 100) == 5.0


# ------------------------------------------------------------------------------------------- analysis
def test_clean_run():
    recs = steady(1, 0.0, 10.0)
    an = L.analyze(recs, events(0.0, 10.0), final_ids=ids(recs))
    w = an.writes
    assert w.attempts == 500 and w.ok == 500 and w.failed == 0
    assert w.max_gap_s == pytest.approx(0.02, abs=1e-3)
    assert w.leading_gap_s == pytest.approx(0.004, abs=1e-3)
    assert w.trailing_gap_s == pytest.approx(10.0 - 9.984, abs=1e-3)  # last write 9.98 .. 9.984
    assert w.ok_per_s == 50.0 and w.servers == [A] and w.timelines == [1]
    assert w.latency_ms["p50"] == pytest.approx(4.0, abs=0.01)
    assert an.lost.checked and an.lost.lost == 0 and an.lost.final_rows == 500
    assert not an.split_brain.detected and an.split_brain.detail == "none"
    assert an.duration_s == 10.0
    assert json.loads(json.dumps(an.to_dict()))["writes"]["ok"] == 500


def test_failover_gap_in_the_middle():
    before = steady(1, 0.0, 4.0)
    failed = [write(201, 4.0, "error"), write(202, 5.0, "unknown"), write(203, 6.0, "error")]
    after = steady(204, 7.5, 10.0, server=B, timeline=2)
    recs = before + failed + after
    an = L.analyze(recs, events(0.0, 10.0), final_ids=ids(before) + ids(after))
    w = an.writes
    assert w.error == 2 and w.unknown == 1 and w.failed == 3 and w.ok == 200 + 125
    last_before, first_after = before[-1]["end"], after[0]["end"]
    assert w.gap_start == last_before and w.gap_end == first_after
    assert w.max_gap_s == pytest.approx(first_after - last_before, abs=1e-3)
    assert w.failed_in_gap == 3
    assert w.servers == [A, B] and w.timelines == [1, 2]
    assert w.last_error == "OperationalError: boom"
    assert an.lost.lost == 0 and an.lost.unknown_absent == [202]
    assert not an.split_brain.detected  # A...A then B...B


def test_unknown_outcomes_present_or_absent_are_never_losses():
    recs = steady(1, 0.0, 1.0) + [write(51, 1.0, "unknown"), write(52, 1.1, "unknown")] + steady(53, 1.2, 2.0)
    final = ids(recs) + [51]
    an = L.analyze(recs, final_ids=final)
    assert an.lost.lost == 0 and an.lost.lost_ids == []
    assert an.lost.unknown_present == [51] and an.lost.unknown_absent == [52]
    assert an.lost.error_present == []


def test_acknowledged_id_missing_is_one_loss():
    recs = steady(1, 0.0, 2.0)
    final = [i for i in ids(recs) if i != 37]
    an = L.analyze(recs, final_ids=final)
    assert an.lost.checked and an.lost.lost == 1 and an.lost.lost_ids == [37]
    assert an.lost.acknowledged == 100 and an.lost.final_rows == 99


def test_failed_write_present_in_the_table_is_an_anomaly_not_a_loss():
    recs = steady(1, 0.0, 1.0) + [write(51, 1.0, "error")]
    an = L.analyze(recs, final_ids=ids(recs) + [51, 9999])
    assert an.lost.lost == 0 and an.lost.error_present == [51]
    assert an.lost.final_rows == 51  # 9999 was never attempted by this ledger


def test_lost_writes_unchecked_without_final_ids():
    an = L.analyze(steady(1, 0.0, 1.0))
    assert an.lost.checked is False and an.lost.lost is None and an.lost.acknowledged == 50


def test_interleaved_acknowledgements_from_two_servers_are_split_brain():
    # B takes over at t=2 but A keeps acknowledging at t=3 while B acknowledges until t=4 (overlapping clocks).
    recs = steady(1, 0.0, 2.0) + steady(101, 2.0, 4.0, rate=10, server=B, timeline=2)
    recs.append(write(500, 3.01, server=A, timeline=1, dur=0.05))
    an = L.analyze(recs)
    sb = an.split_brain
    # Interleaving is symmetric: A's late write lies inside B's span, and B's writes 2.0 .. 3.0 inside A's.
    found = {(x["id"], x["inside_server"]) for x in sb.interleaved}
    assert (500, B) in found
    assert {(i, A) for i in range(101, 112)} <= found
    assert sb.detected and sb.interleaved_writes == 12
    assert "12 acknowledged write(s) interleaved" in sb.detail


def test_sequential_a_then_b_is_no_split_brain():
    recs = steady(1, 0.0, 2.0) + steady(101, 2.0, 4.0, server=B, timeline=2)
    assert not L.analyze(recs).split_brain.detected


def test_switch_back_on_a_new_timeline_is_no_split_brain():
    recs = steady(1, 0.0, 2.0) + steady(101, 2.5, 4.0, server=B, timeline=2) + steady(300, 4.5, 6.0, timeline=3)
    assert not L.analyze(recs).split_brain.detected


def test_poll_round_with_two_writable_nodes_is_split_brain():
    polls = []
    for rnd in range(6):
        polls += [poll(rnd, "patroni1", rnd < 4), poll(rnd, "patroni2", rnd >= 3), poll(rnd, "patroni3", None)]
    an = L.analyze(steady(1, 0.0, 3.0) + polls)
    sb = an.split_brain
    assert sb.detected and sb.writable_rounds == 1
    assert sb.rounds[0]["round"] == 3 and sb.rounds[0]["nodes"] == ["patroni1", "patroni2"]
    assert [c["writable"] for c in an.writable_changes] == [["patroni1"], ["patroni1", "patroni2"], ["patroni2"]]
    assert an.polls["error"] == 6 and an.polls["ok"] == 12


def test_poll_rounds_with_a_clean_handover_are_no_split_brain():
    polls = []
    for rnd in range(6):
        polls += [poll(rnd, "patroni1", rnd < 3), poll(rnd, "patroni2", rnd >= 4)]
    an = L.analyze(polls)
    assert not an.split_brain.detected
    assert [c["writable"] for c in an.writable_changes] == [["patroni1"], [], ["patroni2"]]


def test_gaps_at_the_very_start_and_end_are_reported_apart():
    recs = [write(1, 0.1, "error"), write(2, 1.0, "error")] + steady(3, 3.0, 6.0) + [write(999, 8.0, "error")]
    an = L.analyze(recs, events(0.0, 10.0))
    w = an.writes
    assert w.leading_gap_s == pytest.approx(3.004, abs=1e-3)
    assert w.trailing_gap_s == pytest.approx(10.0 - recs[-2]["end"] + T0, abs=1e-3)
    assert w.max_gap_s == pytest.approx(0.02, abs=1e-3)  # the interior is steady


def test_load_window_falls_back_to_the_records():
    recs = steady(1, 1.0, 2.0)
    start, stop = L.load_window(recs)
    assert start == recs[0]["start"] and stop == recs[-1]["end"]
    assert L.load_window(recs, events(0.5, 3.0)) == (T0 + 0.5, T0 + 3.0)
    assert L.load_window(recs, (), load_start=T0, load_stop=T0 + 9) == (T0, T0 + 9)


def test_no_successful_write_makes_the_whole_run_a_gap():
    recs = [write(1, 0.5, "error"), write(2, 1.5, "error")]
    w = L.analyze(recs, events(0.0, 4.0)).writes
    assert w.ok == 0 and w.max_gap_s is None and w.leading_gap_s == 4.0 and w.trailing_gap_s == 4.0


def test_empty_ledger_does_not_crash():
    an = L.analyze([], [], final_ids=[])
    assert an.load_start is None and an.duration_s is None
    assert an.writes.attempts == 0 and an.writes.max_gap_s is None and an.writes.leading_gap_s is None
    assert an.writes.latency_ms["p50"] is None and an.reads.ok == 0
    assert an.lost.lost == 0 and not an.split_brain.detected
    assert L.timeline_buckets([]) == []
    json.dumps(an.to_dict())


def test_reads_have_the_same_figures():
    recs = [read(t / 10) for t in range(20)] + [read(2.0, "error")] + [read(3.0 + t / 10) for t in range(10)]
    r = L.analyze(recs, events(0.0, 4.0)).reads
    assert r.ok == 30 and r.error == 1 and r.servers == [B]
    assert r.max_gap_s == pytest.approx(3.0 - 1.9, abs=1e-3)


# ------------------------------------------------------------------------------------------- buckets
def test_timeline_buckets_count_per_second():
    recs = steady(1, 0.0, 2.0) + [write(101, 2.2, "error"), write(102, 2.4, "unknown")]
    recs += [read(0.5), read(2.5, "error")]
    buckets = L.timeline_buckets(recs, 1.0, t0=T0, t1=T0 + 4.0)
    assert [b["t"] for b in buckets] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert [b["writes_ok"] for b in buckets] == [50, 50, 0, 0, 0]
    assert buckets[0]["reads_ok"] == 1
    assert buckets[2]["errors"] == 3 and buckets[2]["write_errors"] == 1 and buckets[2]["write_unknown"] == 1
    assert buckets[2]["read_errors"] == 1
    assert sum(b["errors"] for b in buckets) == 3


def test_timeline_buckets_defaults_and_sizes():
    recs = steady(1, 0.0, 3.0)
    buckets = L.timeline_buckets(recs, 0.5)
    assert buckets[0]["t"] == 0.0 and len(buckets) == 6
    assert sum(b["writes_ok"] for b in buckets) == 150
    with pytest.raises(ValueError):
        L.timeline_buckets(recs, 0)


def test_relative_events():
    evs = [L.make_event("fault_cleared", t=T0 + 5), L.make_event("fault_injected", "x", t=T0 + 2)]
    out = L.relative_events(evs, T0)
    assert [(e["event"], e["rel"]) for e in out] == [("fault_injected", 2.0), ("fault_cleared", 5.0)]
    assert L.relative_events(evs, None)[0]["rel"] is None


def test_ack_spans_and_a_clean_handover():
    recs = steady(1, 0.0, 2.0) + steady(101, 3.0, 4.0, server=B, timeline=2)
    an = L.analyze(recs)
    assert [(sp["server"], sp["timeline"]) for sp in an.ack_spans] == [(A, 1), (B, 2)]
    assert an.ack_spans[0]["writes"] == 100 and an.ack_spans[1]["first"] > an.ack_spans[0]["last"]
    assert an.ack_overlap_s == 0.0


def test_old_primary_acknowledging_after_the_new_ones_first_is_an_overlap():
    # B's first acknowledgement ends at 2.004; A still acknowledges a write ending at 2.554.
    recs = steady(1, 0.0, 2.0) + steady(101, 2.0, 4.0, server=B, timeline=2)
    recs.append(write(500, 2.5, server=A, timeline=1, dur=0.054))
    an = L.analyze(recs)
    assert an.ack_overlap_s == pytest.approx(0.55, abs=0.001)


def test_one_primary_has_no_overlap_figure():
    assert L.analyze(steady(1, 0.0, 1.0)).ack_overlap_s is None


# ----------------------------------------------------------------------------------------- watch records
def test_watch_records_carry_their_fields_and_old_kinds_stay_as_they_were():
    rec = L.make_record("dcs", T0, T0 + 0.003, "ok", node="https://10.0.0.11:2379", value="patroni1", revision=7)
    assert set(rec) == set(L.RECORD_FIELDS) | set(L.WATCH_FIELDS)
    assert (rec["value"], rec["revision"], rec["up"], rec["balancer"]) == ("patroni1", 7, None, None)
    assert L.make_record("lb", T0, T0, "ok", node="haproxy1", up=("patroni2",))["up"] == ["patroni2"]
    assert set(L.make_record("vip", T0, T0, "error", error="timed out")) >= set(L.WATCH_FIELDS)
    assert set(write(1, 0.0)) == set(L.RECORD_FIELDS)  # ledgers of the load's own kinds read as before
    with pytest.raises(ValueError) as err:
        L.make_record("poll", T0, T0, "ok", up=["patroni1"])
    assert "poll records have no up" in str(err.value)


def test_count_outcomes_counts_the_watchers():
    recs = [L.make_record("dcs", T0, T0, "ok", value="p1"), L.make_record("lb", T0, T0, "error", error="x")]
    an = L.analyze(recs + steady(1, 0.0, 1.0))
    assert an.watches["dcs"]["ok"] == 1 and an.watches["lb"]["error"] == 1 and an.watches["vip"]["total"] == 0
    assert an.writes.ok == 50  # the watchers change no figure of the load


# ----------------------------------------------------------------------------------------- failover phases
C = "172.28.10.13"
ADDRESS = {"patroni1": A, "patroni2": B, "patroni3": C}


def span(t_from: float, t_to: float, every: float) -> List[float]:
    n = int(round((t_to - t_from) / every))
    return [round(t_from + k * every, 6) for k in range(max(0, n))]


def dcs_key(t_from: float, t_to: float, value: Optional[str], revision: int = 100) -> List[Dict[str, Any]]:
    """The leader key read every 0.1 s (3 ms per read)."""
    return [L.make_record("dcs", T0 + t, T0 + t + 0.003, "ok", node="https://10.0.0.12:2379", value=value,
                          revision=None if value is None else revision) for t in span(t_from, t_to, 0.1)]


def pool(balancer: str, t_from: float, t_to: float, up: Optional[List[str]]) -> List[Dict[str, Any]]:
    """A balancer's write pool every 0.1 s; ``up`` None: its stats page does not answer."""
    if up is None:
        return [L.make_record("lb", T0 + t, T0 + t + 1.0, "error", node=balancer, error="timed out")
                for t in span(t_from, t_to, 1.0)]
    return [L.make_record("lb", T0 + t, T0 + t + 0.002, "ok", node=balancer, up=up) for t in span(t_from, t_to, 0.1)]


def vip_answers(t_from: float, t_to: float, balancer: Optional[str]) -> List[Dict[str, Any]]:
    if balancer is None:
        return [L.make_record("vip", T0 + t, T0 + t + 1.0, "error", node="10.0.0.100", error="timed out")
                for t in span(t_from, t_to, 1.0)]
    return [L.make_record("vip", T0 + t, T0 + t + 0.002, "ok", node="10.0.0.100", balancer=balancer,
                          up=["patroni1"]) for t in span(t_from, t_to, 0.1)]


def node_polls(node: str, t_from: float, t_to: float, writable: Optional[bool], timeline: int = 1
               ) -> List[Dict[str, Any]]:
    """One node polled every 0.2 s; ``writable`` None: unreachable."""
    out = []
    for t in span(t_from, t_to, 0.2):
        rnd = int(round(t / 0.2))
        if writable is None:
            out.append(L.make_record("poll", T0 + t, T0 + t + 0.5, "error", node=node, round=rnd, error="timeout"))
        else:
            out.append(L.make_record("poll", T0 + t, T0 + t + 0.002, "ok", node=node, round=rnd,
                                     server=ADDRESS[node], writable=writable, in_recovery=not writable,
                                     timeline=timeline))
    return out


def failing(first_id: int, t_from: float, t_to: float, every: float = 0.2) -> List[Dict[str, Any]]:
    return [write(first_id + k, t, "error") for k, t in enumerate(span(t_from, t_to, every))]


def fault_at(t: float, detail: str = "systemctl stop patroni on patroni1") -> List[Dict[str, Any]]:
    return events(0.0, 30.0, L.make_event(L.FAULT_EVENT, detail, t=T0 + t))


def phases_of(an: L.Analysis) -> Dict[str, Any]:
    return {p["name"]: p for p in an.phases}


def test_graceful_failover_phases():
    """Patroni stopped on patroni1 at 5.0: the key is released at 5.3 and taken by patroni2 at 6.0, patroni2 is
    writable at 6.2, UP on haproxy1 at 7.0 and haproxy2 at 7.3; patroni1 acknowledges writes until 5.4, patroni2
    from 7.2."""
    recs = dcs_key(0, 5.3, "patroni1") + dcs_key(5.3, 6.0, None) + dcs_key(6.0, 10, "patroni2", revision=150)
    recs += node_polls("patroni1", 0, 5.4, True) + node_polls("patroni1", 5.4, 10, False, 2)
    recs += node_polls("patroni2", 0, 6.2, False) + node_polls("patroni2", 6.2, 10, True, 2)
    recs += node_polls("patroni3", 0, 10, False)
    for balancer, up_at in (("haproxy1", 7.0), ("haproxy2", 7.3)):
        recs += pool(balancer, 0, 5.6, ["patroni1"]) + pool(balancer, 5.6, up_at, []) + pool(balancer, up_at, 10,
                                                                                              ["patroni2"])
    recs += vip_answers(0, 10, "haproxy1")
    recs += steady(1, 0.0, 5.4) + failing(300, 5.5, 7.1) + steady(400, 7.2, 10.0, server=B, timeline=2)
    an = L.analyze(recs, fault_at(5.0))
    ph = phases_of(an)
    assert [p["name"] for p in an.phases] == ["fault", "last_write", "leader_key_changed", "promoted",
                                              "haproxy_up[haproxy1]", "haproxy_up[haproxy2]", "vrrp_master",
                                              "vip_moved", "first_write"]
    assert ph["fault"]["at_s"] == 0.0 and ph["fault"]["t"] == T0 + 5.0
    assert ph["leader_key_changed"]["at_s"] == pytest.approx(0.303)
    assert ph["leader_key_changed"]["detail"] == "patroni1 -> no key (mod_revision None)"
    # patroni1's last acknowledged write (5.38 .. 5.384) began the pause.
    assert ph["last_write"]["at_s"] == pytest.approx(0.384) and ph["last_write"]["after"] == "leader_key_changed"
    assert ph["promoted"]["at_s"] == pytest.approx(1.202) and ph["promoted"]["after"] == "last_write"
    assert ph["promoted"]["step_s"] == pytest.approx(0.818)
    assert ph["haproxy_up[haproxy1]"]["at_s"] == pytest.approx(2.002)
    assert ph["haproxy_up[haproxy1]"]["step_s"] == pytest.approx(0.8)
    # patroni1's writes between the fault and 5.4 are not the recovery: the first write on patroni2 is.
    assert ph["first_write"]["at_s"] == pytest.approx(2.204) and ph["first_write"]["after"] == "haproxy_up[haproxy1]"
    assert ph["first_write"]["step_s"] == pytest.approx(0.202)
    # haproxy2 (not on the write path) saw it UP after the first write: its step counts from that write.
    assert ph["haproxy_up[haproxy2]"]["at_s"] == pytest.approx(2.302)
    assert ph["haproxy_up[haproxy2]"]["after"] == "first_write"
    assert ph["vip_moved"]["at_s"] is None and ph["vip_moved"]["step_s"] is None
    fo = an.failover
    assert (fo["old_leader"], fo["new_leader"], fo["new_leader_address"]) == ("patroni1", "patroni2", B)
    assert fo["first_write_server"] == B and fo["balancer_before"] == "haproxy1" and fo["balancer_after"] is None
    assert fo["fault_detail"] == "systemctl stop patroni on patroni1"
    json.dumps(an.to_dict())


def test_crash_failover_phases():
    """patroni1's node killed at 5.0: its key lives until 15.0, patroni2 promotes at 16.0; the writes fail (connect
    timeouts) until 17.3."""
    recs = dcs_key(0, 15.0, "patroni1") + dcs_key(15.0, 15.5, None) + dcs_key(15.5, 30, "patroni2")
    recs += node_polls("patroni1", 0, 5.0, True) + node_polls("patroni1", 5.0, 30, None)
    recs += node_polls("patroni2", 0, 16.0, False) + node_polls("patroni2", 16.0, 30, True, 2)
    recs += pool("haproxy1", 0, 6.0, ["patroni1"]) + pool("haproxy1", 6.0, 17.0, []) + pool("haproxy1", 17, 30,
                                                                                             ["patroni2"])
    recs += steady(1, 0.0, 5.0) + [write(250, 5.0, "unknown", dur=2.0)] + failing(251, 7.2, 17.2, every=2.2)
    recs += steady(300, 17.3, 20.0, server=B, timeline=2)
    ph = phases_of(L.analyze(recs, fault_at(5.0, "patroni1 killed")))
    assert ph["leader_key_changed"]["at_s"] == pytest.approx(10.003)
    assert ph["promoted"]["at_s"] == pytest.approx(11.002)
    assert ph["haproxy_up[haproxy1]"]["at_s"] == pytest.approx(12.002)
    assert ph["first_write"]["at_s"] == pytest.approx(12.304) and ph["first_write"]["detail"].endswith(
        "on %s (timeline 2)" % B)
    assert ph["first_write"]["step_s"] == pytest.approx(0.302)


def test_switchover_phases():
    """POST /switchover at 5.0: the key goes straight from patroni1 to patroni2 at 5.5; patroni1 acknowledges
    writes until it demotes at 5.6."""
    recs = dcs_key(0, 5.5, "patroni1") + dcs_key(5.5, 10, "patroni2", revision=180)
    recs += node_polls("patroni1", 0, 5.6, True) + node_polls("patroni1", 5.6, 10, False, 2)
    recs += node_polls("patroni2", 0, 5.8, False) + node_polls("patroni2", 5.8, 10, True, 2)
    recs += pool("haproxy1", 0, 5.7, ["patroni1"]) + pool("haproxy1", 5.7, 6.5, []) + pool("haproxy1", 6.5, 10,
                                                                                           ["patroni2"])
    recs += steady(1, 0.0, 5.6) + failing(300, 5.7, 6.5) + steady(400, 6.6, 10.0, server=B, timeline=2)
    an = L.analyze(recs, fault_at(5.0, "POST /switchover patroni1 -> patroni2"))
    ph = phases_of(an)
    assert ph["leader_key_changed"]["detail"] == "patroni1 -> patroni2 (mod_revision 180)"
    assert ph["leader_key_changed"]["at_s"] == pytest.approx(0.503)
    assert ph["promoted"]["at_s"] == pytest.approx(0.802)
    assert ph["haproxy_up[haproxy1]"]["at_s"] == pytest.approx(1.502)
    assert ph["first_write"]["at_s"] == pytest.approx(1.604) and an.failover["first_write_server"] == B


def test_vip_holders_list_each_change_and_skip_timeouts():
    """The holder at the start, then each move; a timed-out answer while the VIP moves is no holder."""
    recs = vip_answers(0, 5.0, "haproxy1") + vip_answers(5.0, 7.0, None) + vip_answers(7.1, 10, "haproxy2")
    recs += vip_answers(10, 12, "haproxy1")
    an = L.analyze(recs)
    assert [h["balancer"] for h in an.vip_holders] == ["haproxy1", "haproxy2", "haproxy1"]
    assert an.vip_holders[1]["t"] == pytest.approx(T0 + 7.102)
    assert L.vip_holders([]) == []


def test_vip_holders_without_a_move():
    an = L.analyze(vip_answers(0, 10, "haproxy1"))
    assert [h["balancer"] for h in an.vip_holders] == ["haproxy1"]


def test_vip_move_phases():
    """HAProxy stopped on haproxy1 (the VIP holder) at 5.0: the VIP answers from haproxy2 at 7.1, writes (same
    leader) resume at 7.3 after failing from 5.06."""
    recs = dcs_key(0, 10, "patroni1") + node_polls("patroni1", 0, 10, True) + node_polls("patroni2", 0, 10, False)
    recs += pool("haproxy1", 0, 5.0, ["patroni1"]) + pool("haproxy1", 5.0, 10, None)
    recs += pool("haproxy2", 0, 10, ["patroni1"])
    recs += vip_answers(0, 5.0, "haproxy1") + vip_answers(5.0, 7.0, None) + vip_answers(7.1, 10, "haproxy2")
    # Two writes in flight at the fault still succeed through haproxy1.
    recs += steady(1, 0.0, 5.04) + failing(300, 5.06, 7.2) + steady(400, 7.3, 10.0)
    evs = fault_at(5.0, "systemctl stop haproxy on haproxy1 (VIP holder)")
    evs.insert(-1, L.make_event(L.VRRP_EVENT, "haproxy2: (pgha_vip) Entering MASTER STATE", t=T0 + 6.9))
    an = L.analyze(recs, evs)
    ph = phases_of(an)
    assert ph["vrrp_master"]["at_s"] == pytest.approx(1.9) and ph["vrrp_master"]["after"] == "last_write"
    assert ph["vrrp_master"]["detail"] == "haproxy2: (pgha_vip) Entering MASTER STATE"
    assert ph["vip_moved"]["at_s"] == pytest.approx(2.102) and ph["vip_moved"]["detail"] == "haproxy1 -> haproxy2"
    assert ph["last_write"]["at_s"] == pytest.approx(0.024) and ph["vip_moved"]["after"] == "vrrp_master"
    assert ph["first_write"]["at_s"] == pytest.approx(2.304) and ph["first_write"]["after"] == "vip_moved"
    assert ph["first_write"]["step_s"] == pytest.approx(0.202)
    for name in ("leader_key_changed", "promoted", "haproxy_up[haproxy1]", "haproxy_up[haproxy2]"):
        assert ph[name]["at_s"] is None and ph[name]["t"] is None, name
    fo = an.failover
    assert fo["old_leader"] == "patroni1" and fo["new_leader"] is None
    assert (fo["balancer_before"], fo["balancer_after"], fo["first_write_server"]) == ("haproxy1", "haproxy2", A)


def test_phases_without_a_fault_event_are_all_null():
    recs = dcs_key(0, 2, "patroni1") + pool("haproxy1", 0, 2, ["patroni1"]) + steady(1, 0.0, 2.0)
    an = L.analyze(recs, events(0.0, 2.0))
    assert an.failover["fault_t"] is None and an.failover["old_leader"] is None
    assert [p["name"] for p in an.phases] == ["fault", "last_write", "leader_key_changed", "promoted",
                                              "haproxy_up[haproxy1]", "vrrp_master", "vip_moved", "first_write"]
    assert all(p["t"] is None and p["at_s"] is None and p["step_s"] is None for p in an.phases)
    assert L.analyze([]).phases[0] == {"name": "fault", "t": None, "at_s": None, "step_s": None, "after": None,
                                       "detail": ""}


def test_phases_of_an_old_ledger_without_watchers():
    """Writes only (a ledger from before the watchers): the first write of the recovery is still found."""
    recs = steady(1, 0.0, 5.2) + failing(300, 5.3, 7.0) + steady(400, 7.1, 9.0, server=B, timeline=2)
    for rec in recs:  # the fields old ledgers did not have
        rec.pop("value", None)
    ph = phases_of(L.analyze(recs, fault_at(5.0)))
    assert ph["leader_key_changed"]["at_s"] is None and ph["promoted"]["at_s"] is None
    assert ph["first_write"]["at_s"] == pytest.approx(2.104) and ph["first_write"]["after"] == "last_write"
    assert ph["last_write"]["at_s"] == pytest.approx(0.184)


def test_phases_fall_back_when_a_watcher_is_missing():
    # No dcs watcher: the old leader is the node the polls found writable; the promotion is still timed.
    recs = node_polls("patroni1", 0, 5.4, True) + node_polls("patroni1", 5.4, 10, None)
    recs += node_polls("patroni2", 0, 6.0, False) + node_polls("patroni2", 6.0, 10, True, 2)
    recs += steady(1, 0.0, 5.4) + steady(400, 6.5, 10.0, server=B, timeline=2)
    an = L.analyze(recs, fault_at(5.0), balancers=["haproxy1"])
    ph = phases_of(an)
    assert an.failover["old_leader"] == "patroni1" and an.failover["new_leader"] == "patroni2"
    assert ph["promoted"]["at_s"] == pytest.approx(1.002) and ph["leader_key_changed"]["at_s"] is None
    assert ph["haproxy_up[haproxy1]"]["at_s"] is None  # named by the config, never watched
    assert ph["first_write"]["at_s"] == pytest.approx(1.504)
    # No polls: the new leader is the key's new holder; the first write is the first on another server.
    recs = dcs_key(0, 5.5, "patroni1") + dcs_key(5.5, 10, "patroni2") + pool("haproxy1", 0, 6.2, ["patroni1"])
    recs += pool("haproxy1", 6.2, 10, ["patroni2"]) + steady(1, 0.0, 5.6) + steady(400, 6.5, 10.0, server=B)
    an = L.analyze(recs, fault_at(5.0))
    ph = phases_of(an)
    assert an.failover["new_leader"] == "patroni2" and an.failover["new_leader_address"] is None
    assert ph["promoted"]["at_s"] is None and ph["haproxy_up[haproxy1]"]["at_s"] == pytest.approx(1.202)
    assert ph["first_write"]["at_s"] == pytest.approx(1.504) and an.failover["first_write_server"] == B


def test_phases_survive_odd_records():
    odd = [{"kind": "dcs", "outcome": "ok", "value": "x"}, {"kind": "lb", "start": "soon", "end": None},
           {"kind": "vip", "start": T0 + 6, "end": T0 + 6.1, "outcome": "ok", "balancer": "haproxy9"},
           {"kind": "lb", "start": T0 + 6, "end": T0 + 6.1, "outcome": "ok", "node": "haproxy1", "up": None},
           {"kind": "poll", "start": T0 + 6, "end": T0 + 6.1, "outcome": "ok", "writable": True}]
    an = L.analyze(odd + steady(1, 0.0, 3.0), fault_at(2.0) + [{"event": "fault_injected", "t": "later"}])
    assert an.failover["fault_t"] == T0 + 2.0 and an.phases[-1]["name"] == "first_write"
    json.dumps(an.to_dict())


def test_fault_gaps_measure_each_fault_on_its_own():
    """HAProxy stopped at 5.0 (writes pause 5.04 .. 6.0), the balancer killed at 20.0 (pause 20.5 .. 23.0): each
    fault gets its own pause; the longer one does not hide the shorter."""
    recs = steady(1, 0.0, 5.04) + steady(300, 6.0, 20.5) + steady(2000, 23.0, 30.0)
    evs = events(0.0, 30.0, L.make_event(L.FAULT_EVENT, "systemctl stop haproxy on haproxy1", t=T0 + 5.0),
                 L.make_event("vip_moved", "VIP on haproxy2", t=T0 + 6.5),
                 L.make_event("node_killed", "balancer haproxy2 killed (docker)", t=T0 + 20.0))
    an = L.analyze(recs, evs)
    gaps = an.fault_gaps
    assert [g["event"] for g in gaps] == [L.FAULT_EVENT, "node_killed"]
    assert gaps[0]["gap_s"] == pytest.approx(0.98, abs=0.03) and gaps[0]["gap_end"] == pytest.approx(T0 + 6.004)
    assert gaps[1]["gap_s"] == pytest.approx(2.52, abs=0.03)
    assert gaps[1]["detail"] == "balancer haproxy2 killed (docker)"
    assert an.writes.max_gap_s == pytest.approx(gaps[1]["gap_s"])


def test_fault_gaps_without_writes_after_the_fault():
    recs = steady(1, 0.0, 5.0)
    an = L.analyze(recs, events(0.0, 10.0, L.make_event(L.FAULT_EVENT, "x", t=T0 + 6.0)))
    assert an.fault_gaps == [{"event": L.FAULT_EVENT, "detail": "x", "t": T0 + 6.0, "gap_s": None,
                              "gap_start": None, "gap_end": None}]


# ------------------------------------------------------------------------------------------- recovery
def _pitr_run() -> List[Dict[str, Any]]:
    """Timeline 3 writes 0-10 s (ids 0-99), the restore (no writes 10-20 s), timeline 4 writes 20-22 s."""
    return steady(0, 0.0, 10.0, rate=10.0, timeline=3) + steady(100, 20.0, 22.0, rate=10.0, timeline=4)


def test_recovery_keeps_what_came_before_the_target_and_drops_the_rest():
    records = _pitr_run()
    target = L.make_event(L.RECOVERY_TARGET, t=T0 + 5.0)
    restore = L.make_event(L.RESTORE_STARTED, t=T0 + 12.0)
    # Ids 0-49 ended before 5.0 s; 50 started at exactly 5.0 s: gone; the restored cluster's 100-119 are there.
    final = list(range(50)) + list(range(100, 120))
    an = L.analyze(records, events(0.0, 22.0, target, restore), final)
    rc = an.recovery
    assert rc is not None and rc.restored_timeline == 4 and rc.target == T0 + 5.0
    assert rc.recovery_time_s == pytest.approx(8.004, abs=0.001)  # 12.0 s -> the first new write's end
    assert (rc.kept, rc.missing_kept, rc.discarded, rc.present_discarded) == (50, [], 50, [])
    assert (rc.new_writes, rc.missing_new, rc.straddling) == (20, [], 0)
    assert an.lost.lost == 0


def test_recovery_missing_before_and_present_after_the_target():
    records = _pitr_run()
    target = L.make_event(L.RECOVERY_TARGET, t=T0 + 5.0)
    final = [i for i in range(60) if i != 7] + list(range(100, 119))  # 7 and 119 lost, 50-59 kept too long
    an = L.analyze(records, events(0.0, 22.0, target), final)
    rc = an.recovery
    assert rc.missing_kept == [7] and rc.present_discarded == list(range(50, 60)) and rc.missing_new == [119]
    assert an.lost.lost == 2 and an.lost.lost_ids == [7, 119]


def test_write_in_flight_at_the_target_counts_either_way():
    records = [write(1, 4.999, timeline=3, dur=0.01), write(2, 20.0, timeline=4)]
    target = L.make_event(L.RECOVERY_TARGET, t=T0 + 5.0)
    for final in ([2], [1, 2]):
        rc = L.analyze(records, events(0.0, 21.0, target), final).recovery
        assert rc.straddling == 1 and rc.missing_kept == [] and rc.present_discarded == []


def test_no_recovery_without_the_event():
    assert L.analyze(_pitr_run(), events(0.0, 22.0), list(range(120))).recovery is None


def test_recovery_loss_window_of_a_restore_from_the_archive_alone():
    records = steady(0, 0.0, 10.0, rate=10.0, timeline=3) + steady(100, 20.0, 21.0, rate=10.0, timeline=4)
    target = L.make_event(L.RECOVERY_TARGET, t=T0 + 10.0)
    final = list(range(80)) + list(range(100, 110))  # the last 2 s before the loss were not archived
    rc = L.analyze(records, events(0.0, 21.0, target), final).recovery
    assert rc.missing_kept == list(range(80, 100)) and rc.loss_window_s == pytest.approx(1.996, abs=0.01)


# ------------------------------------------------------------------------------------------------ alerts
def firing(alertname: str, instance: str = "patroni1", severity: str = "critical") -> Dict[str, Any]:
    return {"alertname": alertname, "instance": instance, "severity": severity,
            "starts_at": "2023-11-14T22:13:%02dZ" % (len(alertname) % 60)}


def look(t: float, *alerts: Dict[str, Any], outcome: str = "ok") -> Dict[str, Any]:
    """One answer of Alertmanager (50 ms); ``outcome`` error: it did not answer."""
    if outcome != "ok":
        return L.make_record("alerts", T0 + t, T0 + t + 1.0, outcome, error="URLError: timed out")
    return L.make_record("alerts", T0 + t, T0 + t + 0.05, "ok", firing=list(alerts))


FAULT = L.make_event(L.FAULT_EVENT, "stop patroni1", t=T0 + 10.0)


def test_alerts_records_carry_the_firing_alerts():
    rec = look(1.0, firing("PatroniMemberDown"))
    assert set(rec) == set(L.RECORD_FIELDS) | set(L.WATCH_FIELDS) and rec["firing"][0]["instance"] == "patroni1"
    assert L.make_record("dcs", T0, T0, "ok", value="p1")["firing"] is None
    with pytest.raises(ValueError) as err:
        L.make_record("write", T0, T0, "ok", id=1, firing=[])
    assert "write records have no firing" in str(err.value)
    an = L.analyze(steady(1, 0.0, 1.0) + [rec, look(2.0, outcome="error")])
    assert an.watches["alerts"] == {"ok": 1, "error": 1, "unknown": 0, "total": 2} and an.writes.ok == 50
    assert L.count_outcomes([rec])["alerts"]["ok"] == 1


def test_alert_intervals_open_close_and_reopen():
    down, lag = firing("PatroniMemberDown"), firing("PatroniReplicaLagging", "patroni3", "warning")
    recs = [look(0.0), look(9.0), look(12.0, down), look(13.0, down, lag), look(14.0, outcome="error"),
            look(15.0, lag), look(20.0, down, lag), look(21.0, down)]
    # Out of order in the file: the answers are taken by their end.
    out = L.alert_intervals(list(reversed(recs)), events(0.0, 22.0, FAULT))
    assert [(iv["alert"], iv["instance"], iv["fired_t"] - T0, iv["resolved_t"] and iv["resolved_t"] - T0)
            for iv in out] == [
        ("PatroniMemberDown", "patroni1", pytest.approx(12.05), pytest.approx(15.05)),
        ("PatroniReplicaLagging", "patroni3", pytest.approx(13.05), pytest.approx(21.05)),
        ("PatroniMemberDown", "patroni1", pytest.approx(20.05), None),  # reopened; still firing at the end
    ]
    first, lagging, again = out
    # The error at 14.0 neither resolved nor reopened anything.
    assert first["duration_s"] == pytest.approx(3.0) and again["duration_s"] == pytest.approx(1.0)
    assert first["fired_after_fault_s"] == pytest.approx(2.05) and again["fired_after_fault_s"] == pytest.approx(10.05)
    assert first["firing_at_start"] is False and (first["severity"], lagging["severity"]) == ("critical", "warning")
    assert first["starts_at"] == down["starts_at"]


def test_alert_firing_at_start_or_before_the_fault():
    old, early = firing("PatroniLeaderChanged", "demo", "info"), firing("EtcdMemberDown", "etcd1")
    recs = [look(0.0, old), look(5.0, old, early), look(11.0, early), look(12.0)]
    out = {iv["alert"]: iv for iv in L.alert_intervals(recs, events(0.0, 13.0, FAULT))}
    assert out["PatroniLeaderChanged"]["firing_at_start"] is True
    assert out["PatroniLeaderChanged"]["resolved_t"] == T0 + 11.05
    assert out["EtcdMemberDown"]["firing_at_start"] is False and out["EtcdMemberDown"]["fired_after_fault_s"] is None
    # Without a fault event, nothing fired "after the fault".
    assert all(iv["fired_after_fault_s"] is None for iv in L.alert_intervals(recs, events(0.0, 13.0)))
    assert L.alert_intervals([look(1.0, outcome="error")] + steady(1, 0.0, 1.0), [FAULT]) == []


def test_alert_instance_and_name_keep_intervals_apart():
    a, b = firing("PatroniMemberDown", "patroni1"), firing("PatroniMemberDown", "patroni2")
    out = L.alert_intervals([look(0.0), look(11.0, a), look(12.0, a, b), look(13.0, b)], [FAULT])
    assert [(iv["instance"], iv["resolved_t"] and round(iv["resolved_t"] - T0, 2)) for iv in out] == [
        ("patroni1", 13.05), ("patroni2", None)]


def _checks(recs: List[Dict[str, Any]], expected: List[str], **kw: Any) -> Dict[str, Dict[str, Any]]:
    intervals = L.alert_intervals(recs, events(0.0, 200.0, FAULT))
    answered = any(r["kind"] == "alerts" and r["outcome"] == "ok" for r in recs)
    return {c["name"]: c for c in L.alert_checks(intervals, expected, answered=answered, **kw)}


def test_alert_checks_expected_alerts_fired_within_the_bound():
    down, changed = firing("PatroniMemberDown"), firing("PatroniLeaderChanged", "demo", "info")
    recs = [look(0.0), look(40.0, changed), look(82.25, changed, down), look(150.0)]
    checks = _checks(recs, ["PatroniMemberDown", "PatroniLeaderChanged"], max_fire_s=60)
    assert list(checks) == [
        "alert PatroniMemberDown fired after the fault", "alert PatroniMemberDown fired within 60 s of the fault",
        "alert PatroniLeaderChanged fired after the fault", "alert PatroniLeaderChanged fired within 60 s of the fault",
        "no unexpected critical alert"]
    assert checks["alert PatroniMemberDown fired after the fault"] == {
        "name": "alert PatroniMemberDown fired after the fault", "passed": True,
        "detail": "patroni1 +72.3 s after the fault"}
    bound = checks["alert PatroniMemberDown fired within 60 s of the fault"]
    assert bound["passed"] is False and bound["detail"] == "+72.3 s on patroni1"  # the bound exceeded
    assert checks["alert PatroniLeaderChanged fired within 60 s of the fault"]["passed"] is True
    assert checks["no unexpected critical alert"] == {"name": "no unexpected critical alert", "passed": True,
                                                      "detail": "none"}
    # Without a bound, only whether they fired.
    assert len(_checks(recs, ["PatroniMemberDown"])) == 2


def test_alert_checks_an_alert_firing_at_the_start_did_not_fire():
    down = firing("PatroniMemberDown")
    checks = _checks([look(0.0, down), look(20.0, down), look(30.0)], ["PatroniMemberDown", "EtcdNoLeader"],
                     max_fire_s=60)
    fired = checks["alert PatroniMemberDown fired after the fault"]
    assert fired["passed"] is False and fired["detail"] == "never seen firing after the fault: patroni1 firing at " \
                                                           "the start"
    never = checks["alert EtcdNoLeader fired after the fault"]
    assert never["passed"] is False and never["detail"] == "never seen firing (seen: PatroniMemberDown)"
    assert not any("within" in name for name in checks)  # no time to bound
    assert checks["no unexpected critical alert"]["passed"] is True  # firing before the run: not this run's
    before = _checks([look(0.0), look(5.0, down), look(20.0)], ["PatroniMemberDown"])
    assert before["alert PatroniMemberDown fired after the fault"]["detail"].endswith("patroni1 fired before any fault")
    nothing = _checks([look(0.0)], ["X"])["alert X fired after the fault"]
    assert nothing["detail"] == "never seen firing (seen: no alert)"


def test_alert_checks_unexpected_critical_alert():
    down, quorum = firing("PatroniMemberDown"), firing("EtcdQuorumLost", "etcd", "CRITICAL")
    lag = firing("PatroniReplicaLagging", "patroni3", "warning")
    recs = [look(0.0), look(5.0, quorum), look(25.0, down, lag), look(30.0)]
    check = _checks(recs, ["PatroniMemberDown"])["no unexpected critical alert"]
    assert check["passed"] is False and check["detail"] == "EtcdQuorumLost/etcd before any fault"
    recs = [look(0.0), look(25.0, down, quorum, lag), look(30.0)]
    check = _checks(recs, ["PatroniMemberDown"])["no unexpected critical alert"]
    assert check["detail"] == "EtcdQuorumLost/etcd at +15.1 s"  # a warning never counts
    assert _checks(recs, ["PatroniMemberDown"], allowed=["EtcdQuorumLost"])["no unexpected critical alert"]["passed"]
    assert _checks(recs, ["PatroniMemberDown"], severities_fail=("warning",))["no unexpected critical alert"][
        "detail"] == "PatroniReplicaLagging/patroni3 at +15.1 s"


def test_alert_checks_without_an_answer_from_alertmanager():
    assert L.alert_checks([], [], answered=False) == []
    assert _checks([look(5.0, outcome="error")], []) == {}
    checks = L.alert_checks([], ["PatroniMemberDown", "PatroniMemberDown", "EtcdMemberDown"], max_fire_s=10,
                            answered=False)
    assert checks == [{"name": "alert PatroniMemberDown fired after the fault", "passed": False,
                       "detail": "no answer from Alertmanager was recorded"},
                      {"name": "alert EtcdMemberDown fired after the fault", "passed": False,
                       "detail": "no answer from Alertmanager was recorded"}]
    # Answers without any alert: nothing unexpected, nothing expected fired.
    assert [c["passed"] for c in L.alert_checks([], ["X"])] == [False, True]
