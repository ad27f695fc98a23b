"""Tests of module_utils/pgha_pgbackrest.py (parsing, summary, checks, table) and library/pgbackrest_info.py (main flow
with a fake ``run_command``: no process is started).

Relies on the fixtures in fixtures/pgbackrest/ (see its README): stanza demo, PostgreSQL 15; info_healthy.json = a
full, a diff and an incr backup of 2026-12-01 (the incr stops at 12:15:22 UTC); info_no_backups.json = status 2;
info_missing_stanza.json = status 1.
"""

from __future__ import annotations

import copy
import json
import os
import pwd
import types
from typing import Any, Dict, List, Optional, Tuple

import pytest
from ansible.module_utils import basic

import pgbackrest_info as mod
from ansible.module_utils.pgha_pgbackrest import (
    InfoError,
    TargetError,
    check_expectations,
    command_error,
    format_duration,
    format_size,
    info_command,
    iso_utc,
    parse_backups,
    parse_info_json,
    plan_restore,
    select_stanza,
    split_output,
    summarize,
)
from pgha_test_helpers import load_json, load_text, undocumented_keys, warning_texts

FULL = "20261201-101500F"
DIFF = "20261201-101500F_20261201-111500D"
INCR = "20261201-101500F_20261201-121500I"
FULL_STOP = 1796120165  # 2026-12-01T10:16:05Z
INCR_STOP = 1796127322  # 2026-12-01T12:15:22Z
POSTGRES_UID = 105


def stanza(name: str) -> Dict[str, Any]:
    """The demo stanza of a fixture file."""
    return copy.deepcopy(load_json("pgbackrest/%s" % name)[0])


def healthy(now: float = INCR_STOP + 3600) -> Dict[str, Any]:
    return summarize(stanza("info_healthy.json"), now)


# --------------------------------------------------------------------------------------------
# module_utils: parsing and summary
# --------------------------------------------------------------------------------------------


def test_backups_oldest_first_with_every_field() -> None:
    summary = healthy()
    assert [b["label"] for b in summary["backups"]] == [FULL, DIFF, INCR]
    assert [b["type"] for b in summary["backups"]] == ["full", "diff", "incr"]
    assert summary["backups"][0] == {
        "label": FULL, "type": "full", "start": "2026-12-01T10:15:00Z", "stop": "2026-12-01T10:16:05Z",
        "start_epoch": 1796120100, "stop_epoch": FULL_STOP, "duration_s": 65, "size": 30851072, "delta": 30851072,
        "repo_size": 4026531, "repo_delta": 4026531, "wal_start": "000000010000000000000004",
        "wal_stop": "000000010000000000000004", "lsn_start": "0/4000028", "lsn_stop": "0/4000138", "prior": None,
        "error": False,
    }
    assert summary["backups"][2]["prior"] == DIFF and summary["backups"][1]["prior"] == FULL
    assert summary["backup_count"] == 3


def test_order_does_not_depend_on_the_output_order() -> None:
    raw = stanza("info_healthy.json")["backup"]
    assert [b["label"] for b in parse_backups(list(reversed(raw)))] == [FULL, DIFF, INCR]


def test_last_oldest_last_full_and_recovery_window() -> None:
    summary = healthy()
    assert summary["last_backup"]["label"] == INCR
    assert summary["last_full"]["label"] == FULL
    assert summary["oldest_backup"]["label"] == FULL
    assert summary["recovery_window"] == {"from": "2026-12-01T10:16:05Z", "from_epoch": FULL_STOP}


def test_stanza_facts() -> None:
    summary = healthy()
    assert (summary["stanza"], summary["status_code"], summary["status_message"]) == ("demo", 0, "ok")
    assert summary["exists"] is True and summary["backup_in_progress"] is False
    assert summary["archive"] == {"id": "15-1", "min": "000000010000000000000003", "max": "00000001000000000000000A"}
    assert (summary["cipher"], summary["pg_version"], summary["system_id"]) == ("none", "15", 7443524162932154418)
    assert summary["raw"]["name"] == "demo" and len(summary["raw"]["backup"]) == 3


