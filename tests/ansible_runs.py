"""What the tests that run the project's playbooks through ansible-runner share (tests/integration/test_bad_input.py,
tests/interrupted/interrupted_lab.py): the project directory, its ansible.cfg, no colours, and the ansible-playbook
of the Python running the tests.

Importable by bare name from any test below tests/: pytest puts tests/ on sys.path for tests/conftest.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Dict

PROJECT = Path(__file__).resolve().parents[1]
ANSIBLE_CFG = PROJECT / "ansible.cfg"


def runner_args(workdir: Path, inventory: Path, playbook: Path, **envvars: str) -> Dict[str, Any]:
    """Keyword arguments of ansible_runner.run() / run_async() for ``playbook`` on ``inventory``, quiet.

    ``workdir`` is ansible-runner's private data directory; ``envvars`` are added to the environment of
    ansible-playbook.
    """
    return dict(
        private_data_dir=str(workdir),
        project_dir=str(PROJECT),
        playbook=str(playbook),
        inventory=str(inventory),
        envvars={
            "ANSIBLE_CONFIG": str(ANSIBLE_CFG),
            "ANSIBLE_NOCOLOR": "1",
            # ansible-playbook of the Python running the tests (the venv), activated or not
            "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
            **envvars,
        },
        quiet=True,
    )
