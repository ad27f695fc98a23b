"""tests/ansible_runs.py: the ansible-runner arguments the playbook-running tests share (no playbook is run)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ansible_runs import ANSIBLE_CFG, PROJECT, runner_args


def test_runner_args_use_the_project_config_and_this_python(tmp_path):
    args = runner_args(tmp_path, Path("/inv"), Path("/site.yml"), EXTRA="1")
    assert args["private_data_dir"] == str(tmp_path) and args["project_dir"] == str(PROJECT)
    assert args["inventory"] == "/inv" and args["playbook"] == "/site.yml" and args["quiet"] is True
    env = args["envvars"]
    assert env["ANSIBLE_CONFIG"] == str(ANSIBLE_CFG) and ANSIBLE_CFG.exists()
    assert env["ANSIBLE_NOCOLOR"] == "1" and env["EXTRA"] == "1"
    assert env["PATH"].split(os.pathsep)[0] == os.path.dirname(sys.executable)