def test_age_uses_the_given_now() -> None:
    assert healthy(now=INCR_STOP + 3600)["age_s"] == 3600
    assert healthy(now=INCR_STOP + 0.4)["age_s"] == 0
    assert healthy(now=INCR_STOP - 30)["age_s"] == 0  # a clock behind the backup's stop time: not negative


def test_archive_of_the_current_database_after_an_upgrade() -> None:
    raw = stanza("info_healthy.json")
    raw["db"] = [{"id": 1, "repo-key": 1, "system-id": 7443524162932154418, "version": "15"},
                 {"id": 2, "repo-key": 1, "system-id": 7500000000000000001, "version": "16"}]
    raw["archive"] = [dict(raw["archive"][0]),
                      {"database": {"id": 2, "repo-key": 1}, "id": "16-2", "min": None, "max": None}]
    summary = summarize(raw, INCR_STOP)
    assert (summary["pg_version"], summary["system_id"]) == ("16", 7500000000000000001)
    assert summary["archive"] == {"id": "16-2", "min": None, "max": None}


def test_no_backups() -> None:
    summary = summarize(stanza("info_no_backups.json"), INCR_STOP)
    assert (summary["status_code"], summary["status_message"], summary["exists"]) == (2, "no valid backups", True)
    assert summary["backups"] == [] and summary["backup_count"] == 0
    assert summary["last_backup"] is None and summary["last_full"] is None and summary["oldest_backup"] is None
    assert summary["recovery_window"] is None and summary["age_s"] is None
    assert summary["archive"]["max"] == "000000010000000000000003" and summary["pg_version"] == "15"
    assert "0 backup(s); status 2" in summary["table"]


def test_missing_stanza() -> None:
    summary = summarize(stanza("info_missing_stanza.json"), INCR_STOP)
    assert (summary["status_code"], summary["status_message"], summary["exists"]) == (1, "missing stanza path", False)
    assert summary["archive"] is None and summary["pg_version"] is None and summary["system_id"] is None
    assert summary["backup_count"] == 0 and summary["last_backup"] is None


def test_status_other_names_the_repository_errors() -> None:
    raw = stanza("info_missing_stanza.json")
    raw["status"].update(code=99, message="other")
    raw["repo"][0]["status"] = {"code": 99, "message": "[CryptoError] unable to load info file"}
    summary = summarize(raw, INCR_STOP)
    assert summary["status_message"] == "other (repo1: [CryptoError] unable to load info file)"
    assert summary["exists"] is True


def test_backup_in_progress_and_older_versions_without_lsn_or_error() -> None:
    raw = stanza("info_healthy.json")
    raw["status"]["lock"]["backup"]["held"] = True
    for b in raw["backup"]:
        del b["lsn"], b["error"]
    summary = summarize(raw, INCR_STOP)
    assert summary["backup_in_progress"] is True and "backup/expire running" in summary["table"]
    assert summary["last_backup"]["lsn_start"] is None and summary["last_backup"]["error"] is False


def test_table() -> None:
    table = healthy()["table"]
    lines = table.splitlines()
    assert lines[0].startswith("+ Stanza: demo (ok) ---")
    assert "| Backup" in lines[1] and "Repo size |" in lines[1]
    assert lines[3].startswith("| %s " % FULL) and "| full | 2026-12-01 10:16:05 | 1 min 05 s |" in lines[3]
    assert "29.4 MB" in lines[3] and "3.8 MB" in lines[3]
    assert " 3 backup(s); status 0, PostgreSQL 15, cipher none" in lines
    assert " Last backup: %s (incr), finished 2026-12-01 12:15:22 UTC, 1 h 00 min ago" % INCR in lines
    assert " Last full backup: %s" % FULL in lines
    assert " Point-in-time recovery possible from 2026-12-01 10:16:05 UTC (end of the oldest backup)" in lines
    assert " WAL archive (15-1): 000000010000000000000003 .. 00000001000000000000000A" in lines
    assert all(len(line) <= 120 for line in lines)


