"""The pki role's CA, made on the control host with the controller's Python packages (community.crypto on
the venv's cryptography): a cryptography release that community.crypto cannot use for the role's curve
(46 has no SECP256R1 where it looks) must fail here, in seconds, not in Molecule's converge.

Runs roles/pki/tasks/ca.yml on localhost through ansible-runner into a temporary pki_dir, twice: the
second run must change nothing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import ansible_runner
from ansible_runs import PROJECT, runner_args

PLAYBOOK = """\
- name: Make the cluster CA as site.yml does
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Create the CA with the pki role's own tasks
      ansible.builtin.import_role:
        name: pki
        tasks_from: ca.yml
"""


def run_ca(tmp_path: Path, name: str, pki_dir: Path) -> ansible_runner.Runner:
    workdir = tmp_path / name
    workdir.mkdir()
    playbook = tmp_path / "ca.yml"
    playbook.write_text(PLAYBOOK)
    inventory = tmp_path / "hosts.yml"
    # As Ansible's implicit localhost: the modules run with the controller's own Python (the venv's packages).
    inventory.write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
                         "      ansible_python_interpreter: '{{ ansible_playbook_python }}'\n")
    return ansible_runner.run(**runner_args(workdir, inventory, playbook, ANSIBLE_ROLES_PATH=str(PROJECT / "roles")),
                              extravars={"pki_dir": str(pki_dir)}, timeout=120)


def changed_tasks(runner: ansible_runner.Runner) -> list:
    return [e["event_data"]["task"] for e in runner.events
            if e.get("event") == "runner_on_ok" and e["event_data"].get("res", {}).get("changed")]


def test_the_ca_is_made_on_the_control_host_and_stays(tmp_path):
    pki_dir = tmp_path / "pki"
    first = run_ca(tmp_path, "first", pki_dir)
    failures = [e["event_data"].get("res", {}).get("msg") for e in first.events if e.get("event") == "runner_on_failed"]
    assert first.status == "successful", failures
    assert "Create the CA private key" in changed_tasks(first)
    key = subprocess.run(["openssl", "pkey", "-in", str(pki_dir / "ca.key"), "-noout", "-text"],
                         capture_output=True, text=True, check=True).stdout
    assert "prime256v1" in key or "P-256" in key
    cert = subprocess.run(["openssl", "x509", "-in", str(pki_dir / "ca.crt"), "-noout", "-text"],
                          capture_output=True, text=True, check=True).stdout
    assert "CA:TRUE" in cert
    assert oct((pki_dir / "ca.key").stat().st_mode & 0o777) == "0o600"
    second = run_ca(tmp_path, "second", pki_dir)
    assert second.status == "successful" and changed_tasks(second) == []
