# -*- coding: utf-8 -*-
# Ledger of the chaos experiments' client load: record format, JSONL files and the analysis.
#
# Pure standard library, no Ansible import: modules use it as ``ansible.module_utils.pgha_ledger`` (Ansible
# ships it with them), chaos/tools/pgha_loadprobe.py and bench_failover.py import it as a plain module
# (``chaos/module_utils/`` on sys.path).
"""Ledger records (one JSON object per line), events, and what they tell about availability and safety.

Record (``kind`` write / read / poll)::

    {"kind": "write", "id": 17, "start": 1732570000.12, "end": 1732570000.13, "outcome": "ok",
     "server": "172.28.10.11", "timeline": 1, "in_recovery": false, "error": null,
     "node": null, "writable": null, "round": null}

Watch record (``kind`` dcs / lb / vip / alerts): the same fields plus ``value``, ``revision``, ``up``,
``balancer`` and ``firing`` (records of the other kinds never carry these, so ledgers written before the watchers
read the same; a watch record written before the alerts watcher has no ``firing``)::

    {"kind": "dcs", "start": ..., "end": ..., "outcome": "ok", "node": "https://172.28.10.12:2379",
     "value": "patroni1", "revision": 1234, "up": null, "balancer": null, "firing": null, ...}

* write: ``id`` is the attempt's row id; ``outcome`` ok = COMMIT returned, error = failed before COMMIT was
  sent (certainly not written), unknown = the connection broke while COMMIT was in flight (maybe written).
* read: ``server``/``in_recovery``/``timeline`` of the server that answered through the read port.
* poll: one node asked directly (``node``); ``writable`` = not ``pg_is_in_recovery()``; every node of one
  poll round shares ``round``.
* dcs: the Patroni leader key read from etcd; ``node`` = the endpoint that answered, ``value`` = the leader's
  member name (null: no leader key), ``revision`` = the key's mod_revision.
* lb: one balancer's HAProxy stats (``node`` = the balancer); ``up`` = the servers UP in its write backend.
* vip: HAProxy's ``/balancer`` page through the VIP (``node`` = the VIP); ``balancer`` = the balancer that
  answered, i.e. holds the VIP (null for an empty page).
* alerts: Alertmanager's active alerts (neither silenced nor inhibited); ``firing`` = one
  ``{"alertname", "instance", "severity", "starts_at"}`` per alert, sorted by alertname and instance
  (``starts_at`` as Alertmanager gave it). alert_intervals() turns them into firing intervals.

Event: ``{"t": epoch, "event": "fault_injected", "detail": "stopped patroni on patroni1"}``; the load
client itself writes ``load_started`` and ``load_stopped``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import threading
import time
from typing import IO, Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

KINDS = ("write", "read", "poll", "dcs", "lb", "vip", "alerts")
# The watchers' kinds: their records carry WATCH_FIELDS besides RECORD_FIELDS.
WATCH_KINDS = ("dcs", "lb", "vip", "alerts")
OUTCOMES = ("ok", "error", "unknown")
RECORD_FIELDS = ("kind", "id", "start", "end", "outcome", "server", "timeline", "in_recovery", "error", "node",
                 "writable", "round")
WATCH_FIELDS = ("value", "revision", "up", "balancer", "firing")
# The event a failover's phases count from (its first occurrence).
FAULT_EVENT = "fault_injected"
# Events that break something, each measured on its own by fault_gaps() (an experiment may inject several,
# e.g. HAProxy stopped, then the balancer killed).
FAULT_EVENTS = (FAULT_EVENT, "node_killed")
# keepalived's transition to MASTER on a balancer, read from its log after the VIP moved and marked at its time.
VRRP_EVENT = "vrrp_master"
LOAD_STARTED = "load_started"
# The point a point-in-time recovery goes back to (chaos/pitr.yml marks it; Recovery checks the table against it).
RECOVERY_TARGET = "recovery_target"
# When the restore command began (the recovery time runs from here to the restored cluster's first write).
RESTORE_STARTED = "restore_started"
LOAD_STOPPED = "load_stopped"
# How many ids / details the analysis keeps in lists (the counts are always complete).
LIST_LIMIT = 100

Record = Dict[str, Any]


# --------------------------------------------------------------------------------------------- records
def make_record(
    kind: str,
    start: float,
    end: float,
    outcome: str,
    id: Optional[int] = None,  # noqa: A002 - the field is called id in the ledger
    server: Optional[str] = None,
    timeline: Optional[int] = None,
    in_recovery: Optional[bool] = None,
    error: Optional[str] = None,
    node: Optional[str] = None,
    writable: Optional[bool] = None,
    round: Optional[int] = None,  # noqa: A002 - the field is called round in the ledger
    value: Optional[str] = None,
    revision: Optional[int] = None,
    up: Optional[Sequence[str]] = None,
    balancer: Optional[str] = None,
    firing: Optional[Sequence[Mapping[str, Any]]] = None,
) -> Record:
    """Build one ledger record with every field of its kind present (None where it does not apply).

    Watch records (WATCH_KINDS) also have WATCH_FIELDS; giving one of those to another kind is an error.
    """
    if kind not in KINDS:
        raise ValueError("kind must be one of %s, got %r" % (", ".join(KINDS), kind))
    if outcome not in OUTCOMES:
        raise ValueError("outcome must be one of %s, got %r" % (", ".join(OUTCOMES), outcome))
    rec: Record = {
        "kind": kind, "id": id, "start": round_t(start), "end": round_t(end), "outcome": outcome,
        "server": server, "timeline": timeline, "in_recovery": in_recovery, "error": error,
        "node": node, "writable": writable, "round": round,
    }
    watch = {"value": value, "revision": revision, "up": None if up is None else list(up), "balancer": balancer,
             "firing": None if firing is None else [dict(alert) for alert in firing]}
    if kind in WATCH_KINDS:
        rec.update(watch)
    elif any(v is not None for v in watch.values()):
        raise ValueError("%s records have no %s" % (kind, ", ".join(k for k, v in watch.items() if v is not None)))
    return rec


def make_event(event: str, detail: str = "", t: Optional[float] = None) -> Dict[str, Any]:
    """One event line; ``t`` defaults to now."""
    if not event:
        raise ValueError("an event needs a name")
    return {"t": round_t(time.time() if t is None else t), "event": str(event), "detail": str(detail or "")}


def round_t(t: float) -> float:
    """Epoch seconds with microsecond precision (keeps the JSON short)."""
    return round(float(t), 6)


# ------------------------------------------------------------------------------------------ JSONL files
def _line(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), default=str) + "\n"


class JsonlAppender:
    """Append JSON lines to a file from several threads; each line is flushed at once.

    After ``close()`` further appends are ignored (returns False), so a thread that finishes late never
    writes into a closed file.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fh: Optional[IO[str]] = open(path, "a", encoding="utf-8")

    def append(self, obj: Mapping[str, Any]) -> bool:
        line = _line(obj)
        with self._lock:
            if self._fh is None:
                return False
            self._fh.write(line)
            self._fh.flush()
            return True

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def __enter__(self) -> "JsonlAppender":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def append_jsonl(path: str, obj: Mapping[str, Any]) -> None:
    """Append one line with a single O_APPEND write (safe next to another process appending)."""
    data = _line(obj).encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _parse(line: str) -> Optional[Record]:
    line = line.strip()
    if not line:
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def iter_jsonl(path: str) -> Iterator[Record]:
    """Yield the JSON objects of a JSONL file; a missing file is empty, unparsable lines are skipped."""
    try:
        fh = open(path, encoding="utf-8")
    except FileNotFoundError:
        return
    with fh:
        for line in fh:
            obj = _parse(line)
            if obj is not None:
                yield obj


