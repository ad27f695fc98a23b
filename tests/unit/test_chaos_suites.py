"""chaos/core.yml (what CI runs) is chaos/all.yml's subset: the same experiments, same order, same vars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CHAOS = Path(__file__).resolve().parents[2] / "chaos"


def suite(name: str) -> list[tuple[str, dict[str, Any]]]:
    """(imported playbook, its vars) of each entry of chaos/<name>.yml, in order."""
    plays = yaml.safe_load((CHAOS / f"{name}.yml").read_text())
    return [(play["ansible.builtin.import_playbook"], play.get("vars", {})) for play in plays]


def experiments(name: str) -> list[tuple[str, dict[str, Any]]]:
    entries = suite(name)
    assert entries[0][0] == "suite_begin.yml", f"chaos/{name}.yml must start with suite_begin.yml"
    assert entries[-1][0] == "suite_end.yml", f"chaos/{name}.yml must end with suite_end.yml"
    return entries[1:-1]


def test_every_imported_playbook_exists() -> None:
    for name in ("all", "core"):
        for playbook, _ in suite(name):
            assert (CHAOS / playbook).is_file(), f"chaos/{name}.yml imports a missing {playbook}"


def test_core_is_an_ordered_subset_of_all() -> None:
    every = experiments("all")
    core = experiments("core")
    assert core, "chaos/core.yml runs no experiment"
    positions = [every.index(entry) for entry in core if entry in every]
    missing = [entry for entry in core if entry not in every]
    assert not missing, f"chaos/core.yml runs experiments chaos/all.yml does not: {missing}"
    assert positions == sorted(positions), "chaos/core.yml must keep chaos/all.yml's order"
    assert len(set(positions)) == len(positions), "chaos/core.yml runs an experiment twice"


def test_core_runs_the_seed_reports_experiments() -> None:
    playbooks = {playbook for playbook, _ in experiments("core")}
    seed = {"leader_failover.yml", "leader_rejoin.yml", "replica_loss.yml", "etcd_quorum.yml", "haproxy_failover.yml"}
    assert seed <= playbooks, f"chaos/core.yml lacks the seed report's {sorted(seed - playbooks)}"
