#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Client load of the chaos experiments: paced writes and reads through the balancers, direct polls of every
# node, each attempt recorded in a JSONL ledger. Started and stopped by chaos/library/pg_load_probe.py.
"""Run the chaos load client.

    python chaos/tools/pgha_loadprobe.py --config RUN_DIR/run.json

Threads (all paced on a monotonic schedule that skips missed slots instead of bursting after an outage):

* writer: one connection, one ``INSERT ... RETURNING`` per transaction then COMMIT; ids 1, 2, 3, ... (per
  run_id, continuing after the highest id already in the table). Outcome ``ok`` when COMMIT returned,
  ``error`` when anything failed before COMMIT was sent (the row cannot exist), ``unknown`` when COMMIT itself
  failed (the row may exist).
* reader: ``SELECT`` of the answering server, its recovery state and timeline through the read port.
* one poller per node in ``poll_nodes``: ``pg_is_in_recovery()`` straight from the node every ``poll_interval``;
  all pollers share the schedule, so the answers of one ``round`` are taken at the same instant.
* watchers, each optional, every ``watch_interval`` seconds (the alerts watcher every ``alert_watch.interval``;
  requests bounded by ``watch_timeout``), Python's standard library only:

  * dcs (with ``dcs_watch``): the Patroni leader key through etcd's v3 JSON gateway (``POST /v3/kv/range``),
    HTTPS with the CA and a client certificate; the endpoint that answered last is asked first, then the others
    in order. Records kind ``dcs``: ``value`` (the leader's member name, null without a key), ``revision``.
  * lb, one per balancer of ``lb_watch``: HAProxy's stats CSV (``http://<address>:<stats_port>/;csv``, basic
    auth); records kind ``lb``, ``node`` = the balancer, ``up`` = the servers UP in the write backend.
  * vip (with ``lb_watch.vip``): ``http://<vip>:<stats_port>/balancer`` (HAProxy answers it with the inventory
    name of the balancer, before the stats page and without auth); records kind ``vip``, ``balancer`` = who
    holds the VIP (null when the page is empty).
  * alerts (with ``alert_watch``): Alertmanager's ``GET <url>/api/v2/alerts?active=true&silenced=false&inhibited=false``
    (basic auth, HTTPS verified against ``ca_path``, optional client certificate); records kind ``alerts``,
    ``firing`` = the active alerts, each ``{"alertname", "instance", "severity", "starts_at"}`` (instance: the
    ``instance`` label, else ``name``), sorted by alertname and instance.

On any error the connection is closed and opened again after ``backoff`` seconds. libpq's connect_timeout,
TCP keepalives and tcp_user_timeout plus the server's statement_timeout bound every call, so nothing hangs, with
one exception by design: a COMMIT waiting for its synchronous standbys (PostgreSQL disarms statement_timeout
before it commits). That wait ends when a standby confirms or the connection breaks; the write gap shows it.
SIGTERM/SIGINT: the threads stop, the files are flushed and the process exits 0 within about 2 seconds.

Config (JSON; only ``writer`` and ``ledger_path`` are required)::

    {"writer": {"host": "172.28.10.100", "port": 5000, "dbname": "app", "user": "app", "password": "...",
                "sslmode": "verify-full", "sslrootcert": "/path/to/ca.crt"},
     "reader": {... same keys ..., "port": 5001},
     "rate": 50, "read_rate": 50, "connect_timeout": 2, "statement_timeout_ms": 2000, "backoff": 0.2,
     "table": "chaos_ledger", "run_id": "leader_stop", "ledger_path": "...", "events_path": "...",
     "ready_path": "...", "pid_path": "...", "alerts_seen_path": "...",
     "poll_nodes": [{"name": "patroni1", "host": "172.28.10.11", "port": 5432}], "poll_interval": 0.5,
     "watch_interval": 0.1, "watch_timeout": 1.0,
     "dcs_watch": {"endpoints": ["https://172.28.10.11:2379", ...], "leader_key": "/service/demo/leader",
                   "ca_path": "/path/ca.crt", "client_cert": "/path/client.crt", "client_key": "/path/client.key"},
     "lb_watch": {"balancers": [{"name": "haproxy1", "address": "172.28.10.21"}, ...], "stats_port": 7000,
                  "url_username": "admin", "url_password": "...", "vip": "172.28.10.100", "backend": "primary"},
     "alert_watch": {"url": "https://172.28.10.41:9093", "ca_path": "/path/ca.crt", "url_username": "admin",
                     "url_password": "...", "interval": 1.0}}

``alert_watch`` needs ``url``; ``interval`` (default 1.0 s) must be positive; ``client_cert`` and ``client_key``
are optional, as for ``dcs_watch``.

Nothing secret is logged: the database password only goes to libpq, the stats and Alertmanager passwords only
into the Authorization header.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import logging
import math
import os
import re
import signal
import ssl
import sys
import threading
import time
import urllib.request
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

# The ledger module is chaos/module_utils/pgha_ledger.py and the HAProxy stats parser module_utils/pgha_haproxy.py,
# imported as plain modules: this script runs with any python that has psycopg2, without Ansible.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "module_utils"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "module_utils"))

from pgha_haproxy import parse_csv, summarize
from pgha_ledger import KINDS, LOAD_STARTED, LOAD_STOPPED, JsonlAppender, make_event, make_record

try:
    import psycopg2
    from psycopg2 import sql
except ImportError:  # pragma: no cover - reported by main()
    HAS_PSYCOPG2 = False
else:
    HAS_PSYCOPG2 = True

LOG = logging.getLogger("pgha_loadprobe")

# The timeline a primary writes on: the first 8 hex digits of the current WAL file name. Exact right after a
# promotion (pg_control_checkpoint().timeline_id only changes at the next checkpoint), but pg_walfile_name()
# is refused during recovery, so only valid where pg_is_in_recovery() is false.
PRIMARY_TIMELINE_SQL = "('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int"
# Any server: a primary as above; a standby reports the timeline its WAL receiver streams (received_tli is
# only visible with pg_read_all_stats), else the highest of its last restartpoint's and min recovery point's
# timelines (lower bounds that catch up within a checkpoint).
ANY_TIMELINE_SQL = (
    "CASE WHEN pg_is_in_recovery() THEN COALESCE((SELECT received_tli FROM pg_stat_wal_receiver), "
    "GREATEST((SELECT timeline_id FROM pg_control_checkpoint()), "
    "(SELECT NULLIF(min_recovery_end_timeline, 0) FROM pg_control_recovery()))) "
    "ELSE " + PRIMARY_TIMELINE_SQL + " END"
)
READ_SQL = "SELECT host(inet_server_addr()), pg_is_in_recovery(), " + ANY_TIMELINE_SQL
POLL_SQL = READ_SQL
IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")
READY_REFRESH_S = 1.0
STOP_GRACE_S = 1.5


# ------------------------------------------------------------------------------------------------ config
@dataclasses.dataclass
class Dsn:
    host: str
    dbname: str
    user: str
    port: int = 5432
    password: str = ""
    sslmode: Optional[str] = None
    sslrootcert: Optional[str] = None
    # With host "a,b,c": which node libpq keeps (read-write: the leader), i.e. client-side failover.
    target_session_attrs: Optional[str] = None


@dataclasses.dataclass
class PollNode:
    name: str
    host: str
    port: int = 5432


@dataclasses.dataclass
class DcsWatch:
    endpoints: List[str]
    leader_key: str
    ca_path: Optional[str] = None
    client_cert: Optional[str] = None
    client_key: Optional[str] = None


@dataclasses.dataclass
class Balancer:
    name: str
    address: str


@dataclasses.dataclass
class LbWatch:
    balancers: List[Balancer]
    stats_port: int = 7000
    url_username: Optional[str] = None
    url_password: Optional[str] = dataclasses.field(default=None, repr=False)
    vip: Optional[str] = None
    backend: str = "primary"


@dataclasses.dataclass
class AlertWatch:
    url: str
    ca_path: Optional[str] = None
    client_cert: Optional[str] = None
    client_key: Optional[str] = None
    url_username: Optional[str] = None
    url_password: Optional[str] = dataclasses.field(default=None, repr=False)
    interval: float = 1.0


@dataclasses.dataclass
class Config:
    writer: Dsn
    ledger_path: str
    reader: Optional[Dsn] = None
    rate: float = 50.0
    read_rate: Optional[float] = None  # None: same as rate; 0: no reads
    connect_timeout: float = 2.0
    statement_timeout_ms: int = 2000
    backoff: float = 0.2
    table: str = "chaos_ledger"
    run_id: str = "chaos"
    events_path: Optional[str] = None
    ready_path: Optional[str] = None
    # The alert names the alerts watcher has seen firing, each with when it first did (written when one is new),
    # so a playbook can hold a fault until an alert fired even if it resolved before the playbook looked.
    alerts_seen_path: Optional[str] = None
    pid_path: Optional[str] = None
    poll_nodes: List[PollNode] = dataclasses.field(default_factory=list)
    poll_interval: float = 0.5
    # Safety net: the load stops by itself after this many seconds, so a playbook killed before
    # it could stop the load never leaves a client writing forever.
    max_duration: float = 3600.0
    dcs_watch: Optional[DcsWatch] = None
    lb_watch: Optional[LbWatch] = None
    alert_watch: Optional[AlertWatch] = None
    watch_interval: float = 0.1
    watch_timeout: float = 1.0


def _dsn(data: Any, where: str) -> Dsn:
    if not isinstance(data, dict):
        raise ValueError("%s must be an object with host, port, dbname, user, password" % where)
    missing = [k for k in ("host", "dbname", "user") if not data.get(k)]
    if missing:
        raise ValueError("%s lacks %s" % (where, ", ".join(missing)))
    return Dsn(host=str(data["host"]), dbname=str(data["dbname"]), user=str(data["user"]),
               port=int(data.get("port") or 5432), password=str(data.get("password") or ""),
               sslmode=data.get("sslmode") or None, sslrootcert=data.get("sslrootcert") or None,
               target_session_attrs=data.get("target_session_attrs") or None)


def _dcs_watch(data: Any) -> Optional[DcsWatch]:
    if not data:
        return None
    endpoints = data.get("endpoints") if isinstance(data, dict) else None
    if isinstance(endpoints, str):
        endpoints = [endpoints]
    if not endpoints or not data.get("leader_key"):
        raise ValueError("dcs_watch needs endpoints (a list of etcd client URLs) and leader_key")
    return DcsWatch(endpoints=[str(e).rstrip("/") for e in endpoints], leader_key=str(data["leader_key"]),
                    ca_path=data.get("ca_path") or None, client_cert=data.get("client_cert") or None,
                    client_key=data.get("client_key") or None)


def _lb_watch(data: Any) -> Optional[LbWatch]:
    if not data:
        return None
    if not isinstance(data, dict):
        raise ValueError("lb_watch must be an object with balancers and/or vip")
    balancers = []
    for i, item in enumerate(data.get("balancers") or []):
        if not isinstance(item, dict) or not item.get("name") or not item.get("address"):
            raise ValueError("lb_watch.balancers[%d] needs a name and an address" % i)
        balancers.append(Balancer(name=str(item["name"]), address=str(item["address"])))
    if not balancers and not data.get("vip"):
        raise ValueError("lb_watch needs balancers or a vip")
    return LbWatch(balancers=balancers, stats_port=int(data.get("stats_port") or 7000),
                   url_username=data.get("url_username") or None, url_password=data.get("url_password") or None,
                   vip=data.get("vip") or None, backend=str(data.get("backend") or "primary"))


def _alert_watch(data: Any) -> Optional[AlertWatch]:
    if not data:
        return None
    if not isinstance(data, dict) or not data.get("url"):
        raise ValueError("alert_watch needs url (Alertmanager's base URL, e.g. https://172.28.10.41:9093)")
    interval = 1.0 if data.get("interval") is None else float(data["interval"])
    if interval <= 0:
        raise ValueError("alert_watch.interval must be positive, got %s" % interval)
    return AlertWatch(url=str(data["url"]).rstrip("/"), ca_path=data.get("ca_path") or None,
                      client_cert=data.get("client_cert") or None, client_key=data.get("client_key") or None,
                      url_username=data.get("url_username") or None, url_password=data.get("url_password") or None,
                      interval=interval)


def config_from_dict(data: Dict[str, Any], base_dir: str = ".") -> Config:
    """Validate a config dict (raises ValueError naming the bad key); relative paths are taken from base_dir."""
    if not isinstance(data, dict):
        raise ValueError("the config must be a JSON object")

    def path(key: str, default: str) -> str:
        return os.path.join(base_dir, data.get(key) or default)

    def number(key: str, default: float) -> float:
        value = data.get(key)
        return float(default if value is None else value)

    nodes = []
    for i, node in enumerate(data.get("poll_nodes") or []):
        if not isinstance(node, dict) or not node.get("host"):
            raise ValueError("poll_nodes[%d] needs at least a host" % i)
        nodes.append(PollNode(name=str(node.get("name") or node["host"]), host=str(node["host"]),
                              port=int(node.get("port") or 5432)))
    cfg = Config(
        writer=_dsn(data.get("writer"), "writer"),
        reader=_dsn(data["reader"], "reader") if data.get("reader") else None,
        rate=number("rate", 50),
        read_rate=None if data.get("read_rate") is None else float(data["read_rate"]),
        connect_timeout=float(data.get("connect_timeout") or 2),
        statement_timeout_ms=int(data.get("statement_timeout_ms") or 2000),
        backoff=number("backoff", 0.2),
        table=str(data.get("table") or "chaos_ledger"),
        run_id=str(data.get("run_id") or "chaos"),
        ledger_path=path("ledger_path", "ledger.jsonl"),
        events_path=path("events_path", "events.jsonl"),
        ready_path=path("ready_path", "ready.json"),
        alerts_seen_path=os.path.join(base_dir, data["alerts_seen_path"]) if data.get("alerts_seen_path") else None,
        pid_path=os.path.join(base_dir, data["pid_path"]) if data.get("pid_path") else None,
        poll_nodes=nodes,
        poll_interval=float(data.get("poll_interval") or 0.5),
        max_duration=float(data.get("max_duration") or 3600.0),
        dcs_watch=_dcs_watch(data.get("dcs_watch")),
        lb_watch=_lb_watch(data.get("lb_watch")),
        alert_watch=_alert_watch(data.get("alert_watch")),
        watch_interval=number("watch_interval", 0.1),
        watch_timeout=number("watch_timeout", 1.0),
    )
    if cfg.rate <= 0:
        raise ValueError("rate must be positive, got %s" % cfg.rate)
    if cfg.read_rate is not None and cfg.read_rate < 0:
        raise ValueError("read_rate must be 0 (no reads) or positive, got %s" % cfg.read_rate)
    if cfg.poll_interval <= 0:
        raise ValueError("poll_interval must be positive")
    if cfg.watch_interval <= 0 or cfg.watch_timeout <= 0:
        raise ValueError("watch_interval and watch_timeout must be positive")
    if not IDENT_RE.match(cfg.table):
        raise ValueError("table must be a plain identifier (optionally schema.table), got %r" % cfg.table)
    return cfg


def load_config(path: str) -> Config:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return config_from_dict(data, os.path.dirname(os.path.abspath(path)))


def effective_read_rate(cfg: Config) -> float:
    if cfg.reader is None:
        return 0.0
    return cfg.rate if cfg.read_rate is None else cfg.read_rate


def connect_kwargs(dsn: Dsn, connect_timeout: float, statement_timeout_ms: int, application_name: str,
                   libpq_version: int = 0) -> Dict[str, Any]:
    """psycopg2.connect() keyword arguments: short connect timeout, aggressive keepalives, statement_timeout."""
    kw: Dict[str, Any] = dict(
        host=dsn.host, port=dsn.port, dbname=dsn.dbname, user=dsn.user, password=dsn.password,
        # libpq treats anything below 2 seconds as 2.
        connect_timeout=max(2, int(math.ceil(connect_timeout))),
        keepalives=1, keepalives_idle=1, keepalives_interval=1, keepalives_count=2,
        application_name=application_name,
        options="-c statement_timeout=%d" % int(statement_timeout_ms),
    )
    if dsn.sslmode:
        kw["sslmode"] = dsn.sslmode
    if dsn.sslrootcert:
        kw["sslrootcert"] = dsn.sslrootcert
    if dsn.target_session_attrs:
        kw["target_session_attrs"] = dsn.target_session_attrs
    if libpq_version >= 120000:
        # Unacknowledged data for this long closes the connection (a peer that vanished mid-statement).
        kw["tcp_user_timeout"] = max(2000, int(math.ceil(connect_timeout)) * 1000)
    return kw


def describe_error(exc: BaseException) -> str:
    """One line: exception class and the first line(s) of libpq's message, never longer than 300 chars."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = "%s: %s" % (type(exc).__name__, text)
    return text if len(text) <= 300 else text[:297] + "..."