def read_jsonl(path: str) -> List[Record]:
    return list(iter_jsonl(path))


class LedgerTail:
    """Read the records appended to a ledger since the last call (complete lines only)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0

    def poll(self) -> List[Record]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        out = []
        for raw in data[:end + 1].splitlines():
            obj = _parse(raw.decode("utf-8", "replace"))
            if obj is not None:
                out.append(obj)
        return out


def count_outcomes(records: Iterable[Record]) -> Dict[str, Dict[str, int]]:
    """``{"write": {"ok", "error", "unknown", "total"}, "read": {...}, "poll": {...}, ...}``, every kind."""
    counts = {kind: {"ok": 0, "error": 0, "unknown": 0, "total": 0} for kind in KINDS}
    for rec in records:
        bucket = counts.get(str(rec.get("kind")))
        if bucket is None:
            continue
        bucket["total"] += 1
        if rec.get("outcome") in OUTCOMES:
            bucket[rec["outcome"]] += 1
    return counts


# ------------------------------------------------------------------------------------------- analysis
@dataclasses.dataclass
class OpStats:
    """Availability of one kind of operation (writes or reads)."""

    attempts: int = 0
    ok: int = 0
    error: int = 0
    unknown: int = 0
    failed: int = 0  # error + unknown
    first_ok: Optional[float] = None  # end of the first ok operation (epoch)
    last_ok: Optional[float] = None
    max_gap_s: Optional[float] = None  # longest time between the ends of two consecutive ok operations
    gap_start: Optional[float] = None  # end of the last ok operation before that gap
    gap_end: Optional[float] = None  # end of the first ok operation after it
    failed_in_gap: int = 0  # failed attempts that started inside that gap
    leading_gap_s: Optional[float] = None  # load start -> end of the first ok operation
    trailing_gap_s: Optional[float] = None  # end of the last ok operation -> load stop
    ok_per_s: Optional[float] = None  # ok operations per second of load
    latency_ms: Dict[str, Optional[float]] = dataclasses.field(default_factory=dict)  # p50/p90/p99/max of ok
    servers: List[str] = dataclasses.field(default_factory=list)  # servers of ok operations, in order of first use
    timelines: List[int] = dataclasses.field(default_factory=list)
    first_error: Optional[str] = None
    last_error: Optional[str] = None


@dataclasses.dataclass
class LostWrites:
    """Acknowledged writes compared with the ids found in the table at the end."""

    checked: bool = False  # False when the final ids were not available
    acknowledged: int = 0
    final_rows: Optional[int] = None  # rows of this run in the table that the ledger attempted
    lost: Optional[int] = None  # acknowledged (ok) ids missing from the table
    lost_ids: List[int] = dataclasses.field(default_factory=list)
    unknown_present: List[int] = dataclasses.field(default_factory=list)  # outcome unknown, row exists
    unknown_absent: List[int] = dataclasses.field(default_factory=list)  # outcome unknown, row missing
    error_present: List[int] = dataclasses.field(default_factory=list)  # anomaly: "failed" write that exists


@dataclasses.dataclass
class Recovery:
    """A point-in-time recovery to ``target`` (the ``recovery_target`` event) checked against the ledger.

    Writes acknowledged by the cluster before the restore (any timeline but the restored one) must be in the
    table when they were acknowledged before the target, and gone when they started after it (those straddling
    it may be either). Writes acknowledged on the restored timeline (the last one) must all be there.
    """

    target: Optional[float] = None
    restored_timeline: Optional[int] = None
    kept: int = 0  # acknowledged before the target: must be present
    missing_kept: List[int] = dataclasses.field(default_factory=list)
    discarded: int = 0  # acknowledged, started after the target, before the restore: must be gone
    present_discarded: List[int] = dataclasses.field(default_factory=list)
    straddling: int = 0  # in flight at the target: either way
    new_writes: int = 0  # acknowledged by the restored cluster
    missing_new: List[int] = dataclasses.field(default_factory=list)
    # Seconds between the earliest-acknowledged missing write and the target: how far back the loss reaches
    # (a restore from the archive alone loses at most archive_timeout of writes). None when nothing is missing.
    loss_window_s: Optional[float] = None
    # From the restore_started event to the first write the restored cluster acknowledged: the recovery time
    # as the application sees it (None without the event or without such a write).
    recovery_time_s: Optional[float] = None


@dataclasses.dataclass
class SplitBrain:
    """Evidence of two primaries at the same time."""

    detected: bool = False
    interleaved_writes: int = 0  # acknowledged writes inside another server's acknowledgement span
    interleaved: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    writable_rounds: int = 0  # poll rounds where two or more nodes were writable
    rounds: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    detail: str = "none"


@dataclasses.dataclass
class Analysis:
    load_start: Optional[float] = None
    load_stop: Optional[float] = None
    duration_s: Optional[float] = None
    writes: OpStats = dataclasses.field(default_factory=OpStats)
    reads: OpStats = dataclasses.field(default_factory=OpStats)
    polls: Dict[str, int] = dataclasses.field(default_factory=dict)
    lost: LostWrites = dataclasses.field(default_factory=LostWrites)
    split_brain: SplitBrain = dataclasses.field(default_factory=SplitBrain)
    # Which nodes answered writable=true, each time that set changed (from the poll rounds).
    writable_changes: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    # Per (server, timeline), in the order they began: first and last acknowledged write (their end times).
    ack_spans: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    # Seconds an earlier primary still acknowledged writes after the next one acknowledged its first
    # (0.0 for a clean handover; None with fewer than two primaries).
    ack_overlap_s: Optional[float] = None
    # Which balancer answered the VIP, each time that changed (from the vip watcher's records): the first entry
    # is the holder at the start, each further one a move.
    vip_holders: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    # The watchers' attempts by kind (dcs, lb, vip, alerts) and outcome; all 0 without watchers.
    watches: Dict[str, Dict[str, int]] = dataclasses.field(default_factory=dict)
    # The failover after the first fault_injected event (failover_phases()): what changed (old and new leader,
    # balancer, ...) and, phase by phase, when.
    failover: Dict[str, Any] = dataclasses.field(default_factory=dict)
    phases: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    # Per fault event (FAULT_EVENTS), the longest write pause that began before the next fault: what that
    # fault alone cost the client.
    fault_gaps: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    # Set when the run has a recovery_target event (the PITR drill): what the restore kept and dropped.
    recovery: Optional[Recovery] = None

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


def percentile(values: Sequence[float], pct: float) -> Optional[float]:
    """Nearest-rank percentile of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, int(math.ceil(pct / 100.0 * len(ordered))))
    return ordered[min(rank, len(ordered)) - 1]


