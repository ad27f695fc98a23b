"""House rules for the modules that ansible-test's validate-modules does not check (tests/sanity runs that one).

* ansible-doc reads every module where it lives (library/, chaos/library/) with the project's ansible.cfg, so the
  shared doc fragment (doc_fragments/, ``doc_fragment_plugins``) resolves, and prints no warning.
* The modules that speak HTTP take the shared connection options (pgha_http.http_argument_spec) and document
  them with the shared fragment.
* EXAMPLES call the module with its own options only (validate-modules only parses them as YAML).
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from typing import Any, Dict

import pytest
import yaml

from ansible.module_utils.pgha_http import http_argument_spec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIBRARIES = [os.path.join(ROOT, "library"), os.path.join(ROOT, "chaos", "library")]
MODULES = sorted(f[:-3] for lib in LIBRARIES for f in os.listdir(lib) if f.endswith(".py") and not f.startswith("_"))


def test_expected_modules_exist() -> None:
    assert {"patroni_cluster_info", "etcd_cluster_info", "etcd_member", "haproxy_backends_info", "patroni_config",
            "patroni_restart", "patroni_switchover", "pg_load_probe", "chaos_report"} <= set(MODULES)


@pytest.fixture(scope="module")
def ansible_docs(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    """``ansible-doc --json`` of every module, run outside the project with its ansible.cfg."""
    ansible_doc = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    if not os.path.exists(ansible_doc):
        ansible_doc = shutil.which("ansible-doc") or ""
    if not ansible_doc:
        pytest.skip("ansible-doc not installed")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    proc = subprocess.run([ansible_doc, "-M", os.pathsep.join(LIBRARIES), "--json"] + MODULES,
                          cwd=str(tmp_path_factory.mktemp("ansible-doc")), env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr.upper(), proc.stderr
    docs: Dict[str, Any] = json.loads(proc.stdout)
    return docs


def test_ansible_doc_reads_every_module(ansible_docs: Dict[str, Any]) -> None:
    assert set(ansible_docs) == set(MODULES)
    for name in MODULES:
        entry = ansible_docs[name]
        assert entry["doc"]["options"] and entry["return"] and entry["examples"], name


@pytest.mark.parametrize("name", MODULES)
def test_http_modules_share_the_connection_options(name: str, ansible_docs: Dict[str, Any]) -> None:
    mod = importlib.import_module(name)
    with open(mod.__file__, encoding="utf-8") as fh:
        if "ansible.module_utils.pgha_http" not in fh.read():
            return
    spec = mod.build_argument_spec()
    shared = http_argument_spec()
    doc = yaml.safe_load(mod.DOCUMENTATION)
    assert "pgha_http" in (doc.get("extends_documentation_fragment") or []), "document them with the pgha_http fragment"
    options = ansible_docs[name]["doc"]["options"]
    for option, entry in shared.items():
        assert option in spec, "%s lacks the shared option %s (use http_argument_spec())" % (name, option)
        assert spec[option]["type"] == entry["type"] and spec[option].get("no_log") == entry.get("no_log"), option
        assert options[option]["type"] == entry["type"], option


@pytest.mark.parametrize("name", MODULES)
def test_examples_use_the_module_options(name: str) -> None:
    mod = importlib.import_module(name)
    spec = mod.build_argument_spec()
    known = set(spec) | {alias for entry in spec.values() for alias in entry.get("aliases", [])}
    tasks = [task for task in yaml.safe_load(mod.EXAMPLES) if name in task]
    assert tasks, "EXAMPLES never call %s" % name
    for task in tasks:
        assert set(task[name]) <= known, task
