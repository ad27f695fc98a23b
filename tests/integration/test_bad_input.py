"""Bad-input matrix: every broken inventory must stop ``site.yml`` in its validation play.

Each case copies a good inventory into a temporary directory, breaks one thing, runs ``site.yml``
with ansible-runner and checks, from the runner's events only:

* the run failed (status ``failed``, rc != 0);
* every failed task is in the validation play, and its message names the variable (or host);
* no other play started, and no task reported ``changed`` anywhere.

The good inventory never touches a real machine: every host is ``ansible_connection: local``
(the validation play's ping answers on the controller) and the secrets are random test values.
A positive control runs ``playbooks/validate.yml`` on the good inventory and expects success, so
each failure below is caused by the one broken thing, not by the base.

Safety net: should validation ever let a broken inventory through, the next play of site.yml would
run on the controller. Every run therefore loads a small callback (written into the temporary
directory) that ends ansible-playbook at once when any play other than the validation play starts,
before that play runs a task; the test then fails on the recorded play start.

``make unit`` (and so ``make test``) runs it; alone: ``pytest tests/integration/test_bad_input.py``.
It needs no lab: the runs are independent ansible-playbook processes, run in parallel threads.

One case needs a real SSH server that refuses a key: ``ssh-key-refused`` runs only when
``PGHA_SSH_REFUSING_HOST`` names one (an address whose sshd knows user ``admin`` but not the fresh
key the case makes). molecule/ssh's verify runs it against its lab; elsewhere it is skipped.
"""

from __future__ import annotations

import copy
import os
import re
import secrets
import string
import subprocess
import sys
import textwrap
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import ansible_runner
import ansible_runner.interface
import pytest
import yaml
from ansible_runs import runner_args

PROJECT = Path(__file__).resolve().parents[2]
SITE = PROJECT / "site.yml"
VALIDATE = PROJECT / "playbooks" / "validate.yml"
VALIDATION_PLAY = "Validate the inventory before any host is changed"
TRIPWIRE_RC = 99
RUN_TIMEOUT = 240  # seconds per ansible-playbook run; a hung run fails instead of hanging pytest
WORKERS = int(os.environ.get("PGHA_BAD_INPUT_WORKERS", "6"))

TRIPWIRE_PLUGIN = textwrap.dedent('''
    """Test-only callback: end ansible-playbook when a play other than the allowed one starts."""
    import os
    import sys

    from ansible.plugins.callback import CallbackBase


    class CallbackModule(CallbackBase):
        CALLBACK_VERSION = 2.0
        CALLBACK_TYPE = "aggregate"
        CALLBACK_NAME = "pgha_bad_input_tripwire"
        CALLBACK_NEEDS_ENABLED = False

        def v2_playbook_on_play_start(self, play):
            allowed = os.environ.get("PGHA_TRIPWIRE_ALLOWED_PLAY")
            if allowed and play.get_name().strip() != allowed:
                # The stdout callback (ansible-runner's) has already recorded the play start.
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(%d)
''' % TRIPWIRE_RC)


# ---- the good inventory ----------------------------------------------------------------------

def _password(length: int) -> str:
    chars = string.ascii_letters + string.digits
    return "".join(secrets.choice(chars) for _ in range(length))


