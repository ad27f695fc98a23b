"""Interrupted runs: ansible-playbook killed in the middle of site.yml on a fresh cluster, then run again.

Requirement: killing ansible-playbook in the middle of site.yml on a fresh lab and running it again ends in
a healthy cluster, tested at least once per role boundary.

The test builds its own seven containers (int-*: the Molecule inventory's six and a monitoring host, which
that inventory lacks) on its own docker network (pgha-interrupted, 172.28.30.0/24) from a copy of
inventories/molecule, with its own state directory (fresh CA, keys and passwords) in pytest's tmp dir. Then,
on that one fresh cluster, a chain of runs: site.yml is started and SIGKILLed (ansible-playbook's whole
process group) when the first kill point is reached, started again and killed at the second, and so on
through one kill point inside each role. The last run goes to the end and must succeed, with every task of
the verify play (playbooks/verify.yml) run and passed; the Patroni result of that play is checked once more
here (one leader, every replica streaming on its timeline).

Everything is judged from ansible-runner events. Processes a killed run started inside the containers
(docker exec) are not killed with it: apt or systemctl keep running there, as after a real Ctrl-C or a
lost controller, and the next run meets them.

Runs only with PGHA_RUN_INTERRUPTED=1 (``make interrupted``, part of ``make test-full``): about 65 minutes.
"""

from __future__ import annotations

import ipaddress
import os
import time
from pathlib import Path
from typing import Iterator, List

import pytest
import yaml
from interrupted_lab import (
    CREATE,
    DESTROY,
    PROJECT,
    SITE,
    Isolation,
    KillPoint,
    Run,
    has_backup_host,
    has_monitoring_host,
    run_playbook,
    task_names,
    verify_task_names,
    write_inventory,
)

ENABLED = os.environ.get("PGHA_RUN_INTERRUPTED") == "1"
needs_containers = pytest.mark.skipif(
    not ENABLED, reason="starts seven containers for ~65 min: runs only with PGHA_RUN_INTERRUPTED=1 (make interrupted)")

ISOLATION_PREFIX = "int-"
NETWORK = "pgha-interrupted"
SUBNET = "172.28.30.0/24"
RUN_TIMEOUT = 1200  # seconds per ansible-playbook run; generous, the lab may be busy next to us

