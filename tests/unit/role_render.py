"""Render the roles' templates and variables the way a play does, for the unit tests.

Ansible's templating is set up per process (plugin loader, trust tags), so each call runs a small
script in a fresh interpreter. A job names the template (a path under roles/) or the variable to
render, and the variables that override the roles' defaults and vars.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

ROLES_DIR = Path(__file__).resolve().parents[2] / "roles"

SCRIPT = r"""
import json, sys
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template

def trusted(value):
    # Role files are trusted templates in a play; plain YAML loading does not mark them so.
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: trusted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [trusted(v) for v in value]
    return value

init_plugin_loader()
roles_dir, roles, jobs = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
role_vars = {}
for role in roles:
    for part in ("defaults", "vars"):
        try:
            with open("%s/%s/%s/main.yml" % (roles_dir, role, part), encoding="utf-8") as fh:
                role_vars.update(yaml.safe_load(fh) or {})
        except FileNotFoundError:
            pass
out = {}
for name, job in jobs.items():
    variables = dict(trusted(role_vars), role_path="%s/%s" % (roles_dir, roles[0]),
                     ansible_managed="Ansible managed", ansible_check_mode=False)
    variables.update(job["variables"])
    templar = Templar(loader=DataLoader(), variables=variables)
    if job.get("template"):
        with open("%s/%s" % (roles_dir, job["template"]), encoding="utf-8") as fh:
            text = fh.read()
        # As the template module renders a file: no backslash escaping, trim_blocks on.
        out[name] = templar.template(trust_as_template(text), escape_backslashes=False,
                                     overrides=dict(trim_blocks=True, lstrip_blocks=False))
    else:
        out[name] = templar.template(variables[job["variable"]])
sys.stdout.write(json.dumps(out))
"""


def job(template: Optional[str] = None, variable: Optional[str] = None, **variables: Any) -> Dict[str, Any]:
    """One rendering: ``template`` (a path under roles/) or ``variable`` (a role variable's value)."""
    return {"template": template, "variable": variable, "variables": variables}


def run_render(roles: List[str], jobs: Dict[str, Dict[str, Any]]) -> subprocess.CompletedProcess:
    """Render every job with the given roles' defaults and vars loaded (the first role is role_path)."""
    return subprocess.run([sys.executable, "-c", SCRIPT, str(ROLES_DIR), json.dumps(roles), json.dumps(jobs)],
                          capture_output=True, text=True, timeout=300, check=False)


def render(roles: List[str], jobs: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """As run_render, and the results by job name; fails the test with Ansible's error otherwise."""
    proc = run_render(roles, jobs)
    assert proc.returncode == 0, proc.stderr
    result: Dict[str, Any] = json.loads(proc.stdout)
    return result