def good_inventory() -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(hosts.yml, group_vars/all.yml) of a good inventory shaped like inventories/lab."""
    hosts = {
        "all": {
            "vars": {
                "cluster_network": "172.28.10.0/24",
                "cluster_vip": "172.28.10.100",
            },
            "children": {
                "patroni_cluster": {"hosts": {
                    "patroni1": {"cluster_address": "172.28.10.11"},
                    "patroni2": {"cluster_address": "172.28.10.12"},
                    "patroni3": {"cluster_address": "172.28.10.13"},
                }},
                "etcd_cluster": {"hosts": {"patroni1": None, "patroni2": None, "patroni3": None}},
                "balancers": {"hosts": {
                    "haproxy1": {"cluster_address": "172.28.10.21", "keepalived_priority": 150},
                    "haproxy2": {"cluster_address": "172.28.10.22", "keepalived_priority": 100},
                }},
                "backup_repository": {"hosts": {"backup1": {"cluster_address": "172.28.10.41"}}},
            },
        },
    }
    all_vars = {
        # Nothing leaves the controller: every host is the controller itself, with this Python.
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "patroni_scope": "demo",
        "keepalived_virtual_router_id": 51,
        # The balancers are the controller: its loopback is an interface it has.
        "keepalived_interface": "lo",
        "patroni_superuser_password": _password(24),
        "patroni_replication_password": _password(24),
        "patroni_rewind_password": _password(24),
        "patroni_app_password": _password(24),
        "patroni_restapi_password": _password(24),
        "haproxy_stats_password": _password(24),
        "keepalived_auth_pass": _password(8),
        "pgbackrest_repo_cipher_pass": _password(40),
    }
    return hosts, all_vars


def _groups(hosts: Dict[str, Any]) -> Dict[str, Any]:
    return hosts["all"]["children"]


def write_inventory(directory: Path, hosts: Dict[str, Any], all_vars: Dict[str, Any]) -> Path:
    inventory = directory / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "hosts.yml").write_text("---\n" + yaml.safe_dump(hosts, sort_keys=False))
    (inventory / "group_vars" / "all.yml").write_text("---\n" + yaml.safe_dump(all_vars, sort_keys=False))
    return inventory


# ---- running and reading the events --------------------------------------------------------

@dataclass
class Outcome:
    status: str
    rc: int
    events: List[Dict[str, Any]]
    stdout_tail: str

    def by_type(self, event: str) -> List[Dict[str, Any]]:
        return [e for e in self.events if e.get("event") == event]

    @property
    def failures(self) -> List[Dict[str, Any]]:
        return [e for e in self.by_type("runner_on_failed") if not e["event_data"].get("ignore_errors")]

    @property
    def plays_started(self) -> List[str]:
        return [e["event_data"].get("play", "") for e in self.by_type("playbook_on_play_start")]

    @property
    def changed(self) -> List[str]:
        """'host: task (event)' of every task result that reported changed."""
        out = []
        for e in self.events:
            res = e.get("event_data", {}).get("res")
            if isinstance(res, dict) and res.get("changed"):
                out.append("%s: %s (%s)" % (e["event_data"].get("host"), e["event_data"].get("task"), e["event"]))
        return out

    def describe(self) -> str:
        lines = ["status=%s rc=%s plays=%s" % (self.status, self.rc, self.plays_started)]
        for e in self.failures:
            d = e["event_data"]
            lines.append("FAILED [%s] %s / %s: %s" % (d.get("play"), d.get("host"), d.get("task"), failure_messages(e)))
        if not self.failures:
            lines.append("stdout tail:\n" + self.stdout_tail)
        return "\n".join(lines)


def failure_messages(event: Dict[str, Any]) -> List[str]:
    """res.msg, and the msg of every failed loop item (loops, argument-spec errors)."""
    res = event["event_data"].get("res") or {}
    msgs = []
    if res.get("msg"):
        msgs.append(str(res["msg"]))
    for item in res.get("results") or []:
        if isinstance(item, dict) and item.get("failed") and item.get("msg"):
            msgs.append(str(item["msg"]))
    return msgs


def prepare_run(workdir: Path, inventory: Path, playbook: Path, allowed_play: str = VALIDATION_PLAY,
                extravars: Optional[Dict[str, Any]] = None) -> ansible_runner.Runner:
    """The ansible-runner Runner of ``playbook``, configured but not started.

    Call it from pytest's main thread: configuring copies ``os.environ``, which pytest rewrites
    (PYTEST_CURRENT_TEST) at every test phase; a copy made in a worker thread can meet a key that
    vanishes mid-copy (KeyError, seen once in CI). ``Runner.run()`` itself reads only its own copy.
    """
    plugins = workdir / "callback_plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "pgha_bad_input_tripwire.py").write_text(TRIPWIRE_PLUGIN)
    return ansible_runner.interface.init_runner(
        **runner_args(workdir, inventory, playbook, ANSIBLE_CALLBACK_PLUGINS=str(plugins),
                      PGHA_TRIPWIRE_ALLOWED_PLAY=allowed_play),
        extravars=extravars or {},
        timeout=RUN_TIMEOUT,
    )


def finish_run(runner: ansible_runner.Runner) -> Outcome:
    """Run a prepared Runner to its end (safe in a worker thread) and collect its events."""
    runner.run()
    events = sorted(runner.events, key=lambda e: e.get("counter", 0))
    try:
        stdout = runner.stdout.read()
    except Exception:  # noqa: BLE001 - only for diagnostics
        stdout = ""
    return Outcome(status=runner.status, rc=runner.rc, events=events, stdout_tail=stdout[-3000:])


def run_playbook(workdir: Path, inventory: Path, playbook: Path, allowed_play: str = VALIDATION_PLAY,
                 extravars: Optional[Dict[str, Any]] = None) -> Outcome:
    """Prepare and run ``playbook`` in the calling thread."""
    return finish_run(prepare_run(workdir, inventory, playbook, allowed_play, extravars))


# ---- the matrix ------------------------------------------------------------------------------

Mutation = Callable[[Dict[str, Any], Dict[str, Any]], None]


@dataclass
class Case:
    id: str
    mutate: Mutation
    # Each must appear in the failing task's message as a whole word (variable or host names).
    names: Tuple[str, ...]
    # Each must appear verbatim too: the offending value, so the right check fired.
    values: Tuple[str, ...] = ()
    # Names that must NOT appear (e.g. reachable hosts in the unreachable-host message).
    absent: Tuple[str, ...] = ()
    xfail: Optional[str] = None
    marks: List[Any] = field(default_factory=list)
    # Makes files the broken inventory refers to, in the run's own directory, before the run.
    setup: Optional[Callable[[Path], None]] = None


def etcd_members(*names: str) -> Mutation:
    """etcd_cluster = names; a name in no other group becomes a dedicated etcd host."""
    def mutate(hosts, _vars):
        groups = _groups(hosts)
        known = set(groups["patroni_cluster"]["hosts"]) | set(groups["balancers"]["hosts"])
        groups["etcd_cluster"]["hosts"] = {
            n: None if n in known else {"cluster_address": "172.28.10.%d" % (30 + i)}
            for i, n in enumerate(names)
        }
    return mutate


def set_all_var(name: str, value: Any) -> Mutation:
    def mutate(_hosts, all_vars):
        all_vars[name] = value
    return mutate


def set_all_vars(values: Dict[str, Any]) -> Mutation:
    def mutate(_hosts, all_vars):
        all_vars.update(values)
    return mutate


def set_inventory_var(name: str, value: Any) -> Mutation:
    def mutate(hosts, _vars):
        hosts["all"]["vars"][name] = value
    return mutate


def set_host_var(group: str, host: str, name: str, value: Any) -> Mutation:
    def mutate(hosts, _vars):
        _groups(hosts)[group]["hosts"][host][name] = value
    return mutate


def drop_cluster_vip(hosts, _vars):
    del hosts["all"]["vars"]["cluster_vip"]


def patroni_members(*names: str, **all_vars_update: Any) -> Mutation:
    """patroni_cluster = names (etcd moves to dedicated hosts), plus the given group_vars/all."""
    def mutate(hosts, all_vars):
        groups = _groups(hosts)
        groups["patroni_cluster"]["hosts"] = {
            n: {"cluster_address": "172.28.10.%d" % (11 + i)} for i, n in enumerate(names)}
        groups["etcd_cluster"]["hosts"] = {
            "etcd%d" % i: {"cluster_address": "172.28.10.%d" % (30 + i)} for i in (1, 2, 3)}
        all_vars.update(all_vars_update)
    return mutate


def haproxy2_unreachable(hosts, _vars):
    _groups(hosts)["balancers"]["hosts"]["haproxy2"].update({
        "ansible_connection": "ssh",
        "ansible_host": "127.0.0.1",
        "ansible_port": 1,  # closed port on loopback: refused at once
        "ansible_ssh_common_args": "-o ConnectTimeout=3 -o ConnectionAttempts=1 -o BatchMode=yes",
    })


def haproxy2_become_fails(hosts, _vars):
    """haproxy2 answers, but its privilege escalation fails (su to an account without a shell)."""
    _groups(hosts)["balancers"]["hosts"]["haproxy2"].update({
        "ansible_become": True,
        "ansible_become_method": "su",
        "ansible_become_user": "nobody",
    })


SSH_REFUSING_HOST = os.environ.get("PGHA_SSH_REFUSING_HOST", "")


def stranger_key(workdir: Path) -> None:
    """A fresh ed25519 key that no host has authorized (the inventory's ``../stranger``)."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pgha-bad-input-stranger",
                    "-f", str(workdir / "stranger")], check=True, timeout=30)