def test_table_flags_a_backup_with_errors() -> None:
    raw = stanza("info_healthy.json")
    raw["backup"][1]["error"] = True
    table = summarize(raw, INCR_STOP)["table"]
    assert (" Backup %s: pgBackRest found errors (e.g. page checksums); pgbackrest info --set shows them" % DIFF
            in table.splitlines())


def test_formatting_helpers() -> None:
    assert iso_utc(FULL_STOP) == "2026-12-01T10:16:05Z" and iso_utc(None) is None
    assert [format_duration(s) for s in (None, 0, 45, 65, 3600, 3 * 3600 + 125, 2 * 86400 + 4 * 3600)] == [
        "", "0 s", "45 s", "1 min 05 s", "1 h 00 min", "3 h 02 min", "2 d 04 h"]
    assert [format_size(v) for v in (None, 512, 4026531, 30851072, 3 * 1024 ** 3)] == [
        "", "512 B", "3.8 MB", "29.4 MB", "3.0 GB"]


# --------------------------------------------------------------------------------------------
# module_utils: expectations
# --------------------------------------------------------------------------------------------


def test_expectations_hold_on_a_fresh_backup() -> None:
    assert check_expectations(healthy(), expect_backups=True, max_age_s=7200) == []
    assert check_expectations(healthy()) == []


def test_expect_backups_without_backups() -> None:
    problems = check_expectations(summarize(stanza("info_no_backups.json"), INCR_STOP), expect_backups=True)
    assert problems == ["stanza 'demo' has no valid backup (pgBackRest status 2: no valid backups): take one with "
                        "ansible-playbook playbooks/backup.yml"]
    assert check_expectations(summarize(stanza("info_no_backups.json"), INCR_STOP)) == []


def test_expect_backups_without_stanza() -> None:
    problems = check_expectations(summarize(stanza("info_missing_stanza.json"), INCR_STOP), expect_backups=True)
    assert len(problems) == 1
    assert "stanza 'demo' does not exist in the pgBackRest repository (pgBackRest status 1: missing stanza path)" in \
        problems[0]
    assert "stanza-create" in problems[0] and "playbooks/backup.yml" in problems[0]


def test_max_age() -> None:
    problems = check_expectations(healthy(now=INCR_STOP + 7200), max_age_s=3600)
    assert problems == ["the newest backup of stanza 'demo' (%s, incr) finished at 2026-12-01T12:15:22Z, 2 h 00 min "
                        "ago, more than max_age_s=3600 (1 h 00 min): take a new one with ansible-playbook "
                        "playbooks/backup.yml, and find out why no backup ran since" % INCR]
    assert check_expectations(healthy(now=INCR_STOP + 3600), max_age_s=3600) == []
    # no backup at all is older than any max_age_s; said once when both options are set
    no_backups = summarize(stanza("info_no_backups.json"), INCR_STOP)
    assert len(check_expectations(no_backups, max_age_s=3600)) == 1
    assert len(check_expectations(no_backups, expect_backups=True, max_age_s=3600)) == 1


# --------------------------------------------------------------------------------------------
# module_utils: the command and its output
# --------------------------------------------------------------------------------------------


def test_info_command() -> None:
    assert info_command("/usr/bin/pgbackrest", "demo") == ["/usr/bin/pgbackrest", "--output=json", "--stanza=demo",
                                                           "info"]
    assert info_command("pgbackrest", "demo", "/etc/pgbackrest/pgbackrest.conf", "postgres", "/usr/sbin/runuser") == [
        "/usr/sbin/runuser", "-u", "postgres", "--", "pgbackrest", "--output=json", "--stanza=demo",
        "--config=/etc/pgbackrest/pgbackrest.conf", "info"]