def _r(value: Optional[float], digits: int = 3) -> Optional[float]:
    return None if value is None else round(value, digits)


def load_window(
    records: Sequence[Record],
    events: Sequence[Mapping[str, Any]] = (),
    load_start: Optional[float] = None,
    load_stop: Optional[float] = None,
) -> Tuple[Optional[float], Optional[float]]:
    """Start and stop of the load: given values, else the load_started/load_stopped events, else the records."""
    if load_start is None:
        starts = [e["t"] for e in events if e.get("event") == LOAD_STARTED and _num(e.get("t"))]
        load_start = min(starts) if starts else None
    if load_stop is None:
        stops = [e["t"] for e in events if e.get("event") == LOAD_STOPPED and _num(e.get("t"))]
        load_stop = max(stops) if stops else None
    timed = [r for r in records if _num(r.get("start")) and _num(r.get("end"))]
    if load_start is None and timed:
        load_start = min(r["start"] for r in timed)
    if load_stop is None and timed:
        load_stop = max(r["end"] for r in timed)
    return load_start, load_stop


def _num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def op_stats(records: Sequence[Record], load_start: Optional[float], load_stop: Optional[float]) -> OpStats:
    """Counts, gaps and latency of one kind of operation (records already filtered by kind)."""
    st = OpStats()
    ok_ends: List[float] = []
    latencies: List[float] = []
    failed_starts: List[float] = []
    for rec in records:
        st.attempts += 1
        outcome = rec.get("outcome")
        if outcome == "ok" and _num(rec.get("end")):
            st.ok += 1
            ok_ends.append(float(rec["end"]))
            if _num(rec.get("start")):
                latencies.append((float(rec["end"]) - float(rec["start"])) * 1000.0)
            server = rec.get("server")
            if server and server not in st.servers:
                st.servers.append(server)
            tl = rec.get("timeline")
            if isinstance(tl, int) and tl not in st.timelines:
                st.timelines.append(tl)
        elif outcome == "unknown":
            st.unknown += 1
        else:
            st.error += 1
        if outcome != "ok":
            if _num(rec.get("start")):
                failed_starts.append(float(rec["start"]))
            if rec.get("error"):
                st.first_error = st.first_error or rec["error"]
                st.last_error = rec["error"]
    st.failed = st.error + st.unknown
    ok_ends.sort()
    if ok_ends:
        st.first_ok, st.last_ok = ok_ends[0], ok_ends[-1]
        for prev, nxt in zip(ok_ends, ok_ends[1:]):
            if st.max_gap_s is None or nxt - prev > st.max_gap_s:
                st.max_gap_s, st.gap_start, st.gap_end = nxt - prev, prev, nxt
        if st.gap_start is not None and st.gap_end is not None:
            st.failed_in_gap = sum(1 for s in failed_starts if st.gap_start <= s <= st.gap_end)
        if load_start is not None:
            st.leading_gap_s = max(0.0, ok_ends[0] - load_start)
        if load_stop is not None:
            st.trailing_gap_s = max(0.0, load_stop - ok_ends[-1])
    elif load_start is not None and load_stop is not None and st.attempts:
        # Nothing ever succeeded: the whole run is one gap.
        st.leading_gap_s = st.trailing_gap_s = max(0.0, load_stop - load_start)
    st.max_gap_s, st.leading_gap_s, st.trailing_gap_s = _r(st.max_gap_s), _r(st.leading_gap_s), _r(st.trailing_gap_s)
    if load_start is not None and load_stop is not None and load_stop > load_start:
        st.ok_per_s = _r(st.ok / (load_stop - load_start), 2)
    st.latency_ms = {
        "p50": _r(percentile(latencies, 50), 2),
        "p90": _r(percentile(latencies, 90), 2),
        "p99": _r(percentile(latencies, 99), 2),
        "max": _r(max(latencies), 2) if latencies else None,
    }
    return st


def lost_writes(writes: Sequence[Record], final_ids: Optional[Iterable[int]]) -> LostWrites:
    """Compare the ledger's writes with the ids present in the table at the end.

    An acknowledged (ok) id that is missing is a lost write. An ``unknown`` id is never a loss: it is only
    reported as present or absent. An ``error`` id that is present is an anomaly (the client saw the INSERT
    fail before COMMIT was sent) and reported in ``error_present``.
    """
    res = LostWrites()
    acked: Set[int] = set()
    unknown: Set[int] = set()
    errors: Set[int] = set()
    for rec in writes:
        wid = rec.get("id")
        if not isinstance(wid, int):
            continue
        if rec.get("outcome") == "ok":
            acked.add(wid)
        elif rec.get("outcome") == "unknown":
            unknown.add(wid)
        else:
            errors.add(wid)
    res.acknowledged = len(acked)
    if final_ids is None:
        return res
    final = {int(i) for i in final_ids}
    attempted = acked | unknown | errors
    res.checked = True
    res.final_rows = len(final & attempted)
    lost = sorted(acked - final)
    res.lost = len(lost)
    res.lost_ids = lost[:LIST_LIMIT]
    res.unknown_present = sorted(unknown & final)[:LIST_LIMIT]
    res.unknown_absent = sorted(unknown - final)[:LIST_LIMIT]
    res.error_present = sorted((errors - acked - unknown) & final)[:LIST_LIMIT]
    return res