def haproxy2_refuses_the_key(hosts, _vars):
    """haproxy2 is a real sshd (PGHA_SSH_REFUSING_HOST) that does not know the key Ansible offers."""
    _groups(hosts)["balancers"]["hosts"]["haproxy2"].update({
        "ansible_connection": "ssh",
        "ansible_host": SSH_REFUSING_HOST,
        "ansible_user": "admin",
        "ansible_become": True,
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_ssh_private_key_file": "{{ inventory_dir }}/../stranger",
        # No connection sharing: a master left by another run to the same user@host would let this
        # one in without offering a key at all (ansible.cfg's ControlPersist).
        "ansible_ssh_args": "-o ControlMaster=no -o ControlPath=none",
        # Only the stranger key is offered (no agent), once; the host key is not what is tested.
        "ansible_ssh_common_args": "-o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes "
                                   "-o ConnectTimeout=5 -o ConnectionAttempts=1 "
                                   "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
    })


def patroni_timing(hosts, all_vars):
    all_vars.update({"patroni_ttl": 20, "patroni_loop_wait": 10, "patroni_retry_timeout": 10})


def empty_balancers(hosts, _vars):
    _groups(hosts)["balancers"]["hosts"] = {}


def no_backup_repository(hosts, all_vars):
    """Backups asked for explicitly, but no repository host."""
    del _groups(hosts)["backup_repository"]
    all_vars["pgbackrest_enabled"] = True