def test_parse_info_json_errors() -> None:
    with pytest.raises(InfoError, match="printed nothing"):
        parse_info_json(" \n")
    with pytest.raises(InfoError, match=r"did not print valid JSON .*\n.*stanza: demo"):
        parse_info_json("stanza: demo\n    status: ok\n")
    with pytest.raises(InfoError, match="printed a JSON dict, expected a list of stanzas"):
        parse_info_json('{"name": "demo"}')
    assert parse_info_json(load_text("pgbackrest/info_healthy.json"))[0]["name"] == "demo"


def test_select_stanza_errors() -> None:
    with pytest.raises(InfoError, match=r"listed no stanza at all \(empty list\).*\[demo\] section"):
        select_stanza([], "demo")
    with pytest.raises(InfoError, match="stanza 'demo' is not in the pgbackrest info output \\(it lists: main\\)"):
        select_stanza([dict(stanza("info_healthy.json"), name="main")], "demo")


def test_split_output_keeps_log_lines_apart() -> None:
    compact = json.dumps(load_json("pgbackrest/info_healthy.json"))
    text, log_lines = split_output("WARN: option 'repo1-retention-full' is not set\n" + compact + "\n")
    assert log_lines == ["WARN: option 'repo1-retention-full' is not set"] and json.loads(text)[0]["name"] == "demo"
    assert split_output(compact) == (compact, [])


def test_command_error_tail_and_hint() -> None:
    argv = ["pgbackrest", "--output=json", "--stanza=demo", "info"]
    stderr = "\n".join("line %d" % i for i in range(30)) + (
        "\nERROR: [041]: unable to open file '/var/lib/pgbackrest/backup/demo/backup.info' for read: "
        "[13] Permission denied")
    msg = command_error(argv, 41, "", stderr)
    assert msg.startswith("pgbackrest --output=json --stanza=demo info failed with exit code 41:\nline 16\n")
    assert "line 15" not in msg and "[13] Permission denied" in msg and "Hint: run it as the owner" in msg
    assert command_error(argv, 1, "", "").endswith("exit code 1:\n(it printed nothing)")
    assert "ERROR: [055]" in command_error(argv, 55, "ERROR: [055]: stdout only", "")


# --------------------------------------------------------------------------------------------
# The module's main flow, with a fake run_command
# --------------------------------------------------------------------------------------------


class FakeCommands:
    """Stands in for AnsibleModule.run_command and get_bin_path: one canned answer, every call recorded."""

    def __init__(self) -> None:
        self.answer: Tuple[int, str, str] = (0, load_text("pgbackrest/info_healthy.json"), "")
        self.bins: Dict[str, Optional[str]] = {"pgbackrest": "/usr/bin/pgbackrest", "runuser": "/usr/sbin/runuser"}
        self.calls: List[Dict[str, Any]] = []

    def answer_fixture(self, name: str) -> None:
        self.answer = (0, load_text("pgbackrest/%s" % name), "")

    def run_command(self, module: Any, args: List[str], **kwargs: Any) -> Tuple[int, str, str]:
        self.calls.append({"args": list(args), "kwargs": kwargs})
        return self.answer

    def get_bin_path(self, module: Any, arg: str, required: bool = False, opt_dirs: Any = None) -> Optional[str]:
        return self.bins.get(arg, arg if arg.startswith("/") else None)


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch) -> FakeCommands:
    """A fake pgbackrest; the module runs as root and postgres has uid 105; the clock is one hour after the incr."""
    fake = FakeCommands()
    monkeypatch.setattr(basic.AnsibleModule, "run_command",
                        lambda self, args, **kw: fake.run_command(self, args, **kw))
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                        lambda self, arg, required=False, opt_dirs=None: fake.get_bin_path(self, arg))
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(pwd, "getpwnam", lambda name: _passwd(name))
    monkeypatch.setattr(mod, "current_time", lambda: INCR_STOP + 3600)
    return fake


