"""chaos/tools/pgha_loadprobe.py without a database: config, connection options, pacing, write outcomes, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import types
from typing import Any, List, Optional

import psycopg2
import pytest
from psycopg2 import sql

from pgha_test_helpers import TOOLS, load_tool

SCRIPT = os.path.join(TOOLS, "pgha_loadprobe.py")
probe_mod = load_tool("pgha_loadprobe")

WRITER = {"host": "10.0.0.100", "port": 5000, "dbname": "app", "user": "app", "password": "s3cret"}


def test_config_defaults_and_relative_paths(tmp_path):
    cfg = probe_mod.config_from_dict({"writer": WRITER, "run_id": "r1"}, str(tmp_path))
    assert cfg.rate == 50 and cfg.read_rate is None and cfg.connect_timeout == 2 and cfg.statement_timeout_ms == 2000
    assert cfg.backoff == 0.2 and cfg.table == "chaos_ledger" and cfg.poll_interval == 0.5
    assert cfg.ledger_path == str(tmp_path / "ledger.jsonl") and cfg.events_path == str(tmp_path / "events.jsonl")
    assert cfg.reader is None and probe_mod.effective_read_rate(cfg) == 0
    cfg = probe_mod.config_from_dict({"writer": WRITER, "reader": dict(WRITER, port=5001), "rate": 20,
                                      "poll_nodes": [{"host": "10.0.0.11"}], "ledger_path": "/abs/l.jsonl"})
    assert probe_mod.effective_read_rate(cfg) == 20 and cfg.reader.port == 5001
    assert cfg.poll_nodes[0].name == "10.0.0.11" and cfg.poll_nodes[0].port == 5432
    assert cfg.ledger_path == "/abs/l.jsonl"


@pytest.mark.parametrize("bad, message", [
    ({"writer": {"host": "h"}}, "writer lacks dbname, user"),
    ({"writer": WRITER, "table": "x; drop table y"}, "plain identifier"),
    ({"writer": WRITER, "rate": 0}, "rate must be positive"),
    ({"writer": WRITER, "poll_nodes": [{"name": "n"}]}, "poll_nodes[0]"),
    ({}, "writer must be an object"),
])
def test_config_errors_name_the_key(bad, message):
    with pytest.raises(ValueError) as err:
        probe_mod.config_from_dict(bad)
    assert message in str(err.value)


def test_connect_kwargs_bound_every_wait():
    dsn = probe_mod.Dsn(host="h", dbname="d", user="u", password="p", port=5000, sslmode="verify-full",
                         sslrootcert="/ca.crt")
    kw = probe_mod.connect_kwargs(dsn, 1, 1500, "pgha-loadprobe-writer", libpq_version=170000)
    assert kw["connect_timeout"] == 2  # libpq's minimum
    assert (kw["keepalives"], kw["keepalives_idle"], kw["keepalives_interval"], kw["keepalives_count"]) == (1, 1, 1, 2)
    assert kw["tcp_user_timeout"] == 2000 and kw["options"] == "-c statement_timeout=1500"
    assert kw["sslmode"] == "verify-full" and kw["sslrootcert"] == "/ca.crt"
    assert kw["application_name"] == "pgha-loadprobe-writer"
    old = probe_mod.connect_kwargs(probe_mod.Dsn(host="h", dbname="d", user="u"), 5, 2000, "x", libpq_version=110000)
    assert "tcp_user_timeout" not in old and "sslmode" not in old and old["connect_timeout"] == 5
    assert "target_session_attrs" not in old


def test_connect_kwargs_multi_host_keeps_the_leader():
    """The hop-free path: libpq tries every node and keeps the writable one."""
    dsn = probe_mod._dsn({"host": "10.0.0.1,10.0.0.2", "port": 5432, "dbname": "d", "user": "u",
                          "target_session_attrs": "read-write"}, "writer")
    kw = probe_mod.connect_kwargs(dsn, 2, 2000, "w", libpq_version=170000)
    assert kw["host"] == "10.0.0.1,10.0.0.2" and kw["target_session_attrs"] == "read-write"


def test_describe_error_is_one_short_line():
    text = probe_mod.describe_error(psycopg2.OperationalError("server closed\n\tthe connection " + "x" * 400))
    assert text.startswith("OperationalError: server closed the connection") and len(text) == 300


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeStop:
    """threading.Event stand-in whose wait() advances the fake clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waits: List[float] = []
        self.flag = False

    def is_set(self) -> bool:
        return self.flag

    def wait(self, seconds: float) -> bool:
        self.waits.append(round(seconds, 6))
        self.clock.now += seconds
        return self.flag