def backup_repository_on_a_node(hosts, _vars):
    _groups(hosts)["backup_repository"]["hosts"] = {"patroni3": None}


def two_monitoring_hosts(hosts, all_vars):
    """Two hosts in group monitoring (with the monitoring's passwords: only the count is wrong)."""
    _groups(hosts)["monitoring"] = {"hosts": {
        "monitor1": {"cluster_address": "172.28.10.51"},
        "monitor2": {"cluster_address": "172.28.10.52"},
    }}
    all_vars.update({"prometheus_web_password": _password(24), "alertmanager_web_password": _password(24),
                     "exporters_postgres_password": _password(24)})


# roles/prometheus/defaults/main.yml's thresholds, one of them not a number.
PROMETHEUS_THRESHOLDS_BAD = {
    "sync_wanted": 1, "replica_lag_bytes": "1MB", "leader_change_window": "10m", "etcd_leader_changes": 3,
    "backup_max_age_seconds": 93600, "disk_free_percent_low": 10, "disk_free_percent_trend": 25,
    "cert_expiry_seconds": 2592000,
}


CASES = [
    # -- the brief's matrix
    Case("etcd-2-members", etcd_members("patroni1", "patroni2"), ("etcd_cluster",), ("2 member(s)",)),
    Case("etcd-4-members", etcd_members("patroni1", "patroni2", "patroni3", "etcd4"),
         ("etcd_cluster",), ("4 member(s)",)),
    Case("etcd-1-member", etcd_members("patroni1"), ("etcd_cluster",), ("1 member(s)",)),
    Case("vip-missing", drop_cluster_vip, ("cluster_vip",), ("(not set)",)),
    Case("vip-outside-network", set_inventory_var("cluster_vip", "10.9.9.100"), ("cluster_vip",), ("10.9.9.100",)),
    Case("vip-is-a-node-address", set_inventory_var("cluster_vip", "172.28.10.12"),
         ("cluster_vip",), ("172.28.10.12",)),
    Case("keepalived-priority-duplicate", set_host_var("balancers", "haproxy2", "keepalived_priority", 150),
         ("keepalived_priority",), ("150",)),
    Case("keepalived-vrid-0", set_all_var("keepalived_virtual_router_id", 0),
         ("keepalived_virtual_router_id",), ("got 0",)),
    Case("keepalived-vrid-300", set_all_var("keepalived_virtual_router_id", 300),
         ("keepalived_virtual_router_id",), ("got 300",)),
    Case("patroni-ttl-too-short", patroni_timing, ("patroni_ttl", "patroni_loop_wait", "patroni_retry_timeout"),
         ("(20)",)),
    Case("quorum-single-patroni-node", patroni_members("patroni1"),
         ("patroni_durability", "patroni_synchronous_node_count", "patroni_cluster"), ("0 replica(s)",)),
    Case("host-unreachable", haproxy2_unreachable, ("haproxy2",),
         absent=("patroni1", "patroni2", "patroni3", "haproxy1")),
    Case("ssh-key-refused", haproxy2_refuses_the_key, ("haproxy2",), ("Permission denied",),
         absent=("patroni1", "patroni2", "patroni3", "haproxy1"), setup=stranger_key,
         marks=[pytest.mark.skipif(not SSH_REFUSING_HOST, reason="needs PGHA_SSH_REFUSING_HOST, a real sshd "
                                   "(molecule/ssh's verify sets it)")]),
    Case("host-become-fails", haproxy2_become_fails, ("haproxy2", "ansible_become_method", "su", "nobody"),
         absent=("patroni1", "haproxy1")),
    Case("keepalived-interface-missing", set_all_var("keepalived_interface", "ens99"),
         ("keepalived_interface", "ens99", "haproxy1")),
    Case("keepalived-interface-not-found", set_all_var("keepalived_interface", ""),
         ("keepalived_interface", "cluster_address", "172.28.10.21")),
    Case("postgresql-version-14", set_all_var("postgresql_version", 14), ("postgresql_version",), ("14",)),
    Case("superuser-password-short", set_all_var("patroni_superuser_password", "short"),
         ("patroni_superuser_password",)),
    Case("cluster-address-not-ip", set_host_var("patroni_cluster", "patroni2", "cluster_address", "patroni-two"),
         ("cluster_address", "patroni2"), ("patroni-two",)),
    # -- further checks the README promises
    Case("cluster-address-duplicate", set_host_var("balancers", "haproxy2", "cluster_address", "172.28.10.21"),
         ("cluster_address",), ("172.28.10.21",)),
    Case("cluster-address-outside-network", set_host_var("balancers", "haproxy1", "cluster_address", "10.9.9.21"),
         ("cluster_address", "haproxy1"), ("10.9.9.21",)),
    Case("cluster-network-not-cidr", set_inventory_var("cluster_network", "lab-network"),
         ("cluster_network",), ("lab-network",)),
    Case("balancers-group-empty", empty_balancers, ("balancers",)),
    Case("etcd-election-timeout-short", set_all_var("etcd_election_timeout", 300),
         ("etcd_election_timeout", "etcd_heartbeat_interval")),
    Case("keepalived-priority-255", set_host_var("balancers", "haproxy1", "keepalived_priority", 255),
         ("keepalived_priority",), ("255",)),
    Case("keepalived-auth-pass-empty-vrrp2", set_all_vars({"keepalived_vrrp_version": 2, "keepalived_advert_int": 1,
                                                                     "keepalived_auth_pass": ""}),
         ("keepalived_auth_pass", "keepalived_vrrp_version")),
    Case("keepalived-vrrp-version-4", set_all_var("keepalived_vrrp_version", 4), ("keepalived_vrrp_version",), ("4",)),
    Case("keepalived-advert-int-fraction-vrrp2",
         set_all_vars({"keepalived_vrrp_version": 2, "keepalived_advert_int": 0.5}),
         ("keepalived_advert_int", "keepalived_vrrp_version"), ("0.5",)),
    Case("keepalived-advert-int-below-centisecond", set_all_var("keepalived_advert_int", 0.001),
         ("keepalived_advert_int",), ("0.001",)),
    Case("patroni-ttl-not-a-number", set_all_var("patroni_ttl", "thirty"), ("patroni_ttl",)),
    Case("patroni-install-method-bad-choice", set_all_var("patroni_install_method", "apt"),
         ("patroni_install_method",), ("apt",)),
    Case("replication-password-missing", set_all_var("patroni_replication_password", ""),
         ("patroni_replication_password",)),
    # -- security: TLS and REST API authentication
    Case("restapi-password-missing", set_all_var("patroni_restapi_password", ""), ("patroni_restapi_password",)),
    Case("example-placeholder-password", set_all_var("patroni_app_password", "CHANGE-ME-application-password"),
         ("patroni_app_password",), ("CHANGE-ME",)),
    # -- durability and fencing
    Case("durability-unknown", set_all_var("patroni_durability", "paranoid"), ("patroni_durability",), ("paranoid",)),
    Case("sync-node-count-above-replicas", set_all_var("patroni_synchronous_node_count", 3),
         ("patroni_synchronous_node_count",), ("2 replica(s)",)),
    Case("strict-with-one-replica", patroni_members("patroni1", "patroni2", patroni_durability="strict"),
         ("patroni_durability", "patroni_synchronous_node_count"), ("1 replica(s)",)),
    Case("watchdog-required-without-device", set_all_var("patroni_watchdog_mode", "required"),
         ("patroni_watchdog_mode", "patroni_watchdog_device")),
    # -- variables of an earlier version: set in an inventory they would silently do nothing
    Case("backup-repository-missing", no_backup_repository, ("backup_repository", "pgbackrest_enabled"),
         ("0 hosts",)),
    Case("backup-repository-on-a-database-node", backup_repository_on_a_node, ("backup_repository", "patroni3")),
    Case("backup-retention-zero", set_all_var("pgbackrest_retention_full", 0), ("pgbackrest_retention_full",),
         ("0",)),
    Case("backup-cipher-pass-empty", set_all_var("pgbackrest_repo_cipher_pass", ""),
         ("pgbackrest_repo_cipher_pass", "pgbackrest_repo_cipher_type")),
    Case("removed-variable", set_all_var("haproxy_patroni_api_port", 8009),
         ("haproxy_patroni_api_port", "patroni_restapi_port")),
    Case("pki-extra-san-malformed", set_all_var("pki_extra_sans", ["db.example.com"]),
         ("pki_extra_sans",), ("db.example.com",)),
    # -- monitoring (checked with or without a monitoring host)
    Case("prometheus-threshold-not-a-number", set_all_var("prometheus_alert_thresholds", PROMETHEUS_THRESHOLDS_BAD),
         ("prometheus_alert_thresholds",), ("replica_lag_bytes", "1MB")),
    Case("prometheus-scrape-interval-below-1s", set_all_var("prometheus_scrape_interval", "500ms"),
         ("prometheus_scrape_interval",), ("500ms",)),
    Case("monitoring-two-hosts", two_monitoring_hosts, ("monitoring", "monitor1", "monitor2"), ("2 hosts",)),
]


