"""library/loaded_files.py and loaded_files_info.py: the record of what a service loaded, on a temp dir."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

import loaded_files
import loaded_files_info
from ansible.module_utils.pgha_loaded import build_argument_spec, read_record, record_path, run_module, stale_files
from pgha_test_helpers import patch_module_args


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    path = tmp_path / "haproxy.cfg"
    path.write_text("global\n")
    return path


def _args(tmp_path: Path, *files: Path) -> dict:
    return {"service": "haproxy", "files": [str(f) for f in files], "record_dir": str(tmp_path / "loaded")}


def test_no_record_is_stale(run_module, tmp_path, conf):
    res = run_module(loaded_files_info, _args(tmp_path, conf))
    assert res["stale"] is True and res["changed"] is False
    assert res["record_exists"] is False
    assert res["stale_files"] == [str(conf)]
    assert "No record" in res["msg"]


def test_record_then_current_then_changed_file(run_module, tmp_path, conf):
    rec = run_module(loaded_files, _args(tmp_path, conf))
    assert rec["changed"] is True
    path = Path(rec["record"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == rec["checksums"]

    same = run_module(loaded_files_info, _args(tmp_path, conf))
    assert same["stale"] is False and same["stale_files"] == []

    again = run_module(loaded_files, _args(tmp_path, conf))
    assert again["changed"] is False

    conf.write_text("global\n    maxconn 10\n")
    after = run_module(loaded_files_info, _args(tmp_path, conf))
    assert after["stale"] is True and after["stale_files"] == [str(conf)]


def test_a_file_added_to_the_list_is_stale(run_module, tmp_path, conf):
    run_module(loaded_files, _args(tmp_path, conf))
    ca = tmp_path / "ca.crt"
    ca.write_text("CA")
    res = run_module(loaded_files_info, _args(tmp_path, conf, ca))
    assert res["stale_files"] == [str(ca)]


def test_missing_file_is_recorded_as_null(run_module, tmp_path):
    missing = tmp_path / "absent.conf"
    rec = run_module(loaded_files, _args(tmp_path, missing))
    assert rec["checksums"] == {str(missing): None}
    assert run_module(loaded_files_info, _args(tmp_path, missing))["stale"] is False


def test_check_mode_writes_nothing(run_module, tmp_path, conf):
    res = run_module(loaded_files, _args(tmp_path, conf), check_mode=True)
    assert res["changed"] is True
    assert not os.path.exists(res["record"])


def test_service_name_cannot_leave_the_record_dir(run_module, tmp_path, conf):
    res = run_module(loaded_files, dict(_args(tmp_path, conf), service="../etc/passwd"))
    assert res["failed"] and "service" in res["msg"]
    with pytest.raises(ValueError):
        record_path("/var/lib/pgha/loaded", "a/b")


def test_unreadable_record_counts_as_none(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("not json")
    assert read_record(str(bad)) is None
    assert stale_files({"/a": "1", "/b": None}, None) == ["/a", "/b"]


def test_run_module_returns_the_record_and_checksums_with_what_act_adds(tmp_path, conf, capsys):
    seen = []

    def act(module, service, record, current):
        seen.append((service, record, current))
        return {"changed": False, "msg": "seen"}

    with patch_module_args(_args(tmp_path, conf)):
        with pytest.raises(SystemExit):
            run_module(build_argument_spec(), act)
    result = json.loads(capsys.readouterr().out)
    record = str(tmp_path / "loaded" / "haproxy.json")
    assert seen == [("haproxy", record, result["checksums"])]
    assert result["record"] == record and list(result["checksums"]) == [str(conf)] and result["msg"] == "seen"