def test_pacer_keeps_the_schedule_without_drift():
    clock = FakeClock()
    stop = FakeStop(clock)
    pacer = probe_mod.Pacer(10, stop, clock=clock)
    assert pacer.next_slot() == 0
    clock.now += 0.03  # work took 30 ms
    assert pacer.next_slot() == 1 and stop.waits[-1] == pytest.approx(0.07)
    clock.now += 0.15  # work took 150 ms: slot 2 (100.2) is late by less than a slot, it runs at once
    assert pacer.next_slot() == 2 and clock.now == pytest.approx(100.25)
    assert pacer.next_slot() == 3 and clock.now == pytest.approx(100.3)  # back on the grid
    assert pacer.skipped == 0


def test_pacer_skips_missed_slots_after_a_stall():
    clock = FakeClock()
    stop = FakeStop(clock)
    pacer = probe_mod.Pacer(10, stop, clock=clock)
    pacer.next_slot()
    clock.now += 2.05  # a 2 s connect timeout
    assert pacer.next_slot() == 20 and pacer.skipped == 19
    assert pacer.next_slot() == 21 and clock.now == pytest.approx(102.1)  # back on the grid, no burst
    stop.flag = True
    assert pacer.next_slot() is None


# ---------------------------------------------------------------------------------- writer outcomes
def _text(query: Any) -> str:
    if isinstance(query, str):
        return query
    if isinstance(query, sql.Composed):
        return "".join(_text(part) for part in query.seq)
    return getattr(query, "string", "")


class FakeDb:
    """Scripted psycopg2: connect_plan / insert_plan are consumed in order ("ok" or a failure)."""

    def __init__(self, connect_plan: List[str], insert_plan: List[str], max_id: int = 0) -> None:
        self.connect_plan = list(connect_plan)
        self.insert_plan = list(insert_plan)
        self.max_id = max_id
        self.setups = self.closed = self.connects = 0
        self.stop: Optional[threading.Event] = None
        self.kwargs: List[dict] = []

    def connect(self, **kwargs: Any) -> "FakeConn":
        self.connects += 1
        self.kwargs.append(kwargs)
        if self.connect_plan and self.connect_plan.pop(0) == "fail":
            raise psycopg2.OperationalError("connection to server failed: timeout expired")
        return FakeConn(self)


class FakeConn:
    def __init__(self, db: FakeDb) -> None:
        self.db = db
        self.pending = "ok"
        self.autocommit = None
        self.notices: List[str] = []

    def cursor(self) -> "FakeCursor":
        return FakeCursor(self)

    def commit(self) -> None:
        if self.pending == "commit_fail":
            raise psycopg2.OperationalError("server closed the connection unexpectedly")
        if self.pending == "sync_rep_canceled":
            # What libpq hands psycopg2 when statement_timeout cancels the wait for the standbys.
            self.notices.append("WARNING:  canceling wait for synchronous replication due to user request\n"
                                "DETAIL:  The transaction has already committed locally, but might not have been "
                                "replicated to the standby.\n")

    def close(self) -> None:
        self.db.closed += 1


class FakeCursor:
    def __init__(self, conn: FakeConn) -> None:
        self.conn = conn
        self.row: Any = None

    def __enter__(self) -> "FakeCursor":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def execute(self, query: Any, params: Any = None) -> None:
        db = self.conn.db
        text = _text(query)
        if "CREATE TABLE" in text:
            db.setups += 1
        elif "max(id)" in text:
            self.row = (db.max_id,)
        elif "INSERT" in text:
            action = db.insert_plan.pop(0)
            if not db.insert_plan:
                assert db.stop is not None
                db.stop.set()
            if action == "insert_fail":
                raise psycopg2.OperationalError("cannot execute INSERT in a read-only transaction")
            self.conn.pending = action
            self.row = ("172.28.10.11", 1)

    def fetchone(self) -> Any:
        return self.row