# One kill point inside each role of site.yml, in the order site.yml reaches them. Each run of the chain
# is killed at the next one; the kill points' tasks must exist (a renamed task fails the test by name).
KILL_POINTS: List[KillPoint] = [
    KillPoint("common", "Update the CA trust store", "start",
              "the extra CA bundle is copied but update-ca-certificates has not run; the notification that "
              "would run it lives only in the killed process, and the rerun finds the file unchanged, while "
              "pip (patroni role) needs the rebuilt trust store to reach PyPI"),
    KillPoint("pki", "Install the host's private key", "start",
              "the control host holds the whole PKI and every node has ca.crt and node.crt, but no node.key: "
              "a certificate without its key, the state a 'node.crt exists' check would take for done"),
    KillPoint("etcd", "Restart etcd", "start",
              "every member's /etc/default/etcd and TLS files are written, but the nodes still run Debian's "
              "single-node etcd (or some already run the new member, depending on how far the handler got); "
              "the restart is only an in-memory handler notification of the killed process"),
    KillPoint("postgresql", "Install the PostgreSQL packages", "first_ok",
              "the first node has PostgreSQL installed, the others are still inside apt/dpkg; that apt keeps "
              "running in the containers after the kill, so the rerun meets a held dpkg lock"),
    KillPoint("pgbackrest", "Start the pgBackRest TLS server and enable it at boot", "start",
              "pgbackrest.conf and the TLS copies are written on every node and the repository host (before "
              "Patroni starts), but no TLS server runs and the restart is a handler of the killed process; "
              "PostgreSQL does not exist yet: the rerun must start the servers, then Patroni, then create the "
              "stanza, check archiving and take the first backup"),
    KillPoint("patroni", "Start Patroni on the other members", "start",
              "the first member has bootstrapped the cluster (leader key in etcd, initdb done) and the others "
              "are configured but not started: the rerun must join them as replicas, not bootstrap again"),
    KillPoint("haproxy", "Start HAProxy and enable it at boot", "start",
              "haproxy.cfg is written, but the HAProxy Debian's package started still runs its default "
              "configuration; the reload is a handler queued for the end of the play, lost with the process"),
    KillPoint("keepalived", "Start keepalived and enable it at boot", "first_ok",
              "keepalived runs on one balancer (it takes the VIP) and not yet on the other, and HAProxy's "
              "queued reload is lost again"),
    KillPoint("exporters", "Start the node exporter and enable it at boot", "start",
              "every host has the node exporter's flags and its TLS web configuration (client certificates "
              "required) on disk, but still runs the exporter Debian's package started, plain HTTP with the "
              "package's flags; the restart is a handler of the killed process, so Prometheus could not "
              "scrape it: the rerun must see the difference and restart it"),
    KillPoint("prometheus", "Start Prometheus and enable it at boot", "start",
              "prometheus.yml, the rules, the flags and the web configuration are written, but Prometheus "
              "runs as the package started it (no TLS, no scrape jobs of the cluster); its restart is lost"),
    KillPoint("alertmanager", "Start Alertmanager and enable it at boot", "start",
              "alertmanager.yml, the flags and the web configuration are written, Alertmanager runs the "
              "package's configuration and Prometheus sends to an Alertmanager that does not answer HTTPS yet"),
]


def test_inventory_is_isolated(tmp_path: Path) -> None:
    """The generated inventory names only int-* containers, its own network and its own state dir."""
    iso = Isolation(ISOLATION_PREFIX, NETWORK, SUBNET, tmp_path / "state")
    inventory = write_inventory(tmp_path / "inventory", iso)  # raises on anything left of the source
    hosts = yaml.safe_load((inventory / "hosts.yml").read_text(encoding="utf-8"))
    groups = hosts["all"]["children"]
    nodes = {**groups["patroni_cluster"]["hosts"], **groups["balancers"]["hosts"]}
    assert sorted(h["ansible_host"] for h in nodes.values()) == [
        "int-haproxy1", "int-haproxy2", "int-patroni1", "int-patroni2", "int-patroni3"]
    # The monitoring host the Molecule inventory lacks, added as a lab container.
    assert groups["monitoring"]["hosts"] == {"monitor1": {"ansible_host": "int-monitor1",
                                                          "cluster_address": "172.28.30.41"}}
    assert "monitoring" in groups["lab_containers"]["children"]
    assert has_monitoring_host(inventory)
    nodes.update(groups["monitoring"]["hosts"])
    network = ipaddress.IPv4Network(SUBNET)
    assert all(ipaddress.IPv4Address(h["cluster_address"]) in network for h in nodes.values())
    assert hosts["all"]["vars"] == {"cluster_network": SUBNET, "cluster_vip": "172.28.30.100"}
    lab = yaml.safe_load((inventory / "group_vars" / "all" / "lab.yml").read_text(encoding="utf-8"))
    assert (lab["lab_network_name"], lab["lab_network_subnet"], lab["lab_network_gateway"]) == (
        NETWORK, SUBNET, "172.28.30.1")
    assert lab["lab_state_dir"] == str(tmp_path / "state")