def recovery_check(writes: Sequence[Record], final_ids: Iterable[int], target: float,
                   restore_started: Optional[float] = None) -> Recovery:
    """What a point-in-time recovery to ``target`` (Unix time, the controller's clock, which the lab's
    containers share) kept and dropped, from the ledger and the ids in the table afterwards (Recovery)."""
    final = {int(i) for i in final_ids}
    acked = [r for r in writes if r.get("outcome") == "ok" and isinstance(r.get("id"), int)
             and _num(r.get("start")) and _num(r.get("end"))]
    timelines = [int(r["timeline"]) for r in acked if isinstance(r.get("timeline"), int)]
    res = Recovery(target=_r(target), restored_timeline=max(timelines) if timelines else None)
    for rec in acked:
        wid = rec["id"]
        if res.restored_timeline is not None and rec.get("timeline") == res.restored_timeline \
                and float(rec["start"]) > target:
            res.new_writes += 1
            if wid not in final:
                res.missing_new.append(wid)
        elif float(rec["end"]) <= target:
            res.kept += 1
            if wid not in final:
                res.missing_kept.append(wid)
        elif float(rec["start"]) >= target:
            res.discarded += 1
            if wid in final:
                res.present_discarded.append(wid)
        else:
            res.straddling += 1
    new_ends = [float(r["end"]) for r in acked if res.restored_timeline is not None
                and r.get("timeline") == res.restored_timeline and float(r["start"]) > target]
    if restore_started is not None and new_ends:
        res.recovery_time_s = _r(max(0.0, min(new_ends) - restore_started))
    ends = [float(r["end"]) for r in acked if r["id"] in set(res.missing_kept)]
    if ends:
        res.loss_window_s = _r(max(0.0, target - min(ends)))
    res.missing_kept, res.missing_new = sorted(res.missing_kept), sorted(res.missing_new)
    res.present_discarded = sorted(res.present_discarded)
    return res


def interleaved_writes(writes: Sequence[Record]) -> List[Dict[str, Any]]:
    """Acknowledged writes of one server that lie strictly inside another server's acknowledgement span.

    A server's span runs from the end of its first acknowledged write to the start of its last one; a write
    acknowledged by server A that started after B's span began and ended before it ended means A and B both
    acknowledged writes in the same period (a clean failover gives A...A then B...B).

    Spans are kept per (server, timeline), so a planned switch back (A on timeline 1, B on 2, A again on 3)
    is not mistaken for interleaving, while an old primary still acknowledging on its old timeline is.
    """
    spans: Dict[Tuple[str, Any], List[float]] = {}
    acked = [r for r in writes if r.get("outcome") == "ok" and r.get("server")
             and _num(r.get("start")) and _num(r.get("end"))]
    for rec in acked:
        key = (rec["server"], rec.get("timeline"))
        span = spans.get(key)
        if span is None:
            # [start of first, end of first, start of last, end of last]
            spans[key] = [rec["start"], rec["end"], rec["start"], rec["end"]]
        else:
            if rec["start"] < span[0]:
                span[0], span[1] = rec["start"], rec["end"]
            if rec["end"] > span[3]:
                span[2], span[3] = rec["start"], rec["end"]
    found = []
    for rec in sorted(acked, key=lambda r: r["start"]):
        for (server, timeline), span in spans.items():
            if server == rec["server"]:
                continue
            if rec["start"] > span[1] and rec["end"] < span[2]:
                found.append({
                    "id": rec.get("id"), "server": rec["server"], "timeline": rec.get("timeline"),
                    "start": rec["start"], "end": rec["end"],
                    "inside_server": server, "inside_timeline": timeline,
                    "inside_first": span[1], "inside_last": span[2],
                })
                break
    return found


def ack_spans(writes: Sequence[Record]) -> List[Dict[str, Any]]:
    """First and last acknowledgement (end times) and count per (server, timeline), ordered by the first."""
    spans: Dict[Tuple[str, Any], Dict[str, Any]] = {}
    for rec in writes:
        if rec.get("outcome") != "ok" or not rec.get("server") or not _num(rec.get("end")):
            continue
        span = spans.setdefault((rec["server"], rec.get("timeline")), {
            "server": rec["server"], "timeline": rec.get("timeline"), "first": rec["end"], "last": rec["end"],
            "writes": 0})
        span["first"] = min(span["first"], rec["end"])
        span["last"] = max(span["last"], rec["end"])
        span["writes"] += 1
    return sorted(spans.values(), key=lambda sp: sp["first"])


def ack_overlap(spans: Sequence[Mapping[str, Any]]) -> Optional[float]:
    """How long (s) a primary kept acknowledging after a later one's first acknowledgement; 0.0 when never.

    For every pair of spans, the later-starting one's first acknowledgement against the earlier one's last: a
    leader cut off or frozen that still confirms commits once the new leader does shows a positive overlap.
    """
    if len(spans) < 2:
        return None
    worst = 0.0
    for i, earlier in enumerate(spans):
        for later in spans[i + 1:]:
            if later["server"] != earlier["server"]:
                worst = max(worst, earlier["last"] - later["first"])
    return _r(worst)


