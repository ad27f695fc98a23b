"""The exporters role's templates (and the haproxy role's metrics frontend), rendered from the roles' own YAML as the
template module would, on lab-shaped hosts:

* the PostgreSQL exporter's DATA_SOURCE_NAME carries any password percent-encoded, so it parses back whole (a ","
  would otherwise split it into two DSNs) and nothing of it lands in the flags;
* each exporter's flags and web configuration follow exporters_tls (mutual TLS: RequireAndVerifyClientCert);
* the textfile script gets the collectors of the host's groups only;
* HAProxy's metrics frontend requires a client certificate of the cluster CA, and is left out when switched off.

Ansible's controller code runs in a child process, as in test_prometheus_templates.py.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, Dict, List
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import yaml

from role_render import job, render

PROJECT = Path(__file__).resolve().parents[2]
ROLES = ["common", "pki", "etcd", "postgresql", "patroni", "haproxy", "keepalived", "pgbackrest", "exporters"]

PASSWORD = "p@ss/w:rd,x'y%z#&?=\"q\\;$HOME\u00e9"
HOSTS = {"patroni1": "172.28.10.11", "patroni2": "172.28.10.12", "haproxy1": "172.28.10.21", "backup1": "172.28.10.31",
         "monitor1": "172.28.10.41"}
GROUPS = {
    "etcd_cluster": ["patroni1", "patroni2"],
    "patroni_cluster": ["patroni1", "patroni2"],
    "balancers": ["haproxy1"],
    "backup_repository": ["backup1"],
    "monitoring": ["monitor1"],
}


def host(name: str, **extra: Any) -> Dict[str, Any]:
    """The variables the template module sees on host ``name`` of the lab-shaped inventory."""
    return dict({"inventory_hostname": name, "cluster_address": HOSTS[name], "cluster_network": "172.28.10.0/24",
                 "cluster_vip": "172.28.10.100", "exporters_postgres_password": PASSWORD, "groups": GROUPS,
                 "hostvars": {h: {"cluster_address": a} for h, a in HOSTS.items()}}, **extra)


JOBS: Dict[str, Any] = {
    "env": ("exporters/templates/postgres-exporter.env.j2", host("patroni1")),
    "pg_default": ("exporters/templates/postgres-exporter.default.j2", host("patroni1")),
    "node_default": ("exporters/templates/node-exporter.default.j2", host("haproxy1")),
    "node_default_plain": ("exporters/templates/node-exporter.default.j2", host("haproxy1", cluster_tls=False)),
    "web_config": ("exporters/templates/web-config.yml.j2", host("patroni1")),
    "textfile_db": ("exporters/templates/pgha-textfile-metrics.service.j2", host("patroni1")),
    "textfile_balancer": ("exporters/templates/pgha-textfile-metrics.service.j2", host("haproxy1")),
    "textfile_repo": ("exporters/templates/pgha-textfile-metrics.service.j2", host("backup1")),
    "textfile_monitor_plain": ("exporters/templates/pgha-textfile-metrics.service.j2",
                               host("monitor1", cluster_tls=False)),
    "timer": ("exporters/templates/pgha-textfile-metrics.timer.j2", host("patroni1", exporters_textfile_interval=30)),
    "haproxy": ("haproxy/templates/haproxy.cfg.j2", host("haproxy1")),
    "haproxy_plain": ("haproxy/templates/haproxy.cfg.j2", host("haproxy1", cluster_tls=False)),
    "haproxy_off": ("haproxy/templates/haproxy.cfg.j2", host("haproxy1", exporters_enabled=False)),
}


@pytest.fixture(scope="module")
def rendered() -> Dict[str, str]:
    result: Dict[str, str] = render(ROLES, {name: job(template, **variables)
                                            for name, (template, variables) in JOBS.items()})
    return result


def exec_args(unit: str) -> List[str]:
    line = [x for x in unit.splitlines() if x.startswith("ExecStart=")][0]
    return shlex.split(line[len("ExecStart="):])


def test_data_source_name_parses_back_to_the_password(rendered: Dict[str, str]) -> None:
    lines = [x for x in rendered["env"].splitlines() if x.startswith("DATA_SOURCE_NAME=")]
    assert len(lines) == 1
    value = lines[0][len("DATA_SOURCE_NAME="):]
    assert value.startswith("'") and value.endswith("'") and "'" not in value[1:-1]
    dsn = value[1:-1]
    # The exporter splits DATA_SOURCE_NAME at ",": there must be none left.
    assert "," not in dsn and " " not in dsn and "$" not in dsn and "\\" not in dsn
    url = urlsplit(dsn)
    assert url.scheme == "postgresql"
    assert unquote(url.username or "") == "pgha_monitor"
    assert unquote(url.password or "") == PASSWORD
    assert url.port == 5432 and url.path == "/postgres"
    assert parse_qs(url.query) == {"host": ["/var/run/postgresql"], "sslmode": ["disable"]}


def test_the_password_is_only_in_the_root_only_file(rendered: Dict[str, str]) -> None:
    for name, text in rendered.items():
        if name != "env":
            assert "p%40ss" not in text and "p@ss" not in text, name


def test_flags_and_web_configuration(rendered: Dict[str, str]) -> None:
    assert ('ARGS="--web.listen-address=:9187 --web.config.file=/etc/pgha/exporters/web-config.yml"'
            in rendered["pg_default"])
    exclude = (' --collector.filesystem.mount-points-exclude=^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+'
               '|var/lib/containers/storage/.+|etc/(hostname|hosts|resolv[.]conf))($|/)"')
    assert ('ARGS="--web.listen-address=:9100 --web.config.file=/etc/pgha/exporters/web-config.yml'
            ' --collector.textfile.directory=/var/lib/prometheus/node-exporter' + exclude in rendered["node_default"])
    # Without TLS: plain HTTP, no web configuration.
    assert ('ARGS="--web.listen-address=:9100 --collector.textfile.directory=/var/lib/prometheus/node-exporter'
            + exclude in rendered["node_default_plain"])
    assert yaml.safe_load(rendered["web_config"]) == {"tls_server_config": {
        "cert_file": "/etc/pgha/tls/node.crt", "key_file": "/etc/pgha/tls/exporter.key",
        "client_ca_file": "/etc/pgha/tls/ca.crt", "client_auth_type": "RequireAndVerifyClientCert",
        "min_version": "TLS12"}}


def test_each_host_gets_the_collectors_of_its_groups(rendered: Dict[str, str]) -> None:
    script = ["/usr/bin/python3", "/usr/local/lib/pgha/pgha_textfile_metrics.py",
              "--output", "/var/lib/prometheus/node-exporter/pgha.prom"]
    certs = ["--certificate-dir=/etc/pgha/tls"]
    assert exec_args(rendered["textfile_db"]) == script + certs + [
        "--archive-stanza", "demo", "--psql", "/usr/lib/postgresql/15/bin/psql",
        "--postgres-socket-dir", "/var/run/postgresql", "--postgres-port", "5432"]
    assert exec_args(rendered["textfile_balancer"]) == script + certs + ["--vip", "172.28.10.100"]
    assert exec_args(rendered["textfile_repo"]) == script + certs + [
        "--backup-stanza", "demo", "--backup-user", "pgbackrest"]
    assert exec_args(rendered["textfile_monitor_plain"]) == script
    assert "OnUnitActiveSec=30s\n" in rendered["timer"]


def test_haproxy_metrics_frontend(rendered: Dict[str, str]) -> None:
    assert ("    bind *:8405 ssl crt /etc/haproxy/tls/metrics.pem ca-file /etc/pgha/tls/ca.crt verify required\n"
            in rendered["haproxy"])
    assert "    http-request use-service prometheus-exporter if { path /metrics }\n" in rendered["haproxy"]
    assert "    bind *:8405\n" in rendered["haproxy_plain"]
    assert "frontend metrics" not in rendered["haproxy_off"]
