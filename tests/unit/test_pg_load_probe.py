"""chaos/library/pg_load_probe.py: helpers (private config, pid checks, waiting) and the state flow with a fake load
client script (no database, no network).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from typing import Any, Dict

import pytest

import pg_load_probe as mod
from ansible.module_utils.pgha_dsn import dsn_options
from pgha_test_helpers import undocumented_keys

# A stand-in for chaos/tools/pgha_loadprobe.py: same files, fake ok writes, exits 0 on SIGTERM.
FAKE_CLIENT = r'''
import json, os, signal, sys, time
cfg = json.load(open(sys.argv[2]))
if cfg.get("run_id") == "dies":
    print("FATAL: password authentication failed for user app", flush=True)
    sys.exit(3)
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
def line(path, obj):
    with open(path, "a") as fh:
        fh.write(json.dumps(obj) + "\n")
line(cfg["events_path"], {"t": time.time(), "event": "load_started", "detail": ""})
with open(cfg["ready_path"], "w") as fh:
    json.dump({"pid": os.getpid(), "ready": True}, fh)
print("fake load client running", flush=True)
i = 0
while not stop:
    i += 1
    t = time.time()
    line(cfg["ledger_path"], {"kind": "write", "id": i, "start": t, "end": t + 0.001, "outcome": "ok",
                              "server": "10.0.0.1"})
    time.sleep(0.01)
line(cfg["events_path"], {"t": time.time(), "event": "load_stopped", "detail": ""})
'''

DSN = {"host": "10.0.0.100", "port": 5000, "dbname": "app", "user": "app", "password": "S3cretPassw0rd"}


@pytest.fixture
def fake_client(tmp_path):
    path = tmp_path / "fake_client.py"
    path.write_text(FAKE_CLIENT)
    return str(path)


def args(run_dir: str, **kw: Any) -> Dict[str, Any]:
    out: Dict[str, Any] = {"run_dir": run_dir}
    out.update(kw)
    return out


# ------------------------------------------------------------------------------------------------ helpers
def test_write_private_json_is_0600_even_over_an_open_file(tmp_path):
    path = str(tmp_path / "run.json")
    with open(path, "w") as fh:
        fh.write("{}")
    os.chmod(path, 0o644)
    mod.write_private_json(path, {"writer": DSN})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(open(path).read())["writer"]["password"] == DSN["password"]
    assert [f for f in os.listdir(str(tmp_path)) if ".tmp." in f] == []


def test_build_config():
    p = {"writer": DSN, "reader": dict(DSN, port=5001), "rate": 20, "read_rate": None, "connect_timeout": 2,
         "statement_timeout_ms": 1500, "backoff": 0.1, "table": "chaos_ledger", "poll_interval": 0.5,
         "poll_nodes": [{"name": "patroni1", "host": "10.0.0.11", "port": None}]}
    cfg = mod.build_config(p, mod.run_paths("/r/x"), "x")
    assert cfg["read_rate"] == 20 and cfg["run_id"] == "x" and cfg["ledger_path"] == "/r/x/ledger.jsonl"
    assert cfg["poll_nodes"] == [{"name": "patroni1", "host": "10.0.0.11", "port": 5432}]
    assert cfg["writer"]["password"] == DSN["password"] and cfg["reader"]["port"] == 5001
    assert mod.build_config(dict(p, read_rate=0, reader=None), mod.run_paths("/r/x"), "x")["reader"] is None


DCS_WATCH = {"endpoints": ["https://10.0.0.11:2379", "https://10.0.0.12:2379"], "leader_key": "/service/demo/leader",
             "ca_path": "/tls/ca.crt", "client_cert": "/tls/client.crt", "client_key": "/tls/client.key"}
LB_WATCH = {"balancers": [{"name": "haproxy1", "address": "10.0.0.21"}], "stats_port": 7000, "url_username": "admin",
            "url_password": "St4tsPassw0rd", "vip": "10.0.0.100", "backend": "primary"}
ALERT_WATCH = {"url": "https://10.0.0.41:9093", "ca_path": "/tls/ca.crt", "client_cert": None, "client_key": None,
               "url_username": "admin", "url_password": "Al3rtPassw0rd", "interval": 2.0}


def test_build_config_passes_the_watchers():
    p = {"writer": DSN, "rate": 50, "read_rate": 0, "connect_timeout": 2, "statement_timeout_ms": 2000,
         "backoff": 0.2, "table": "chaos_ledger", "poll_interval": 0.2, "poll_nodes": []}
    cfg = mod.build_config(p, mod.run_paths("/r/x"), "x")
    assert (cfg["dcs_watch"], cfg["lb_watch"], cfg["watch_interval"], cfg["watch_timeout"]) == (None, None, 0.1, 1.0)
    cfg = mod.build_config(dict(p, dcs_watch=DCS_WATCH, lb_watch=LB_WATCH, watch_interval=0.05, watch_timeout=0.5),
                           mod.run_paths("/r/x"), "x")
    assert cfg["dcs_watch"] == DCS_WATCH and cfg["lb_watch"] == LB_WATCH and cfg["poll_interval"] == 0.2
    assert (cfg["watch_interval"], cfg["watch_timeout"]) == (0.05, 0.5)
    assert mod.build_config(p, mod.run_paths("/r/x"), "x")["alert_watch"] is None
    assert mod.build_config(dict(p, alert_watch=ALERT_WATCH), mod.run_paths("/r/x"), "x")["alert_watch"] == ALERT_WATCH


def test_watcher_options_in_the_argument_spec():
    spec = mod.build_argument_spec()
    assert spec["watch_interval"] == {"type": "float", "default": 0.1}
    assert spec["lb_watch"]["options"]["url_password"]["no_log"] is True
    assert spec["dcs_watch"]["options"]["endpoints"] == {"type": "list", "elements": "str", "required": True}
    assert set(spec["lb_watch"]["options"]["balancers"]["options"]) == {"name", "address"}
    assert spec["lb_watch"]["options"]["backend"]["default"] == "primary"
    alert = spec["alert_watch"]["options"]
    assert alert["url"] == {"type": "str", "required": True} and alert["url_password"]["no_log"] is True
    assert alert["interval"] == {"type": "float", "default": 1.0} and alert["client_key"]["no_log"] is False


def test_pid_alive_live_dead_and_zombie():
    assert mod.pid_alive(os.getpid())
    assert not mod.pid_alive(None) and not mod.pid_alive(0)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # exited but not reaped: a zombie counts as gone
        with open("/proc/%d/stat" % proc.pid) as fh:
            if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        time.sleep(0.01)
    assert not mod.pid_alive(proc.pid)
    proc.wait()
    assert not mod.pid_alive(proc.pid)


def test_probe_pid_ignores_a_recycled_pid(tmp_path):
    paths = mod.run_paths(str(tmp_path))
    assert mod.probe_pid(paths) is None  # no pid file
    with open(paths["pid"], "w") as fh:
        fh.write("%d\n" % os.getpid())  # alive, but it is pytest, not the load of this run_dir
    assert mod.probe_pid(paths) is None
    with open(paths["pid"], "w") as fh:
        fh.write("garbage")
    assert mod.probe_pid(paths) is None


def test_wait_for_outcomes():
    now = [0.0]

    def clock():
        return now[0]

    def sleep(s):
        now[0] += s

    assert mod.wait_for(lambda: True, lambda: True, 5, clock, sleep)[0] == "done"
    assert mod.wait_for(lambda: False, lambda: False, 5, clock, sleep)[0] == "died"
    why, elapsed = mod.wait_for(lambda: False, lambda: True, 2, clock, sleep)
    assert why == "timeout" and elapsed == pytest.approx(2.0, abs=0.11)


def test_terminate_kills_a_client_that_ignores_sigterm():
    proc = subprocess.Popen([sys.executable, "-c", "import signal, time, sys; signal.signal(signal.SIGTERM, "
                             "signal.SIG_IGN); print('up', flush=True); time.sleep(30)"], stdout=subprocess.PIPE)
    proc.stdout.readline()
    killed, elapsed = mod.terminate(proc.pid, 0.2)
    assert killed and elapsed >= 0.2
    assert proc.wait(5) == -9


# ------------------------------------------------------------------------------------------------ states
def test_started_in_check_mode_starts_nothing(tmp_path, fake_client, run_module):
    run_dir = str(tmp_path / "run")
    result = run_module(mod, args(run_dir, script=fake_client, writer=DSN), check_mode=True)
    assert result["changed"] is True and not result.get("failed")
    assert "would start" in result["msg"] and not os.path.exists(run_dir)


def test_started_requires_script_and_writer(tmp_path, run_module):
    result = run_module(mod, args(str(tmp_path)))
    assert result["failed"] and "script" in result["msg"] and "writer" in result["msg"]


def test_full_flow_with_a_fake_client(tmp_path, fake_client, run_module, capsys):
    run_dir = str(tmp_path / "leader_stop")
    started = run_module(mod, args(run_dir, script=fake_client, writer=DSN, reader=dict(DSN, port=5001),
                                   poll_nodes=[{"name": "patroni1", "host": "10.0.0.11"}], min_ok_writes=3,
                                   timeout=10))
    try:
        assert not started.get("failed"), started.get("msg")
        assert started["changed"] is True and started["running"] is True and started["already_running"] is False
        assert started["run_id"] == "leader_stop" and started["counts"]["writes"]["ok"] >= 3
        assert undocumented_keys(mod, started) == []
        paths = started["paths"]
        assert stat.S_IMODE(os.stat(paths["config"]).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(run_dir).st_mode) == 0o700
        assert json.load(open(paths["config"]))["poll_nodes"][0]["port"] == 5432
        assert DSN["password"] not in json.dumps(started)
        pid = started["pid"]
        assert mod.probe_pid(paths) == pid

        again = run_module(mod, args(run_dir, script=fake_client, writer=DSN))
        assert again["changed"] is False and again["already_running"] is True and again["pid"] == pid

        marked = run_module(mod, args(run_dir, state="marked", event="fault_injected", detail="stopped patroni1"))
        assert marked["changed"] is True and marked["event"]["event"] == "fault_injected"
        assert marked["event"]["rel"] >= 0 and marked["running"] is True
        events = [json.loads(line) for line in open(paths["events"])]
        assert [e["event"] for e in events] == ["load_started", "fault_injected"]

        waited = run_module(mod, args(run_dir, state="waited", min_ok_writes=5, timeout=10))
        assert not waited.get("failed"), waited.get("msg")
        assert waited["changed"] is False and waited["ok_writes_since"] >= 5
        assert waited["since_event"]["event"] == "fault_injected"
    finally:
        stopped = run_module(mod, args(run_dir, state="stopped", timeout=5))
    assert stopped["changed"] is True and stopped["killed"] is False and stopped["running"] is False
    assert stopped["counts"]["writes"]["ok"] >= 8 and stopped["run_id"] == "leader_stop"
    assert [json.loads(line)["event"] for line in open(paths["events"])][-1] == "load_stopped"
    assert DSN["password"] not in open(paths["log"]).read()
    assert not os.path.exists(paths["pid"])

    again = run_module(mod, args(run_dir, state="stopped"))
    assert again["changed"] is False and again["running"] is False

    # A new start in the same run_dir keeps the previous files once as *.prev.
    restarted = run_module(mod, args(run_dir, script=fake_client, writer=DSN, timeout=10))
    try:
        assert restarted["changed"] is True and os.path.exists(paths["ledger"] + ".prev")
    finally:
        run_module(mod, args(run_dir, state="stopped"))


def test_started_writes_the_watchers_into_run_json(tmp_path, fake_client, run_module):
    run_dir = str(tmp_path / "watch")
    alert_watch = {"url": ALERT_WATCH["url"], "ca_path": "/tls/ca.crt", "url_username": "admin",
                   "url_password": ALERT_WATCH["url_password"], "interval": "2"}
    started = run_module(mod, args(run_dir, script=fake_client, writer=DSN, dcs_watch=DCS_WATCH,
                                   lb_watch=dict(LB_WATCH, stats_port="7000"), alert_watch=alert_watch,
                                   watch_interval=0.05, poll_interval=0.2, timeout=10))
    try:
        assert not started.get("failed"), started.get("msg")
        cfg = json.load(open(started["paths"]["config"]))
        assert cfg["dcs_watch"] == DCS_WATCH and cfg["lb_watch"] == LB_WATCH and cfg["alert_watch"] == ALERT_WATCH
        assert cfg["watch_interval"] == 0.05 and cfg["watch_timeout"] == 1.0 and cfg["poll_interval"] == 0.2
        assert LB_WATCH["url_password"] not in json.dumps(started)
        assert ALERT_WATCH["url_password"] not in json.dumps(started)
    finally:
        run_module(mod, args(run_dir, state="stopped"))


def test_started_fails_with_the_log_when_the_client_dies(tmp_path, fake_client, run_module):
    run_dir = str(tmp_path / "dies")
    result = run_module(mod, args(run_dir, script=fake_client, writer=DSN, timeout=10))
    assert result["failed"] and "exited with status 3" in result["msg"]
    assert "password authentication failed" in result["msg"] and result["running"] is False


def test_waited_fails_when_the_load_is_not_running(tmp_path, run_module):
    result = run_module(mod, args(str(tmp_path), state="waited"))
    assert result["failed"] and "not running" in result["msg"]


def test_marked_in_check_mode_writes_nothing(tmp_path, run_module):
    result = run_module(mod, args(str(tmp_path), state="marked", event="fault_cleared"), check_mode=True)
    assert result["changed"] is True and result["event"]["event"] == "fault_cleared"
    assert not os.path.exists(os.path.join(str(tmp_path), "events.jsonl"))


def test_writer_and_reader_take_the_shared_connection_options():
    spec = mod.build_argument_spec()
    assert spec["writer"]["options"] == spec["reader"]["options"] == dsn_options(sslrootcert=True)
    assert spec["writer"]["options"] is not spec["reader"]["options"]
    assert set(dsn_options()) == {"host", "port", "dbname", "user", "password", "sslmode"}
    assert dsn_options(sslrootcert=True)["sslrootcert"] == {"type": "path"}
    assert dsn_options()["password"]["no_log"] is True


def test_marked_at_a_given_time(tmp_path, run_module):
    """An event read from a log afterwards (keepalived's VRRP transition) is marked at the time it happened."""
    result = run_module(mod, args(str(tmp_path), state="marked", event="vrrp_master", detail="haproxy2",
                                  at=1796142608.5093))
    assert not result.get("failed"), result.get("msg")
    lines = [json.loads(line) for line in open(os.path.join(str(tmp_path), "events.jsonl"))]
    assert lines[-1]["event"] == "vrrp_master" and lines[-1]["t"] == pytest.approx(1796142608.5093)