def _param(case: Case):
    marks = list(case.marks)
    if case.xfail:
        marks.append(pytest.mark.xfail(strict=True, reason=case.xfail))
    return pytest.param(case, id=case.id, marks=marks)


def _prepare(case: Case, workdir: Path) -> Path:
    hosts, all_vars = good_inventory()
    hosts, all_vars = copy.deepcopy(hosts), copy.deepcopy(all_vars)
    case.mutate(hosts, all_vars)
    if case.setup is not None:
        case.setup(workdir)
    return write_inventory(workdir, hosts, all_vars)


def _skipped(case: Case) -> bool:
    return any(mark.name == "skipif" and mark.args and mark.args[0] for mark in case.marks)


@pytest.fixture(scope="module")
def matrix(request, tmp_path_factory):
    """Start every selected case's site.yml run at once (threads); tests wait for their own."""
    selected = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if item.module is request.module and callspec is not None and "case" in callspec.params:
            selected.append(callspec.params["case"])
    pool = ThreadPoolExecutor(max_workers=max(1, WORKERS), thread_name_prefix="bad-input")
    futures: Dict[str, Future] = {}
    for case in selected:
        if case.id in futures or _skipped(case):
            continue
        workdir = tmp_path_factory.mktemp(case.id)
        # Configured here, in the main thread; only the ansible-playbook runs go to the pool.
        futures[case.id] = pool.submit(finish_run, prepare_run(workdir, _prepare(case, workdir), SITE))
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


