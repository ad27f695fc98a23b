"""Helpers of the interrupted-runs test: a private copy of the Molecule inventory, and playbook runs
through ansible-runner that can be killed (SIGKILL, whole process group) when a chosen task is reached.

Everything is decided from ansible-runner events; nothing parses ansible-playbook's stdout.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import ansible_runner
import yaml
from ansible_runs import runner_args

PROJECT = Path(__file__).resolve().parents[2]
SITE = PROJECT / "site.yml"
VERIFY = PROJECT / "playbooks" / "verify.yml"
CREATE = PROJECT / "playbooks" / "lab" / "create.yml"
DESTROY = PROJECT / "playbooks" / "lab" / "destroy.yml"
SOURCE_INVENTORY = PROJECT / "inventories" / "molecule"

# Names the generated inventory must never contain: the lab's and Molecule's containers and networks
# belong to other people's runs.
FOREIGN_NETWORKS = ("pgha-lab", "pgha-molecule")


# ---- the inventory ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Isolation:
    """What makes the test's cluster its own: container prefix, docker network and state directory."""

    container_prefix: str
    network_name: str
    subnet: str
    state_dir: Path


class _Rewriter:
    """Moves every address of the source network into the new one, host number kept."""

    def __init__(self, old: ipaddress.IPv4Network, new: ipaddress.IPv4Network) -> None:
        if old.prefixlen != new.prefixlen:
            raise ValueError("subnets differ in size: %s -> %s" % (old, new))
        self.old, self.new = old, new

    def value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if not isinstance(value, str):
            return value
        if value == str(self.old):
            return str(self.new)
        try:
            address = ipaddress.IPv4Address(value)
        except ValueError:
            return value
        if address not in self.old:
            return value
        return str(self.new.network_address + (int(address) - int(self.old.network_address)))