def test_verify_tasks_follow_the_backup_host(tmp_path: Path) -> None:
    """The backup checks of verify.yml are expected exactly when the inventory has a backup host."""
    with_backup = verify_task_names(backup=True)
    without = verify_task_names(backup=False)
    backup_checks = [t for t in with_backup if t not in without]
    assert backup_checks and all(t[0] == "Verify the cluster" for t in backup_checks)
    assert ("Verify the cluster", "Wait for one leader and every replica streaming on its timeline") in without

    inventory = write_inventory(tmp_path / "inventory", Isolation(ISOLATION_PREFIX, NETWORK, SUBNET, tmp_path / "s"))
    hosts = yaml.safe_load((inventory / "hosts.yml").read_text(encoding="utf-8"))
    expected = bool(hosts["all"]["children"].get("backup_repository", {}).get("hosts"))
    assert has_backup_host(inventory) is expected
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"lab_containers": {
        "children": {"backup_repository": {"hosts": {"backup1": {}}}}}}}}), encoding="utf-8")
    assert has_backup_host(tmp_path / "other") is True


def test_verify_tasks_follow_the_monitoring_host(tmp_path: Path) -> None:
    """The monitoring checks of verify.yml are expected exactly when the inventory has a monitoring host."""
    with_monitoring = verify_task_names(monitoring=True)
    without = verify_task_names(monitoring=False)
    monitoring_checks = [t for t in with_monitoring if t not in without]
    assert monitoring_checks and all(t[0] == "Verify the monitoring" for t in monitoring_checks)
    assert all(t[0] == "Verify the cluster" for t in without)
    # A block reports no result of its own: its tasks are expected, not its name (the first full run
    # of the chain with monitoring failed on the block "Check Prometheus through its API").
    assert ("Verify the monitoring", "Wait until every scrape target is up") in monitoring_checks
    assert ("Verify the monitoring", "Check Prometheus through its API") not in monitoring_checks

    iso = Isolation(ISOLATION_PREFIX, NETWORK, SUBNET, tmp_path / "s")
    assert has_monitoring_host(write_inventory(tmp_path / "with", iso)) is True
    assert has_monitoring_host(write_inventory(tmp_path / "without", iso, monitoring=False)) is False


def test_kill_points_name_tasks_of_their_roles() -> None:
    """Every kill point's task is a task (or handler) of its role: a rename fails here, not 30 min into the chain."""
    for point in KILL_POINTS:
        role = PROJECT / "roles" / point.role
        names = set()
        for path in list((role / "tasks").glob("*.yml")) + list((role / "handlers").glob("*.yml")):
            names.update(task_names(yaml.safe_load(path.read_text(encoding="utf-8")) or []))
        assert point.task in names, "kill point %s: no such task in roles/%s" % (point.label, point.role)


def test_kill_points_are_in_site_order() -> None:
    """One kill point per role of site.yml, in the order the plays run them."""
    roles = [k.role for k in KILL_POINTS]
    assert roles == ["common", "pki", "etcd", "postgresql", "pgbackrest", "patroni", "haproxy", "keepalived",
                     "exporters", "prometheus", "alertmanager"]
    assert all(k.trigger in ("start", "first_ok") for k in KILL_POINTS)


# ---- the cluster ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fresh_cluster(tmp_path_factory: pytest.TempPathFactory, timings: List[str]) -> Iterator[Path]:
    """Six new int-* containers on pgha-interrupted; the inventory's path. Always destroyed at the end."""
    base = tmp_path_factory.mktemp("interrupted")
    iso = Isolation(ISOLATION_PREFIX, NETWORK, SUBNET, base / "state")
    inventory = write_inventory(base / "inventory", iso)
    runs = base / "runs"

    leftovers = run_playbook(runs / "destroy-leftovers", inventory, DESTROY, "destroy leftovers", timeout=600)
    assert leftovers.status == "successful", leftovers.describe()
    try:
        created = run_playbook(runs / "create", inventory, CREATE, "create", timeout=600)
        assert created.status == "successful", created.describe()
        timings.append("create the containers: %.0f s" % created.seconds)
        yield inventory
    finally:
        destroyed = run_playbook(runs / "destroy", inventory, DESTROY, "destroy", timeout=600)
        timings.append("destroy the containers: %.0f s (%s)" % (destroyed.seconds, destroyed.status))
        assert destroyed.status == "successful", destroyed.describe()