# PostgreSQL's warning when a COMMIT's wait for its synchronous standbys is cancelled (a cancel request, e.g. an
# application's query timeout): the transaction is committed locally and the COMMIT reports success, but no
# standby confirmed it, so a failover can lose it. The load counts such a commit as unknown, never as acknowledged.
SYNC_REP_CANCELED = "canceling wait for synchronous replication"


def sync_rep_canceled(notices: Sequence[str]) -> Optional[str]:
    """The server's warning when a COMMIT returned without its synchronous confirmation, else None."""
    for notice in notices:
        if SYNC_REP_CANCELED in notice:
            return " ".join(notice.split())
    return None


# ---------------------------------------------------------------------------------------------- watchers
# fetch(url, body): one HTTP request (GET, or POST of a JSON body) -> (response body, response headers); an error
# status, a refused connection or a timeout raises.
Fetch = Callable[[str, Optional[bytes]], Tuple[bytes, Dict[str, str]]]
# What one look of a watcher found: the ledger fields of its record (node, value, revision, up, balancer).
Observe = Callable[[], Dict[str, Any]]


def http_fetcher(timeout: float, ca_path: Optional[str] = None, client_cert: Optional[str] = None,
                 client_key: Optional[str] = None, username: Optional[str] = None,
                 password: Optional[str] = None) -> Fetch:
    """A Fetch over urllib: no proxy, ``timeout`` per request, TLS verified against ``ca_path`` (the system CAs
    without it) with an optional client certificate, basic auth sent with every request when ``username`` is set.
    The TLS files are read at the first request and again after a failure, so a missing file is an error record.
    """
    headers = {"User-Agent": "pgha-loadprobe", "Accept": "*/*"}
    if username:
        token = base64.b64encode(("%s:%s" % (username, password or "")).encode("utf-8")).decode("ascii")
        headers["Authorization"] = "Basic " + token
    openers: List[urllib.request.OpenerDirector] = []

    def fetch(url: str, body: Optional[bytes] = None) -> Tuple[bytes, Dict[str, str]]:
        if not openers:
            context = ssl.create_default_context(cafile=ca_path)
            if client_cert:
                context.load_cert_chain(client_cert, client_key)
            openers.append(urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                                       urllib.request.HTTPSHandler(context=context)))
        request = urllib.request.Request(url, data=body, method="GET" if body is None else "POST", headers=dict(
            headers, **({} if body is None else {"Content-Type": "application/json"})))
        with openers[0].open(request, timeout=timeout) as resp:
            return resp.read(), dict(resp.headers.items())

    return fetch


