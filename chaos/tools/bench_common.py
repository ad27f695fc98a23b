"""What the benchmarks share: running an experiment playbook through ansible-runner, reading its chaos report
from the runner's events, and writing the figures to reports/ (the scripts' own directory is on sys.path when
they run, so they import this as ``bench_common``)."""
from __future__ import annotations

import datetime
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterable, Optional

# The task of chaos/tasks/experiment.yml whose result is the chaos_report module's.
REPORT_TASK = "Write the report"


def report_from_events(events: Iterable[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The chaos_report result of a run, from ansible-runner's events (None if it never ran)."""
    for event in events:
        data = event.get("event_data") or {}
        if event.get("event") == "runner_on_ok" and data.get("task") == REPORT_TASK:
            return data.get("res")
    return None


def run_playbook(project: Path, inventory: str, playbook: str,
                 extravars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Run a playbook with ansible-runner; its status, rc and the chaos report if it wrote one."""
    import ansible_runner  # imported here so the pure helpers need nothing installed

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        runner = ansible_runner.run(
            private_data_dir=tmp, project_dir=str(project), playbook=str(project / playbook),
            inventory=str(project / inventory), extravars=extravars or {}, quiet=True,
            envvars={"ANSIBLE_CONFIG": str(project / "ansible.cfg"),
                     # ansible-playbook next to this Python (the venv), activated or not
                     "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])})
        events = list(runner.events)
        return {"status": runner.status, "rc": runner.rc, "report": report_from_events(events),
                "tasks": task_results(events)}


def task_results(events: Iterable[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Per task name, the last successful result and how long the task took (ansible-runner's event times)."""
    out: Dict[str, Dict[str, Any]] = {}
    for event in events:
        data = event.get("event_data") or {}
        if event.get("event") == "runner_on_ok" and data.get("task"):
            out[data["task"]] = {"res": data.get("res") or {}, "duration_s": data.get("duration"),
                                 "host": data.get("host")}
    return out


def write_figures(project: Path, name: str, settings: Dict[str, Any], results: Any) -> Path:
    """reports/<name>-<UTC>.json with the settings and the results; its path."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = project / "reports" / ("%s-%s.json" % (name, stamp))
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"settings": settings, "results": results}, indent=2, default=str) + "\n")
    return out
