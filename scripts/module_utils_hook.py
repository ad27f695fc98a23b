#!/usr/bin/env python3
"""Make the project's module_utils importable as ``ansible.module_utils.<name>`` in every process of the venv.

Ansible ships ``module_utils/pgha_*.py`` inside each module's payload as ``ansible.module_utils.pgha_*``.
Outside a playbook run nothing maps that name to our files: not in ansible-lint's args rule (it execs
``library/*.py`` in its own process to validate task arguments), pytest or a Python shell.

``make venv`` runs this script with the venv's python. It writes ``pgha_module_utils.pth`` into the venv's
site-packages; the ``import`` line there runs at every interpreter start (as for setuptools' editable
installs), loads this file and calls install(), which appends a finder to ``sys.meta_path``. The finder
resolves ``ansible.module_utils.<name>`` to ``<dir>/<name>.py`` in the directories Ansible itself uses:

* the ``module_utils`` setting of the project's ansible.cfg (``:``-separated, relative to the file);
* ``module_utils/`` next to the playbooks of a direct subdirectory of the project, e.g. ``chaos/module_utils``
  (ansible-playbook adds a playbook's adjacent plugin directories, ansible.plugins.loader.add_all_plugin_dirs).

The finder is asked only for imports that nothing before it resolved, reads ansible.cfg on first use and
never imports ansible itself, so a process that does not import our module_utils pays nothing but this file.
"""

from __future__ import annotations

import configparser
import glob
import importlib.machinery
import os
import sys
import sysconfig
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import List, Optional, Sequence

PREFIX = "ansible.module_utils."
PTH_NAME = "pgha_module_utils.pth"


def module_utils_dirs(root: str) -> List[str]:
    """The project's module_utils directories (absolute, existing), ansible.cfg's setting first."""
    dirs: List[str] = []
    cfg_path = os.path.join(root, "ansible.cfg")
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(cfg_path, encoding="utf-8")
    setting = parser.get("defaults", "module_utils", fallback="")
    for entry in setting.split(os.pathsep):
        entry = entry.strip()
        if entry:
            dirs.append(os.path.normpath(os.path.join(root, os.path.expanduser(entry))))
    dirs.extend(sorted(os.path.normpath(d) for d in glob.glob(os.path.join(root, "*", "module_utils"))))
    unique: List[str] = []
    for d in dirs:
        if os.path.isdir(d) and d not in unique:
            unique.append(d)
    return unique


class ModuleUtilsFinder:
    """A sys.meta_path finder for ``ansible.module_utils.<name>`` in the project's module_utils directories."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._dirs: Optional[List[str]] = None

    @property
    def dirs(self) -> List[str]:
        if self._dirs is None:
            self._dirs = module_utils_dirs(self.root)
        return self._dirs

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None,
                  target: Optional[ModuleType] = None) -> Optional[ModuleSpec]:
        if not fullname.startswith(PREFIX) or "." in fullname[len(PREFIX):]:
            return None
        return importlib.machinery.PathFinder.find_spec(fullname, self.dirs)

    def __repr__(self) -> str:
        return "%s(%r)" % (type(self).__name__, self.root)


def install(root: str) -> None:
    """Append the finder for ``root`` (the project directory) to sys.meta_path, once."""
    root = os.path.abspath(root)
    for finder in sys.meta_path:
        # By name, not isinstance: the .pth and a test may load this file as two different modules.
        if type(finder).__name__ == ModuleUtilsFinder.__name__ and getattr(finder, "root", None) == root:
            return
    sys.meta_path.append(ModuleUtilsFinder(root))


def pth_line(root: str, hook: str) -> str:
    """The .pth line that loads ``hook`` (this file) at interpreter start and installs the finder for ``root``."""
    return ("import importlib.util as u; s = u.spec_from_file_location('pgha_module_utils_hook', %r); "
            "m = u.module_from_spec(s); s.loader.exec_module(m); m.install(%r)\n" % (hook, root))


def write_pth(root: str, site_packages: Optional[str] = None) -> str:
    """Write the .pth file into ``site_packages`` (default: this interpreter's); returns its path."""
    target = os.path.join(site_packages or sysconfig.get_paths()["purelib"], PTH_NAME)
    content = ("# Written by `make venv` (scripts/module_utils_hook.py): the project's module_utils as "
               "ansible.module_utils.*\n" + pth_line(root, os.path.abspath(__file__)))
    with open(target, "w", encoding="utf-8") as fh:
        fh.write(content)
    return target


def main(argv: Optional[Sequence[str]] = None) -> int:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    args = list(sys.argv[1:] if argv is None else argv)
    if args:
        print("usage: %s (no arguments): writes %s into this interpreter's site-packages" % (sys.argv[0], PTH_NAME),
              file=sys.stderr)
        return 2
    path = write_pth(root)
    print("%s: ansible.module_utils.* from %s" % (path, ", ".join(module_utils_dirs(root))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