def leader_key_request(leader_key: str) -> bytes:
    """The body of etcd's ``POST /v3/kv/range`` for one key (keys and values are base64 in the JSON gateway)."""
    return json.dumps({"key": base64.b64encode(leader_key.encode("utf-8")).decode("ascii")}).encode("utf-8")


def parse_leader_key(raw: bytes) -> Tuple[Optional[str], Optional[int]]:
    """The leader's member name and the key's mod_revision from etcd's range answer; (None, None) without the key.

    etcd 3.4's gateway: ``{"header": {...}, "kvs": [{"key": b64, "value": b64, "mod_revision": "1234", ...}],
    "count": "1"}``; ``kvs`` and ``count`` are left out when nothing matched. Raises ValueError on anything else.
    """
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        data = None
    if not isinstance(data, dict) or "header" not in data:
        raise ValueError("not an etcd range answer: %r" % raw[:200])
    kvs = data.get("kvs") or []
    if not kvs:
        return None, None
    try:
        value = base64.b64decode(kvs[0].get("value") or "", validate=True).decode("utf-8")
        revision = kvs[0].get("mod_revision")
        return value, None if revision is None else int(revision)
    except (AttributeError, ValueError) as exc:
        raise ValueError("unreadable leader key in the etcd answer: %s" % exc) from None


