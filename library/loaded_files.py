#!/usr/bin/python
# -*- coding: utf-8 -*-
# Record the checksums of the configuration files a service has just loaded (run from the reload handler).

from __future__ import annotations

DOCUMENTATION = r"""
---
module: loaded_files
short_description: Record which configuration files a service has loaded
description:
  - Writes the sha256 of each of O(files) to C(<record_dir>/<service>.json) (directory 0700, file 0600).
  - Run it in the handler, right after the service was reloaded or restarted (C(listen) on the same
    notification, defined after the reload handler so it runs after it). M(loaded_files_info) then compares the
    files on disk with this record, so that a reload lost with a killed run is done by the next run.
  - Reports changed when the record's content changed. In check mode nothing is written.
options:
  files:
    description: Paths of the files the service has loaded. A missing file is recorded with a checksum of null.
extends_documentation_fragment: [pgha_loaded]
author:
  - pgha project maintainers
"""

EXAMPLES = r"""
# handlers/main.yml: the reload, then the record (handlers run in the order they are defined).
- name: Reload HAProxy
  ansible.builtin.systemd_service:
    name: haproxy
    state: reloaded

- name: Record the files HAProxy loaded
  loaded_files:
    service: haproxy
    files: [/etc/haproxy/haproxy.cfg]
  listen: Reload HAProxy
"""

RETURN = r"""
checksums:
  description: The recorded sha256 of each file (null for a missing file).
  returned: always
  type: dict
record:
  description: Path of the record.
  returned: always
  type: str
  sample: /var/lib/pgha/loaded/haproxy.json
msg:
  description: One sentence on what was done.
  returned: always
  type: str
"""

from typing import Any, Dict

from ansible.module_utils.basic import AnsibleModule

from ansible.module_utils.pgha_loaded import Checksums, build_argument_spec, read_record, run_module, write_record


def record_loaded(module: AnsibleModule, service: str, record: str, current: Checksums) -> Dict[str, Any]:
    """Write the record of the ``current`` checksums (in check mode, only tell whether it would change)."""
    if module.check_mode:
        changed = read_record(record) != current
    else:
        try:
            changed = write_record(record, current)
        except OSError as exc:
            module.fail_json(msg="Could not write the record of what %s loaded to %s: %s" % (service, record, exc),
                             record=record, checksums=current)
    return dict(changed=changed, msg="Recorded the %d file(s) %s loaded in %s." % (len(current), service, record))


def main() -> None:
    run_module(build_argument_spec(), record_loaded)


if __name__ == "__main__":
    main()