def _passwd(name: str) -> Any:
    if name not in ("postgres", "pgbackrest"):
        raise KeyError("getpwnam(): name not found: '%s'" % name)
    return types.SimpleNamespace(pw_name=name, pw_uid=POSTGRES_UID if name == "postgres" else 106)


RUNUSER = ["/usr/sbin/runuser", "-u", "postgres", "--"]
INFO = ["/usr/bin/pgbackrest", "--output=json", "--stanza=demo", "info"]


def test_module_healthy_as_root(commands, run_module):
    result = run_module(mod, {"stanza": "demo"})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False and result["problems"] == []
    assert commands.calls == [{"args": RUNUSER + INFO, "kwargs": {"cwd": "/"}}]
    assert result["cmd"] == RUNUSER + INFO
    assert (result["stanza"], result["status_code"], result["exists"], result["backup_count"]) == ("demo", 0, True, 3)
    assert result["last_backup"]["label"] == INCR and result["oldest_backup"]["label"] == FULL
    assert result["last_full"]["label"] == FULL and result["age_s"] == 3600
    assert result["recovery_window"] == {"from": "2026-12-01T10:16:05Z", "from_epoch": FULL_STOP}
    assert result["archive"]["max"] == "00000001000000000000000A" and result["system_id"] == 7443524162932154418
    assert result["raw"] == load_json("pgbackrest/info_healthy.json")[0]
    assert "+ Stanza: demo (ok)" in result["table"]
    assert undocumented_keys(mod, result) == []


def test_module_returns_the_documented_keys(commands, run_module):
    import yaml

    result = run_module(mod, {"stanza": "demo"})
    assert set(yaml.safe_load(mod.RETURN)) - {"restore"} <= set(result)  # restore: only with target
    backup_doc = yaml.safe_load(mod.RETURN)["backups"]["contains"]
    assert set(result["backups"][0]) == set(backup_doc)


def test_module_runs_directly_as_the_user_or_with_empty_user(commands, monkeypatch, run_module):
    monkeypatch.setattr(os, "geteuid", lambda: POSTGRES_UID)  # become_user: postgres
    assert run_module(mod, {"stanza": "demo"})["cmd"] == INFO
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    result = run_module(mod, {"stanza": "demo", "user": "", "binary": "/opt/pgbackrest/bin/pgbackrest",
                              "config": "/etc/pgbackrest/demo.conf"})
    assert result["cmd"] == ["/opt/pgbackrest/bin/pgbackrest", "--output=json", "--stanza=demo",
                             "--config=/etc/pgbackrest/demo.conf", "info"]


def test_module_not_root_warns_and_runs_as_itself(commands, monkeypatch, run_module):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    result = run_module(mod, {"stanza": "demo"})
    assert not result.get("failed") and result["cmd"] == INFO
    assert any("neither root nor user 'postgres'" in w for w in warning_texts(result))


def test_module_unknown_user(commands, run_module):
    result = run_module(mod, {"stanza": "demo", "user": "barman"})
    assert result["failed"] and commands.calls == []
    assert result["msg"].startswith("user 'barman' does not exist on this host")


def test_module_check_mode_reads_too(commands, run_module):
    result = run_module(mod, {"stanza": "demo"}, check_mode=True)
    assert not result.get("failed") and result["changed"] is False and result["backup_count"] == 3


def test_module_expect_backups_fails_without_backups(commands, run_module):
    commands.answer_fixture("info_no_backups.json")
    result = run_module(mod, {"stanza": "demo", "expect_backups": True})
    assert result["failed"] and result["changed"] is False
    assert result["msg"].startswith("stanza 'demo' has no valid backup (pgBackRest status 2: no valid backups): "
                                    "take one with ansible-playbook playbooks/backup.yml\nBackups of stanza 'demo':\n")
    assert result["backup_count"] == 0 and result["problems"] == [result["msg"].splitlines()[0]]
    # without expect_backups the same state is reported, not an error
    result = run_module(mod, {"stanza": "demo"})
    assert not result.get("failed") and result["backup_count"] == 0 and result["last_backup"] is None


