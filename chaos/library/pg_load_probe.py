#!/usr/bin/python
# -*- coding: utf-8 -*-
# Start, mark, wait on and stop the chaos experiments' client load (chaos/tools/pgha_loadprobe.py) on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_load_probe
short_description: Run the chaos experiments' client load (writes, reads, node polls) in the background
description:
  - Runs C(chaos/tools/pgha_loadprobe.py) detached on the machine that runs the module (use C(delegate_to=localhost)).
    It writes O(rate) transactions per second through O(writer) and reads through O(reader), polls every node of
    O(poll_nodes) directly, watches the leader key in etcd (O(dcs_watch)), the HAProxy write pools and the VIP
    (O(lb_watch)) and the alerts Alertmanager notifies (O(alert_watch)), and appends every attempt to
    C(<run_dir>/ledger.jsonl).
  - O(state=started) writes C(run.json) (mode 0600, it holds the passwords), spawns the load client in its own
    session with its output in C(probe.log), and waits until it runs and O(min_ok_writes) writes succeeded.
    If the load of this O(run_dir) already runs, nothing changes. Files of an earlier run in O(run_dir) are kept
    once as C(*.prev).
  - O(state=marked) appends O(event) to C(<run_dir>/events.jsonl), with the time, for the report.
  - O(state=waited) waits until O(min_ok_writes) writes succeeded after the last event of C(events.jsonl) (e.g.
    enough steady load after a fault was cleared); it fails after O(timeout) seconds or when the load is not running.
  - O(state=stopped) sends SIGTERM (SIGKILL after O(timeout) seconds) and returns the counts of the run.
  - The rows go into O(table) (created if missing) with O(run_id); C(chaos_report) reads them back to find lost writes.
  - In check mode nothing is started, written or stopped; the module reports what it would do.
