# -*- coding: utf-8 -*-
# The record of which files a service last loaded, shared by the loaded_files and loaded_files_info modules.
#
# Ansible keeps notified handlers in the memory of the ansible-playbook process only: a run killed between a
# changed configuration file and its handler (Ctrl-C, a lost controller) takes the reload with it, and the next
# run finds the file unchanged while the service still runs the old one. So every role that reloads or restarts
# a service records, in its handler, the checksums of the files the service loaded; the role compares them with
# the files on disk and notifies the handler again when they differ.
"""Checksums of a service's configuration files, the record of those it last loaded, and the modules' main()."""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any, Callable, Dict, List, Optional

from ansible.module_utils.basic import AnsibleModule

DEFAULT_RECORD_DIR = "/var/lib/pgha/loaded"
SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")

Checksums = Dict[str, Optional[str]]


def file_checksum(path: str) -> Optional[str]:
    """sha256 of a file's content, or None when the file does not exist."""
    if not os.path.exists(path):
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(65536), b""):
            digest.update(block)
    return digest.hexdigest()


def checksums(paths: List[str]) -> Checksums:
    """{path: sha256 or None} for every path, in the order given."""
    return {path: file_checksum(path) for path in paths}


def record_path(record_dir: str, service: str) -> str:
    """Where the record of ``service`` lives; refuses names that could leave ``record_dir``."""
    if not SERVICE_NAME.match(service):
        raise ValueError("service %r is not a plain name (letters, digits, _ . @ -)" % service)
    return os.path.join(record_dir, service + ".json")


def read_record(path: str) -> Optional[Checksums]:
    """The recorded checksums, or None when there is no record (or it is unreadable: then nothing is known)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    return {str(k): (str(v) if v is not None else None) for k, v in data.items()}


def stale_files(current: Checksums, recorded: Optional[Checksums]) -> List[str]:
    """Paths whose content differs from what the service loaded (every path when there is no record)."""
    if recorded is None:
        return list(current)
    return [path for path, digest in current.items() if path not in recorded or recorded[path] != digest]


def render_record(current: Checksums) -> str:
    return json.dumps(current, indent=2, sort_keys=True) + "\n"


def write_record(path: str, current: Checksums) -> bool:
    """Write the record (directory 0700, file 0600, atomically); True when its content changed."""
    content = render_record(current)
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == content:
                return False
    except OSError:
        pass
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(content)
    os.replace(tmp, path)
    return True


# --------------------------------------------------------------------------------------------
# The loaded_files and loaded_files_info modules
# --------------------------------------------------------------------------------------------


def build_argument_spec() -> Dict[str, Any]:
    """The argument_spec of loaded_files and loaded_files_info (documented by the pgha_loaded fragment)."""
    return dict(
        service=dict(type="str", required=True),
        files=dict(type="list", elements="path", required=True),
        record_dir=dict(type="path", default=DEFAULT_RECORD_DIR),
    )


def run_module(
    argument_spec: Dict[str, Any], act: Callable[[AnsibleModule, str, str, Checksums], Dict[str, Any]]
) -> None:
    """main() of loaded_files and loaded_files_info: exit with ``act(module, service, record, checksums)``.

    ``record`` is the path of the service's record (a service name that could leave record_dir fails the module),
    ``checksums`` those of the files on disk. ``act`` returns the rest of the result (changed, msg, ...); the record
    path and the checksums are always returned.
    """
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    service: str = module.params["service"]
    try:
        record = record_path(module.params["record_dir"], service)
    except ValueError as exc:
        module.fail_json(msg="service: %s" % exc)
    current = checksums(module.params["files"])
    module.exit_json(checksums=current, record=record, **act(module, service, record, current))
