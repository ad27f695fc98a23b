"""patroni_durability -> Patroni's dynamic configuration, rendered from the patroni role's own YAML.

The mapping lives in roles/patroni/vars/main.yml (patroni_durability_settings, __patroni_dynamic_config); this test
templates it with Ansible's Templar, as a play would, for every mode, so a change of the YAML that breaks a mode
fails here before it reaches a cluster. Ansible's controller code runs in a child process: importing it into
pytest's own process changes how the modules' warnings are reported to the other tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import pytest
import yaml

from role_render import job, render

ROLE = Path(__file__).resolve().parents[2] / "roles" / "patroni"

def dynamic_config(**overrides: Any) -> Dict[str, Any]:
    # The pgbackrest role's switch off (a cluster without a backup repository: no archiving settings).
    variables = dict(postgresql_version=15, cluster_tls=True, pgbackrest_enabled=False, pgbackrest_create_replica=True)
    variables.update(overrides)
    rendered = render(["patroni"], {"cfg": job(variable="__patroni_dynamic_config", **variables)})["cfg"]
    assert isinstance(rendered, dict)
    return rendered


@pytest.mark.parametrize("mode, synchronous_mode, strict", [
    ("quorum", "quorum", False),
    ("sync", True, False),
    ("strict", "quorum", True),
    ("async", False, False),
])
def test_each_mode_maps_to_patroni_settings(mode: str, synchronous_mode: Any, strict: bool) -> None:
    cfg = dynamic_config(patroni_durability=mode, patroni_synchronous_node_count=2)
    # A bool stays a bool (true, not "True"), quorum stays a string.
    assert cfg["synchronous_mode"] == synchronous_mode
    assert isinstance(cfg["synchronous_mode"], bool) == isinstance(synchronous_mode, bool)
    assert cfg["synchronous_mode_strict"] is strict
    assert cfg["synchronous_node_count"] == 2


def test_default_is_quorum_with_one_acknowledgement() -> None:
    cfg = dynamic_config()
    settings = (cfg["synchronous_mode"], cfg["synchronous_mode_strict"], cfg["synchronous_node_count"])
    assert settings == ("quorum", False, 1)


def test_every_mode_is_a_documented_choice() -> None:
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    choices = specs["argument_specs"]["main"]["options"]["patroni_durability"]["choices"]
    role_vars = yaml.safe_load((ROLE / "vars" / "main.yml").read_text(encoding="utf-8"))
    assert sorted(choices) == sorted(role_vars["patroni_durability_settings"])