options:
  state:
    description: What to do with the load of O(run_dir).
    type: str
    choices: [started, marked, waited, stopped]
    default: started
  run_dir:
    description:
      - Working directory of one run (created, mode 0700) for C(run.json), C(ledger.jsonl), C(events.jsonl),
        C(probe.log), C(probe.pid), C(ready.json) and C(alerts_seen.json) (the alert names the O(alert_watch)
        watcher saw firing, each with when it first did). One load at a time per directory.
    type: path
    required: true
  script:
    description:
      - Path of C(chaos/tools/pgha_loadprobe.py); a module cannot know the project directory, so pass
        C({{ playbook_dir }}/tools/pgha_loadprobe.py) from a playbook in C(chaos/). Required with O(state=started).
    type: path
  python:
    description:
      - Interpreter that runs O(script); it needs C(psycopg2).
      - Default is the interpreter running this module (on the controller, the virtualenv's python).
    type: str
  writer:
    description: Where the writes go (the balancer's write port). Required with O(state=started).
    type: dict
    suboptions: &dsn
      host:
        description:
          - Host or address; a comma-separated list makes libpq try each in turn (with O(writer.target_session_attrs)).
        type: str
        required: true
      port: {description: TCP port., type: int, default: 5432}
      dbname: {description: Database., type: str, required: true}
      user: {description: Role., type: str, required: true}
      password: {description: Password (never returned or logged)., type: str}
      sslmode: {description: libpq sslmode (libpq's default when omitted)., type: str}
      sslrootcert: {description: CA file that verifies the server (libpq sslrootcert)., type: path}
      target_session_attrs:
        description:
          - libpq target_session_attrs. With several hosts it says which one to keep, V(read-write) for the
            leader or V(prefer-standby) for a replica, so the client fails over by itself (the hop-free path).
        type: str
        choices: [any, read-write, read-only, primary, standby, prefer-standby]
  reader:
    description:
      - Where the reads go (the balancer's read port). Same keys as O(writer). Without it no reads are made.
    type: dict
    suboptions: *dsn
  poll_nodes:
    description:
      - PostgreSQL nodes asked directly for C(pg_is_in_recovery) every O(poll_interval) seconds (with the
        O(writer) database, user and password). Two writable nodes in one round count as split brain.
    type: list
    elements: dict
    default: []
    suboptions:
      name: {description: Node name in the ledger and report., type: str, required: true}
      host: {description: Address of the node., type: str, required: true}
      port: {description: PostgreSQL port., type: int, default: 5432}
  rate:
    description: Write transactions per second.
    type: int
    default: 50
  read_rate:
    description: Reads per second (default O(rate)); V(0) makes no reads.
    type: int
  poll_interval:
    description:
      - Seconds between two poll rounds of O(poll_nodes). The first round after a fault that finds another node
        writable times the promotion in C(chaos_report)'s phases, so a shorter interval (V(0.2)) times it closer.
    type: float
    default: 0.5
  watch_interval:
    description:
      - Seconds between two looks of each watcher of O(dcs_watch) and O(lb_watch); O(alert_watch) has its own
        O(alert_watch.interval).
    type: float
    default: 0.1
  watch_timeout:
    description: Timeout in seconds of each watcher request; a look that gets no answer in time is recorded as an error.
    type: float
    default: 1
  dcs_watch:
    description:
      - Reads Patroni's leader key in etcd every O(watch_interval) seconds through etcd's v3 JSON gateway
        (C(POST /v3/kv/range), etcd 3.4 or later), each read a ledger record of kind C(dcs) with the leader's member
        name (null when there is no leader key) and the key's mod_revision.
      - The keys match the C(etcd_client_urls) and C(etcd_client_args) of the etcd role.
      - Without it nothing watches etcd, and the report has no C(leader_key_changed) phase.
    type: dict
    suboptions:
      endpoints:
        description: etcd client URLs, e.g. V(https://172.28.10.11:2379). The one that answered last is asked
          first, then the others in order.
        type: list
        elements: str
        required: true
      leader_key:
        description: The leader key, C(<namespace><scope>/leader), e.g. V(/service/demo/leader).
        type: str
        required: true
      ca_path:
        description: CA file (PEM) that verifies etcd's certificate (the system's CAs without it).
        type: path
      client_cert:
        description: Client certificate (PEM) for etcd's mutual TLS.
        type: path
      client_key:
        description: Private key (PEM) of O(dcs_watch.client_cert).
        type: path
  lb_watch:
    description:
      - Reads HAProxy's stats CSV (C(http://<address>:<stats_port>/;csv)) of every balancer of O(lb_watch.balancers)
        every O(watch_interval) seconds, each read a record of kind C(lb) with the servers UP in
        O(lb_watch.backend).
      - With O(lb_watch.vip), reads C(http://<vip>:<stats_port>/balancer) (HAProxy answers it with the balancer's
        name, without auth) every O(watch_interval) seconds, each read a record of kind C(vip) with the balancer
        that answered (null for an empty page).
      - Without it nothing watches the balancers, and the report has no C(haproxy_up) or C(vip_moved) phase.
    type: dict
    suboptions:
      balancers:
        description: The balancers whose write pool is watched.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: Name of the balancer in the ledger and report (its inventory name).
            type: str
            required: true
          address:
            description: Address its stats page answers on.
            type: str
            required: true
      stats_port:
        description: Port of the stats page (C(haproxy_stats_port)).
        type: int
        default: 7000
      url_username:
        description: Basic-auth user of the stats page.
        type: str
      url_password:
        description: Basic-auth password of the stats page (never returned or logged).
        type: str
      vip:
        description: The virtual IP; its stats page tells which balancer holds it.
        type: str
      backend:
        description: The write backend (C(listen) section) whose UP servers are recorded.
        type: str
        default: primary
  alert_watch:
    description:
      - Asks Alertmanager for its active alerts that are neither silenced nor inhibited
        (C(GET <url>/api/v2/alerts?active=true&silenced=false&inhibited=false)) every O(alert_watch.interval) seconds,
        each answer a ledger record of kind C(alerts) with the firing alerts (alertname, instance, severity and
        Alertmanager's startsAt). Requests time out after O(watch_timeout) seconds.
      - C(chaos_report) computes from these records when each alert fired and resolved, and checks the alerts an
        experiment expects (the C(alerts) option of M(chaos_report)).
      - Without it nothing watches Alertmanager, and the report cannot tell whether an alert fired.
    type: dict
    suboptions:
      url:
        description: Alertmanager's base URL, e.g. V(https://172.28.10.41:9093).
        type: str
        required: true
      ca_path:
        description: CA file (PEM) that verifies Alertmanager's certificate (the system's CAs without it).
        type: path
      client_cert:
        description: Client certificate (PEM), when Alertmanager asks for one.
        type: path
      client_key:
        description: Private key (PEM) of O(alert_watch.client_cert).
        type: path
      url_username:
        description: Basic-auth user of Alertmanager.
        type: str
      url_password:
        description: Basic-auth password of Alertmanager (never returned or logged).
        type: str
      interval:
        description: Seconds between two looks (Prometheus evaluates its alert rules every few seconds).
        type: float
        default: 1.0
  max_duration:
    description:
      - Seconds after which the load stops by itself, so that a playbook interrupted before O(state=stopped)
        never leaves a client writing forever.
    type: float
    default: 3600
  connect_timeout:
    description: libpq connect timeout in seconds (libpq uses at least 2).
    type: int
    default: 2
  statement_timeout_ms:
    description: Server-side statement_timeout of the load's sessions, in milliseconds.
    type: int
    default: 2000
  backoff:
    description: Seconds to wait after an error before connecting again.
    type: float
    default: 0.2
  table:
    description: Table the writes go to (created if missing), V(name) or V(schema.name).
    type: str
    default: chaos_ledger
  run_id:
    description:
      - Key of this run's rows in O(table). Default is the base name of O(run_dir).
      - Ids continue after the highest id already stored under the same run_id, so re-using a run_dir is safe.
    type: str
  min_ok_writes:
    description:
      - With O(state=started), successful writes to wait for before returning.
      - With O(state=waited), successful writes after the last event to wait for.
    type: int
    default: 1
  event:
    description: Event name for O(state=marked), e.g. V(fault_injected), V(fault_cleared), V(leader_changed).
    type: str
  detail:
    description: Free text stored with O(event).
    type: str
    default: ""
  at:
    description:
      - With O(state=marked), when the event happened (seconds since the epoch), for an event read afterwards from a
        log (e.g. keepalived's VRRP transition); by default, now.
    type: float
  timeout:
    description:
      - O(state=started) and O(state=waited) - seconds to wait for the writes.
      - O(state=stopped) - seconds to wait after SIGTERM before SIGKILL.
    type: int
    default: 30
notes:
  - Run it on the controller with C(delegate_to=localhost) and C(run_once=true); the load is a plain process
    there, not a service, so a crashed controller leaves nothing behind on the cluster but the table's rows.
  - Every statement, connection and TCP wait of the load is bounded (connect_timeout, statement_timeout,
    keepalives, tcp_user_timeout), so an outage shows up as failed attempts in the ledger, never as a hang.
author:
  - pgha project maintainers
"""

EXAMPLES = r"""
- name: Start the load through the VIP
  pg_load_probe:
    state: started
    run_dir: "{{ chaos_run_dir }}/leader_stop"
    script: "{{ playbook_dir }}/tools/pgha_loadprobe.py"
    writer: {host: "{{ cluster_vip }}", port: 5000, dbname: app, user: app, password: "{{ patroni_app_password }}"}
    reader: {host: "{{ cluster_vip }}", port: 5001, dbname: app, user: app, password: "{{ patroni_app_password }}"}
    poll_nodes:
      - {name: patroni1, host: 172.28.10.11}
      - {name: patroni2, host: 172.28.10.12}
      - {name: patroni3, host: 172.28.10.13}
    rate: 50
    min_ok_writes: 100
  delegate_to: localhost
  run_once: true

- name: Start the load and record the alerts Alertmanager notifies meanwhile
  pg_load_probe:
    state: started
    run_dir: "{{ chaos_run_dir }}/member_down"
    script: "{{ playbook_dir }}/tools/pgha_loadprobe.py"
    writer: {host: "{{ cluster_vip }}", port: 5000, dbname: app, user: app, password: "{{ patroni_app_password }}"}
    alert_watch:
      url: https://172.28.10.41:9093
      ca_path: "{{ pki_client_files.ca }}"
      url_username: "{{ alertmanager_web_username }}"
      url_password: "{{ alertmanager_web_password }}"
      interval: 1.0
  delegate_to: localhost
  run_once: true

- name: Mark the fault
  pg_load_probe:
    state: marked
    run_dir: "{{ chaos_run_dir }}/leader_stop"
    event: fault_injected
    detail: patroni stopped on patroni1
  delegate_to: localhost
  run_once: true

- name: Wait for 100 successful writes after the fault was cleared
  pg_load_probe:
    state: waited
    run_dir: "{{ chaos_run_dir }}/leader_stop"
    min_ok_writes: 100
    timeout: 120
  delegate_to: localhost
  run_once: true

- name: Stop the load
  pg_load_probe:
    state: stopped
    run_dir: "{{ chaos_run_dir }}/leader_stop"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
run_dir:
  description: The run directory.
  returned: always
  type: str
run_id:
  description: Key of the run's rows in the table (from run.json when the load was started).
  returned: always
  type: str
  sample: leader_stop
pid:
  description: Process id of the load client (null when it is not running and never was in this run_dir).
  returned: always
  type: int
running:
  description: The load client runs after this task.
  returned: always
  type: bool
already_running:
  description: With state=started, the load of this run_dir was already running (nothing was started).
  returned: when state is started
  type: bool
paths:
  description: Files of the run (config, ledger, events, log, pid, ready).
  returned: always
  type: dict
  sample: {config: /work/main/.lab/chaos-runs/leader_stop/run.json,
           ledger: /work/main/.lab/chaos-runs/leader_stop/ledger.jsonl}
counts:
  description: Attempts in the ledger by kind (writes, reads, polls) and outcome (ok, error, unknown, total).
  returned: always
  type: dict
  sample: {writes: {ok: 1490, error: 12, unknown: 1, total: 1503}, reads: {ok: 1500, error: 3, unknown: 0, total: 1503},
           polls: {ok: 178, error: 2, unknown: 0, total: 180}}
ok_writes_since:
  description: With state=waited, successful writes counted after the last event.
  returned: when state is waited
  type: int
since_event:
  description: With state=waited, the event the count starts from (null - the start of the load).
  returned: when state is waited
  type: dict
event:
  description: With state=marked, the event appended (t is epoch seconds, rel seconds since the load started).
  returned: when state is marked
  type: dict
  sample: {t: 1732570000.123, event: fault_injected, detail: patroni stopped on patroni1, rel: 12.4}
killed:
  description: With state=stopped, the client did not exit within timeout after SIGTERM and was killed.
  returned: when state is stopped
  type: bool
elapsed:
  description: Seconds spent waiting (start-up, waited condition or stop).
  returned: always
  type: float
"""

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from ansible.module_utils.basic import AnsibleModule

from ansible.module_utils.pgha_dsn import dsn_options
from ansible.module_utils.pgha_ledger import (
    LOAD_STARTED,
    LOAD_STOPPED,
    LedgerTail,
    append_jsonl,
    count_outcomes,
    iter_jsonl,
    make_event,
    read_jsonl,
)

FILES = {"config": "run.json", "ledger": "ledger.jsonl", "events": "events.jsonl", "log": "probe.log",
         "pid": "probe.pid", "ready": "ready.json", "alerts_seen": "alerts_seen.json"}
# Files of a previous run kept once as <name>.prev when a new load starts in the same run_dir.
ROTATED = ("ledger", "events", "log", "ready", "alerts_seen")
POLL_S = 0.1


# ---------------------------------------------------------------------------------------------- helpers
def run_paths(run_dir: str) -> Dict[str, str]:
    return {key: os.path.join(run_dir, name) for key, name in FILES.items()}


def read_pid(path: str) -> Optional[int]:
    try:
        with open(path, encoding="utf-8") as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def pid_alive(pid: Optional[int]) -> bool:
    """The process exists and is not a zombie (an exited child nobody reaped yet counts as gone)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def pid_cmdline(pid: int) -> Optional[List[str]]:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            return [a.decode("utf-8", "replace") for a in fh.read().split(b"\0") if a]
    except OSError:
        return None


def probe_pid(paths: Dict[str, str]) -> Optional[int]:
    """Pid of the load client of this run_dir if it runs (a recycled pid running something else does not count)."""
    pid = read_pid(paths["pid"])
    if pid is None or not pid_alive(pid):
        return None
    cmdline = pid_cmdline(pid)
    if cmdline is not None and not any(os.path.abspath(a) == os.path.abspath(paths["config"]) for a in cmdline):
        return None
    return pid


def dsn_config(dsn: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    if not dsn:
        return None
    return {k: dsn.get(k) for k in ("host", "port", "dbname", "user", "password", "sslmode", "sslrootcert",
                                    "target_session_attrs")}


def build_config(p: Dict[str, Any], paths: Dict[str, str], run_id: str) -> Dict[str, Any]:
    """The load client's run.json (holds the passwords)."""
    return {
        "writer": dsn_config(p["writer"]),
        "reader": dsn_config(p.get("reader")),
        "rate": p["rate"],
        "read_rate": p["rate"] if p.get("read_rate") is None else p["read_rate"],
        "max_duration": p.get("max_duration") or 3600,
        "connect_timeout": p["connect_timeout"],
        "statement_timeout_ms": p["statement_timeout_ms"],
        "backoff": p["backoff"],
        "table": p["table"],
        "run_id": run_id,
        "ledger_path": paths["ledger"],
        "events_path": paths["events"],
        "ready_path": paths["ready"],
        "alerts_seen_path": paths["alerts_seen"],
        "pid_path": paths["pid"],
        "poll_nodes": [{"name": n["name"], "host": n["host"], "port": n.get("port") or 5432}
                       for n in p.get("poll_nodes") or []],
        "poll_interval": p["poll_interval"],
        "watch_interval": p.get("watch_interval") or 0.1,
        "watch_timeout": p.get("watch_timeout") or 1.0,
        "dcs_watch": p.get("dcs_watch"),
        "lb_watch": p.get("lb_watch"),
        "alert_watch": p.get("alert_watch"),
    }


def write_private_json(path: str, data: Any) -> None:
    """Write JSON readable by the owner only (0600 from the first byte, also when the file existed)."""
    tmp = "%s.tmp.%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fd = -1
            json.dump(data, fh, indent=2)
            fh.write("\n")
    finally:
        if fd >= 0:
            os.close(fd)
    os.replace(tmp, path)


def read_json(path: str) -> Optional[Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def stored_run_id(paths: Dict[str, str], run_dir: str) -> str:
    cfg = read_json(paths["config"])
    if isinstance(cfg, dict) and cfg.get("run_id"):
        return str(cfg["run_id"])
    return os.path.basename(os.path.normpath(run_dir))


def quick_counts(ledger: str) -> Dict[str, Dict[str, int]]:
    counts = count_outcomes(iter_jsonl(ledger))
    return {"writes": counts["write"], "reads": counts["read"], "polls": counts["poll"]}


def log_tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return "".join(fh.readlines()[-lines:]).rstrip()
    except OSError:
        return "(no log)"


def rotate_previous(paths: Dict[str, str]) -> None:
    for key in ROTATED:
        if os.path.exists(paths[key]):
            os.replace(paths[key], paths[key] + ".prev")


def spawn(python: str, script: str, paths: Dict[str, str], run_dir: str) -> subprocess.Popen:
    """Start the load client detached: own session, no inherited descriptors, output to probe.log."""
    with open(paths["log"], "ab") as log:
        return subprocess.Popen(
            [python, script, "--config", paths["config"]],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=run_dir, start_new_session=True, close_fds=True,
        )


def count_ok_writes(records: List[Dict[str, Any]], since: Optional[float] = None) -> int:
    return sum(1 for r in records if r.get("kind") == "write" and r.get("outcome") == "ok"
               and (since is None or (r.get("start") or 0) >= since))


def wait_for(
    done: Callable[[], bool],
    alive: Callable[[], bool],
    timeout: float,
    clock: Optional[Callable[[], float]] = None,
    sleep: Optional[Callable[[float], None]] = None,
) -> Tuple[str, float]:
    """Poll until done() ('done'), the client died ('died') or timeout ('timeout'); returns (why, elapsed)."""
    clock = clock or time.monotonic
    sleep = sleep or time.sleep
    start = clock()
    while True:
        if done():
            return "done", round(clock() - start, 3)
        if not alive():
            # One more look: the client may have finished its work just before exiting.
            return ("done" if done() else "died"), round(clock() - start, 3)
        if clock() - start >= timeout:
            return "timeout", round(clock() - start, 3)
        sleep(POLL_S)


def terminate(pid: int, timeout: float, clock: Optional[Callable[[], float]] = None,
              sleep: Optional[Callable[[float], None]] = None) -> Tuple[bool, float]:
    """SIGTERM, wait up to timeout, then SIGKILL. Returns (killed, elapsed)."""
    clock = clock or time.monotonic
    sleep = sleep or time.sleep
    start = clock()
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False, 0.0
    while clock() - start < timeout:
        if not pid_alive(pid):
            return False, round(clock() - start, 3)
        sleep(POLL_S)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False, round(clock() - start, 3)
    kill_start = clock()
    while pid_alive(pid) and clock() - kill_start < 5:
        sleep(POLL_S)
    return True, round(clock() - start, 3)


def load_start_time(paths: Dict[str, str]) -> Optional[float]:
    starts = [e["t"] for e in iter_jsonl(paths["events"]) if e.get("event") == LOAD_STARTED]
    return starts[-1] if starts else None


# ------------------------------------------------------------------------------------------------ states
def do_started(module: AnsibleModule, paths: Dict[str, str], result: Dict[str, Any]) -> None:
    p = module.params
    pid = probe_pid(paths)
    if pid:
        result.update(changed=False, pid=pid, running=True, already_running=True,
                      counts=quick_counts(paths["ledger"]), msg="the load of this run_dir already runs (pid %d)" % pid)
        return
    result.update(already_running=False, changed=True)
    python = p["python"] or sys.executable
    script = p["script"]
    if not os.path.isfile(script):
        module.fail_json(msg="script %s does not exist: pass the path of chaos/tools/pgha_loadprobe.py, e.g. "
                             "\"{{ playbook_dir }}/tools/pgha_loadprobe.py\" from a playbook in chaos/" % script,
                         **result)
    if module.check_mode:
        result.update(msg="would start %s %s writing %d/s to %s:%s" % (python, script, p["rate"], p["writer"]["host"],
                                                                       p["writer"]["port"]))
        return
    run_dir = p["run_dir"]
    if not os.path.isdir(run_dir):
        os.makedirs(run_dir, mode=0o700)
    rotate_previous(paths)
    write_private_json(paths["config"], build_config(p, paths, result["run_id"]))
    proc = spawn(python, script, paths, run_dir)
    with open(paths["pid"], "w", encoding="utf-8") as fh:
        fh.write("%d\n" % proc.pid)
    result.update(pid=proc.pid)
    tail = LedgerTail(paths["ledger"])
    ok = [0]

    def done() -> bool:
        ok[0] += count_ok_writes(tail.poll())
        return os.path.exists(paths["ready"]) and ok[0] >= p["min_ok_writes"]

    why, elapsed = wait_for(done, lambda: proc.poll() is None, p["timeout"])
    result.update(elapsed=elapsed, counts=quick_counts(paths["ledger"]))
    if why == "died":
        result.update(running=False)
        module.fail_json(msg="the load client exited with status %s before %d write(s) succeeded; end of %s:\n%s"
                             % (proc.returncode, p["min_ok_writes"], paths["log"], log_tail(paths["log"])), **result)
    if why == "timeout":
        killed, _ = terminate(proc.pid, 5)
        proc.poll()
        result.update(running=False)
        module.fail_json(msg="only %d of %d write(s) succeeded within %ss (the load was stopped%s); writes: %s; "
                             "end of %s:\n%s" % (ok[0], p["min_ok_writes"], p["timeout"], ", killed" if killed else "",
                                                 result["counts"]["writes"], paths["log"], log_tail(paths["log"])),
                         **result)
    result.update(running=True, msg="load started (pid %d)" % proc.pid)


def do_marked(module: AnsibleModule, paths: Dict[str, str], result: Dict[str, Any]) -> None:
    p = module.params
    event = make_event(p["event"], p["detail"], t=p["at"])
    t0 = load_start_time(paths)
    shown = dict(event, rel=None if t0 is None else round(event["t"] - t0, 3))
    result.update(changed=True, event=shown, pid=probe_pid(paths))
    result["running"] = result["pid"] is not None
    if module.check_mode:
        return
    if not os.path.isdir(p["run_dir"]):
        module.fail_json(msg="run_dir %s does not exist: start the load first (state=started)" % p["run_dir"],
                         **result)
    append_jsonl(paths["events"], event)


def do_waited(module: AnsibleModule, paths: Dict[str, str], result: Dict[str, Any]) -> None:
    p = module.params
    pid = probe_pid(paths)
    result.update(pid=pid, running=pid is not None)
    if pid is None:
        if module.check_mode:
            result.update(msg="the load is not running (check mode: nothing was started)", ok_writes_since=0,
                          since_event=None)
            return
        module.fail_json(msg="the load of %s is not running; end of %s:\n%s"
                             % (p["run_dir"], paths["log"], log_tail(paths["log"])), **result)
    events = read_jsonl(paths["events"])
    since_event = events[-1] if events and events[-1].get("event") != LOAD_STARTED else None
    since = since_event["t"] if since_event else None
    tail = LedgerTail(paths["ledger"])
    ok = [0]
    min_ok_writes: int = p["min_ok_writes"]

    def done() -> bool:
        ok[0] += count_ok_writes(tail.poll(), since)
        return ok[0] >= min_ok_writes

    why, elapsed = wait_for(done, lambda: pid_alive(pid), p["timeout"])
    result.update(elapsed=elapsed, ok_writes_since=ok[0], since_event=since_event, counts=quick_counts(paths["ledger"]))
    if why != "done":
        result["running"] = pid_alive(pid)
        what = "the load client exited" if why == "died" else "timed out after %ss" % p["timeout"]
        module.fail_json(msg="%s: %d of %d write(s) succeeded since %s; writes: %s; end of %s:\n%s"
                             % (what, ok[0], p["min_ok_writes"],
                                "event %s" % since_event["event"] if since_event else "the start of the load",
                                result["counts"]["writes"], paths["log"], log_tail(paths["log"])), **result)


def do_stopped(module: AnsibleModule, paths: Dict[str, str], result: Dict[str, Any]) -> None:
    p = module.params
    pid = probe_pid(paths)
    result.update(pid=pid or read_pid(paths["pid"]), killed=False)
    if pid is None:
        result.update(changed=False, running=False, counts=quick_counts(paths["ledger"]),
                      msg="the load of this run_dir is not running")
        return
    result.update(changed=True)
    if module.check_mode:
        result.update(running=True, counts=quick_counts(paths["ledger"]), msg="would stop pid %d" % pid)
        return
    killed, elapsed = terminate(pid, p["timeout"])
    if killed:
        append_jsonl(paths["events"], make_event(LOAD_STOPPED, "killed after %ss without exiting" % p["timeout"]))
    try:
        os.unlink(paths["pid"])
    except OSError:
        pass
    result.update(killed=killed, elapsed=elapsed, running=pid_alive(pid), counts=quick_counts(paths["ledger"]),
                  msg="load stopped%s" % (" (killed)" if killed else ""))


# ------------------------------------------------------------------------------------------------- module
def build_argument_spec() -> Dict[str, Any]:
    """The module's argument_spec (a function so tests can compare it with DOCUMENTATION)."""
    return dict(
        state=dict(type="str", choices=["started", "marked", "waited", "stopped"], default="started"),
        run_dir=dict(type="path", required=True),
        script=dict(type="path"),
        python=dict(type="str"),
        writer=dict(type="dict", options=dsn_options(sslrootcert=True)),
        reader=dict(type="dict", options=dsn_options(sslrootcert=True)),
        poll_nodes=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            host=dict(type="str", required=True),
            port=dict(type="int", default=5432),
        )),
        rate=dict(type="int", default=50),
        read_rate=dict(type="int"),
        poll_interval=dict(type="float", default=0.5),
        watch_interval=dict(type="float", default=0.1),
        watch_timeout=dict(type="float", default=1.0),
        dcs_watch=dict(type="dict", options=dict(
            endpoints=dict(type="list", elements="str", required=True),
            leader_key=dict(type="str", required=True, no_log=False),
            ca_path=dict(type="path"),
            client_cert=dict(type="path"),
            client_key=dict(type="path"),
        )),
        lb_watch=dict(type="dict", options=dict(
            balancers=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True),
                address=dict(type="str", required=True),
            )),
            stats_port=dict(type="int", default=7000),
            url_username=dict(type="str"),
            url_password=dict(type="str", no_log=True),
            vip=dict(type="str"),
            backend=dict(type="str", default="primary"),
        )),
        alert_watch=dict(type="dict", options=dict(
            url=dict(type="str", required=True),
            ca_path=dict(type="path"),
            client_cert=dict(type="path"),
            client_key=dict(type="path", no_log=False),
            url_username=dict(type="str"),
            url_password=dict(type="str", no_log=True),
            interval=dict(type="float", default=1.0),
        )),
        max_duration=dict(type="float", default=3600),
        connect_timeout=dict(type="int", default=2),
        statement_timeout_ms=dict(type="int", default=2000),
        backoff=dict(type="float", default=0.2),
        table=dict(type="str", default="chaos_ledger"),
        run_id=dict(type="str"),
        min_ok_writes=dict(type="int", default=1),
        event=dict(type="str"),
        detail=dict(type="str", default=""),
        at=dict(type="float"),
        timeout=dict(type="int", default=30),
    )


def main() -> None:
    module = AnsibleModule(
        argument_spec=build_argument_spec(),
        required_if=[("state", "started", ("script", "writer")), ("state", "marked", ("event",))],
        supports_check_mode=True,
    )
    p = module.params
    if p["rate"] <= 0:
        module.fail_json(msg="rate must be positive, got %d" % p["rate"])
    if p["read_rate"] is not None and p["read_rate"] < 0:
        module.fail_json(msg="read_rate must be 0 (no reads) or positive, got %d" % p["read_rate"])
    run_dir = os.path.abspath(p["run_dir"])
    p["run_dir"] = run_dir
    paths = run_paths(run_dir)
    run_id = p["run_id"] or (os.path.basename(os.path.normpath(run_dir)) if p["state"] == "started"
                             else stored_run_id(paths, run_dir))
    result: Dict[str, Any] = dict(changed=False, run_dir=run_dir, run_id=run_id, paths=paths, pid=None,
                                  running=False, counts=None, elapsed=0.0)
    {"started": do_started, "marked": do_marked, "waited": do_waited, "stopped": do_stopped}[p["state"]](
        module, paths, result)
    if result.get("counts") is None:
        result["counts"] = quick_counts(paths["ledger"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
