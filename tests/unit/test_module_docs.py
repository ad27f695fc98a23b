"""House-style checks of every module in library/: documentation is valid and matches the argument_spec.

* DOCUMENTATION / EXAMPLES / RETURN are valid YAML with the keys ansible-doc needs.
* Every option in the argument_spec is documented with the same type, default, required flag, aliases,
  elements and choices (and nothing undocumented or stale).
* Passwords (also sub-options) are no_log; modules that speak HTTP share the connection options;
  ansible-doc itself accepts the modules.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIBRARY = os.path.join(ROOT, "library")
MODULES = sorted(f[:-3] for f in os.listdir(LIBRARY) if f.endswith(".py") and not f.startswith("_"))


def test_expected_modules_exist():
    assert {"patroni_cluster_info", "etcd_cluster_info", "haproxy_backends_info", "patroni_config"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_documentation_matches_argument_spec(name):
    mod = importlib.import_module(name)
    doc = yaml.safe_load(mod.DOCUMENTATION)
    assert doc["module"] == name
    for key in ("short_description", "description", "author", "options"):
        assert doc.get(key), "%s: DOCUMENTATION lacks %s" % (name, key)
    spec = mod.build_argument_spec()
    assert set(doc["options"]) == set(spec), "documented options differ from the argument_spec"
    for opt, entry in spec.items():
        d = doc["options"][opt]
        where = "%s option %s" % (name, opt)
        assert d.get("description"), where
        assert d.get("type") == entry.get("type", "str"), where
        assert d.get("default") == entry.get("default"), where
        assert bool(d.get("required", False)) == bool(entry.get("required", False)), where
        assert d.get("aliases", []) == entry.get("aliases", []), where
        assert d.get("elements") == entry.get("elements"), where
        assert d.get("choices") == entry.get("choices"), where
        if "password" in opt:
            assert entry.get("no_log") is True, where
        for sub, sub_entry in (entry.get("options") or {}).items():
            if "password" in sub:
                assert sub_entry.get("no_log") is True, "%s.%s" % (where, sub)
    with open(mod.__file__, encoding="utf-8") as fh:
        speaks_http = "ansible.module_utils.pgha_http" in fh.read()
    if speaks_http:
        # The modules that speak HTTP share the connection options (pgha_http.http_argument_spec).
        for common in ("validate_certs", "ca_path", "client_cert", "client_key", "url_username", "url_password"):
            assert common in spec, "%s lacks the common option %s" % (name, common)


@pytest.mark.parametrize("name", MODULES)
def test_examples_and_return_are_yaml(name):
    mod = importlib.import_module(name)
    examples = yaml.safe_load(mod.EXAMPLES)
    assert isinstance(examples, list) and examples
    assert any(name in task for task in examples), "EXAMPLES never call %s" % name
    spec = mod.build_argument_spec()
    for task in examples:
        if name in task:
            assert set(task[name]) <= set(spec) | {a for e in spec.values() for a in e.get("aliases", [])}, task
    ret = yaml.safe_load(mod.RETURN)
    assert isinstance(ret, dict) and ret
    for key, entry in ret.items():
        assert entry.get("description") and entry.get("returned") and entry.get("type"), "%s RETURN %s" % (name, key)


def test_ansible_doc_accepts_all_modules(tmp_path):
    ansible_doc = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    if not os.path.exists(ansible_doc):
        ansible_doc = shutil.which("ansible-doc")
    if not ansible_doc:
        pytest.skip("ansible-doc not installed")
    proc = subprocess.run([ansible_doc, "-M", LIBRARY, "--json"] + MODULES, cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    docs = json.loads(proc.stdout)
    assert set(docs) == set(MODULES)
    for name in MODULES:
        assert docs[name]["doc"]["options"] and docs[name]["return"] and docs[name]["examples"]
    assert "WARNING" not in proc.stderr.upper(), proc.stderr
