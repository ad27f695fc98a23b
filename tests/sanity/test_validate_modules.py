"""ansible-test's validate-modules on the project's modules (documentation against argument_spec, RETURN schema,
markup, no_log, imports, ...).

ansible-test only tests collections, so the test copies the modules into a throwaway collection ``pgha.cluster``
(``ansible_collections/pgha/cluster/plugins/{modules,module_utils,doc_fragments}``) with what the collection layout
names differently rewritten, and runs ``ansible-test sanity --test validate-modules`` there. ansible-test installs
the test's requirements (pinned by ansible-test) from PyPI into its own venv under a temporary HOME; its pip
bootstrap script comes from a host outside PyPI, so a stand-in that uses the interpreter's ensurepip is put in its
cache. About 10 s.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULE_DIRS = [ROOT / "library", ROOT / "chaos" / "library"]
MODULE_UTILS_DIRS = [ROOT / "module_utils", ROOT / "chaos" / "module_utils"]
FRAGMENT_DIR = ROOT / "doc_fragments"
NAMESPACE, NAME = "pgha", "cluster"
COLLECTION = "%s.%s" % (NAMESPACE, NAME)
ANSIBLE_TEST = Path(sys.executable).parent / "ansible-test"

# validate-modules checks that are not ours to meet, each with the reason (tests/sanity/ignore-X.Y.txt entries).
IGNORES: Dict[str, List[str]] = {
    # The project's modules carry no GPLv3 header: they are not part of Ansible.
    "missing-gplv3-license": ["*"],
    # It starts the load client detached (own session, start_new_session), which module.run_command cannot do.
    "use-run-command-not-popen": ["pg_load_probe"],
}

# Get-pip stand-in: ansible-test runs it in its new, empty venv with the pip install arguments.
GET_PIP = '''"""Stand-in for get-pip.py: pip from the interpreter's ensurepip wheel, then pip install the arguments."""
import runpy
import subprocess
import sys

# ensurepip in a child: it turns pip's configuration off (PIP_CONFIG_FILE=/dev/null) in its own process.
subprocess.check_call([sys.executable, "-m", "ensurepip"])
sys.argv = ["pip", "install"] + [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
runpy.run_module("pip", run_name="__main__", alter_sys=True)
'''


def to_collection(text: str, modules: List[str]) -> str:
    """A module, module_utils or fragment file as it reads inside the collection."""
    # Imports: Ansible merges module_utils/ into ansible.module_utils; a collection has its own package.
    text = re.sub(r"\bansible\.module_utils\.(pgha_\w+)",
                  r"ansible_collections.%s.%s.plugins.module_utils.\1" % (NAMESPACE, NAME), text)

    # Fragments and module references by their collection name (FQCN), as validate-modules requires there.
    def fragments(match: "re.Match[str]") -> str:
        names = [n.strip() for n in match.group(2).split(",")]
        return "%s[%s]" % (match.group(1), ", ".join("%s.%s" % (COLLECTION, n) for n in names))

    text = re.sub(r"^(extends_documentation_fragment: *)\[([^\]]*)\]", fragments, text, flags=re.MULTILINE)
    text = re.sub(r"\bM\((%s)\)" % "|".join(map(re.escape, modules)), r"M(%s.\1)" % COLLECTION, text)
    # validate-modules wants "Name (@github-handle)" for each author; the project names no account.
    return text.replace("  - pgha project maintainers\n", "  - pgha project maintainers (@pgha)\n")


def build_collection(base: Path) -> Path:
    root = base / "ansible_collections" / NAMESPACE / NAME
    plugins = root / "plugins"
    module_files = sorted(p for d in MODULE_DIRS for p in d.glob("*.py"))
    modules = [p.stem for p in module_files]
    groups = [("modules", module_files),
              ("module_utils", sorted(p for d in MODULE_UTILS_DIRS for p in d.glob("*.py"))),
              ("doc_fragments", sorted(FRAGMENT_DIR.glob("*.py")))]
    for sub, files in groups:
        (plugins / sub).mkdir(parents=True)
        for src in files:
            (plugins / sub / src.name).write_text(to_collection(src.read_text(encoding="utf-8"), modules),
                                                  encoding="utf-8")
    (root / "galaxy.yml").write_text("namespace: %s\nname: %s\nversion: 1.0.0\nreadme: README.md\nauthors: [pgha]\n"
                                     % (NAMESPACE, NAME), encoding="utf-8")
    (root / "README.md").write_text("Throwaway copy of the pgha project's modules for ansible-test.\n",
                                    encoding="utf-8")
    lines = []
    for code, names in sorted(IGNORES.items()):
        for name in modules if names == ["*"] else names:
            lines.append("plugins/modules/%s.py validate-modules:%s\n" % (name, code))
    ignore = root / "tests" / "sanity" / ("ignore-%s.txt" % ansible_core_minor())
    ignore.parent.mkdir(parents=True)
    ignore.write_text("".join(lines), encoding="utf-8")
    return root


def ansible_core_minor() -> str:
    from ansible.release import __version__

    return ".".join(__version__.split(".")[:2])


def bootstrap_pip_version() -> str:
    """The pip version ansible-test bootstraps its venvs with (the name of its cached get-pip script)."""
    import ansible_test

    source = Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
    match = re.search(r"default_packages = dict\(\s*pip='([\d.]+)'", source.read_text(encoding="utf-8"))
    assert match, "cannot find ansible-test's pip version in %s" % source
    return match.group(1)


@pytest.mark.skipif(not ANSIBLE_TEST.exists(), reason="ansible-test is not installed next to this python")
def test_validate_modules(tmp_path: Path) -> None:
    collection = build_collection(tmp_path / "src")
    home = tmp_path / "home"
    cache = home / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True)
    (cache / ("get_pip_%s.py" % bootstrap_pip_version().replace(".", "_"))).write_text(GET_PIP, encoding="utf-8")
    python = "%d.%d" % sys.version_info[:2]
    env = dict(os.environ, HOME=str(home))
    proc = subprocess.run([str(ANSIBLE_TEST), "sanity", "--test", "validate-modules", "--python", python,
                           "--color", "no"], cwd=str(collection), env=env, capture_output=True, text=True,
                          timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    tested = glob.glob(str(collection / "plugins" / "modules" / "*.py"))
    assert len(tested) >= 9 and "Running sanity test \"validate-modules\"" in output, output
