# -*- coding: utf-8 -*-
# Pure logic for pgbackrest_info: build the `pgbackrest info` command line, parse its JSON output (pgBackRest 2.x,
# `--output=json`), summarize one stanza (backups oldest first, last/oldest/last full, recovery window, age), check
# the expectations and render a table. No process is started here, so everything is unit-testable with plain data.
"""pgBackRest ``info --output=json`` parsing, summary, expectation checks and table rendering."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible.module_utils.pgha_patroni import parse_int
from ansible.module_utils.pgha_table import text_table

# The stanza status codes of `pgbackrest info` (src/command/info/info.c), with pgBackRest's own messages.
STATUS_MESSAGES = {
    0: "ok",
    1: "missing stanza path",
    2: "no valid backups",
    3: "missing stanza data",
    4: "different across repos",
    5: "database mismatch across repos",
    6: "requested backup not found",
    99: "other",
}
# The codes for which the stanza does not exist in the repository (never created, or its info files are gone).
NO_STANZA_CODES = (1, 3)
STATUS_OTHER = 99

BACKUP_PLAYBOOK = "playbooks/backup.yml"

TABLE_COLUMNS = ("Backup", "Type", "Stop (UTC)", "Duration", "Size", "Repo size")


class InfoError(Exception):
    """The output of ``pgbackrest info`` cannot be used; ``str()`` is the sentence for the operator."""


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


def info_command(binary: str, stanza: str, config: Optional[str] = None, run_as: Optional[str] = None,
                 runuser: str = "runuser") -> List[str]:
    """The argv of ``pgbackrest --output=json --stanza=STANZA [--config=FILE] info``, through runuser if run_as."""
    argv = [binary, "--output=json", "--stanza=%s" % stanza]
    if config:
        argv.append("--config=%s" % config)
    argv.append("info")
    if run_as:
        return [runuser, "-u", run_as, "--"] + argv
    return argv


def output_tail(text: str, lines: int = 15, chars: int = 2000) -> str:
    """The last ``lines`` lines of ``text`` (at most ``chars`` characters), for error messages."""
    kept = [line.rstrip() for line in text.strip().splitlines()[-lines:]]
    tail = "\n".join(kept)
    return tail if len(tail) <= chars else "..." + tail[-chars:]


def command_error(argv: Sequence[str], rc: int, stdout: str, stderr: str, config: Optional[str] = None) -> str:
    """Why ``pgbackrest info`` failed, with the end of what it printed and a hint for the usual causes."""
    output = output_tail(stderr) or output_tail(stdout) or "(it printed nothing)"
    msg = "%s failed with exit code %d:\n%s" % (" ".join(argv), rc, output)
    both = stderr + stdout
    if "Permission denied" in both:
        msg += ("\nHint: run it as the owner of the repository and of the pgBackRest log and lock directories: option "
                "user (default postgres), or become_user with user: ''.")
    elif config and config in both and ("missing" in both or "unable to open" in both):
        msg += "\nHint: is config=%s the right file on this host?" % config
    return msg


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


def split_output(stdout: str) -> Tuple[str, List[str]]:
    """The JSON part of the output and the log lines printed before it (``WARN: ...`` goes to stdout by default)."""
    lines = stdout.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("[", "{")):
            return "\n".join(lines[i:]), [x.strip() for x in lines[:i] if x.strip()]
    return stdout, []


def parse_info_json(text: str) -> List[Any]:
    """The list of stanzas ``pgbackrest --output=json info`` printed; InfoError if it is not one."""
    if not text.strip():
        raise InfoError("pgbackrest info printed nothing on stdout, expected its JSON output")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InfoError("pgbackrest info did not print valid JSON (%s). It printed:\n%s"
                        % (exc, output_tail(text, lines=10, chars=1000))) from None
    if not isinstance(data, list):
        raise InfoError("pgbackrest info printed a JSON %s, expected a list of stanzas" % type(data).__name__)
    return data


def select_stanza(data: Sequence[Any], stanza: str) -> Dict[str, Any]:
    """The entry of stanza ``stanza`` in the parsed output; InfoError if there is none."""
    if not data:
        raise InfoError("pgbackrest info listed no stanza at all (empty list): is the stanza '%s' configured in "
                        "pgbackrest.conf ([%s] section) on this host?" % (stanza, stanza))
    names = []
    for entry in data:
        if isinstance(entry, dict):
            if entry.get("name") == stanza:
                return entry
            names.append(str(entry.get("name")))
    raise InfoError("stanza '%s' is not in the pgbackrest info output (it lists: %s): check the option stanza and "
                    "the [stanza] sections of pgbackrest.conf" % (stanza, ", ".join(names) or "no named stanza"))


def _dict(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> List[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> Optional[int]:
    """An integer field (pgBackRest prints numbers; digit strings are accepted), None when absent or garbage."""
    return parse_int(value)


def _str(value: Any) -> Optional[str]:
    return None if value is None or value == "" else str(value)


def iso_utc(epoch: Optional[int]) -> Optional[str]:
    """A Unix time as an ISO 8601 UTC string (``2026-12-01T10:15:00Z``), None for None."""
    if epoch is None:
        return None
    stamp = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_backup(raw: Mapping[str, Any]) -> Dict[str, Any]:
    """One entry of a stanza's ``backup`` list as the module returns it."""
    stamp, info = _dict(raw.get("timestamp")), _dict(raw.get("info"))
    repo, lsn, wal = _dict(info.get("repository")), _dict(raw.get("lsn")), _dict(raw.get("archive"))
    start, stop = _int(stamp.get("start")), _int(stamp.get("stop"))
    return {
        "label": str(raw.get("label") or ""),
        "type": str(raw.get("type") or "unknown"),
        "start": iso_utc(start),
        "stop": iso_utc(stop),
        "start_epoch": start,
        "stop_epoch": stop,
        "duration_s": stop - start if start is not None and stop is not None else None,
        "size": _int(info.get("size")),
        "delta": _int(info.get("delta")),
        "repo_size": _int(repo.get("size")),
        "repo_delta": _int(repo.get("delta")),
        "wal_start": _str(wal.get("start")),
        "wal_stop": _str(wal.get("stop")),
        "lsn_start": _str(lsn.get("start")),
        "lsn_stop": _str(lsn.get("stop")),
        "prior": _str(raw.get("prior")),
        "error": bool(raw.get("error", False)),
    }