def _has_word(text: str, word: str) -> bool:
    return re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(word), text) is not None


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_broken_inventory_stops_before_any_change(case: Case, matrix):
    """The run fails in the validation play; no other play starts; nothing reports changed."""
    out: Outcome = matrix[case.id].result()
    why = out.describe()

    assert out.status == "failed" and out.rc != 0, "the run did not fail:\n" + why
    assert out.rc != TRIPWIRE_RC, "validation let it through; another play started:\n" + why
    others = [p for p in out.plays_started if p != VALIDATION_PLAY]
    assert not others, "plays other than the validation play started: %s\n%s" % (others, why)
    assert out.plays_started == [VALIDATION_PLAY], why
    assert not out.changed, "tasks reported changed: %s\n%s" % (out.changed, why)

    stops = out.failures + out.by_type("runner_on_unreachable")
    assert stops, "no task failed and no host was unreachable:\n" + why
    outside = ["%s (%s)" % (e["event_data"].get("task"), e["event_data"].get("play")) for e in stops
               if e["event_data"].get("play") != VALIDATION_PLAY]
    assert not outside, "tasks failed outside the validation play: %s\n%s" % (outside, why)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_broken_inventory_failure_names_the_variable(case: Case, matrix):
    """The task that stopped the run is in the validation play and its message names the culprit."""
    out: Outcome = matrix[case.id].result()
    why = out.describe()
    assert out.failures, "no task failed:\n" + why

    # The first failed task is the one that stopped the run (any_errors_fatal); it names the culprit.
    # Several hosts can fail that task at once (the matrix's hosts all run on the control host) and
    # their events arrive in any order: the culprit's message is one of them.
    first = out.failures[0]
    assert first["event_data"].get("play") == VALIDATION_PLAY, why
    same_task = [e for e in out.failures if e["event_data"].get("task") == first["event_data"].get("task")]

    def problems(event: Dict[str, Any]) -> List[str]:
        message = "\n".join(failure_messages(event))
        where = "%s / %s" % (event["event_data"].get("host"), event["event_data"].get("task"))
        found = ["message of %s does not name %r:\n%s" % (where, name, message)
                 for name in case.names if not _has_word(message, name)]
        found += ["message of %s does not show %r:\n%s" % (where, value, message)
                  for value in case.values if value not in message]
        found += ["message of %s names %r too:\n%s" % (where, name, message)
                  for name in case.absent if _has_word(message, name)]
        return found

    reports = [problems(event) for event in same_task]
    assert any(not r for r in reports), "\n".join(reports[0]) + "\n---\n" + why


