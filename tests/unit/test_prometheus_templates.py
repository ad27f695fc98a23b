"""The prometheus role's templates, rendered from the role's own YAML as the template module would.

* ``pgha.rules.yml.j2`` installs monitoring/alerts/pgha.rules.yml with the literal of every line marked
  ``# threshold: <name>`` replaced by ``prometheus_alert_thresholds[<name>]``: with the defaults the result is
  the project's file itself (so the file stays the one source and stays usable without Ansible), a changed
  value lands on its line only, and a marked name without a value stops the template with a message naming it.
* ``prometheus.yml.j2`` has the jobs the rules expect, one target per inventory host labelled with its name.

``promtool`` (Debian's prometheus package, installed by scripts/host-setup.sh) checks the results when it is
there. Ansible's controller code runs in a child process, as in test_durability_mapping.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
import yaml

from role_render import job, run_render

PROJECT = Path(__file__).resolve().parents[2]
ROLE = PROJECT / "roles" / "prometheus"
RULES = PROJECT / "monitoring" / "alerts" / "pgha.rules.yml"
PROMTOOL = shutil.which("promtool")

# A lab-shaped inventory, as the template sees it on the monitoring host.
INVENTORY: Dict[str, Any] = {
    "inventory_hostname": "monitor1",
    "cluster_address": "172.28.10.41",
    "patroni_scope": "demo",
    "prometheus_web_password": "prometheus-test-password",
    "alertmanager_web_password": "alertmanager-test-password",
    "groups": {
        "patroni_cluster": ["patroni1", "patroni2", "patroni3"],
        "etcd_cluster": ["patroni1", "patroni2", "patroni3"],
        "balancers": ["haproxy1", "haproxy2"],
        "backup_repository": ["backup1"],
        "monitoring": ["monitor1"],
    },
    "hostvars": {
        "patroni1": {"cluster_address": "172.28.10.11"},
        "patroni2": {"cluster_address": "172.28.10.12", "exporters_node_port": 9200},
        "patroni3": {"cluster_address": "172.28.10.13"},
        "haproxy1": {"cluster_address": "172.28.10.21"},
        "haproxy2": {"cluster_address": "172.28.10.22"},
        "backup1": {"cluster_address": "172.28.10.31"},
        "monitor1": {"cluster_address": "172.28.10.41"},
    },
}


def render(template: str, **overrides: Any) -> subprocess.CompletedProcess:
    return run_render(["prometheus"], {"out": job("prometheus/templates/" + template, **overrides)})


def rendered(template: str, **overrides: Any) -> str:
    proc = render(template, **overrides)
    assert proc.returncode == 0, proc.stderr
    return str(json.loads(proc.stdout)["out"])


def body(rules: str) -> str:
    """The rendered rules without the two header comment lines the template adds."""
    lines = rules.splitlines(keepends=True)
    assert lines[0].startswith("# ") and lines[1].startswith("# "), lines[:2]
    return "".join(lines[2:])


def default_thresholds() -> Dict[str, Any]:
    """The defaults of prometheus_alert_thresholds with their two derived values as the defaults give them."""
    with open(ROLE / "defaults" / "main.yml", encoding="utf-8") as fh:
        thresholds = dict(yaml.safe_load(fh)["prometheus_alert_thresholds"])
    thresholds.update(sync_wanted=1, replica_lag_bytes=1048576)
    return thresholds


def promtool(*args: str) -> None:
    if PROMTOOL is None:
        return
    proc = subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_defaults_give_the_projects_rules_unchanged(tmp_path: Path) -> None:
    out = rendered("pgha.rules.yml.j2")
    assert body(out) == RULES.read_text(encoding="utf-8")
    (tmp_path / "rules.yml").write_text(out)
    promtool("check", "rules", str(tmp_path / "rules.yml"))


def changed_lines(rules: str) -> List[Tuple[str, str]]:
    """(source line, rendered line) of every line the template changed, stripped."""
    source = RULES.read_text(encoding="utf-8").splitlines()
    out = body(rules).splitlines()
    assert len(out) == len(source)
    return [(old.strip(), new.strip()) for old, new in zip(source, out) if old != new]


def test_each_value_lands_on_its_marked_line_only(tmp_path: Path) -> None:
    thresholds = dict(default_thresholds(), leader_change_window="1h30m", etcd_leader_changes=5,
                      disk_free_percent_low=7.5, cert_expiry_seconds=86400)
    out = rendered("pgha.rules.yml.j2", prometheus_alert_thresholds=thresholds)
    assert changed_lines(out) == [
        ("> max by (scope) (patroni_postgres_timeline offset 10m)  # threshold: leader_change_window",
         "> max by (scope) (patroni_postgres_timeline offset 1h30m)  # threshold: leader_change_window"),
        ("expr: increase(etcd_server_leader_changes_seen_total[15m]) > 3  # threshold: etcd_leader_changes",
         "expr: increase(etcd_server_leader_changes_seen_total[15m]) > 5  # threshold: etcd_leader_changes"),
        ("< 10  # threshold: disk_free_percent_low", "< 7.5  # threshold: disk_free_percent_low"),
        ("expr: pgha_certificate_expiry_timestamp_seconds - time() < 2592000  # threshold: cert_expiry_seconds",
         "expr: pgha_certificate_expiry_timestamp_seconds - time() < 86400  # threshold: cert_expiry_seconds"),
    ]
    (tmp_path / "rules.yml").write_text(out)
    promtool("check", "rules", str(tmp_path / "rules.yml"))


def test_durability_and_failover_lag_come_from_the_patroni_settings(tmp_path: Path) -> None:
    out = rendered("pgha.rules.yml.j2", patroni_durability="async", patroni_maximum_lag_on_failover=33554432)
    assert changed_lines(out) == [
        ("+ 1  # threshold: sync_wanted", "+ 0  # threshold: sync_wanted"),
        ("> 1048576  # threshold: replica_lag_bytes", "> 33554432  # threshold: replica_lag_bytes"),
    ]
    assert changed_lines(rendered("pgha.rules.yml.j2", patroni_durability="strict")) == []
    (tmp_path / "rules.yml").write_text(out)
    promtool("check", "rules", str(tmp_path / "rules.yml"))


def test_a_marked_name_without_a_value_stops_the_template() -> None:
    thresholds = default_thresholds()
    del thresholds["backup_max_age_seconds"]
    proc = render("pgha.rules.yml.j2", prometheus_alert_thresholds=thresholds)
    assert proc.returncode != 0
    assert "prometheus_alert_thresholds has no value for the threshold backup_max_age_seconds" in proc.stderr


def test_a_marker_without_a_literal_stops_the_template(tmp_path: Path) -> None:
    source = tmp_path / "bad.rules.yml"
    source.write_text("groups: []\nx: foo  # threshold: sync_wanted\n")
    proc = render("pgha.rules.yml.j2", __prometheus_rules_source=str(source))
    assert proc.returncode != 0
    assert "has no number or duration before its marker: x: foo" in proc.stderr


def test_scrape_jobs_have_one_target_per_inventory_host(tmp_path: Path) -> None:
    out = rendered("prometheus.yml.j2", **INVENTORY)
    config = yaml.safe_load(out)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert list(jobs) == ["patroni", "etcd", "postgres", "node", "haproxy", "prometheus", "alertmanager"]

    def targets(name: str) -> Dict[str, str]:
        return {group["labels"]["instance"]: group["targets"][0] for group in jobs[name]["static_configs"]}

    assert targets("patroni") == {"patroni%d" % i: "172.28.10.1%d:8008" % i for i in (1, 2, 3)}
    assert targets("etcd") == {"patroni%d" % i: "172.28.10.1%d:2379" % i for i in (1, 2, 3)}
    assert targets("haproxy") == {"haproxy1": "172.28.10.21:8405", "haproxy2": "172.28.10.22:8405"}
    # Every host once, the monitoring host too; a port set on one host in the inventory is that target's.
    assert targets("node") == {
        "patroni1": "172.28.10.11:9100", "patroni2": "172.28.10.12:9200", "patroni3": "172.28.10.13:9100",
        "haproxy1": "172.28.10.21:9100", "haproxy2": "172.28.10.22:9100", "backup1": "172.28.10.31:9100",
        "monitor1": "172.28.10.41:9100"}
    assert all(group["labels"]["scope"] == "demo" for group in jobs["postgres"]["static_configs"])
    for scrape in jobs.values():
        assert scrape["scheme"] == "https"
        assert scrape["tls_config"] == {
            "ca_file": "/etc/prometheus/tls/ca.crt", "cert_file": "/etc/prometheus/tls/node.crt",
            "key_file": "/etc/prometheus/tls/node.key", "insecure_skip_verify": False}
    assert jobs["prometheus"]["basic_auth"] == {"username": "admin", "password": "prometheus-test-password"}
    alerting = config["alerting"]["alertmanagers"][0]
    assert alerting["static_configs"] == [{"targets": ["172.28.10.41:9093"]}]
    assert alerting["basic_auth"] == {"username": "admin", "password": "alertmanager-test-password"}
    (tmp_path / "prometheus.yml").write_text(out)
    promtool("check", "config", "--syntax-only", str(tmp_path / "prometheus.yml"))


def test_without_tls_and_exporters_only_the_services_are_scraped_over_http() -> None:
    config = yaml.safe_load(rendered("prometheus.yml.j2", **dict(
        INVENTORY, cluster_tls=False, patroni_restapi_tls=False, etcd_tls=False, exporters_enabled=False,
        haproxy_metrics_enabled=False)))
    assert [job["job_name"] for job in config["scrape_configs"]] == ["patroni", "etcd", "prometheus", "alertmanager"]
    assert all(job["scheme"] == "http" and "tls_config" not in job for job in config["scrape_configs"])


@pytest.mark.parametrize("password", ["prometheus-test-password", "another password, longer"])
def test_the_web_password_hash_is_stable_and_checks(password: str, tmp_path: Path) -> None:
    first = yaml.safe_load(rendered("web.yml.j2", **dict(INVENTORY, prometheus_web_password=password)))
    second = yaml.safe_load(rendered("web.yml.j2", **dict(INVENTORY, prometheus_web_password=password)))
    assert first == second
    digest = first["basic_auth_users"]["admin"]
    assert digest.startswith("$2b$10$")
    check = subprocess.run([sys.executable, "-c", "import sys, passlib.hash as h; sys.exit(0 if "
                            "h.bcrypt.verify(sys.argv[1], sys.argv[2]) else 1)", password, digest],
                           capture_output=True, text=True, timeout=60, check=False)
    assert check.returncode == 0, check.stderr
    assert first["tls_server_config"]["cert_file"] == "/etc/prometheus/tls/node.crt"