def run_writer(tmp_path, monkeypatch, db: FakeDb) -> List[dict]:
    fake = types.SimpleNamespace(connect=db.connect, __libpq_version__=170000)
    monkeypatch.setattr(probe_mod, "psycopg2", fake)
    cfg = probe_mod.config_from_dict({"writer": WRITER, "rate": 1000, "backoff": 0, "run_id": "t"}, str(tmp_path))
    probe = probe_mod.Probe(cfg)
    db.stop = probe.stop
    thread = threading.Thread(target=probe.writer_loop, daemon=True)
    thread.start()
    thread.join(5)
    assert not thread.is_alive()
    probe.ledger.close()
    with open(cfg.ledger_path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_writer_outcomes_ids_and_reconnects(tmp_path, monkeypatch):
    db = FakeDb(connect_plan=["fail", "ok", "ok", "fail", "ok"],
                insert_plan=["ok", "insert_fail", "commit_fail", "ok"])
    recs = run_writer(tmp_path, monkeypatch, db)
    # The failed connect before the table was set up is not an attempt; the one after it is (id 4).
    assert [(r["id"], r["outcome"]) for r in recs] == [(1, "ok"), (2, "error"), (3, "unknown"), (4, "error"), (5, "ok")]
    assert recs[0]["server"] == "172.28.10.11" and recs[0]["timeline"] == 1 and recs[0]["in_recovery"] is False
    assert "read-only" in recs[1]["error"] and recs[2]["error"].startswith("commit: OperationalError")
    assert recs[3]["error"].startswith("connect: OperationalError")
    assert db.setups == 1 and db.connects == 5
    assert all(k["options"] == "-c statement_timeout=2000" and k["keepalives"] == 1 for k in db.kwargs)


def test_commit_without_synchronous_confirmation_is_not_acknowledged(tmp_path, monkeypatch):
    recs = run_writer(tmp_path, monkeypatch, FakeDb(connect_plan=[], insert_plan=["ok", "sync_rep_canceled", "ok"]))
    assert [(r["id"], r["outcome"]) for r in recs] == [(1, "ok"), (2, "unknown"), (3, "ok")]
    assert recs[1]["error"].startswith("commit not confirmed by a synchronous standby: WARNING: canceling wait")
    # The connection is kept: the next write goes through it.
    assert recs[1]["server"] == "172.28.10.11"


def test_sync_rep_canceled_finds_only_that_warning():
    assert probe_mod.sync_rep_canceled(["NOTICE:  relation exists, skipping\n"]) is None
    assert probe_mod.sync_rep_canceled([]) is None
    found = probe_mod.sync_rep_canceled(["WARNING:  canceling wait for synchronous replication due to user request\n"])
    assert found == "WARNING: canceling wait for synchronous replication due to user request"


def test_writer_continues_after_the_highest_id_of_the_run(tmp_path, monkeypatch):
    recs = run_writer(tmp_path, monkeypatch, FakeDb(connect_plan=[], insert_plan=["ok", "ok"], max_id=41))
    assert [r["id"] for r in recs] == [42, 43]


# ---------------------------------------------------------------------------------- process lifecycle
def test_sigterm_stops_cleanly_and_flushes(tmp_path):
    """Loopback only: nothing listens on port 1, every attempt is refused at once."""
    cfg = {"writer": {"host": "127.0.0.1", "port": 1, "dbname": "app", "user": "app", "password": "s3cret"},
           "reader": {"host": "127.0.0.1", "port": 1, "dbname": "app", "user": "app", "password": "s3cret"},
           "poll_nodes": [{"name": "n1", "host": "127.0.0.1", "port": 1}], "rate": 20, "run_id": "sig"}
    (tmp_path / "run.json").write_text(json.dumps(cfg))
    proc = subprocess.Popen([sys.executable, SCRIPT, "--config", str(tmp_path / "run.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 5
    while not (tmp_path / "ready.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.15)
    proc.send_signal(signal.SIGTERM)
    t = time.monotonic()
    out, _ = proc.communicate(timeout=5)
    assert proc.returncode == 0 and time.monotonic() - t < 2.0
    events = [json.loads(line)["event"] for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert events == ["load_started", "load_stopped"]
    ready = json.loads((tmp_path / "ready.json").read_text())
    assert ready["stopped"] and ready["ready"] and ready["counts"]["read"]["error"] >= 1
    assert ready["counts"]["write"]["ok"] == 0
    polls = [json.loads(line) for line in (tmp_path / "ledger.jsonl").read_text().splitlines()
             if '"poll"' in line]
    assert polls and polls[0]["round"] == 0 and polls[0]["node"] == "n1"
    assert b"s3cret" not in out


def test_max_duration_defaults_to_an_hour_and_can_be_set(tmp_path):
    assert probe_mod.config_from_dict({"writer": WRITER}, str(tmp_path)).max_duration == 3600.0
    cfg = probe_mod.config_from_dict({"writer": WRITER, "max_duration": 90}, str(tmp_path))
    assert cfg.max_duration == 90.0
