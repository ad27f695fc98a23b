"""Make the project's own Ansible code importable from pytest.

* ``ansible.module_utils.pgha_*``: Ansible imports a project's module_utils (``module_utils = ./module_utils``
  in ansible.cfg) as if it lived inside the ``ansible.module_utils`` package. We do the same here by
  appending our directory to that package's ``__path__``.
* ``library/*.py``: added to ``sys.path`` so tests can ``import patroni_cluster_info`` etc.
* ``tests/unit``: added to ``sys.path`` so ``import pgha_test_helpers`` works in any pytest import mode.
"""

from __future__ import annotations

import os
import sys

import ansible.module_utils

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULE_UTILS = os.path.join(ROOT, "module_utils")
LIBRARY = os.path.join(ROOT, "library")
UNIT_TESTS = os.path.join(ROOT, "tests", "unit")

if MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(MODULE_UTILS)
for _path in (LIBRARY, UNIT_TESTS):
    if _path not in sys.path:
        sys.path.insert(0, _path)