def write_pool(raw: bytes, backend: str) -> List[str]:
    """The servers UP in ``backend`` of a HAProxy stats CSV (UP as module_utils/pgha_haproxy.py reads it)."""
    backends = summarize(parse_csv(raw.decode("utf-8", "replace")))["backends"]
    if backend not in backends:
        raise ValueError("no backend %s in the stats (found: %s)" % (backend, ", ".join(sorted(backends)) or "none"))
    return list(backends[backend]["up"])


class LeaderKeyReader:
    """Reads the leader key from the first etcd endpoint that answers: the one that answered last, then the others in
    order (a dead member costs one timeout, once). ``stopped`` ends a round early on shutdown."""

    def __init__(self, watch: DcsWatch, fetch: Fetch, stopped: Callable[[], bool] = lambda: False) -> None:
        self.endpoints = watch.endpoints
        self.body = leader_key_request(watch.leader_key)
        self.fetch = fetch
        self.stopped = stopped
        self.preferred = 0

    def __call__(self) -> Dict[str, Any]:
        errors = []
        for k in range(len(self.endpoints)):
            if k and self.stopped():
                break
            i = (self.preferred + k) % len(self.endpoints)
            try:
                raw, _ = self.fetch(self.endpoints[i] + "/v3/kv/range", self.body)
                value, revision = parse_leader_key(raw)
            except Exception as exc:  # noqa: BLE001 - the next endpoint may answer
                errors.append("%s: %s" % (self.endpoints[i], describe_error(exc)))
                continue
            self.preferred = i
            return {"node": self.endpoints[i], "value": value, "revision": revision}
        raise RuntimeError("no etcd endpoint answered: " + "; ".join(errors))