def _load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _dump_yaml(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\n" + yaml.safe_dump(data, sort_keys=False, width=1000), encoding="utf-8")


def _rename_hosts(tree: Any, prefix: str) -> None:
    """ansible_host (the container name) of every host becomes prefix + inventory name."""
    if not isinstance(tree, dict):
        return
    for name, host in (tree.get("hosts") or {}).items():
        if isinstance(host, dict) and "ansible_host" in host:
            host["ansible_host"] = prefix + name
    for child in (tree.get("children") or {}).values():
        _rename_hosts(child, prefix)


# The monitoring host the test adds when the source has none (host number 41, as in the other
# inventories): its roles get kill points too, and playbooks/verify.yml checks it.
MONITORING_HOST = "monitor1"
MONITORING_HOST_NUMBER = 41


def add_monitoring_host(hosts: Dict[str, Any], network: ipaddress.IPv4Network) -> None:
    """Put MONITORING_HOST into group monitoring (and lab_containers), unless a monitoring group has hosts."""
    children = hosts["all"].setdefault("children", {})
    if (children.get("monitoring") or {}).get("hosts"):
        return
    lab = children.setdefault("lab_containers", {}).setdefault("children", {})
    lab["monitoring"] = None
    children["monitoring"] = {"hosts": {MONITORING_HOST: {
        "ansible_host": MONITORING_HOST,
        "cluster_address": str(network.network_address + MONITORING_HOST_NUMBER),
    }}}


def write_inventory(target: Path, iso: Isolation, source: Path = SOURCE_INVENTORY, monitoring: bool = True) -> Path:
    """Copy the Molecule inventory into target with the isolation's containers, network and state dir.

    Every YAML file of the source is carried over (so a variable added there reaches this test), with
    addresses moved from the source network to iso.subnet and the lab_* settings replaced. With
    monitoring, a monitoring host is added when the source has none (the Molecule inventory has not).
    """
    hosts = _load_yaml(source / "hosts.yml")
    old = ipaddress.IPv4Network(hosts["all"]["vars"]["cluster_network"])
    rewriter = _Rewriter(old, ipaddress.IPv4Network(iso.subnet))
    new = rewriter.new
    hosts = rewriter.value(hosts)
    if monitoring:
        add_monitoring_host(hosts, new)
    _rename_hosts(hosts["all"], iso.container_prefix)
    _dump_yaml(target / "hosts.yml", hosts)

    for path in sorted((source / "group_vars").rglob("*.yml")):
        data = rewriter.value(_load_yaml(path))
        if isinstance(data, dict) and "lab_network_name" in data:
            data.update({
                "lab_state_dir": str(iso.state_dir),
                "lab_network_name": iso.network_name,
                "lab_network_subnet": str(new),
                "lab_network_gateway": str(new.network_address + 1),
            })
        _dump_yaml(target / path.relative_to(source), data)
    check_isolation(target, iso, old)
    return target


def _group_has_hosts(inventory: Path, group: str) -> bool:
    """True when the inventory's hosts.yml puts a host into group."""
    def groups(tree: Any) -> Iterator[Tuple[str, Any]]:
        for name, child in ((tree or {}).get("children") or {}).items():
            yield name, child
            yield from groups(child)
    hosts = _load_yaml(inventory / "hosts.yml")
    return any(name == group and (child or {}).get("hosts") for name, child in groups(hosts["all"]))


def has_backup_host(inventory: Path) -> bool:
    """True when the inventory's hosts.yml puts a host into the backup_repository group."""
    return _group_has_hosts(inventory, "backup_repository")


def has_monitoring_host(inventory: Path) -> bool:
    """True when the inventory's hosts.yml puts a host into the monitoring group."""
    return _group_has_hosts(inventory, "monitoring")


def check_isolation(inventory: Path, iso: Isolation, source_network: ipaddress.IPv4Network) -> None:
    """Refuse an inventory that could reach anything but the test's own containers and network."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(inventory.rglob("*.yml")))
    prefix = str(source_network.network_address).rsplit(".", 1)[0] + "."
    leaks = [s for s in (prefix, "mol-", *FOREIGN_NETWORKS) if s in text]
    if leaks:
        raise AssertionError("generated inventory %s still names %s" % (inventory, leaks))
    hosts = _load_yaml(inventory / "hosts.yml")
    names = [h.get("ansible_host") for h in _iter_hosts(hosts["all"]) if isinstance(h, dict) and h.get("ansible_host")]
    if not names or any(not n.startswith(iso.container_prefix) for n in names):
        raise AssertionError("container names %s do not all start with %s" % (names, iso.container_prefix))
    lab = _load_yaml(inventory / "group_vars" / "all" / "lab.yml")
    if lab["lab_network_name"] != iso.network_name or Path(lab["lab_state_dir"]) != iso.state_dir:
        raise AssertionError("lab.yml of %s was not rewritten: %s" % (inventory, lab))


def _iter_hosts(tree: Dict[str, Any]) -> Iterator[Any]:
    yield from (tree.get("hosts") or {}).values()
    for child in (tree.get("children") or {}).values():
        if isinstance(child, dict):
            yield from _iter_hosts(child)


# ---- killing a run ---------------------------------------------------------------------------

@dataclass(frozen=True)
class KillPoint:
    """Where to kill site.yml: a task (or handler) of a role, at its start or after its first host."""

    role: str
    task: str
    # "start": the task (or handler) starts; "first_ok": the first host finished it, others may not have.
    trigger: str
    why: str

    @property
    def label(self) -> str:
        return "%s / %s (%s)" % (self.role, self.task, self.trigger)

    def matches(self, event: Dict[str, Any]) -> bool:
        wanted = {"start": "playbook_on_task_start", "first_ok": "runner_on_ok"}[self.trigger]
        data = event.get("event_data") or {}
        return event.get("event") == wanted and data.get("role") == self.role and data.get("task") == self.task


@dataclass
class Kill:
    """What happened when the kill point was reached."""

    seconds: float  # since the run started
    pgid: int
    hosts_started: List[str]
    hosts_done: List[str]
    group_gone_seconds: Optional[float] = None


def kill_process_group(pid: int) -> int:
    """SIGKILL the process group led by pid (ansible-playbook: workers, docker CLI clients and all)."""
    pgid = os.getpgid(pid)
    if pgid != pid:
        # ansible-runner (pexpect) starts ansible-playbook as the leader of a new session; anything else
        # means the pid is not the one we think, and the group may well be ours.
        raise RuntimeError("pid %d is not a process group leader (pgid %d); not killing" % (pid, pgid))
    if pgid in (os.getpgrp(), os.getpid()):
        raise RuntimeError("refusing to kill the test's own process group %d" % pgid)
    os.killpg(pgid, signal.SIGKILL)
    return pgid


def live_group_members(pgid: int) -> List[int]:
    """Pids of processes (zombies excepted) still in process group pgid."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, encoding="utf-8", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def wait_group_gone(pgid: int, timeout: float) -> float:
    """Seconds until no live process is left in pgid; AssertionError naming them after timeout."""
    start = time.monotonic()
    while True:
        left = live_group_members(pgid)
        if not left:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError("processes %s of the killed run (pgid %d) still run after %.0f s"
                                 % (left, pgid, timeout))
        time.sleep(0.1)


class EventRecorder:
    """ansible-runner event handler: keeps every event; with a kill point, kills the run when reached."""

    def __init__(self, kill_point: Optional[KillPoint]) -> None:
        self.kill_point = kill_point
        self.events: List[Dict[str, Any]] = []
        self.kill: Optional[Kill] = None
        self.kill_error: Optional[str] = None
        self.aborted = False
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def __call__(self, event: Dict[str, Any]) -> bool:
        with self._lock:
            self.events.append(event)
            if self.kill_point and self.kill is None and self.kill_error is None and self.kill_point.matches(event):
                self._kill(event)
        return True

    def _kill(self, event: Dict[str, Any]) -> None:
        seconds = time.monotonic() - self.started
        try:
            pgid = kill_process_group(int(event["pid"]))
        except (KeyError, ValueError, OSError, RuntimeError) as exc:
            # Never raise here: an exception would end ansible-runner's reader thread, not ansible-playbook.
            self.kill_error = "could not kill at %s: %s" % (self.kill_point.label, exc)
            return
        started, done = self._hosts_of_task(event.get("event_data", {}).get("task_uuid"))
        self.kill = Kill(seconds=seconds, pgid=pgid, hosts_started=started, hosts_done=done)

    def _hosts_of_task(self, task_uuid: Optional[str]) -> Tuple[List[str], List[str]]:
        def hosts(kind: str) -> List[str]:
            return sorted({e["event_data"].get("host", "") for e in self.events
                           if e.get("event") == kind and e.get("event_data", {}).get("task_uuid") == task_uuid})
        return hosts("runner_on_start"), hosts("runner_on_ok")

    def cancel_requested(self) -> bool:
        """ansible-runner's cancel callback: its own kill when the direct one was refused, or on abort."""
        return self.kill_error is not None or self.aborted


# ---- runs --------------------------------------------------------------------------------------

@dataclass
class Run:
    label: str
    playbook: Path
    status: str
    rc: Optional[int]
    seconds: float
    events: List[Dict[str, Any]] = field(default_factory=list)
    kill: Optional[Kill] = None
    kill_error: Optional[str] = None
    stdout_tail: str = ""

    def by_type(self, *kinds: str) -> List[Dict[str, Any]]:
        return [e for e in self.events if e.get("event") in kinds]

    @property
    def failures(self) -> List[Dict[str, Any]]:
        """Failed (not ignored) and unreachable task results."""
        return [e for e in self.by_type("runner_on_failed", "runner_on_unreachable")
                if not e.get("event_data", {}).get("ignore_errors")]

    def describe(self) -> str:
        lines = ["%s: status=%s rc=%s after %.0f s" % (self.label, self.status, self.rc, self.seconds)]
        # The same failure on several hosts is shown once, with every host.
        grouped: Dict[Tuple[str, str, str, str], List[str]] = {}
        for e in self.failures:
            d = e["event_data"]
            key = (e["event"], str(d.get("play")), str(d.get("task")), result_message(e))
            grouped.setdefault(key, []).append(str(d.get("host")))
        for (kind, play, task, message), hosts in grouped.items():
            lines.append("  %s [%s] %s / %s: %s" % (kind, play, ",".join(hosts), task, message))
        if not self.failures and self.stdout_tail:
            lines.append("stdout tail:\n" + self.stdout_tail)
        return "\n".join(lines)


def result_message(event: Dict[str, Any]) -> str:
    res = event.get("event_data", {}).get("res") or {}
    parts = [str(res[k]) for k in ("msg", "stderr", "module_stderr") if res.get(k)]
    for item in res.get("results") or []:
        if isinstance(item, dict) and item.get("failed"):
            parts.append(str(item.get("msg") or item.get("stderr") or item))
    return " | ".join(parts)[:2000] or "(no message)"


def run_playbook(workdir: Path, inventory: Path, playbook: Path, label: str,
                 kill_point: Optional[KillPoint] = None, timeout: int = 1200) -> Run:
    """Run playbook against inventory with ansible-runner; kill it at kill_point if given."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    recorder = EventRecorder(kill_point)
    thread, runner = ansible_runner.run_async(
        **runner_args(workdir, inventory, playbook),
        event_handler=recorder,
        cancel_callback=recorder.cancel_requested,
        timeout=timeout,
    )
    try:
        thread.join(timeout + 120)
    except BaseException:
        # pytest interrupted (Ctrl-C): ansible-runner kills ansible-playbook's process group, then we go.
        recorder.aborted = True
        thread.join(30)
        raise
    if thread.is_alive():
        raise AssertionError("%s: ansible-runner did not return within %d s" % (label, timeout + 120))
    if recorder.kill is not None:
        recorder.kill.group_gone_seconds = wait_group_gone(recorder.kill.pgid, timeout=60)
    try:
        with runner.stdout as fh:
            stdout_tail = fh.read()[-3000:]
    except Exception:  # noqa: BLE001 - only for diagnostics
        stdout_tail = ""
    return Run(label=label, playbook=playbook, status=runner.status, rc=runner.rc,
               seconds=time.monotonic() - recorder.started,
               events=sorted(recorder.events, key=lambda e: e.get("counter", 0)),
               kill=recorder.kill, kill_error=recorder.kill_error, stdout_tail=stdout_tail)


# ---- the verify play ---------------------------------------------------------------------------

def verify_task_names(path: Path = VERIFY, backup: bool = True, monitoring: bool = True) -> List[Tuple[str, str]]:
    """(play name, task name) of every task playbooks/verify.yml runs: those of the roles' verify.yml entry
    points it includes, and any task of its own. Without a backup host (backup false) the include that is
    conditional on pgbackrest_enabled is left out, as Ansible leaves it out; without a monitoring host
    (monitoring false) the play on group monitoring matches no host and is left out too."""
    names: List[Tuple[str, str]] = []
    for play in _load_yaml(path):
        if not monitoring and play.get("hosts") == "monitoring":
            continue
        for task in play.get("tasks", []):
            if not backup and "pgbackrest_enabled" in str(task.get("when", "")):
                continue
            include = task.get("ansible.builtin.include_role")
            if include:
                role_tasks = PROJECT / "roles" / include["name"] / "tasks" / include["tasks_from"]
                names.extend((play["name"], name) for name in task_names(_load_yaml(role_tasks)))
            else:
                names.extend((play["name"], name) for name in task_names([task]))
    return names


def task_names(tasks: List[Dict[str, Any]]) -> List[str]:
    """Names of the tasks that report a result: a block's name is only a label, its tasks report."""
    names: List[str] = []
    for task in tasks:
        if "block" in task:
            names.extend(task_names(task["block"] + task.get("rescue", []) + task.get("always", [])))
        else:
            names.append(task["name"])
    return names
