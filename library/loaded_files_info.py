#!/usr/bin/python
# -*- coding: utf-8 -*-
# Does a service run the configuration files that are on disk? (compares with the record loaded_files wrote)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: loaded_files_info
short_description: Tell whether a service still has to load its configuration files
description:
  - Compares the sha256 of each of O(files) with the record that M(loaded_files) wrote the last time the service
    was reloaded or restarted (C(<record_dir>/<service>.json)).
  - RV(stale) is V(true) when a file differs from the record, or when there is no record at all (the service was
    never reloaded by this project, so what it runs is not known).
  - Ansible keeps notified handlers only in the memory of the running ansible-playbook. A run killed between a
    changed file and its handler loses the reload, and the next run finds the file unchanged. A role registers
    this module's result and notifies the reload handler when RV(stale) is true, so the next run catches up.
  - Read-only; never reports changed (use C(changed_when) on RV(stale) to notify a handler).
extends_documentation_fragment: [pgha_loaded]
author:
  - pgha project maintainers
"""

EXAMPLES = r"""
- name: Reload HAProxy when it does not run the haproxy.cfg on disk
  loaded_files_info:
    service: haproxy
    files: [/etc/haproxy/haproxy.cfg]
  register: haproxy_loaded
  changed_when: haproxy_loaded.stale
  notify: Reload HAProxy
"""

RETURN = r"""
stale:
  description: The service has not loaded the files on disk (a file differs from the record, or there is no record).
  returned: always
  type: bool
stale_files:
  description: The files that differ from the record (every file when there is no record).
  returned: always
  type: list
  elements: str
  sample: [/etc/haproxy/haproxy.cfg]
checksums:
  description: sha256 of each file on disk (null for a missing file).
  returned: always
  type: dict
  sample: {/etc/haproxy/haproxy.cfg: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}
record:
  description: Path of the record.
  returned: always
  type: str
  sample: /var/lib/pgha/loaded/haproxy.json
record_exists:
  description: Whether a record was found.
  returned: always
  type: bool
msg:
  description: One sentence on what was found.
  returned: always
  type: str
"""

from typing import Any, Dict

from ansible.module_utils.basic import AnsibleModule

from ansible.module_utils.pgha_loaded import Checksums, build_argument_spec, read_record, run_module, stale_files


def compare_with_record(_module: AnsibleModule, service: str, record: str, current: Checksums) -> Dict[str, Any]:
    """Which of the ``current`` files differ from the record (all of them when there is none)."""
    recorded = read_record(record)
    stale = stale_files(current, recorded)
    if recorded is None:
        msg = "No record of what %s loaded (%s): it must reload to be sure it runs these files." % (service, record)
    elif stale:
        msg = "%s has not loaded the current %s." % (service, ", ".join(stale))
    else:
        msg = "%s runs the files on disk." % service
    return dict(changed=False, stale=bool(stale), stale_files=stale, record_exists=recorded is not None, msg=msg)


def main() -> None:
    run_module(build_argument_spec(), compare_with_record)


if __name__ == "__main__":
    main()