def test_module_missing_stanza(commands, run_module):
    commands.answer_fixture("info_missing_stanza.json")
    result = run_module(mod, {"stanza": "demo"})
    assert not result.get("failed") and result["exists"] is False and result["status_code"] == 1
    result = run_module(mod, {"stanza": "demo", "expect_backups": True})
    assert result["failed"] and "does not exist in the pgBackRest repository" in result["msg"]


def test_module_max_age_fails_on_an_old_backup(commands, monkeypatch, run_module):
    monkeypatch.setattr(mod, "current_time", lambda: INCR_STOP + 2 * 86400)
    result = run_module(mod, {"stanza": "demo", "max_age_s": 86400})
    assert result["failed"] and result["age_s"] == 2 * 86400
    assert "finished at 2026-12-01T12:15:22Z, 2 d 00 h ago, more than max_age_s=86400 (1 d 00 h)" in result["msg"]
    assert INCR in result["msg"] and "+ Stanza: demo (ok)" in result["msg"]
    assert not run_module(mod, {"stanza": "demo", "max_age_s": 3 * 86400}).get("failed")


def test_module_command_fails(commands, run_module):
    commands.answer = (41, "", "ERROR: [041]: unable to open file '/var/lib/pgbackrest/backup/demo/backup.info' "
                               "for read: [13] Permission denied\n")
    result = run_module(mod, {"stanza": "demo"})
    assert result["failed"] and result["rc"] == 41 and result["cmd"] == RUNUSER + INFO
    assert result["msg"].startswith(" ".join(RUNUSER + INFO) + " failed with exit code 41:\nERROR: [041]: ")
    assert "Hint: run it as the owner" in result["msg"]


def test_module_bad_json(commands, run_module):
    commands.answer = (0, "stanza: demo\n    status: ok\n", "")
    result = run_module(mod, {"stanza": "demo"})
    assert result["failed"] and result["msg"].startswith("pgbackrest info did not print valid JSON")
    assert result["msg"].endswith("(command: %s)" % " ".join(RUNUSER + INFO))


def test_module_stanza_not_in_output(commands, run_module):
    other = [dict(stanza("info_healthy.json"), name="main")]
    commands.answer = (0, json.dumps(other), "")
    result = run_module(mod, {"stanza": "demo"})
    assert result["failed"] and "stanza 'demo' is not in the pgbackrest info output (it lists: main)" in result["msg"]


def test_module_empty_list(commands, run_module):
    commands.answer = (0, "[]", "")
    result = run_module(mod, {"stanza": "demo"})
    assert result["failed"] and "listed no stanza at all" in result["msg"]


def test_module_log_lines_become_warnings(commands, run_module):
    commands.answer = (0, "WARN: repo1: no retention set\n" + json.dumps(load_json("pgbackrest/info_healthy.json")),
                       "")
    result = run_module(mod, {"stanza": "demo"})
    assert not result.get("failed") and result["backup_count"] == 3
    assert "pgbackrest: WARN: repo1: no retention set" in warning_texts(result)


def test_module_missing_binary(commands, run_module):
    commands.bins["pgbackrest"] = None
    result = run_module(mod, {"stanza": "demo"})
    assert result["failed"] and commands.calls == []
    assert result["msg"] == ("pgBackRest command 'pgbackrest' not found on this host (PATH and the sbin directories): "
                             "install pgBackRest with the pgbackrest role, or set binary to its full path")


def test_module_missing_runuser(commands, run_module):
    commands.bins["runuser"] = None
    result = run_module(mod, {"stanza": "demo"})
    assert result["failed"] and result["msg"].startswith("runuser (util-linux) not found")


