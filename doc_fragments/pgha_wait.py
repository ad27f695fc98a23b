# -*- coding: utf-8 -*-
# The options of the modules that can poll until their conditions hold (module_utils/pgha_http.py,
# wait_argument_spec()). Modules use it with `extends_documentation_fragment: [pgha_http, pgha_wait]`; a module
# that says more about an option documents it again with only the keys it changes (e.g. its own description).
"""Documentation fragment ``pgha_wait``: wait, timeout and interval options."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  wait:
    description: Poll until the conditions hold; fail after O(timeout) seconds otherwise.
    type: bool
    default: false
  timeout:
    description: Seconds to wait when O(wait=true).
    type: int
    default: 120
  interval:
    description: Seconds between two polls when O(wait=true).
    type: float
    default: 1
"""