# ---- the chain -----------------------------------------------------------------------------------

def _assert_killed_cleanly(run: Run, point: KillPoint) -> None:
    """run stopped at point, by our kill, with no task failed before it."""
    if run.kill_error:
        pytest.fail(run.kill_error)
    if run.failures:
        pytest.fail("the run failed before reaching the kill point %s:\n%s" % (point.label, run.describe()))
    if run.kill is None:
        pytest.fail("kill point never reached: task %r of role %r did not %s in this run (renamed or moved? update "
                    "KILL_POINTS):\n%s" % (point.task, point.role,
                                           "start" if point.trigger == "start" else "finish on any host",
                                           run.describe()))
    if run.status == "successful":
        pytest.fail("the run ended successfully although it was killed:\n" + run.describe())


def _assert_verified(run: Run, inventory: Path) -> None:
    """Every task of playbooks/verify.yml ran and passed in run (the backup checks only when the inventory
    has a backup host); the Patroni answer is a healthy cluster."""
    ok = {(e["event_data"].get("play"), e["event_data"].get("task")) for e in run.by_type("runner_on_ok")}
    expected = verify_task_names(backup=has_backup_host(inventory), monitoring=has_monitoring_host(inventory))
    missing = [t for t in expected if t not in ok]
    assert not missing, "verify tasks that did not pass: %s\n%s" % (missing, run.describe())

    answers = [e["event_data"]["res"] for e in run.by_type("runner_on_ok")
               if e["event_data"].get("task") == "Wait for one leader and every replica streaming on its timeline"]
    assert len(answers) == 1, "expected one patroni_cluster_info answer in the verify play, got %d" % len(answers)
    patroni = answers[0]
    members = patroni["members"]
    leaders = [m["name"] for m in members if m["role"] == "leader"]
    streaming = [m["name"] for m in members if m["role"] != "leader" and m["state"] == "streaming"]
    assert len(members) == 3 and leaders == [patroni["leader"]], patroni.get("table")
    assert len(streaming) == 2, patroni.get("table")
    assert {m["timeline"] for m in members} == {patroni["timeline"]}, patroni.get("table")


@pytest.mark.interrupted
@needs_containers
def test_killed_site_runs_end_in_a_healthy_cluster(fresh_cluster: Path, tmp_path: Path, timings: List[str]) -> None:
    """site.yml killed at every kill point in turn, on one fresh cluster; the last run converges it."""
    inventory = fresh_cluster
    started = time.monotonic()
    timings.append("%-4s %-62s %9s %9s  %s" % ("step", "kill point", "killed at", "run ended", "hosts done/started"))
    for number, point in enumerate(KILL_POINTS, start=1):
        run = run_playbook(tmp_path / ("%02d-%s" % (number, point.role)), inventory, SITE,
                           "run %d, kill at %s" % (number, point.label), kill_point=point, timeout=RUN_TIMEOUT)
        _assert_killed_cleanly(run, point)
        kill = run.kill
        line = "%-4d %-62s %7.1f s %7.1f s  %d/%d %s" % (
            number, point.label, kill.seconds, run.seconds, len(kill.hosts_done), len(kill.hosts_started),
            ",".join(kill.hosts_done))
        timings.append(line)
        print("\n" + line, flush=True)

    final = run_playbook(tmp_path / "final", inventory, SITE, "final run", timeout=RUN_TIMEOUT)
    timings.append("%-4s %-62s %9s %7.1f s  %s, rc %s" % ("end", "final site.yml to the end", "", final.seconds,
                                                          final.status, final.rc))
    timings.append("chain total: %.0f s" % (time.monotonic() - started))
    if final.status != "successful" or final.rc != 0 or final.failures:
        pytest.fail("the run after the last kill did not converge the cluster:\n" + final.describe())
    _assert_verified(final, inventory)