def test_good_inventory_passes_validation(tmp_path):
    """Positive control: the base of every case above passes the validation play on its own."""
    out = run_playbook(tmp_path, _prepare(Case("good", lambda h, v: None, ()), tmp_path), VALIDATE)
    why = out.describe()
    assert out.status == "successful" and out.rc == 0, why
    assert out.plays_started == [VALIDATION_PLAY], why
    assert not out.failures, why
    assert not out.changed, why
    pinged = {e["event_data"]["host"] for e in out.by_type("runner_on_ok")
              if e["event_data"].get("task") == "Check that every host can be reached"}
    assert pinged == {"patroni1", "patroni2", "patroni3", "haproxy1", "haproxy2", "backup1"}, why


def test_tripwire_stops_a_second_play(tmp_path):
    """The safety net works: a play after the validation play is recorded and ends the run untouched."""
    marker = tmp_path / "second-play-ran"
    playbook = tmp_path / "two_plays.yml"
    playbook.write_text(yaml.safe_dump([
        {"name": VALIDATION_PLAY, "hosts": "localhost", "gather_facts": False,
         "tasks": [{"name": "Nothing", "ansible.builtin.debug": {"msg": "ok"}}]},
        {"name": "Prepare every host", "hosts": "localhost", "gather_facts": False,
         "tasks": [{"name": "Must not run", "ansible.builtin.file": {"path": str(marker), "state": "touch"}}]},
    ], sort_keys=False))
    out = run_playbook(tmp_path, _prepare(Case("good", lambda h, v: None, ()), tmp_path), playbook)
    why = out.describe()
    assert out.rc == TRIPWIRE_RC, why
    assert out.plays_started == [VALIDATION_PLAY, "Prepare every host"], why
    assert not marker.exists(), why
    assert not out.changed, why


# ---- playbooks/remove_node.yml: its refusals, before anything changes --------------------------

REMOVE_NODE = PROJECT / "playbooks" / "remove_node.yml"
REMOVE_CHECK_PLAY = "Check what is to be removed before anything changes"


def five_etcd_hosts(hosts, _vars):
    """etcd on five hosts of its own (etcd1..etcd5), apart from the database nodes."""
    _groups(hosts)["etcd_cluster"]["hosts"] = {
        "etcd%d" % i: {"cluster_address": "172.28.10.%d" % (50 + i)} for i in range(1, 6)}


REMOVE_CASES = [
    # (id, extra vars, words the message must contain)
    ("even-count-left", {"node": "etcd5", "remove_node_confirm": "etcd5"}, ("etcd_cluster", "4 member(s)", "pairs")),
    ("fewer-than-three-left", {"node": "etcd3,etcd4,etcd5", "remove_node_confirm": "etcd3,etcd4,etcd5"},
     ("etcd_cluster", "2 member(s)")),
    ("not-confirmed", {"node": "etcd4,etcd5"}, ("remove_node_confirm",)),
    ("confirm-differs", {"node": "etcd4,etcd5", "remove_node_confirm": "etcd4"}, ("remove_node_confirm",)),
    ("unknown-host", {"node": "etcd9", "remove_node_confirm": "etcd9"}, ("etcd9", "not in the inventory")),
    ("not-set", {}, ("node", "(not set)")),
    ("backup-host", {"node": "backup1", "remove_node_confirm": "backup1"}, ("backup1", "backup_repository")),
    ("too-few-replicas-left", {"node": "patroni2,patroni3", "remove_node_confirm": "patroni2,patroni3"},
     ("patroni_durability", "1 Patroni member(s)", "0 replica(s)")),
    ("strict-needs-two-replicas",
     {"node": "patroni3", "remove_node_confirm": "patroni3", "patroni_durability": "strict"},
     ("patroni_durability 'strict'", "1 replica(s)")),
    ("last-balancer", {"node": "haproxy1,haproxy2", "remove_node_confirm": "haproxy1,haproxy2"},
     ("no balancer", "VIP")),
]