def test_module_empty_stanza(commands, run_module):
    result = run_module(mod, {"stanza": ""})
    assert result["failed"] and result["msg"].startswith("stanza is empty")


# --------------------------------------------------------------------------------------------
# Restore targets (plan_restore, the module's target option)
# --------------------------------------------------------------------------------------------

NOW = INCR_STOP + 3600


def plan(target: str) -> Dict[str, Any]:
    return plan_restore(target, healthy(NOW), NOW)


def test_plan_latest_uses_the_newest_backup() -> None:
    for target in ("latest", "", "  latest "):
        p = plan(target)
        assert p["kind"] == "latest" and p["backup"]["label"] == INCR
        assert p["restore_args"] == ["--set=%s" % INCR, "--type=default"] and p["recovery_conf"] == {}


def test_plan_time_picks_the_newest_backup_before_it_and_says_it_in_utc() -> None:
    p = plan("2026-12-01 13:45:00+01:30")  # 12:15:00 UTC: after the diff (11:15:31), before the incr (12:15:22)
    assert p["kind"] == "time" and p["target"] == "2026-12-01 12:15:00.000000+00"
    assert p["backup"]["label"] == DIFF
    assert p["restore_args"] == ["--set=%s" % DIFF, "--type=time", "--target=2026-12-01 12:15:00.000000+00",
                                 "--target-action=promote"]
    assert p["recovery_conf"] == {"recovery_target_time": "2026-12-01 12:15:00.000000+00",
                                  "recovery_target_action": "promote"}


def test_plan_time_refuses_the_future_the_too_old_and_a_missing_zone() -> None:
    with pytest.raises(TargetError, match="in the future"):
        plan("2026-12-01 14:00:00+00")
    with pytest.raises(TargetError, match="before the end of the oldest backup.*2026-12-01T10:16:05Z"):
        plan("2026-12-01T10:16:00Z")
    with pytest.raises(TargetError, match="no time zone"):
        plan("2026-12-01 12:00:00")


def test_plan_lsn_label_and_name() -> None:
    p = plan("0/7000000")
    assert p["kind"] == "lsn" and p["backup"]["label"] == DIFF and "--target=0/7000000" in p["restore_args"]
    assert p["recovery_conf"]["recovery_target_lsn"] == "0/7000000"
    with pytest.raises(TargetError, match="before the end of the oldest backup"):
        plan("0/4000000")
    p = plan(FULL)
    assert p["kind"] == "label" and p["restore_args"][:2] == ["--set=%s" % FULL, "--type=immediate"]
    assert p["recovery_conf"]["recovery_target"] == "immediate"
    with pytest.raises(TargetError, match="does not have"):
        plan("20261130-101500F")
    p = plan("name:before-upgrade")
    assert p["kind"] == "name" and p["backup"]["label"] == FULL  # the point may lie anywhere after the oldest
    assert p["recovery_conf"]["recovery_target_name"] == "before-upgrade"
    with pytest.raises(TargetError, match="without a restore point name"):
        plan("name:")


def test_plan_malformed_and_no_backup() -> None:
    for bad in ("yesterday", "2026-13-45 12:00:00+00", "0/XYZ", "12:00"):
        with pytest.raises(TargetError, match="is not one of: latest"):
            plan(bad)
    with pytest.raises(TargetError, match="no usable backup"):
        plan_restore("latest", summarize(stanza("info_no_backups.json"), NOW), NOW)


def test_module_target_failure_names_the_variable(commands, run_module):
    result = run_module(mod, {"stanza": "demo", "target": "tomorrow", "target_variable": "restore_target"})
    assert result["failed"] and result["msg"].startswith("restore_target 'tomorrow' is not one of")


def test_module_target_plan(commands, run_module):
    result = run_module(mod, {"stanza": "demo", "target": "latest"})
    assert not result.get("failed"), result.get("msg")
    assert result["restore"]["backup"]["label"] == INCR
    assert undocumented_keys(mod, result) == []
