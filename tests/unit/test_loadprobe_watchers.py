"""chaos/tools/pgha_loadprobe.py's watchers (etcd's leader key, HAProxy's write pools, who answers on the VIP): the
parsing, the records, the HTTP they send; loopback servers only (plain HTTP, and HTTPS with client certificates)."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from pgha_test_helpers import TOOLS, fixture_path, load_text, load_tool

probe_mod = load_tool("pgha_loadprobe")
SCRIPT = str(Path(TOOLS) / "pgha_loadprobe.py")
LEADER_KEY = "/service/demo/leader"
PASSWORD = "St4tsPassw0rd"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# etcd 3.4's JSON gateway: int64 fields are strings; kvs and count are left out when nothing matches.
HEADER = {"cluster_id": "14841639068965178418", "member_id": "10276657743932975437", "revision": "1240",
          "raft_term": "3"}
KEY_ANSWER = {"header": HEADER, "count": "1", "kvs": [{
    "key": b64(LEADER_KEY), "create_revision": "1200", "mod_revision": "1234", "version": "7",
    "value": b64("patroni1"), "lease": "7587869720343"}]}
NO_KEY_ANSWER = {"header": HEADER}


# ------------------------------------------------------------------------------------------- parsing
def test_leader_key_request_and_answers():
    assert json.loads(probe_mod.leader_key_request(LEADER_KEY)) == {"key": b64(LEADER_KEY)}
    assert probe_mod.parse_leader_key(json.dumps(KEY_ANSWER).encode()) == ("patroni1", 1234)
    assert probe_mod.parse_leader_key(json.dumps(NO_KEY_ANSWER).encode()) == (None, None)


@pytest.mark.parametrize("raw, message", [
    (b"<html>bad gateway</html>", "not an etcd range answer"),
    (b'{"error": "etcdserver: request timed out", "code": 14}', "not an etcd range answer"),
    (b"[]", "not an etcd range answer"),
    (json.dumps({"header": HEADER, "kvs": [{"value": "%%%"}]}).encode(), "unreadable leader key"),
    (json.dumps({"header": HEADER, "kvs": [{"value": b64("p1"), "mod_revision": "x"}]}).encode(),
     "unreadable leader key"),
])
def test_unreadable_etcd_answers_raise(raw, message):
    with pytest.raises(ValueError) as err:
        probe_mod.parse_leader_key(raw)
    assert message in str(err.value)


def test_write_pool_is_the_up_servers_of_the_backend():
    assert probe_mod.write_pool(load_text("haproxy_stats.csv").encode(), "primary") == ["patroni1"]
    # A switchover half way: "UP 1/3" (going down) and "DOWN 1/2" (going up) are not UP, "no check" is.
    transition = load_text("haproxy_stats_transition.csv").encode()
    assert probe_mod.write_pool(transition, "primary") == []
    assert probe_mod.write_pool(transition, "replicas") == ["patroni1", "patroni3"]
    with pytest.raises(ValueError) as err:
        probe_mod.write_pool(transition, "writes")
    assert "no backend writes in the stats (found: primary, replicas, stats)" in str(err.value)
    with pytest.raises(ValueError):
        probe_mod.write_pool(b"<html>login</html>", "primary")


# Alertmanager 0.25's GET /api/v2/alerts: one object per alert.
def am_alert(labels: Dict[str, str], state: str = "active", starts: str = "2026-11-25T22:45:20.123Z") -> Dict[str, Any]:
    return {"annotations": {"summary": "x"}, "endsAt": "2026-11-25T22:50:20.123Z", "fingerprint": "3bc1d1c8f0e5a4a1",
            "receivers": [{"name": "none"}], "startsAt": starts, "updatedAt": "2026-11-25T22:46:20.123Z",
            "generatorURL": "https://172.28.10.41:9090/graph?g0.expr=x", "labels": labels,
            "status": {"inhibitedBy": [], "silencedBy": [], "state": state}}


ALERTS_ANSWER = [
    am_alert({"alertname": "PatroniMemberDown", "instance": "patroni2", "severity": "critical", "job": "patroni"}),
    am_alert({"alertname": "EtcdMemberDown", "name": "etcd1", "severity": "critical"}, starts="2026-11-25T22:44:00Z"),
    am_alert({"alertname": "PatroniMemberDown", "instance": "patroni1", "severity": "critical"}),
    am_alert({"alertname": "PatroniLeaderChanged", "scope": "demo"}),
    am_alert({"alertname": "VipNotHeld", "severity": "critical"}, state="suppressed"),
    am_alert({"severity": "critical"}),
]
ALERTS_URL = "https://10.0.0.41:9093/api/v2/alerts?active=true&silenced=false&inhibited=false"


def test_firing_alerts_are_the_active_ones_sorted():
    assert probe_mod.firing_alerts(json.dumps(ALERTS_ANSWER).encode()) == [
        {"alertname": "EtcdMemberDown", "instance": "etcd1", "severity": "critical",
         "starts_at": "2026-11-25T22:44:00Z"},
        {"alertname": "PatroniLeaderChanged", "instance": "", "severity": "", "starts_at": "2026-11-25T22:45:20.123Z"},
        {"alertname": "PatroniMemberDown", "instance": "patroni1", "severity": "critical",
         "starts_at": "2026-11-25T22:45:20.123Z"},
        {"alertname": "PatroniMemberDown", "instance": "patroni2", "severity": "critical",
         "starts_at": "2026-11-25T22:45:20.123Z"},
    ]
    assert probe_mod.firing_alerts(b"[]") == [] and probe_mod.firing_alerts(b'[1, "x", null]') == []


@pytest.mark.parametrize("raw, message", [
    (b"<html>401 Unauthorized</html>", "not JSON from Alertmanager"),
    (b"\xff\xfe", "not JSON from Alertmanager"),
    (b'{"code": 400, "message": "bad filter"}', "not an Alertmanager alert list"),
])
def test_unreadable_alertmanager_answers_raise(raw, message):
    with pytest.raises(ValueError) as err:
        probe_mod.firing_alerts(raw)
    assert message in str(err.value)


# ------------------------------------------------------------------------------------------- readers
class FakeFetch:
    """Answers by URL: bytes, or an exception to raise; keeps the URLs and bodies asked for."""

    def __init__(self, answers: Dict[str, Any], headers: Optional[Dict[str, str]] = None) -> None:
        self.answers = answers
        self.headers = headers or {}
        self.calls: List[Tuple[str, Optional[bytes]]] = []

    def __call__(self, url: str, body: Optional[bytes] = None) -> Tuple[bytes, Dict[str, str]]:
        self.calls.append((url, body))
        answer = self.answers[url]
        if isinstance(answer, Exception):
            raise answer
        return answer, self.headers


def test_leader_key_reader_asks_the_endpoint_that_answered_last_first():
    e1, e2, e3 = "https://10.0.0.11:2379", "https://10.0.0.12:2379", "https://10.0.0.13:2379"
    fetch = FakeFetch({e1 + "/v3/kv/range": urllib.error.URLError("timed out"),
                       e2 + "/v3/kv/range": json.dumps(KEY_ANSWER).encode(),
                       e3 + "/v3/kv/range": json.dumps(NO_KEY_ANSWER).encode()})
    watch = probe_mod.DcsWatch(endpoints=[e1, e2, e3], leader_key=LEADER_KEY)
    reader = probe_mod.LeaderKeyReader(watch, fetch)
    assert reader() == {"node": e2, "value": "patroni1", "revision": 1234}
    assert [u for u, _ in fetch.calls] == [e1 + "/v3/kv/range", e2 + "/v3/kv/range"]
    assert fetch.calls[0][1] == probe_mod.leader_key_request(LEADER_KEY)
    fetch.calls.clear()
    assert reader()["node"] == e2 and len(fetch.calls) == 1  # the dead member costs nothing any more
    fetch.answers[e2 + "/v3/kv/range"] = b"garbage"
    assert reader() == {"node": e3, "value": None, "revision": None}
    for url in fetch.answers:
        fetch.answers[url] = ConnectionRefusedError("refused")
    with pytest.raises(RuntimeError) as err:
        reader()
    assert str(err.value).startswith("no etcd endpoint answered: %s: ConnectionRefusedError" % e3)
    assert e1 in str(err.value) and e2 in str(err.value)


def test_leader_key_reader_stops_between_endpoints_on_shutdown():
    fetch = FakeFetch({"http://a/v3/kv/range": OSError("down"), "http://b/v3/kv/range": b"{}"})
    reader = probe_mod.LeaderKeyReader(probe_mod.DcsWatch(["http://a", "http://b"], LEADER_KEY), fetch,
                                       stopped=lambda: True)
    with pytest.raises(RuntimeError):
        reader()
    assert len(fetch.calls) == 1


def config(**kw: Any) -> Any:
    data: Dict[str, Any] = {"writer": {"host": "127.0.0.1", "port": 1, "dbname": "app", "user": "app"}}
    data.update(kw)
    return probe_mod.config_from_dict(data, "/tmp")


LB_WATCH = {"balancers": [{"name": "haproxy1", "address": "10.0.0.21"}, {"name": "haproxy2", "address": "10.0.0.22"}],
            "stats_port": 7000, "url_username": "admin", "url_password": PASSWORD, "vip": "10.0.0.100"}
DCS_WATCH = {"endpoints": ["https://10.0.0.11:2379/"], "leader_key": LEADER_KEY, "ca_path": "/tls/ca.crt",
             "client_cert": "/tls/client.crt", "client_key": "/tls/client.key"}
ALERT_WATCH = {"url": "https://10.0.0.41:9093/", "ca_path": "/tls/ca.crt", "url_username": "admin",
               "url_password": PASSWORD, "interval": 2.5}


def test_watcher_config_defaults_and_errors():
    cfg = config()
    assert cfg.dcs_watch is None and cfg.lb_watch is None and cfg.watch_interval == 0.1 and cfg.watch_timeout == 1.0
    assert probe_mod.build_watchers(cfg) == []
    cfg = config(dcs_watch=DCS_WATCH, lb_watch=LB_WATCH, watch_interval=0.2)
    assert cfg.dcs_watch.endpoints == ["https://10.0.0.11:2379"] and cfg.dcs_watch.client_key == "/tls/client.key"
    assert [b.name for b in cfg.lb_watch.balancers] == ["haproxy1", "haproxy2"] and cfg.lb_watch.backend == "primary"
    assert PASSWORD not in repr(cfg) and cfg.watch_interval == 0.2
    assert config(lb_watch={"vip": "10.0.0.100", "stats_port": None}).lb_watch.stats_port == 7000
    cfg = config(alert_watch=ALERT_WATCH)
    assert cfg.alert_watch.url == "https://10.0.0.41:9093" and cfg.alert_watch.interval == 2.5
    assert cfg.alert_watch.client_cert is None and PASSWORD not in repr(cfg)
    assert config(alert_watch={"url": "http://am:9093", "interval": None}).alert_watch.interval == 1.0
    assert config(alert_watch=None).alert_watch is None


@pytest.mark.parametrize("bad, message", [
    ({"dcs_watch": {"endpoints": ["https://e:2379"]}}, "dcs_watch needs endpoints"),
    ({"dcs_watch": {"leader_key": LEADER_KEY, "endpoints": []}}, "dcs_watch needs endpoints"),
    ({"lb_watch": {"balancers": [{"name": "haproxy1"}]}}, "lb_watch.balancers[0] needs a name and an address"),
    ({"lb_watch": {"balancers": [], "vip": None, "stats_port": 7000}}, "lb_watch needs balancers or a vip"),
    ({"lb_watch": ["haproxy1"]}, "lb_watch must be an object"),
    ({"watch_interval": -1}, "watch_interval and watch_timeout must be positive"),
    ({"alert_watch": {"url_username": "admin"}}, "alert_watch needs url"),
    ({"alert_watch": ["https://10.0.0.41:9093"]}, "alert_watch needs url"),
    ({"alert_watch": {"url": "https://10.0.0.41:9093", "interval": 0}}, "alert_watch.interval must be positive"),
    ({"alert_watch": {"url": "https://10.0.0.41:9093", "interval": -1}}, "alert_watch.interval must be positive"),
])
def test_watcher_config_errors_name_the_key(bad, message):
    with pytest.raises(ValueError) as err:
        config(**bad)
    assert message in str(err.value)


def test_build_watchers_one_per_target():
    made: List[Dict[str, Any]] = []
    answers = {"http://10.0.0.21:7000/;csv": load_text("haproxy_stats.csv").encode(),
               "http://10.0.0.22:7000/;csv": load_text("haproxy_stats_transition.csv").encode(),
               "http://10.0.0.100:7000/balancer": b"haproxy1\n",
               "https://10.0.0.11:2379/v3/kv/range": json.dumps(KEY_ANSWER).encode()}

    def fetcher(timeout: float, **kw: Any) -> FakeFetch:
        made.append(dict(kw, timeout=timeout))
        return FakeFetch(answers)

    watchers = probe_mod.build_watchers(config(dcs_watch=DCS_WATCH, lb_watch=LB_WATCH, watch_timeout=0.5),
                                        fetcher=fetcher)
    assert [(name, kind, node) for name, kind, node, _ in watchers] == [
        ("watch-dcs", "dcs", None), ("watch-lb-haproxy1", "lb", "haproxy1"), ("watch-lb-haproxy2", "lb", "haproxy2"),
        ("watch-vip", "vip", "10.0.0.100")]
    assert made == [{"timeout": 0.5, "ca_path": "/tls/ca.crt", "client_cert": "/tls/client.crt",
                     "client_key": "/tls/client.key"},
                    {"timeout": 0.5, "username": "admin", "password": PASSWORD}]
    looks = [observe() for _, _, _, observe in watchers]
    assert looks == [{"node": "https://10.0.0.11:2379", "value": "patroni1", "revision": 1234}, {"up": ["patroni1"]},
                     {"up": []}, {"balancer": "haproxy1"}]


def test_build_watchers_asks_alertmanager_with_its_own_interval():
    made: List[Dict[str, Any]] = []

    def fetcher(timeout: float, **kw: Any) -> FakeFetch:
        made.append(dict(kw, timeout=timeout))
        return FakeFetch({ALERTS_URL: json.dumps(ALERTS_ANSWER[:1]).encode()})

    cfg = config(alert_watch=dict(ALERT_WATCH, client_cert="/tls/c.crt", client_key="/tls/c.key"), watch_timeout=0.5)
    watchers = probe_mod.build_watchers(cfg, fetcher=fetcher)
    assert [(name, kind, node) for name, kind, node, _ in watchers] == [("watch-alerts", "alerts", None)]
    assert made == [{"timeout": 0.5, "ca_path": "/tls/ca.crt", "client_cert": "/tls/c.crt", "client_key": "/tls/c.key",
                     "username": "admin", "password": PASSWORD}]
    assert watchers[0][3]() == {"firing": [{"alertname": "PatroniMemberDown", "instance": "patroni2",
                                            "severity": "critical", "starts_at": "2026-11-25T22:45:20.123Z"}]}
    assert probe_mod.watch_interval(cfg, "alerts") == 2.5 and probe_mod.watch_interval(cfg, "dcs") == 0.1
    assert probe_mod.watch_interval(config(), "alerts") == 0.1


def test_watch_state_shows_the_firing_alerts_by_name_and_instance():
    firing = [{"alertname": "EtcdMemberDown", "instance": "etcd1", "severity": "critical", "starts_at": "x"},
              {"alertname": "PatroniLeaderChanged", "instance": "", "severity": "", "starts_at": "y"}]
    assert probe_mod.watch_state({"node": None, "firing": firing}) == {
        "firing": ["EtcdMemberDown/etcd1", "PatroniLeaderChanged/"]}
    assert probe_mod.watch_state({"node": "h", "up": ["p1"]}) == {"up": ["p1"]}


# ------------------------------------------------------------------------------------------- records
def test_watch_loop_records_every_look(tmp_path):
    cfg = config(ledger_path=str(tmp_path / "ledger.jsonl"), watch_interval=0.001)
    probe = probe_mod.Probe(cfg)
    looks: List[Any] = [{"up": ["patroni1"]}, OSError("connection refused"), {"up": []}, {"up": ["patroni2"]}]

    def observe() -> Dict[str, Any]:
        look = looks.pop(0)
        if not looks:
            probe.stop.set()
        if isinstance(look, Exception):
            raise look
        return look

    probe.watch_loop("lb", "haproxy1", observe)
    probe.ledger.close()
    recs = [json.loads(line) for line in (tmp_path / "ledger.jsonl").read_text().splitlines()]
    assert [(r["kind"], r["node"], r["outcome"], r["up"]) for r in recs] == [
        ("lb", "haproxy1", "ok", ["patroni1"]), ("lb", "haproxy1", "error", None), ("lb", "haproxy1", "ok", []),
        ("lb", "haproxy1", "ok", ["patroni2"])]
    assert recs[1]["error"] == "OSError: connection refused" and recs[0]["end"] >= recs[0]["start"]
    assert probe.counters.snapshot()["counts"]["lb"] == {"ok": 3, "error": 1, "unknown": 0}


def test_watch_loop_records_the_alerts_and_logs_their_changes(tmp_path, caplog):
    cfg = config(ledger_path=str(tmp_path / "ledger.jsonl"), watch_interval=60)
    probe = probe_mod.Probe(cfg)
    down = {"alertname": "PatroniMemberDown", "instance": "patroni1", "severity": "critical", "starts_at": "t1"}
    looks: List[Any] = [[], [down], [dict(down, starts_at="t2")], OSError("refused"), []]

    def observe() -> Dict[str, Any]:
        look = looks.pop(0)
        if not looks:
            probe.stop.set()
        if isinstance(look, Exception):
            raise look
        return {"firing": look}

    caplog.set_level("INFO", logger="pgha_loadprobe")
    probe.watch_loop("alerts", None, observe, 0.001)  # its own interval, not watch_interval's 60 s
    probe.ledger.close()
    recs = [json.loads(line) for line in (tmp_path / "ledger.jsonl").read_text().splitlines()]
    assert [(r["kind"], r["outcome"], r["firing"]) for r in recs] == [
        ("alerts", "ok", []), ("alerts", "ok", [down]), ("alerts", "ok", [dict(down, starts_at="t2")]),
        ("alerts", "error", None), ("alerts", "ok", [])]
    logged = [r.getMessage().split(": ", 1)[1] for r in caplog.records]
    # The same alert with another start time is no change worth a line.
    assert logged == ["{'firing': []}", "{'firing': ['PatroniMemberDown/patroni1']}", "OSError: refused",
                      "{'firing': []}"]
    assert probe.counters.snapshot()["counts"]["alerts"] == {"ok": 4, "error": 1, "unknown": 0}


# ------------------------------------------------------------------------------------------- HTTP
class Server:
    """A loopback HTTP(S) server: ``routes`` maps (method, path) to (status, body, headers); keeps the requests."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, tls: Optional[ssl.SSLContext] = None) -> None:
        self.routes: Dict[Tuple[str, str], Tuple[int, bytes, Dict[str, str]]] = {}
        self.requests: List[Dict[str, Any]] = []
        self.scheme = "https" if tls else "http"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append({"method": self.command, "path": self.path, "body": body,
                                       "headers": dict(self.headers.items())})
                status, data, headers = outer.routes.get((self.command, self.path), (404, b"no route", {}))
                self.send_response(status)
                for name, value in dict(headers, **{"Content-Length": str(len(data))}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = answer

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.handle_error = lambda *args: None  # type: ignore[method-assign]  # refused TLS handshakes
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.host, self.port = host, self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str = "") -> str:
        return "%s://%s:%d%s" % (self.scheme, self.host, self.port, path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: List[Server] = []

    def start(**kw: Any) -> Server:
        servers.append(Server(**kw))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def make_pki(directory: Path) -> Dict[str, str]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    hour = datetime.timedelta(hours=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])

    def issue(cn: str, key: Any, issuer_key: Any, ca: bool = False, usage: Any = None) -> Any:
        builder = (x509.CertificateBuilder()
                   .subject_name(ca_name if ca else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                   .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - hour).not_valid_after(now + 24 * hour)
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                  critical=False)
                   .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca,
                                                content_commitment=False, key_encipherment=False,
                                                data_encipherment=False, key_agreement=False, encipher_only=False,
                                                decipher_only=False), critical=True))
        if usage is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if usage == ExtendedKeyUsageOID.SERVER_AUTH:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    files = {}
    pem = serialization.Encoding.PEM
    for name, cn, usage in (("server", "127.0.0.1", ExtendedKeyUsageOID.SERVER_AUTH),
                            ("client", "loadprobe", ExtendedKeyUsageOID.CLIENT_AUTH)):
        key = ec.generate_private_key(ec.SECP256R1())
        (directory / (name + ".crt")).write_bytes(issue(cn, key, ca_key, usage=usage).public_bytes(pem))
        (directory / (name + ".key")).write_bytes(key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        files[name + "_cert"], files[name + "_key"] = str(directory / (name + ".crt")), str(directory / (name + ".key"))
    (directory / "ca.crt").write_bytes(issue("test CA", ca_key, ca_key, ca=True).public_bytes(pem))
    files["ca"] = str(directory / "ca.crt")
    return files


@pytest.fixture
def etcd(tmp_path: Path, serve: Callable[..., Server]) -> Tuple[Server, Dict[str, str]]:
    """An etcd stand-in over HTTPS that requires a client certificate from the test CA."""
    pki = make_pki(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["server_cert"], pki["server_key"])
    context.load_verify_locations(pki["ca"])
    context.verify_mode = ssl.CERT_REQUIRED
    server = serve(tls=context)
    server.routes[("POST", "/v3/kv/range")] = (200, json.dumps(KEY_ANSWER).encode(), {})
    return server, pki


def test_http_fetcher_posts_to_etcd_with_a_client_certificate(etcd):
    server, pki = etcd
    fetch = probe_mod.http_fetcher(2.0, ca_path=pki["ca"], client_cert=pki["client_cert"],
                                   client_key=pki["client_key"])
    raw, _ = fetch(server.url("/v3/kv/range"), probe_mod.leader_key_request(LEADER_KEY))
    assert probe_mod.parse_leader_key(raw) == ("patroni1", 1234)
    request = server.requests[-1]
    assert request["method"] == "POST" and json.loads(request["body"]) == {"key": b64(LEADER_KEY)}
    assert request["headers"]["Content-Type"] == "application/json"
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        probe_mod.http_fetcher(2.0, ca_path=pki["ca"])(server.url("/v3/kv/range"), b"{}")  # no client certificate
    with pytest.raises(urllib.error.URLError) as err:
        probe_mod.http_fetcher(2.0)(server.url("/v3/kv/range"), b"{}")  # etcd's certificate is not trusted
    assert "CERTIFICATE_VERIFY_FAILED" in str(err.value)
    missing = probe_mod.http_fetcher(2.0, ca_path=str(Path(pki["ca"]).parent / "none.crt"))
    for _ in range(2):  # a missing file is an error at every request, not at start-up
        with pytest.raises(OSError):
            missing(server.url("/v3/kv/range"), b"{}")


def test_http_fetcher_sends_basic_auth_ignores_proxies_and_returns_headers(serve, monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there: a proxy in use would fail
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    server = serve()
    server.routes[("GET", "/;csv")] = (200, load_text("haproxy_stats.csv").encode(), {"X-Test": "yes"})
    raw, headers = probe_mod.http_fetcher(2.0, username="admin", password=PASSWORD)(server.url("/;csv"), None)
    assert probe_mod.write_pool(raw, "primary") == ["patroni1"]
    assert headers.get("X-Test") == "yes"
    auth = server.requests[-1]["headers"]["Authorization"]
    assert base64.b64decode(auth.split()[1]).decode() == "admin:" + PASSWORD
    assert "Authorization" not in probe_mod.http_fetcher(2.0)(server.url("/;csv"), None)[1]
    assert "Authorization" not in server.requests[-1]["headers"]
    server.routes[("GET", "/;csv")] = (401, b"401 Unauthorized", {})
    with pytest.raises(urllib.error.HTTPError) as err:
        probe_mod.http_fetcher(2.0, username="admin", password="wrong")(server.url("/;csv"), None)
    assert PASSWORD not in probe_mod.describe_error(err.value)


def test_the_load_records_the_watchers_and_stops_on_sigterm(tmp_path, etcd, serve):
    """The whole process: writes refused (nothing on port 1), etcd (the first endpoint dead) over TLS, a balancer's
    stats page and the VIP's (another loopback address, same port)."""
    server, pki = etcd
    balancer = serve()
    try:
        vip = serve(host="127.0.0.2", port=balancer.port)
    except OSError as exc:
        pytest.skip("no second loopback address: %s" % exc)
    csv_page = load_text("haproxy_stats.csv").encode()
    balancer.routes[("GET", "/;csv")] = (200, csv_page, {})
    vip.routes[("GET", "/balancer")] = (200, b"haproxy2", {})
    balancer.routes[("GET", "/api/v2/alerts?active=true&silenced=false&inhibited=false")] = (
        200, json.dumps(ALERTS_ANSWER).encode(), {"Content-Type": "application/json"})
    cfg = {"writer": {"host": "127.0.0.1", "port": 1, "dbname": "app", "user": "app", "password": "s3cret"},
           "rate": 20, "run_id": "watch", "watch_interval": 0.05, "watch_timeout": 0.5,
           "dcs_watch": {"endpoints": ["https://127.0.0.1:1", server.url()], "leader_key": LEADER_KEY,
                         "ca_path": pki["ca"], "client_cert": pki["client_cert"], "client_key": pki["client_key"]},
           "lb_watch": {"balancers": [{"name": "haproxy1", "address": "127.0.0.1"}], "stats_port": balancer.port,
                        "url_username": "admin", "url_password": PASSWORD, "vip": "127.0.0.2"},
           "alert_watch": {"url": balancer.url(), "url_username": "admin", "url_password": "Al3rtPassw0rd",
                           "interval": 0.1}}
    (tmp_path / "run.json").write_text(json.dumps(cfg))
    proc = subprocess.Popen([sys.executable, SCRIPT, "--config", str(tmp_path / "run.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    ledger = tmp_path / "ledger.jsonl"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        kinds = {json.loads(line)["kind"] for line in ledger.read_text().splitlines()} if ledger.exists() else set()
        if {"dcs", "lb", "vip", "alerts"} <= kinds:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    t = time.monotonic()
    out, _ = proc.communicate(timeout=5)
    assert proc.returncode == 0 and time.monotonic() - t < 2.0, out.decode()
    recs = [json.loads(line) for line in ledger.read_text().splitlines()]
    dcs = [r for r in recs if r["kind"] == "dcs" and r["outcome"] == "ok"]
    assert dcs and (dcs[0]["node"], dcs[0]["value"], dcs[0]["revision"]) == (server.url(), "patroni1", 1234)
    lb = [r for r in recs if r["kind"] == "lb"]
    assert lb and (lb[0]["node"], lb[0]["outcome"], lb[0]["up"]) == ("haproxy1", "ok", ["patroni1"])
    vips = [r for r in recs if r["kind"] == "vip"]
    assert vips and (vips[0]["node"], vips[0]["balancer"]) == ("127.0.0.2", "haproxy2")
    ready = json.loads((tmp_path / "ready.json").read_text())
    assert ready["counts"]["dcs"]["ok"] >= 1 and "watch-vip" in ready["threads"]
    text = out.decode()
    assert "watchers every 0.05s: watch-dcs, watch-lb-haproxy1, watch-vip" in text
    assert "watchers every 0.1s: watch-alerts" in text
    assert "watch-alerts: {'firing': ['EtcdMemberDown/etcd1', 'PatroniLeaderChanged/', 'PatroniMemberDown/patroni1'," \
           " 'PatroniMemberDown/patroni2']}" in text
    alerts = [r for r in recs if r["kind"] == "alerts"]
    assert alerts[0]["outcome"] == "ok" and [a["alertname"] for a in alerts[0]["firing"]] == [
        "EtcdMemberDown", "PatroniLeaderChanged", "PatroniMemberDown", "PatroniMemberDown"]
    asked = [r for r in balancer.requests if r["path"].startswith("/api/v2/alerts")]
    assert asked[0]["headers"]["Authorization"] == "Basic " + b64("admin:Al3rtPassw0rd")
    assert PASSWORD not in text and "s3cret" not in text and "Al3rtPassw0rd" not in text


def test_the_load_client_needs_no_ansible():
    """With no site-packages (python -S): no Ansible, yet the script and its stats parsing import."""
    assert subprocess.run([sys.executable, "-S", "-c", "import ansible"], capture_output=True).returncode != 0
    code = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('probe', %r); "
            "m = importlib.util.module_from_spec(spec); sys.modules['probe'] = m; spec.loader.exec_module(m); "
            "print(m.write_pool(open(%r, 'rb').read(), 'primary'), m.HAS_PSYCOPG2)"
            % (SCRIPT, fixture_path("haproxy_stats.csv")))
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['patroni1'] False"


def test_alerts_seen_file_keeps_every_alert_that_fired_even_after_it_resolved(tmp_path):
    seen_path = tmp_path / "alerts_seen.json"
    cfg = config(ledger_path=str(tmp_path / "ledger.jsonl"), watch_interval=0.001, alerts_seen_path=str(seen_path))
    probe = probe_mod.Probe(cfg)
    changed = {"alertname": "PatroniLeaderChanged", "instance": "", "severity": "info", "starts_at": "t1"}
    down = {"alertname": "PatroniMemberDown", "instance": "patroni1", "severity": "warning", "starts_at": "t2"}
    looks: List[Any] = [[], [changed], [], [down], [changed, down]]

    def observe() -> Dict[str, Any]:
        look = looks.pop(0)
        if not looks:
            probe.stop.set()
        return {"firing": look}

    probe.watch_loop("alerts", None, observe)
    probe.ledger.close()
    seen = json.loads(seen_path.read_text())["seen"]
    assert sorted(seen) == ["PatroniLeaderChanged", "PatroniMemberDown"]
    # Each with the time it first fired: the leader change before the member down, not its second firing.
    assert seen["PatroniLeaderChanged"] < seen["PatroniMemberDown"]


def test_no_alerts_seen_file_before_an_alert_fires(tmp_path):
    seen_path = tmp_path / "alerts_seen.json"
    probe = probe_mod.Probe(config(ledger_path=str(tmp_path / "ledger.jsonl"), alerts_seen_path=str(seen_path)))
    probe.note_alerts([], 1.0)
    assert not seen_path.exists()