def stats_reader(fetch: Fetch, url: str, backend: str) -> Observe:
    """Reads a HAProxy stats CSV: the write backend's UP servers."""

    def observe() -> Dict[str, Any]:
        raw, _ = fetch(url, None)
        return {"up": write_pool(raw, backend)}

    return observe


def balancer_reader(fetch: Fetch, url: str) -> Observe:
    """Reads which balancer answers the VIP: HAProxy's /balancer page names it."""

    def observe() -> Dict[str, Any]:
        raw, _ = fetch(url, None)
        return {"balancer": raw.decode("utf-8", "replace").strip() or None}

    return observe


def firing_alerts(raw: bytes) -> List[Dict[str, str]]:
    """The active alerts of Alertmanager's ``GET /api/v2/alerts`` answer (a JSON list of alerts, each with
    ``labels``, ``startsAt`` and ``status.state``): ``{"alertname", "instance", "severity", "starts_at"}`` each
    (instance: the ``instance`` label, else ``name``, else ""), sorted by alertname and instance. Alerts in another
    state or without an alertname are left out; anything but a JSON list raises ValueError."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        raise ValueError("not JSON from Alertmanager: %r" % raw[:200]) from None
    if not isinstance(data, list):
        raise ValueError("not an Alertmanager alert list: %r" % raw[:200])
    out = []
    for item in data:
        labels = item.get("labels") if isinstance(item, dict) else None
        status = item.get("status") if isinstance(item, dict) else None
        if not isinstance(labels, dict) or not labels.get("alertname") or not isinstance(status, dict) \
                or status.get("state") != "active":
            continue
        out.append({"alertname": str(labels["alertname"]),
                    "instance": str(labels.get("instance") or labels.get("name") or ""),
                    "severity": str(labels.get("severity") or ""), "starts_at": str(item.get("startsAt") or "")})
    return sorted(out, key=lambda a: (a["alertname"], a["instance"]))


def alerts_reader(fetch: Fetch, url: str) -> Observe:
    """Reads Alertmanager's active alerts (neither silenced nor inhibited)."""

    def observe() -> Dict[str, Any]:
        raw, _ = fetch(url, None)
        return {"firing": firing_alerts(raw)}

    return observe


def alerts_url(base: str) -> str:
    """Alertmanager's API v2 query for the alerts that notify: active, neither silenced nor inhibited."""
    return base.rstrip("/") + "/api/v2/alerts?active=true&silenced=false&inhibited=false"


def watch_interval(cfg: Config, kind: str) -> float:
    """Seconds between two looks of a watcher of ``kind``: alert_watch.interval for alerts (Prometheus evaluates
    its rules every few seconds), watch_interval for the others."""
    if kind == "alerts" and cfg.alert_watch is not None:
        return cfg.alert_watch.interval
    return cfg.watch_interval


def watch_state(fields: Dict[str, Any]) -> Dict[str, Any]:
    """What a watcher logs when it changed: the leader key's value, the UP servers, the VIP's balancer, or the
    firing alerts as ``alertname/instance`` (their start times and severities left out)."""
    state: Dict[str, Any] = {k: fields[k] for k in ("value", "up", "balancer") if k in fields}
    if "firing" in fields:
        state["firing"] = ["%s/%s" % (a.get("alertname"), a.get("instance") or "") for a in fields["firing"] or []]
    return state


Watcher = Tuple[str, str, Optional[str], Observe]


def build_watchers(cfg: Config, stopped: Callable[[], bool] = lambda: False,
                   fetcher: Callable[..., Fetch] = http_fetcher) -> List[Watcher]:
    """(thread name, record kind, node, observe) of every configured watcher. ``node`` names what an lb or vip watcher
    looks at in its records (a dcs record names the endpoint that answered, an alerts record none); ``fetcher`` is
    http_fetcher or a fake. Each looks every watch_interval(cfg, kind) seconds.
    """
    out: List[Watcher] = []
    if cfg.dcs_watch is not None:
        dcs = cfg.dcs_watch
        fetch = fetcher(cfg.watch_timeout, ca_path=dcs.ca_path, client_cert=dcs.client_cert, client_key=dcs.client_key)
        out.append(("watch-dcs", "dcs", None, LeaderKeyReader(dcs, fetch, stopped)))
    lb = cfg.lb_watch
    if lb is not None:
        fetch = fetcher(cfg.watch_timeout, username=lb.url_username, password=lb.url_password)
        for balancer in lb.balancers:
            url = "http://%s:%d/;csv" % (balancer.address, lb.stats_port)
            out.append(("watch-lb-" + balancer.name, "lb", balancer.name, stats_reader(fetch, url, lb.backend)))
        if lb.vip:
            url = "http://%s:%d/balancer" % (lb.vip, lb.stats_port)
            out.append(("watch-vip", "vip", lb.vip, balancer_reader(fetch, url)))
    am = cfg.alert_watch
    if am is not None:
        fetch = fetcher(cfg.watch_timeout, ca_path=am.ca_path, client_cert=am.client_cert, client_key=am.client_key,
                        username=am.url_username, password=am.url_password)
        out.append(("watch-alerts", "alerts", None, alerts_reader(fetch, alerts_url(am.url))))
    return out


