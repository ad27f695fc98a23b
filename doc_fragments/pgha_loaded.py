# -*- coding: utf-8 -*-
# The options of loaded_files and loaded_files_info (module_utils/pgha_loaded.py, build_argument_spec()): both
# name a service and its files, and keep the record in the same place. Modules use it with
# `extends_documentation_fragment: [pgha_loaded]`; loaded_files documents files again with its own description.
"""Documentation fragment ``pgha_loaded``: service, files and record_dir options."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  service:
    description: Name of the service (the record's file name), e.g. V(haproxy).
    type: str
    required: true
  files:
    description: Paths of the files the service loads. A missing file counts as a checksum of null.
    type: list
    elements: path
    required: true
  record_dir:
    description: Directory of the records on the node.
    type: path
    default: /var/lib/pgha/loaded
"""
