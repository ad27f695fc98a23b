"""scripts/module_utils_hook.py: the venv hook that makes module_utils importable as ansible.module_utils.*."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOOK = ROOT / "scripts" / "module_utils_hook.py"


def load_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("module_utils_hook_under_test", HOOK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with ansible.cfg naming two module_utils directories and a playbook directory with its own."""
    (tmp_path / "ansible.cfg").write_text(textwrap.dedent("""\
        [defaults]
        library = library
        module_utils = module_utils:shared/utils
        """), encoding="utf-8")
    for directory, name in (("module_utils", "pghatest_one"), ("shared/utils", "pghatest_two"),
                            ("chaos/module_utils", "pghatest_three")):
        (tmp_path / directory).mkdir(parents=True)
        (tmp_path / directory / ("%s.py" % name)).write_text("WHERE = %r\n" % directory, encoding="utf-8")
    return tmp_path


def test_directories_come_from_ansible_cfg_then_next_to_playbooks(project: Path) -> None:
    hook = load_hook()
    assert hook.module_utils_dirs(str(project)) == [str(project / "module_utils"), str(project / "shared/utils"),
                                                    str(project / "chaos/module_utils")]


def test_the_real_project_maps_both_module_utils_directories() -> None:
    assert load_hook().module_utils_dirs(str(ROOT)) == [str(ROOT / "module_utils"), str(ROOT / "chaos/module_utils")]


def test_finder_resolves_only_direct_children_of_ansible_module_utils(project: Path) -> None:
    finder = load_hook().ModuleUtilsFinder(str(project))
    spec = finder.find_spec("ansible.module_utils.pghatest_two")
    assert spec is not None and spec.origin == str(project / "shared/utils/pghatest_two.py")
    assert finder.find_spec("ansible.module_utils.pghatest_three") is not None
    assert finder.find_spec("ansible.module_utils.nothing_here") is None
    assert finder.find_spec("pghatest_one") is None
    assert finder.find_spec("ansible.module_utils.pghatest_one.sub") is None


def test_pth_file_installs_the_finder_at_interpreter_start(project: Path, tmp_path: Path) -> None:
    hook = load_hook()
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    pth = hook.write_pth(str(project), str(site_dir))
    assert os.path.basename(pth) == hook.PTH_NAME
    code = ("import site, sys; site.addsitedir(%r); "
            "from ansible.module_utils import pghatest_one, pghatest_three; print(pghatest_one.WHERE, "
            "pghatest_three.WHERE, 'ansible' in sys.modules)" % str(site_dir))
    # -S: no site-packages of the venv, so only this .pth installs a finder (for the tmp project).
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(importlib.util.find_spec("ansible").origin)))
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["module_utils", "chaos/module_utils", "True"]


def test_install_is_idempotent(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = load_hook()
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    hook.install(str(project))
    hook.install(str(project))
    assert sum(getattr(f, "root", None) == str(project) for f in sys.meta_path) == 1
