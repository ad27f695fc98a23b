"""Make the project's modules importable from pytest.

* ``ansible.module_utils.pgha_*``: importable in any process of the venv through the finder that `make venv`
  installs (scripts/module_utils_hook.py); checked here so a stale venv fails with what to run.
* ``library/*.py``, ``chaos/library/*.py``: added to ``sys.path`` so tests can ``import patroni_cluster_info`` etc.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The product's modules and the chaos harness's (loaded next to the chaos playbooks).
LIBRARIES = [os.path.join(ROOT, "library"), os.path.join(ROOT, "chaos", "library")]

if importlib.util.find_spec("ansible.module_utils.pgha_http") is None:
    raise pytest.UsageError("ansible.module_utils.pgha_http is not importable: run `make venv` (it installs "
                            "scripts/module_utils_hook.py into the venv), or `%s scripts/module_utils_hook.py`"
                            % sys.executable)
for _path in LIBRARIES:
    if _path not in sys.path:
        sys.path.insert(0, _path)