def writable_rounds(polls: Sequence[Record]) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Poll rounds where two or more nodes answered writable=true, and the changes of the writable set."""
    rounds: Dict[int, Dict[str, Any]] = {}
    for rec in polls:
        rnd = rec.get("round")
        if not isinstance(rnd, int) or rec.get("outcome") != "ok":
            continue
        entry = rounds.setdefault(rnd, {"round": rnd, "t": rec.get("start"), "nodes": []})
        if _num(rec.get("start")) and (entry["t"] is None or rec["start"] < entry["t"]):
            entry["t"] = rec["start"]
        if rec.get("writable") is True:
            name = rec.get("node") or rec.get("server") or "?"
            if name not in entry["nodes"]:
                entry["nodes"].append(name)
    multi = []
    changes: List[Dict[str, Any]] = []
    last: Optional[List[str]] = None
    for rnd in sorted(rounds):
        entry = rounds[rnd]
        nodes = sorted(entry["nodes"])
        if len(nodes) > 1:
            multi.append({"round": rnd, "t": entry["t"], "nodes": nodes})
        if nodes != last:
            changes.append({"round": rnd, "t": entry["t"], "writable": nodes})
            last = nodes
    return multi, changes


def vip_holders(watches: Sequence[Record]) -> List[Dict[str, Any]]:
    """The balancer that answered the VIP, in time order, each time it changed: ``t`` (the answer's end) and
    ``balancer``. Records without an answer (a timeout while the VIP moves) are skipped."""
    answers = sorted((r for r in watches if r.get("kind") == "vip" and r.get("balancer") and _num(r.get("end"))),
                     key=lambda r: float(r["end"]))
    changes: List[Dict[str, Any]] = []
    for rec in answers:
        if not changes or changes[-1]["balancer"] != rec["balancer"]:
            changes.append({"t": float(rec["end"]), "balancer": str(rec["balancer"])})
    return changes


# ------------------------------------------------------------------------------------------- phases
def _observed(rec: Mapping[str, Any]) -> bool:
    return rec.get("outcome") == "ok" and _num(rec.get("start")) and _num(rec.get("end"))


def first_after(records: Iterable[Record], t: float, match: Callable[[Record], bool] = lambda r: True,
                ) -> Optional[Record]:
    """The ok record that started at or after ``t`` and ended first among those ``match`` accepts."""
    found = [r for r in records if _observed(r) and r["start"] >= t and match(r)]
    return min(found, key=lambda r: r["end"]) if found else None


def last_before(records: Iterable[Record], t: float, match: Callable[[Record], bool] = lambda r: True,
                ) -> Optional[Record]:
    """The ok record that started before ``t`` and ended last among those ``match`` accepts."""
    found = [r for r in records if _observed(r) and r["start"] < t and match(r)]
    return max(found, key=lambda r: r["end"]) if found else None


def sole_writable_before(polls: Sequence[Record], t: float) -> Optional[str]:
    """The only node whose last poll before ``t`` found it writable (None: none, or several)."""
    last: Dict[str, Record] = {}
    for rec in polls:
        if _observed(rec) and rec["start"] < t and rec.get("node"):
            if rec["node"] not in last or rec["end"] > last[rec["node"]]["end"]:
                last[rec["node"]] = rec
    writable = [node for node, rec in last.items() if rec.get("writable") is True]
    return writable[0] if len(writable) == 1 else None


def node_address(polls: Sequence[Record], node: Optional[str]) -> Optional[str]:
    """The address a node answers on (``inet_server_addr()`` of its polls), as writes name their server."""
    for rec in polls:
        if node is not None and rec.get("node") == node and rec.get("outcome") == "ok" and rec.get("server"):
            return str(rec["server"])
    return None


def first_write_after(writes: Sequence[Record], fault_t: float, leader_changed: bool,
                      new_address: Optional[str]) -> Optional[Record]:
    """The first acknowledged write of the recovery after the fault.

    With a new leader: its first acknowledged write (by its address; without the address, the first one on
    another server than the last acknowledged before the fault). Otherwise (the VIP moved, or nothing
    changed): the first acknowledged write that started after the first write to fail once the fault was
    injected, or the first after the fault when none failed.
    """
    ended = [r for r in writes if _num(r.get("start")) and _num(r.get("end")) and r["end"] > fault_t]
    if leader_changed:
        if new_address is None:
            before = last_before(writes, fault_t)
            old = before.get("server") if before else None
            if old is not None:
                return first_after(ended, -math.inf, lambda r: r.get("server") not in (None, old))
        else:
            return first_after(ended, -math.inf, lambda r: r.get("server") == new_address)
    failed = [r for r in ended if r.get("outcome") != "ok"]
    since = min(r["end"] for r in failed) if failed else fault_t
    return first_after(ended, since)


def last_write_before_pause(writes: Sequence[Record], fault_t: float,
                            first_write: Optional[Record]) -> Optional[Record]:
    """The acknowledged write that began the longest pause between the fault and ``first_write`` (the pause's
    start); None without a first write of the recovery."""
    if first_write is None:
        return None
    oks = sorted((r for r in writes if _observed(r) and r["end"] <= first_write["end"]), key=lambda r: r["end"])
    best: Optional[Tuple[Record, float]] = None
    for prev, nxt in zip(oks, oks[1:]):
        if nxt["end"] > fault_t and (best is None or nxt["end"] - prev["end"] > best[1]):
            best = (prev, nxt["end"] - prev["end"])
    return best[0] if best else None


def failover_phases(
    writes: Sequence[Record],
    polls: Sequence[Record],
    watches: Sequence[Record],
    events: Sequence[Mapping[str, Any]] = (),
    balancers: Iterable[str] = (),
) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """The failover after the first ``fault_injected`` event: what changed, and phase by phase when (None where the
    data is missing).

    The phases come in this order, each with ``t`` (epoch), ``at_s`` (seconds after the fault), ``step_s``
    and ``after`` (seconds since the phase observed last before it, and its name) and ``detail``:

    * fault: the event (marked by the harness just before it acts: the step to the next phase includes the
      harness's own delay).
    * last_write: the last acknowledged write before the recovery's write pause (last_write_before_pause()): when
      the fault took effect, as the client saw it.
    * leader_key_changed: the first dcs record after the fault whose value differs from the leader key's value
      before it (``old_leader``): the key is gone, or another member holds it.
    * promoted: the first poll after the fault that finds a node other than the old leader writable; that node
      is ``new_leader`` (without polls, the leader key's new holder). Without a dcs record before the fault, the
      old leader is the only node the polls found writable before it.
    * haproxy_up[<balancer>]: per balancer (those in ``balancers`` and in lb records), the first lb record after
      the fault with the new leader UP in the write backend.
    * vrrp_master: the first ``vrrp_master`` event after the fault (keepalived's log: a balancer entered MASTER).
    * vip_moved: the first vip record after the fault naming another balancer than the last one before it.
    * first_write: the first acknowledged write of the recovery (first_write_after()), on ``first_write_server``.

    A record is "after the fault" when it started after it; its time is its end (when the answer came). What
    changed: ``fault_event``, ``fault_t``, ``fault_detail``, ``old_leader``, ``new_leader``, ``new_leader_address``
    (from its polls), ``balancer_before``/``balancer_after`` (the VIP's), ``first_write_server``.
    """
    fault_events = [e for e in events if e.get("event") == FAULT_EVENT and _num(e.get("t"))]
    fault = min(fault_events, key=lambda e: e["t"]) if fault_events else None
    dcs = [r for r in watches if r.get("kind") == "dcs"]
    lbs = [r for r in watches if r.get("kind") == "lb"]
    vips = [r for r in watches if r.get("kind") == "vip"]
    names = sorted(set(balancers) | {str(r["node"]) for r in lbs if r.get("node")})
    out: Dict[str, Any] = {
        "fault_event": FAULT_EVENT, "fault_t": None, "fault_detail": None, "old_leader": None, "new_leader": None,
        "new_leader_address": None, "balancer_before": None, "balancer_after": None, "first_write_server": None,
    }
    seen: Dict[str, Optional[Record]] = {}
    details: Dict[str, str] = {}
    if fault is not None:
        t = float(fault["t"])
        out.update(fault_t=t, fault_detail=fault.get("detail") or "")
        key_before = last_before(dcs, t)
        old = key_before.get("value") if key_before else sole_writable_before(polls, t)
        key = seen["leader_key_changed"] = first_after(dcs, t, lambda r: r.get("value") != old)
        promoted = seen["promoted"] = None if old is None else first_after(
            polls, t, lambda r: r.get("writable") is True and r.get("node") != old)
        new = promoted["node"] if promoted else key.get("value") if key else None

        def new_leader_up(balancer: str) -> Callable[[Record], bool]:
            return lambda r: r.get("node") == balancer and new in (r.get("up") or [])

        for name in names:
            seen["haproxy_up[%s]" % name] = None if new is None else first_after(lbs, t, new_leader_up(name))
        vip_before = last_before(vips, t, lambda r: r.get("balancer") is not None)
        vrrp = [e for e in events if e.get("event") == VRRP_EVENT and _num(e.get("t")) and float(e["t"]) >= t]
        first_vrrp = min(vrrp, key=lambda e: float(e["t"])) if vrrp else None
        seen["vrrp_master"] = None if first_vrrp is None else {
            "start": float(first_vrrp["t"]), "end": float(first_vrrp["t"]), "outcome": "ok",
            "detail": first_vrrp.get("detail") or ""}
        seen["vip_moved"] = None if vip_before is None else first_after(
            vips, t, lambda r: r.get("balancer") not in (None, vip_before["balancer"]))
        address = node_address(polls, new)
        write = seen["first_write"] = first_write_after(writes, t, new not in (None, old), address)
        seen["last_write"] = last_write_before_pause(writes, t, write)
        out.update(old_leader=old, new_leader=new, new_leader_address=address,
                   balancer_before=vip_before["balancer"] if vip_before else None,
                   balancer_after=(seen["vip_moved"] or {}).get("balancer"),
                   first_write_server=write.get("server") if write else None)
        details = phase_details(seen, out)
    order = (["last_write", "leader_key_changed", "promoted"] + ["haproxy_up[%s]" % n for n in names]
             + ["vrrp_master", "vip_moved", "first_write"])
    rows: List[Dict[str, Any]] = []
    for name in ["fault"] + order:
        rec = seen.get(name)
        t_phase = out["fault_t"] if name == "fault" else rec["end"] if rec else None
        rows.append({"name": name, "t": t_phase, "at_s": None if t_phase is None else _r(t_phase - out["fault_t"]),
                     "step_s": None, "after": None, "detail": details.get(name, "")})
    # Each step counts from the phase observed just before (in time: a balancer that is not on the write path may
    # see the new leader UP after the first write).
    observed = sorted((row for row in rows if row["t"] is not None), key=lambda row: row["t"])
    for previous, row in zip(observed, observed[1:]):
        row.update(after=previous["name"], step_s=_r(row["t"] - previous["t"]))
    return out, rows


def phase_details(seen: Mapping[str, Optional[Record]], facts: Mapping[str, Any]) -> Dict[str, str]:
    """One readable line per observed phase (what the record that marks it said)."""
    details = {"fault": facts["fault_detail"]}
    for name, rec in seen.items():
        if rec is None:
            continue
        if name == "leader_key_changed":
            details[name] = "%s -> %s (mod_revision %s)" % (facts["old_leader"] or "no key",
                                                            rec.get("value") or "no key", rec.get("revision"))
        elif name == "promoted":
            details[name] = "%s writable (timeline %s)" % (rec.get("node"), rec.get("timeline"))
        elif name.startswith("haproxy_up["):
            details[name] = "UP: %s" % ", ".join(rec.get("up") or [])
        elif name == "vrrp_master":
            details[name] = str(rec.get("detail") or "")
        elif name == "vip_moved":
            details[name] = "%s -> %s" % (facts["balancer_before"], rec.get("balancer"))
        else:
            details[name] = "id %s on %s (timeline %s)" % (rec.get("id"), rec.get("server"), rec.get("timeline"))
    return details


def fault_gaps(writes: Sequence[Record], events: Sequence[Mapping[str, Any]],
               load_stop: Optional[float] = None) -> List[Dict[str, Any]]:
    """For each fault event (FAULT_EVENTS, in time order): the longest pause between two successful writes that
    ended after the event and began before the next fault event (or the load's stop). gap_s is None when no
    successful write came after the event."""
    ends = sorted(float(w["end"]) for w in writes if w.get("outcome") == "ok" and _num(w.get("end")))
    faults = sorted((e for e in events if e.get("event") in FAULT_EVENTS and _num(e.get("t"))),
                    key=lambda e: float(e["t"]))
    out: List[Dict[str, Any]] = []
    for i, ev in enumerate(faults):
        t = float(ev["t"])
        until = float(faults[i + 1]["t"]) if i + 1 < len(faults) else (load_stop if load_stop is not None else math.inf)
        best: Optional[Tuple[float, float]] = None
        for prev, nxt in zip(ends, ends[1:]):
            if nxt > t and prev < until and (best is None or nxt - prev > best[1] - best[0]):
                best = (prev, nxt)
        out.append({"event": ev["event"], "detail": ev.get("detail", ""), "t": t,
                    "gap_s": _r(best[1] - best[0]) if best else None,
                    "gap_start": best[0] if best else None, "gap_end": best[1] if best else None})
    return out


def analyze(
    records: Iterable[Record],
    events: Sequence[Mapping[str, Any]] = (),
    final_ids: Optional[Iterable[int]] = None,
    load_start: Optional[float] = None,
    load_stop: Optional[float] = None,
    balancers: Iterable[str] = (),
) -> Analysis:
    """Every figure of a run. ``final_ids`` None means the table could not be read (lost writes unchecked).

    ``balancers``: names the failover phases list even when no lb record names them.
    """
    writes: List[Record] = []
    reads: List[Record] = []
    polls: List[Record] = []
    watches: List[Record] = []
    for rec in records:
        if rec.get("kind") == "write":
            writes.append(rec)
        elif rec.get("kind") == "read":
            reads.append(rec)
        elif rec.get("kind") == "poll":
            polls.append(rec)
        elif rec.get("kind") in WATCH_KINDS:
            watches.append(rec)
    load_start, load_stop = load_window(writes + reads + polls, events, load_start, load_stop)
    an = Analysis(load_start=load_start, load_stop=load_stop)
    if load_start is not None and load_stop is not None:
        an.duration_s = _r(max(0.0, load_stop - load_start))
    an.writes = op_stats(writes, load_start, load_stop)
    an.reads = op_stats(reads, load_start, load_stop)
    an.polls = count_outcomes(polls)["poll"]
    an.lost = lost_writes(writes, final_ids)
    targets = [float(e["t"]) for e in events if e.get("event") == RECOVERY_TARGET and _num(e.get("t"))]
    if targets and final_ids is not None:
        # After a point-in-time recovery, acknowledged writes after the target are meant to be gone: the lost
        # writes are those the recovery should have kept.
        starts = [float(e["t"]) for e in events if e.get("event") == RESTORE_STARTED and _num(e.get("t"))]
        an.recovery = recovery_check(writes, final_ids, targets[-1], starts[-1] if starts else None)
        lost = sorted(an.recovery.missing_kept + an.recovery.missing_new)
        an.lost.lost, an.lost.lost_ids = len(lost), lost[:LIST_LIMIT]
        an.recovery.missing_kept = an.recovery.missing_kept[:LIST_LIMIT]
        an.recovery.missing_new = an.recovery.missing_new[:LIST_LIMIT]
        an.recovery.present_discarded = an.recovery.present_discarded[:LIST_LIMIT]
    found = interleaved_writes(writes)
    multi, an.writable_changes = writable_rounds(polls)
    an.ack_spans = ack_spans(writes)
    an.ack_overlap_s = ack_overlap(an.ack_spans)
    counts = count_outcomes(watches)
    an.watches = {kind: counts[kind] for kind in WATCH_KINDS}
    an.vip_holders = vip_holders(watches)[:LIST_LIMIT]
    an.failover, an.phases = failover_phases(writes, polls, watches, events, balancers)
    an.fault_gaps = fault_gaps(writes, events, load_stop)
    sb = an.split_brain
    sb.interleaved_writes, sb.interleaved = len(found), found[:LIST_LIMIT]
    sb.writable_rounds, sb.rounds = len(multi), multi[:LIST_LIMIT]
    sb.detected = bool(found or multi)
    parts = []
    if found:
        f = found[0]
        parts.append("%d acknowledged write(s) interleaved with another server's, first: id %s on %s (timeline %s) "
                     "while %s (timeline %s) was acknowledging" % (len(found), f["id"], f["server"], f["timeline"],
                                                                   f["inside_server"], f["inside_timeline"]))
    if multi:
        m = multi[0]
        parts.append("%d poll round(s) with several writable nodes, first: round %d: %s"
                     % (len(multi), m["round"], ", ".join(m["nodes"])))
    sb.detail = "; ".join(parts) if parts else "none"
    return an


# --------------------------------------------------------------------------------------------- alerts
def fault_time(events: Sequence[Mapping[str, Any]]) -> Optional[float]:
    """Time of the first FAULT_EVENT (None without one): what the failover phases and the alerts count from."""
    times = [float(e["t"]) for e in events if e.get("event") == FAULT_EVENT and _num(e.get("t"))]
    return min(times) if times else None


def alert_answers(records: Iterable[Record]) -> List[Record]:
    """The alerts watcher's answers (ok records of kind ``alerts``), in the order they came (by ``end``)."""
    return sorted((r for r in records if r.get("kind") == "alerts" and r.get("outcome") == "ok"
                   and _num(r.get("end"))), key=lambda r: float(r["end"]))


def alert_intervals(records: Iterable[Record], events: Sequence[Mapping[str, Any]] = ()) -> List[Dict[str, Any]]:
    """When each alert fired and resolved, as the alerts watcher saw it.

    Per (alertname, instance), in the ok ``alerts`` records taken in time order (each at its ``end``, when the
    answer came): an interval opens at the first record that lists the alert and closes at the first later one
    that does not. Error records neither open nor close one (Alertmanager did not answer: nothing is known).

    Each interval: ``alert``, ``instance``, ``severity``, ``starts_at`` (Alertmanager's, as given), ``fired_t``
    (the record that first listed it), ``resolved_t`` (the first that no longer did; None when the last answer
    still listed it), ``firing_at_start`` (listed in the first answer: it did not fire during the run),
    ``fired_after_fault_s`` (from the first FAULT_EVENT; None without one or when it fired before it) and
    ``duration_s`` (seen firing: to ``resolved_t``, or to the last answer when still firing). Sorted by fired_t.
    """
    answers = alert_answers(records)
    fault_t = fault_time(events)
    open_: Dict[Tuple[str, str], Dict[str, Any]] = {}
    done: List[Dict[str, Any]] = []
    for i, rec in enumerate(answers):
        t = float(rec["end"])
        listed: Dict[Tuple[str, str], Mapping[str, Any]] = {}
        for alert in rec.get("firing") or []:
            if isinstance(alert, Mapping) and alert.get("alertname"):
                listed.setdefault((str(alert["alertname"]), str(alert.get("instance") or "")), alert)
        for key in [k for k in open_ if k not in listed]:
            interval = open_.pop(key)
            interval.update(resolved_t=t, duration_s=_r(t - interval["fired_t"]))
            done.append(interval)
        for key, alert in listed.items():
            if key not in open_:
                after = None if fault_t is None or t < fault_t else _r(t - fault_t)
                open_[key] = {"alert": key[0], "instance": key[1], "severity": str(alert.get("severity") or ""),
                              "starts_at": alert.get("starts_at"), "fired_t": t, "resolved_t": None,
                              "firing_at_start": i == 0, "fired_after_fault_s": after, "duration_s": None}
    if answers:
        last = float(answers[-1]["end"])
        for interval in open_.values():
            interval["duration_s"] = _r(last - interval["fired_t"])
            done.append(interval)
    return sorted(done, key=lambda iv: (iv["fired_t"], iv["alert"], iv["instance"]))


def _after_fault(interval: Mapping[str, Any]) -> bool:
    """The interval began during the run, at or after the fault."""
    return not interval["firing_at_start"] and interval["fired_after_fault_s"] is not None


def _where(interval: Mapping[str, Any]) -> str:
    return interval["instance"] or "(no instance)"


def _short(items: Sequence[str], limit: int = 5) -> str:
    """The first ``limit`` items joined, with how many more were left out."""
    return ", ".join(items[:limit]) + (" and %d more" % (len(items) - limit) if len(items) > limit else "")


def alert_checks(intervals: Sequence[Mapping[str, Any]], expected: Iterable[str], max_fire_s: Optional[float] = None,
                 severities_fail: Iterable[str] = ("critical",), answered: bool = True,
                 allowed: Iterable[str] = ()) -> List[Dict[str, Any]]:
    """Assertions (``name``, ``passed``, ``detail``) on the alert intervals (alert_intervals()):

    * per expected alert, "alert <name> fired after the fault": an interval of it began at or after the fault;
    * with ``max_fire_s``, per expected alert that did: "alert <name> fired within <max_fire_s> s of the fault",
      for its first such interval;
    * "no unexpected critical alert": no interval that began during the run with a severity of
      ``severities_fail`` and an alertname neither expected nor ``allowed`` (critical alerts an experiment may
      raise without expecting them, e.g. a restore that stops the whole cluster).

    ``answered``: Alertmanager answered at least once (an ok alerts record). Without an answer nothing is checked
    when nothing is expected ([]), else the expected alerts fail with "no answer from Alertmanager was recorded".
    """
    names = list(dict.fromkeys(str(n) for n in expected))
    if not answered:
        return [{"name": "alert %s fired after the fault" % name, "passed": False,
                 "detail": "no answer from Alertmanager was recorded"} for name in names]
    checks: List[Dict[str, Any]] = []
    seen = list(dict.fromkeys(iv["alert"] for iv in intervals))
    for name in names:
        own = [iv for iv in intervals if iv["alert"] == name]
        fired = [iv for iv in own if _after_fault(iv)]
        if fired:
            detail = _short(["%s +%.1f s" % (_where(iv), iv["fired_after_fault_s"]) for iv in fired])
            detail += " after the fault"
        elif own:
            detail = "never seen firing after the fault: " + _short([
                "%s %s" % (_where(iv), "firing at the start" if iv["firing_at_start"] else "fired before any fault")
                for iv in own])
        else:
            detail = "never seen firing (seen: %s)" % (_short(seen) or "no alert")
        checks.append({"name": "alert %s fired after the fault" % name, "passed": bool(fired), "detail": detail})
        if max_fire_s is not None and fired:
            first = min(fired, key=lambda iv: iv["fired_t"])
            checks.append({"name": "alert %s fired within %g s of the fault" % (name, max_fire_s),
                           "passed": first["fired_after_fault_s"] <= max_fire_s,
                           "detail": "+%.1f s on %s" % (first["fired_after_fault_s"], _where(first))})
    failing = {str(s).lower() for s in severities_fail}
    tolerated = set(names) | {str(n) for n in allowed}
    unexpected = [iv for iv in intervals if iv["severity"].lower() in failing and not iv["firing_at_start"]
                  and iv["alert"] not in tolerated]
    checks.append({"name": "no unexpected critical alert", "passed": not unexpected, "detail": _short([
        "%s/%s %s" % (iv["alert"], _where(iv), "before any fault" if iv["fired_after_fault_s"] is None
                      else "at +%.1f s" % iv["fired_after_fault_s"]) for iv in unexpected]) or "none"})
    return checks


# ------------------------------------------------------------------------------------------- plotting
def timeline_buckets(
    records: Iterable[Record],
    bucket_seconds: float = 1.0,
    t0: Optional[float] = None,
    t1: Optional[float] = None,
) -> List[Dict[str, Any]]:
    """Per-bucket counts for the plot: ok writes, ok reads and errors, by the end time of each record.

    ``t`` of each bucket is its start in seconds since ``t0`` (default: the earliest record start). Buckets
    run without holes from ``t0`` to ``t1`` (default: the latest record end). ``errors`` counts failed writes
    (error and unknown) and failed reads; the split is in ``write_errors``/``write_unknown``/``read_errors``.
    """
    if bucket_seconds <= 0:
        raise ValueError("bucket_seconds must be positive")
    recs = [r for r in records if r.get("kind") in ("write", "read") and _num(r.get("end"))]
    if not recs and (t0 is None or t1 is None):
        return []
    if t0 is None:
        t0 = min(float(r["start"]) if _num(r.get("start")) else float(r["end"]) for r in recs)
    if t1 is None:
        t1 = max(float(r["end"]) for r in recs)
    n = max(1, int(math.floor((t1 - t0) / bucket_seconds)) + 1)
    buckets = [{"t": round(i * bucket_seconds, 6), "writes_ok": 0, "reads_ok": 0, "errors": 0, "write_errors": 0,
                "write_unknown": 0, "read_errors": 0} for i in range(n)]
    for rec in recs:
        idx = int(math.floor((float(rec["end"]) - t0) / bucket_seconds))
        if idx < 0 or idx >= n:
            continue
        b = buckets[idx]
        outcome = rec.get("outcome")
        if rec["kind"] == "write":
            if outcome == "ok":
                b["writes_ok"] += 1
            elif outcome == "unknown":
                b["write_unknown"] += 1
                b["errors"] += 1
            else:
                b["write_errors"] += 1
                b["errors"] += 1
        else:
            if outcome == "ok":
                b["reads_ok"] += 1
            else:
                b["read_errors"] += 1
                b["errors"] += 1
    return buckets


def relative_events(events: Iterable[Mapping[str, Any]], t0: Optional[float]) -> List[Dict[str, Any]]:
    """Events sorted by time, each with ``rel``: seconds since ``t0`` (None without t0)."""
    out = []
    for e in sorted((e for e in events if _num(e.get("t"))), key=lambda e: e["t"]):
        item = dict(e)
        item["rel"] = None if t0 is None else round(e["t"] - t0, 3)
        out.append(item)
    return out