def assert_refused_in_check_play(tmp_path, case, playbook, check_play, extravars, words):
    """``playbook`` stops in its first (checking) play, with a message holding ``words``, and changes nothing."""
    out = run_playbook(tmp_path, _prepare(case, tmp_path), playbook, allowed_play=check_play, extravars=extravars)
    why = out.describe()
    assert out.status == "failed" and out.rc not in (0, TRIPWIRE_RC), why
    assert out.plays_started == [check_play], why
    assert not out.changed, why
    assert out.failures, why
    message = "\n".join(failure_messages(out.failures[0]))
    for word in words:
        assert word in message, "%r not in %r\n%s" % (word, message, why)


@pytest.mark.parametrize("extravars,words", [pytest.param(v, w, id=i) for i, v, w in REMOVE_CASES])
def test_remove_node_refuses_before_any_change(tmp_path, extravars, words):
    """remove_node.yml stops in its checking play, names what is wrong, and changes nothing."""
    assert_refused_in_check_play(tmp_path, Case("five-etcd", five_etcd_hosts, ()), REMOVE_NODE, REMOVE_CHECK_PLAY,
                                 extravars, words)


# ---- playbooks/update.yml: its settings, checked before anything changes -----------------------

UPDATE = PROJECT / "playbooks" / "update.yml"
UPDATE_CHECK_PLAY = "Check the cluster before the update"

UPDATE_CASES = [
    # (id, extra vars, words the message must contain)
    ("lag-not-a-number", {"patroni_update_max_lag_bytes": "16MB"}, ("patroni_update_max_lag_bytes", "'16MB'")),
    ("lag-negative", {"patroni_update_max_lag_bytes": -1}, ("patroni_update_max_lag_bytes", "'-1'")),
    ("restart-unknown", {"patroni_update_restart": "never"}, ("patroni_update_restart", "'never'")),
    ("timeout-not-a-number", {"patroni_update_timeout": "5m"}, ("patroni_update_timeout", "'5m'")),
]


@pytest.mark.parametrize("extravars,words", [pytest.param(v, w, id=i) for i, v, w in UPDATE_CASES])
def test_update_refuses_bad_settings_before_any_change(tmp_path, extravars, words):
    """update.yml stops in its checking play on a bad setting, names it, and changes nothing."""
    assert_refused_in_check_play(tmp_path, Case("good", lambda h, v: None, ()), UPDATE, UPDATE_CHECK_PLAY,
                                 extravars, words)


# ---- chaos/experiment.yml: the alerts an experiment expects, checked before anything changes -----

EXPERIMENT = PROJECT / "chaos" / "experiment.yml"
EXPERIMENT_PLAY = "Chaos: leader_failover"


def _leader_failover_expecting(alerts: Dict[str, List[str]]) -> Dict[str, Any]:
    """chaos_experiments with one experiment, leader_failover, expecting ``alerts``."""
    return {"leader_failover": {"steps": "../steps/leader_failover.yml", "restore": "../steps/restore_services.yml",
                                "bounds": {}, "alerts": alerts}}


EXPERIMENT_CASES = [
    # (id, extra vars, words the message must contain)
    ("alert-not-a-rule", {"chaos_experiments": _leader_failover_expecting({"fault": ["PatroniMemberDwn"]})},
     ("chaos_experiments.leader_failover", "PatroniMemberDwn", "PatroniMemberDown")),
    ("alert-bound-not-a-number", {"chaos_bound_alert_fire_s": "2m"}, ("chaos_bound_alert_fire_s", '"2m"')),
    ("alert-timeout-zero", {"chaos_alert_resolve_timeout": 0}, ("chaos_alert_resolve_timeout", "positive")),
]


@pytest.mark.parametrize("extravars,words", [pytest.param(v, w, id=i) for i, v, w in EXPERIMENT_CASES])
def test_experiment_refuses_bad_alert_settings_before_any_change(tmp_path, extravars, words):
    """A chaos experiment stops in its first task on an alert no rule defines or a bad alert setting."""
    assert_refused_in_check_play(tmp_path, Case("good", lambda h, v: None, ()), EXPERIMENT, EXPERIMENT_PLAY,
                                 dict({"chaos_experiment": "leader_failover"}, **extravars), words)