def parse_backups(raw_list: Any) -> List[Dict[str, Any]]:
    """A stanza's backups, oldest first (by stop time, as pgBackRest lists them; the label breaks ties)."""
    backups = [parse_backup(b) for b in _list(raw_list) if isinstance(b, dict)]
    backups.sort(key=lambda b: (b["stop_epoch"] or 0, b["start_epoch"] or 0, b["label"]))
    return backups


def current_db(stanza: Mapping[str, Any]) -> Dict[str, Any]:
    """The current PostgreSQL cluster of the stanza: the last ``db`` entry (pgBackRest lists them oldest first)."""
    dbs = [d for d in _list(stanza.get("db")) if isinstance(d, dict)]
    return dbs[-1] if dbs else {}


def current_archive(stanza: Mapping[str, Any], db: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """WAL archive range of the current database: the last ``archive`` entry for ``db`` (else the last entry)."""
    entries = [a for a in _list(stanza.get("archive")) if isinstance(a, dict)]
    if db.get("id") is not None:
        entries = [a for a in entries if _dict(a.get("database")).get("id") == db["id"]] or entries
    if not entries:
        return None
    last = entries[-1]
    return {"id": _str(last.get("id")), "min": _str(last.get("min")), "max": _str(last.get("max"))}


def status_message(stanza: Mapping[str, Any]) -> str:
    """The stanza's status message; for status 99 ("other") with the errors the repositories reported."""
    status = _dict(stanza.get("status"))
    code = _int(status.get("code"))
    message = str(status.get("message") or STATUS_MESSAGES.get(code if code is not None else -1, "unknown"))
    if code == STATUS_OTHER:
        errors = ["repo%s: %s" % (r.get("key"), _dict(r.get("status")).get("message"))
                  for r in _list(stanza.get("repo"))
                  if isinstance(r, dict) and _int(_dict(r.get("status")).get("code")) not in (None, 0)]
        if errors:
            message = "%s (%s)" % (message, "; ".join(errors))
    return message


def _newest(backups: Sequence[Mapping[str, Any]], kind: Optional[str] = None) -> Optional[Dict[str, Any]]:
    chosen = [dict(b) for b in backups if kind is None or b["type"] == kind]
    return chosen[-1] if chosen else None


def recovery_window(backups: Sequence[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    """The earliest time a point-in-time recovery can reach: the end of the oldest backup (None without backups)."""
    if not backups or backups[0]["stop_epoch"] is None:
        return None
    return {"from": backups[0]["stop"], "from_epoch": backups[0]["stop_epoch"]}


def summarize(stanza: Mapping[str, Any], now: float) -> Dict[str, Any]:
    """Everything the module returns about one stanza, ``now`` (Unix time) giving the age of the last backup."""
    status = _dict(stanza.get("status"))
    code = _int(status.get("code"))
    backups = parse_backups(stanza.get("backup"))
    db = current_db(stanza)
    last = _newest(backups)
    age = None
    if last is not None and last["stop_epoch"] is not None:
        age = max(0, int(round(now - last["stop_epoch"])))
    summary = {
        "stanza": str(stanza.get("name") or ""),
        "status_code": code,
        "status_message": status_message(stanza),
        "exists": code not in NO_STANZA_CODES,
        "backup_in_progress": bool(_dict(_dict(status.get("lock")).get("backup")).get("held", False)),
        "backups": backups,
        "backup_count": len(backups),
        "last_backup": last,
        "last_full": _newest(backups, "full"),
        "oldest_backup": dict(backups[0]) if backups else None,
        "recovery_window": recovery_window(backups),
        "archive": current_archive(stanza, db),
        "cipher": _str(stanza.get("cipher")),
        "pg_version": _str(db.get("version")),
        "system_id": _int(db.get("system-id")),
        "age_s": age,
    }
    summary["table"] = render_table(summary)
    summary["raw"] = dict(stanza)
    return summary


# --------------------------------------------------------------------------------------------
# Expectations
# --------------------------------------------------------------------------------------------


def format_duration(seconds: Optional[float]) -> str:
    """A duration for people: ``45 s``, ``12 min 05 s``, ``3 h 02 min``, ``2 d 04 h``."""
    if seconds is None:
        return ""
    total = int(round(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return "%d d %02d h" % (days, hours)
    if hours:
        return "%d h %02d min" % (hours, minutes)
    if minutes:
        return "%d min %02d s" % (minutes, secs)
    return "%d s" % secs


def _status_text(summary: Mapping[str, Any]) -> str:
    return "pgBackRest status %s: %s" % (summary["status_code"], summary["status_message"])


def check_expectations(summary: Mapping[str, Any], expect_backups: bool = False,
                       max_age_s: Optional[int] = None) -> List[str]:
    """One sentence per unmet expectation (an empty list when all hold)."""
    stanza = summary["stanza"]
    last = summary["last_backup"]
    if last is None:
        if not expect_backups and max_age_s is None:
            return []
        if not summary["exists"]:
            return ["stanza '%s' does not exist in the pgBackRest repository (%s): create it (pgbackrest "
                    "stanza-create, done by the pgbackrest role) and take a backup with ansible-playbook %s"
                    % (stanza, _status_text(summary), BACKUP_PLAYBOOK)]
        return ["stanza '%s' has no valid backup (%s): take one with ansible-playbook %s"
                % (stanza, _status_text(summary), BACKUP_PLAYBOOK)]
    if max_age_s is not None and summary["age_s"] is not None and summary["age_s"] > max_age_s:
        return ["the newest backup of stanza '%s' (%s, %s) finished at %s, %s ago, more than max_age_s=%d (%s): "
                "take a new one with ansible-playbook %s, and find out why no backup ran since"
                % (stanza, last["label"], last["type"], last["stop"], format_duration(summary["age_s"]), max_age_s,
                   format_duration(max_age_s), BACKUP_PLAYBOOK)]
    return []


# --------------------------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------------------------


def format_size(value: Optional[int]) -> str:
    """Bytes for people (1024-based): ``512 B``, ``22.4 MB``."""
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return "%d %s" % (size, unit) if unit == "B" else "%.1f %s" % (size, unit)
        size = size / 1024.0
    return str(value)


def _time_cell(iso: Optional[str]) -> str:
    return (iso or "").replace("T", " ").rstrip("Z")


def render_table(summary: Mapping[str, Any]) -> str:
    """The backups (oldest first) in a table titled with the stanza, and summary lines under it."""
    rows = [(b["label"], b["type"], _time_cell(b["stop"]), format_duration(b["duration_s"]), format_size(b["size"]),
             format_size(b["repo_size"])) for b in summary["backups"]]
    lines = text_table(TABLE_COLUMNS, rows, right={3, 4, 5})
    title = "+ Stanza: %s (%s) " % (summary["stanza"] or "?", summary["status_message"])
    rule = lines[0]
    lines[0] = title + rule[len(title):] if len(title) < len(rule) else title + "--+"
    lines.extend(" Backup %s: pgBackRest found errors (e.g. page checksums); pgbackrest info --set shows them"
                 % b["label"] for b in summary["backups"] if b["error"])
    facts = ["status %s" % summary["status_code"]]
    if summary["pg_version"]:
        facts.append("PostgreSQL %s" % summary["pg_version"])
    if summary["cipher"]:
        facts.append("cipher %s" % summary["cipher"])
    if summary["backup_in_progress"]:
        facts.append("backup/expire running")
    lines.append(" %d backup(s); %s" % (summary["backup_count"], ", ".join(facts)))
    last = summary["last_backup"]
    if last is not None:
        full = summary["last_full"]
        lines.append(" Last backup: %s (%s), finished %s UTC, %s ago"
                     % (last["label"], last["type"], _time_cell(last["stop"]), format_duration(summary["age_s"])))
        lines.append(" Last full backup: %s" % (full["label"] if full else "none"))
    if summary["recovery_window"]:
        lines.append(" Point-in-time recovery possible from %s UTC (end of the oldest backup)"
                     % _time_cell(summary["recovery_window"]["from"]))
    archive = summary["archive"]
    if archive and (archive["min"] or archive["max"]):
        lines.append(" WAL archive (%s): %s .. %s"
                     % (archive["id"] or "?", archive["min"] or "?", archive["max"] or "?"))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Restore targets (playbooks/restore.yml)
# --------------------------------------------------------------------------------------------

LSN_RE = re.compile(r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$")
LABEL_RE = re.compile(r"^[0-9]{8}-[0-9]{6}F(_[0-9]{8}-[0-9]{6}[DI])?$")
TARGET_FORMS = ("latest, a time with its time zone (2026-12-01 12:00:00+00), an LSN (0/3000060), "
                "name:<restore point> or a backup label (20261201-120000F)")


class TargetError(ValueError):
    """A restore target that is malformed or that the repository cannot reach."""


def lsn_value(lsn: str) -> int:
    """A PostgreSQL LSN (``16/B374D848``) as a number."""
    high, low = lsn.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def parse_target_time(text: str) -> Optional[datetime.datetime]:
    """An ISO 8601 time with a time zone, as an aware datetime; None when it is not one. A time without a
    time zone is refused (ValueError): the repository, the servers and the operator may not share one."""
    try:
        stamp = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if stamp.tzinfo is None:
        raise TargetError("has no time zone: add one, e.g. '%s+00' for UTC" % text.strip())
    return stamp


def _usable(summary: Mapping[str, Any]) -> List[Dict[str, Any]]:
    return [dict(b) for b in summary.get("backups") or [] if not b.get("error") and b.get("stop_epoch") is not None]


def plan_restore(target: str, summary: Mapping[str, Any], now: float) -> Dict[str, Any]:
    """How to restore the stanza to ``target``: kind, the pgbackrest restore options, Patroni's recovery_conf,
    the backup it starts from and a description. TargetError when the target is malformed, in the future, before
    the oldest backup, or names a backup the repository does not have."""
    text = (target or "").strip()
    backups = _usable(summary)
    if not backups:
        raise TargetError("cannot be reached: the repository has no usable backup of stanza '%s' (run %s first)"
                          % (summary.get("stanza"), BACKUP_PLAYBOOK))
    promote = {"recovery_target_action": "promote"}
    if text in ("", "latest"):
        chosen = backups[-1]
        return _plan("latest", "latest", chosen, ["--set=%s" % chosen["label"], "--type=default"], {},
                     "to the end of the archived WAL (latest)")
    if LABEL_RE.match(text):
        matches = [b for b in backups if b["label"] == text]
        if not matches:
            raise TargetError("names backup %s, which the repository does not have (it has %s)"
                              % (text, ", ".join(b["label"] for b in backups)))
        chosen = matches[0]
        return _plan("label", text, chosen, ["--set=%s" % text, "--type=immediate", "--target-action=promote"],
                     dict(promote, recovery_target="immediate"),
                     "to the end of backup %s (%s)" % (text, chosen["stop"]))
    if LSN_RE.match(text):
        value = lsn_value(text)
        before = [b for b in backups if b.get("lsn_stop") and lsn_value(b["lsn_stop"]) <= value]
        if not before:
            raise TargetError("is LSN %s, before the end of the oldest backup (%s at LSN %s): the repository "
                              "cannot reach it" % (text, backups[0]["label"], backups[0].get("lsn_stop")))
        chosen = before[-1]
        return _plan("lsn", text, chosen, ["--set=%s" % chosen["label"], "--type=lsn", "--target=%s" % text,
                                           "--target-action=promote"],
                     dict(promote, recovery_target_lsn=text), "to LSN %s" % text)
    if text.startswith("name:"):
        name = text[len("name:"):].strip()
        if not name:
            raise TargetError("is 'name:' without a restore point name, e.g. name:before-upgrade")
        # Where the restore point lies is not known before the WAL is replayed: start from the oldest backup.
        chosen = backups[0]
        return _plan("name", name, chosen, ["--set=%s" % chosen["label"], "--type=name", "--target=%s" % name,
                                            "--target-action=promote"],
                     dict(promote, recovery_target_name=name), "to restore point '%s'" % name)
    stamp = parse_target_time(text)
    if stamp is None:
        raise TargetError("is not one of: %s" % TARGET_FORMS)
    epoch = stamp.timestamp()
    utc = stamp.astimezone(datetime.timezone.utc)
    if epoch > now:
        raise TargetError("is %s UTC, %d s in the future: a restore can only reach the past"
                          % (utc.strftime("%Y-%m-%d %H:%M:%S"), int(epoch - now)))
    before = [b for b in backups if b["stop_epoch"] <= epoch]
    if not before:
        raise TargetError("is %s UTC, before the end of the oldest backup (%s, %s): the earliest time the "
                          "repository can reach is %s" % (utc.strftime("%Y-%m-%d %H:%M:%S"), backups[0]["label"],
                                                          backups[0]["stop"], backups[0]["stop"]))
    chosen = before[-1]
    pg_time = utc.strftime("%Y-%m-%d %H:%M:%S.%f+00")
    return _plan("time", pg_time, chosen, ["--set=%s" % chosen["label"], "--type=time", "--target=%s" % pg_time,
                                           "--target-action=promote"],
                 dict(promote, recovery_target_time=pg_time), "to %s" % pg_time)


def _plan(kind: str, target: str, backup: Mapping[str, Any], args: List[str], recovery_conf: Dict[str, Any],
          description: str) -> Dict[str, Any]:
    return {"kind": kind, "target": target, "backup": dict(backup), "restore_args": args,
            "recovery_conf": recovery_conf, "description": description}
