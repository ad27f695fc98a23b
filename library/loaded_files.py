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
  service:
    description: Name of the service (the record's file name), e.g. V(haproxy).
    type: str
    required: true
  files:
    description: Paths of the files the service has loaded. A missing file is recorded with a checksum of null.
    type: list
    elements: path
    required: true
  record_dir:
    description: Directory of the records on the node.
    type: path
    default: /var/lib/pgha/loaded
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

from ansible.module_utils.pgha_loaded import DEFAULT_RECORD_DIR, checksums, read_record, record_path, write_record


def build_argument_spec() -> Dict[str, Any]:
    return dict(
        service=dict(type="str", required=True),
        files=dict(type="list", elements="path", required=True),
        record_dir=dict(type="path", default=DEFAULT_RECORD_DIR),
    )


def main() -> None:
    module = AnsibleModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    service: str = module.params["service"]
    try:
        record = record_path(module.params["record_dir"], service)
    except ValueError as exc:
        module.fail_json(msg="service: %s" % exc)
    current = checksums(module.params["files"])
    if module.check_mode:
        changed = read_record(record) != current
    else:
        try:
            changed = write_record(record, current)
        except OSError as exc:
            module.fail_json(msg="Could not write the record of what %s loaded to %s: %s" % (service, record, exc),
                             record=record, checksums=current)
    module.exit_json(changed=changed, checksums=current, record=record,
                     msg="Recorded the %d file(s) %s loaded in %s." % (len(current), service, record))


if __name__ == "__main__":
    main()