# ------------------------------------------------------------------------------------------------ pacing
class Pacer:
    """Slots at ``t0 + k / rate`` on a monotonic clock: no drift, and after a stall the missed slots are skipped
    (counted in ``skipped``) instead of being run back to back.
    """

    def __init__(self, rate: float, stop: threading.Event, t0: Optional[float] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / float(rate)
        self.stop = stop
        self.clock = clock
        self.t0 = clock() if t0 is None else t0
        self.k = 0
        self.skipped = 0

    def next_slot(self) -> Optional[int]:
        """Wait for the next slot and return its index, or None once ``stop`` is set."""
        if self.stop.is_set():
            return None
        target = self.t0 + self.k * self.interval
        now = self.clock()
        if target > now:
            if self.stop.wait(target - now):
                return None
        elif now - target >= self.interval:
            current = int((now - self.t0) / self.interval)
            self.skipped += current - self.k
            self.k = current
        slot = self.k
        self.k += 1
        return slot


# ------------------------------------------------------------------------------------------------- probe
class Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.data: Dict[str, Dict[str, int]] = {k: {"ok": 0, "error": 0, "unknown": 0} for k in KINDS}
        self.first_ok: Dict[str, Optional[float]] = {"write": None, "read": None}

    def add(self, kind: str, outcome: str, t: float) -> None:
        with self._lock:
            self.data[kind][outcome] += 1
            if outcome == "ok" and kind in self.first_ok and self.first_ok[kind] is None:
                self.first_ok[kind] = t

    def snapshot(self) -> Dict[str, Any]:
        with self._lock:
            return {"counts": {k: dict(v) for k, v in self.data.items()}, "first_ok": dict(self.first_ok)}


class Probe:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.stop = threading.Event()
        self.counters = Counters()
        self.ledger = JsonlAppender(cfg.ledger_path)
        self.events = JsonlAppender(cfg.events_path) if cfg.events_path else None
        self.started = time.time()
        self.threads: List[threading.Thread] = []
        self.libpq_version = int(getattr(psycopg2, "__libpq_version__", 0) or 0)
        self.first_id: Optional[int] = None
        self.skipped: Dict[str, int] = {}
        self.alerts_seen: Dict[str, float] = {}

    # -- helpers
    def record(self, **fields: Any) -> None:
        rec = make_record(**fields)
        if self.ledger.append(rec):
            self.counters.add(rec["kind"], rec["outcome"], rec["end"])

    def event(self, name: str, detail: str = "") -> None:
        if self.events is not None:
            self.events.append(make_event(name, detail))

    def connect(self, dsn: Dsn, role: str, autocommit: bool, statement_timeout_ms: Optional[int] = None) -> Any:
        conn = psycopg2.connect(**connect_kwargs(
            dsn, self.cfg.connect_timeout, statement_timeout_ms or self.cfg.statement_timeout_ms,
            "pgha-loadprobe-%s" % role, self.libpq_version))
        conn.autocommit = autocommit
        return conn

    @staticmethod
    def close(conn: Any) -> None:
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - already broken
                pass

    def backoff(self) -> None:
        self.stop.wait(self.cfg.backoff)

    # -- writer
    def setup_table(self, conn: Any) -> int:
        """Create the table if missing; return the highest id of this run_id already in it (0 if none)."""
        table = sql.Identifier(*self.cfg.table.split("."))
        with conn.cursor() as cur:
            cur.execute(sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (run_id text NOT NULL, id bigint NOT NULL, "
                "written_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run_id, id))").format(table))
            cur.execute(sql.SQL("SELECT COALESCE(max(id), 0) FROM {} WHERE run_id = %s").format(table),
                        (self.cfg.run_id,))
            highest = int(cur.fetchone()[0])
        conn.commit()
        return highest

    def writer_loop(self) -> None:
        cfg = self.cfg
        insert = sql.SQL(
            "INSERT INTO {} (run_id, id, written_at) VALUES (%s, %s, now()) "
            "RETURNING host(inet_server_addr()), " + PRIMARY_TIMELINE_SQL).format(
            sql.Identifier(*cfg.table.split(".")))
        pacer = Pacer(cfg.rate, self.stop)
        conn = None
        next_id: Optional[int] = None
        streak = 0
        last_server: Tuple[Any, Any] = (None, None)
        while pacer.next_slot() is not None:
            self.skipped["write"] = pacer.skipped
            if conn is None:
                t_start = time.time()
                try:
                    conn = self.connect(cfg.writer, "writer", autocommit=False)
                    if next_id is None:
                        next_id = self.setup_table(conn) + 1
                        self.first_id = next_id
                        LOG.info("writer: table %s ready, first id %d", cfg.table, next_id)
                except Exception as exc:  # noqa: BLE001 - any failure to connect or set up is retried
                    self.close(conn)
                    conn = None
                    if streak == 0:
                        LOG.warning("writer: cannot connect: %s", describe_error(exc))
                    streak += 1
                    if next_id is not None:
                        # A write attempt that could not even connect: certainly not written.
                        self.record(kind="write", id=next_id, start=t_start, end=time.time(), outcome="error",
                                    error="connect: " + describe_error(exc))
                        next_id += 1
                    self.backoff()
                    continue
            assert next_id is not None
            wid = next_id
            next_id += 1
            start = time.time()
            try:
                with conn.cursor() as cur:
                    cur.execute(insert, (cfg.run_id, wid))
                    server, timeline = cur.fetchone()
            except Exception as exc:  # noqa: BLE001 - COMMIT was never sent: the row cannot exist
                self.record(kind="write", id=wid, start=start, end=time.time(), outcome="error",
                            error=describe_error(exc))
                self._write_failed(conn, streak, exc)
                conn = None
                streak += 1
                continue
            del conn.notices[:]
            try:
                conn.commit()
            except Exception as exc:  # noqa: BLE001 - COMMIT in flight when it broke: maybe written
                self.record(kind="write", id=wid, start=start, end=time.time(), outcome="unknown",
                            error="commit: " + describe_error(exc))
                self._write_failed(conn, streak, exc)
                conn = None
                streak += 1
                continue
            canceled = sync_rep_canceled(conn.notices)
            if canceled:
                # Committed here, confirmed by no standby: not an acknowledged write.
                self.record(kind="write", id=wid, start=start, end=time.time(), outcome="unknown", server=server,
                            timeline=timeline, error="commit not confirmed by a synchronous standby: " + canceled)
                if streak == 0:
                    LOG.warning("writer: %s", canceled)
                streak += 1
                continue
            self.record(kind="write", id=wid, start=start, end=time.time(), outcome="ok", server=server,
                        timeline=timeline, in_recovery=False)
            if streak:
                LOG.info("writer: writes succeed again after %d failed attempt(s)", streak)
                streak = 0
            if (server, timeline) != last_server:
                LOG.info("writer: writes acknowledged by %s on timeline %s", server, timeline)
                last_server = (server, timeline)
        self.close(conn)

    def _write_failed(self, conn: Any, streak: int, exc: BaseException) -> None:
        if streak == 0:
            LOG.warning("writer: write failed: %s", describe_error(exc))
        self.close(conn)
        self.backoff()

    # -- reader
    def reader_loop(self) -> None:
        cfg = self.cfg
        assert cfg.reader is not None
        pacer = Pacer(effective_read_rate(cfg), self.stop)
        conn = None
        streak = 0
        last_server = None
        while pacer.next_slot() is not None:
            self.skipped["read"] = pacer.skipped
            start = time.time()
            try:
                if conn is None:
                    conn = self.connect(cfg.reader, "reader", autocommit=True)
                    start = time.time()
                with conn.cursor() as cur:
                    cur.execute(READ_SQL)
                    server, in_recovery, timeline = cur.fetchone()
            except Exception as exc:  # noqa: BLE001 - any failed read is recorded as an error
                self.record(kind="read", start=start, end=time.time(), outcome="error", error=describe_error(exc))
                if streak == 0:
                    LOG.warning("reader: read failed: %s", describe_error(exc))
                streak += 1
                self.close(conn)
                conn = None
                self.backoff()
                continue
            self.record(kind="read", start=start, end=time.time(), outcome="ok", server=server,
                        in_recovery=in_recovery, timeline=timeline)
            if streak:
                LOG.info("reader: reads succeed again after %d failed attempt(s)", streak)
                streak = 0
            if server != last_server:
                LOG.info("reader: answered by %s (in recovery: %s, timeline %s)", server, in_recovery, timeline)
                last_server = server
        self.close(conn)

    # -- pollers
    def poll_loop(self, node: PollNode, t0: float) -> None:
        cfg = self.cfg
        dsn = dataclasses.replace(cfg.writer, host=node.host, port=node.port)
        pacer = Pacer(1.0 / cfg.poll_interval, self.stop, t0=t0)
        conn = None
        last_state: Any = "start"
        timeout_ms = max(500, min(cfg.statement_timeout_ms, int(cfg.poll_interval * 2000)))
        while True:
            rnd = pacer.next_slot()
            if rnd is None:
                break
            start = time.time()
            try:
                if conn is None:
                    conn = self.connect(dsn, "poll-" + node.name, autocommit=True, statement_timeout_ms=timeout_ms)
                with conn.cursor() as cur:
                    cur.execute(POLL_SQL)
                    server, in_recovery, timeline = cur.fetchone()
            except Exception as exc:  # noqa: BLE001 - the next round reconnects
                self.record(kind="poll", node=node.name, round=rnd, start=start, end=time.time(), outcome="error",
                            error=describe_error(exc))
                self.close(conn)
                conn = None
                state: Any = "unreachable"
            else:
                self.record(kind="poll", node=node.name, round=rnd, start=start, end=time.time(), outcome="ok",
                            server=server, in_recovery=in_recovery, writable=not in_recovery, timeline=timeline)
                state = ("replica" if in_recovery else "primary", timeline)
            if state != last_state:
                LOG.info("poll %s: %s", node.name, state if isinstance(state, str) else "%s on timeline %s" % state)
                last_state = state
        self.close(conn)

    # -- watchers
    def watch_loop(self, kind: str, node: Optional[str], observe: Observe, interval: Optional[float] = None) -> None:
        """Look every ``interval`` seconds (default watch_interval); record each answer (``node`` and the fields
        ``observe`` returns) or failure, and log the state when it changed."""
        pacer = Pacer(1.0 / (interval or self.cfg.watch_interval), self.stop)
        last: Any = None
        while pacer.next_slot() is not None:
            start = time.time()
            try:
                fields = dict({"node": node}, **observe())
            except Exception as exc:  # noqa: BLE001 - recorded; the next look tries again
                error = describe_error(exc)
                self.record(kind=kind, node=node, start=start, end=time.time(), outcome="error", error=error)
                state: Any = "error"
                shown: Any = error
            else:
                end = time.time()
                self.record(kind=kind, start=start, end=end, outcome="ok", **fields)
                state = shown = watch_state(fields)
                if kind == "alerts":
                    self.note_alerts(fields.get("firing") or [], end)
            if state != last:
                LOG.info("%s: %s", threading.current_thread().name, shown)
                last = state

    def note_alerts(self, firing: Sequence[Mapping[str, Any]], t: float) -> None:
        """Remember the alert names seen firing for the first time (at ``t``) and rewrite alerts_seen_path."""
        new = {str(a["alertname"]): round(t, 3) for a in firing if a.get("alertname")
               and str(a["alertname"]) not in self.alerts_seen}
        if new:
            self.alerts_seen.update(new)
            if self.cfg.alerts_seen_path:
                write_json_atomic(self.cfg.alerts_seen_path, {"seen": self.alerts_seen})

    # -- lifecycle
    def status(self, stopped: Optional[float] = None) -> Dict[str, Any]:
        snap = self.counters.snapshot()
        return {
            "pid": os.getpid(), "started": self.started, "ready": True, "stopped": stopped,
            "run_id": self.cfg.run_id, "first_id": self.first_id,
            "threads": [t.name for t in self.threads], "counts": snap["counts"],
            "first_ok_write": snap["first_ok"]["write"], "first_ok_read": snap["first_ok"]["read"],
            "skipped_slots": dict(self.skipped),
        }

    def write_status(self, stopped: Optional[float] = None) -> None:
        if self.cfg.ready_path:
            write_json_atomic(self.cfg.ready_path, self.status(stopped))

    def start_threads(self) -> None:
        specs: List[Tuple[str, Callable[..., None], Tuple[Any, ...]]] = [("writer", self.writer_loop, ())]
        if effective_read_rate(self.cfg) > 0:
            specs.append(("reader", self.reader_loop, ()))
        t0 = time.monotonic()
        for node in self.cfg.poll_nodes:
            specs.append(("poll-" + node.name, self.poll_loop, (node, t0)))
        for name, kind, watched, observe in build_watchers(self.cfg, self.stop.is_set):
            specs.append((name, self.watch_loop, (kind, watched, observe, watch_interval(self.cfg, kind))))
        for name, target, args in specs:
            thread = threading.Thread(target=self._guard, args=(name, target) + args, name=name, daemon=True)
            self.threads.append(thread)
        for thread in self.threads:
            thread.start()

    def _guard(self, name: str, target: Callable[..., None], *args: Any) -> None:
        """A thread must never die silently: log the bug, wait a little, run the loop again."""
        while not self.stop.is_set():
            try:
                target(*args)
                return
            except Exception:
                LOG.exception("%s: unexpected error, restarting the loop", name)
                self.stop.wait(1.0)

    def run(self) -> int:
        cfg = self.cfg
        if cfg.pid_path:
            write_json_atomic(cfg.pid_path, os.getpid(), plain=True)
        LOG.info("load: run_id %s, writes %s/s to %s:%s, reads %s/s%s, %d node(s) polled every %ss, table %s",
                 cfg.run_id, cfg.rate, cfg.writer.host, cfg.writer.port, effective_read_rate(cfg),
                 " from %s:%s" % (cfg.reader.host, cfg.reader.port) if cfg.reader else "",
                 len(cfg.poll_nodes), cfg.poll_interval, cfg.table)
        watched: Dict[float, List[str]] = {}
        for name, kind, _, _ in build_watchers(cfg):
            watched.setdefault(watch_interval(cfg, kind), []).append(name)
        for every, names in watched.items():
            LOG.info("watchers every %ss: %s", every, ", ".join(names))
        self.started = time.time()
        self.event(LOAD_STARTED, "pid %d" % os.getpid())
        self.start_threads()
        self.write_status()
        deadline = time.monotonic() + cfg.max_duration
        while not self.stop.wait(READY_REFRESH_S):
            self.write_status()
            if time.monotonic() >= deadline:
                LOG.warning("max_duration %.0f s reached: stopping on my own", cfg.max_duration)
                self.stop.set()
        return self.shutdown()

    def shutdown(self) -> int:
        deadline = time.monotonic() + STOP_GRACE_S
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in self.threads if t.is_alive()]
        stopped = time.time()
        self.event(LOAD_STOPPED, "stuck threads abandoned: %s" % ", ".join(stuck) if stuck else "")
        self.ledger.close()
        if self.events is not None:
            self.events.close()
        self.write_status(stopped)
        snap = self.counters.snapshot()["counts"]
        watches = "".join(", %s %s" % (kind, snap[kind]) for kind in ("dcs", "lb", "vip", "alerts")
                          if sum(snap[kind].values()))
        LOG.info("load stopped: writes %s, reads %s, polls %s%s%s", snap["write"], snap["read"], snap["poll"], watches,
                 " (abandoned: %s)" % ", ".join(stuck) if stuck else "")
        return 0


def write_json_atomic(path: str, data: Any, plain: bool = False) -> None:
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(("%s\n" % data) if plain else json.dumps(data) + "\n")
    os.replace(tmp, path)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="run.json written by the pg_load_probe module")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s.%(msecs)03d %(threadName)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%S")
    if not HAS_PSYCOPG2:
        LOG.error("psycopg2 is not installed for %s: run the load with the project's virtualenv python",
                  sys.executable)
        return 2
    try:
        cfg = load_config(args.config)
    except (OSError, ValueError) as exc:
        LOG.error("bad config %s: %s", args.config, exc)
        return 2
    probe = Probe(cfg)

    def on_signal(signum: int, _frame: Any) -> None:
        LOG.info("signal %d: stopping", signum)
        probe.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return probe.run()


if __name__ == "__main__":
    sys.exit(main())
