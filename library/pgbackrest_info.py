#!/usr/bin/python
# -*- coding: utf-8 -*-
# Read the backups of a pgBackRest stanza (pgbackrest info), optionally failing when there is none or it is too old.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pgbackrest_info
short_description: Read the backups, recovery window and WAL archive of a pgBackRest stanza
description:
  - Runs C(pgbackrest --output=json --stanza=<stanza> info) on the host (the pgBackRest repository host) and returns
    the backups oldest first, the newest backup and the newest full backup, the point-in-time recovery window, the
    WAL archive range of the current database, the age of the newest backup and a table of the backups.
  - As root it runs the command as O(user) through C(runuser), so it reads the repository as its owner.
  - A stanza that was never created or has no backup is reported (RV(exists), RV(backup_count)), not an error,
    unless O(expect_backups) or O(max_age_s) says otherwise.
  - Read-only; never reports changed. It runs in check mode too.
options:
  stanza:
    description: The pgBackRest stanza, e.g. V(demo) (the Patroni scope).
    type: str
    required: true
  binary:
    description: The pgBackRest command, a name looked up in C(PATH) (and the C(sbin) directories) or a full path.
    type: str
    default: pgbackrest
  config:
    description: The pgBackRest configuration file (C(--config)); unset, pgBackRest reads its default one.
    type: path
  user:
    description:
      - Run the command as this user when the module runs as root (through C(runuser -u <user> --)).
      - When the module already runs as this user (C(become_user)) or O(user) is empty, the command runs as the
        module's user.
      - A module that runs neither as root nor as O(user) cannot switch users; it warns and runs the command as
        itself.
    type: str
    default: postgres
  expect_backups:
    description: Fail when the stanza has no valid backup (or does not exist).
    type: bool
    default: false
  max_age_s:
    description: Fail when the newest backup finished more than this many seconds ago (or there is no backup).
    type: int
  target:
    description:
      - A restore target to check against the repository and plan (RV(restore)) for playbooks/restore.yml,
        one of V(latest), a time with its time zone (V(2026-12-01 12:00:00+00)), an LSN (V(0/3000060)),
        V(name:<restore point>) or a backup label (V(20261201-120000F)).
      - Fails, naming O(target_variable), when it is malformed, in the future, before the end of the oldest
        backup, or names a backup the repository does not have.
    type: str
  target_variable:
    description: The name the failure messages give O(target) (the playbook's variable).
    type: str
    default: target
notes:
  - Written against the JSON output of pgBackRest 2.45; fields missing in other 2.x versions are returned as null.
  - pgBackRest status codes (RV(status_code)) are 0 ok, 1 missing stanza path, 2 no valid backups, 3 missing stanza
    data, 4 different across repos, 5 database mismatch across repos, 6 requested backup not found, 99 other.
author:
  - pgha project maintainers
"""

EXAMPLES = r"""
- name: Check a point-in-time recovery target and get the restore options for it
  pgbackrest_info:
    stanza: demo
    user: pgbackrest
    target: "2026-12-01 12:00:00+00"
    target_variable: restore_target
  register: plan
- name: Read the backups of stanza demo
  pgbackrest_info:
    stanza: demo
  register: backups

- name: Print them
  ansible.builtin.debug:
    msg: "{{ backups.table.splitlines() }}"

- name: Fail unless there is a backup that finished less than a day ago
  pgbackrest_info:
    stanza: demo
    expect_backups: true
    max_age_s: 86400

- name: With another configuration file, as user pgbackrest
  pgbackrest_info:
    stanza: demo
    config: /etc/pgbackrest/pgbackrest.conf
    user: pgbackrest
"""

RETURN = r"""
stanza:
  description: The stanza name.
  returned: always
  type: str
  sample: demo
status_code:
  description: pgBackRest's status code of the stanza (0 ok, 1 missing stanza path, 2 no valid backups, ...).
  returned: always
  type: int
  sample: 0
status_message:
  description:
    - pgBackRest's status message of the stanza. For status 99 (other) the errors of the repositories follow in
      parentheses.
  returned: always
  type: str
  sample: ok
exists:
  description: The stanza exists in the repository (its status is neither 1 nor 3).
  returned: always
  type: bool
backup_in_progress:
  description: A backup or expire of the stanza holds its lock on this host now.
  returned: always
  type: bool
backups:
  description: The backups, oldest first.
  returned: always
  type: list
  elements: dict
  contains:
    label: {description: Backup label., type: str}
    type: {description: "Backup type: full, diff or incr.", type: str}
    start: {description: "Start time, ISO 8601 UTC (e.g. 2026-12-01T10:15:00Z).", type: str}
    stop: {description: "Stop time, ISO 8601 UTC.", type: str}
    start_epoch: {description: Start time (Unix seconds)., type: int}
    stop_epoch: {description: Stop time (Unix seconds)., type: int}
    duration_s: {description: Seconds the backup took., type: int}
    size: {description: Size of the database at backup time in bytes (pgBackRest's database size)., type: int}
    delta: {description: Bytes of the database copied by this backup (database backup size)., type: int}
    repo_size: {description: "Bytes in the repository of the backup set: this backup and those it depends on.",
                type: int}
    repo_delta: {description: Bytes stored in the repository by this backup alone (compressed)., type: int}
    wal_start: {description: First WAL segment the backup needs., type: str}
    wal_stop: {description: Last WAL segment the backup needs., type: str}
    lsn_start: {description: "Start LSN, null if pgBackRest does not report it.", type: str}
    lsn_stop: {description: "Stop LSN, null if pgBackRest does not report it.", type: str}
    prior: {description: "Label of the backup this diff or incr backup is based on, null for a full backup.",
            type: str}
    error: {description: pgBackRest found errors (e.g. page checksums) while taking this backup., type: bool}
  sample:
    - {label: 20261201-101500F, type: full, start: "2026-12-01T10:15:00Z", stop: "2026-12-01T10:16:05Z",
       start_epoch: 1796120100, stop_epoch: 1796120165, duration_s: 65, size: 30851072, delta: 30851072,
       repo_size: 4026531, repo_delta: 4026531, wal_start: "000000010000000000000004",
       wal_stop: "000000010000000000000004", lsn_start: 0/4000028, lsn_stop: 0/4000138, prior: null, error: false}
backup_count:
  description: Number of backups.
  returned: always
  type: int
  sample: 3
last_backup:
  description: The newest backup (an element of RV(backups)), null if there is none.
  returned: always
  type: dict
last_full:
  description: The newest full backup, null if there is none.
  returned: always
  type: dict
oldest_backup:
  description: The oldest backup, null if there is none.
  returned: always
  type: dict
recovery_window:
  description:
    - The earliest point a point-in-time recovery can reach, the stop time of the oldest backup; null without backups.
    - The recovery can go up to the last WAL archived (RV(archive.max)).
  returned: always
  type: dict
  contains:
    from: {description: ISO 8601 UTC time., type: str}
    from_epoch: {description: The same in Unix seconds., type: int}
  sample: {from: "2026-12-01T10:16:05Z", from_epoch: 1796120165}
archive:
  description: The WAL archive of the current database, null if the stanza has none.
  returned: always
  type: dict
  contains:
    id: {description: "Archive ID, PostgreSQL version and database ID (e.g. 15-1).", type: str}
    min: {description: "Oldest WAL segment archived, null if none.", type: str}
    max: {description: "Newest WAL segment archived, null if none.", type: str}
  sample: {id: "15-1", min: "000000010000000000000001", max: "00000001000000000000000C"}
cipher:
  description: Repository encryption of the stanza (none, aes-256-cbc), null if unknown.
  returned: always
  type: str
  sample: none
pg_version:
  description: PostgreSQL version of the current database of the stanza, null if unknown.
  returned: always
  type: str
  sample: "15"
system_id:
  description: PostgreSQL system identifier of the current database, null if unknown.
  returned: always
  type: int
  sample: 7443524162932154418
age_s:
  description: Seconds since the newest backup finished, null without backups.
  returned: always
  type: int
  sample: 3600
table:
  description: Text table of the backups and summary lines (status, last backup, recovery window, WAL archive).
  returned: always
  type: str
problems:
  description: The unmet expectations (O(expect_backups), O(max_age_s)); the module fails when there is one.
  returned: always
  type: list
  elements: str
cmd:
  description: The command that was run.
  returned: always
  type: list
  elements: str
  sample: [pgbackrest, --output=json, --stanza=demo, info]
restore:
  description: With O(target), how to restore to it.
  returned: when O(target) is given
  type: dict
  contains:
    kind: {description: "latest, time, lsn, name or label.", type: str}
    target: {description: The target as PostgreSQL takes it (a time in UTC)., type: str}
    backup: {description: The backup the restore starts from (same keys as RV(backups) entries)., type: dict}
    restore_args:
      description: Options of pgbackrest restore (--set, --type, --target, --target-action).
      type: list
      elements: str
    recovery_conf:
      description: PostgreSQL recovery settings for Patroni's bootstrap (recovery_target_*).
      type: dict
    description: {description: "What the restore reaches, in words.", type: str}
raw:
  description: The stanza's entry in the JSON output of pgbackrest info.
  returned: always
  type: dict
"""

import os
import pwd
import time
from typing import Any, Dict, List, Optional

from ansible.module_utils.basic import AnsibleModule

from ansible.module_utils.pgha_pgbackrest import (
    InfoError,
    TargetError,
    check_expectations,
    command_error,
    info_command,
    parse_info_json,
    plan_restore,
    select_stanza,
    split_output,
    summarize,
)


def current_time() -> float:
    """Unix time now (a function so tests can set the clock)."""
    return time.time()


def run_as_user(module: AnsibleModule, user: str) -> Optional[str]:
    """The user to switch to with runuser, or None to run pgbackrest as the module's own user."""
    if not user:
        return None
    try:
        uid = pwd.getpwnam(user).pw_uid
    except KeyError:
        module.fail_json(msg="user '%s' does not exist on this host: set user to the owner of the pgBackRest "
                             "repository (default postgres), or to '' to run pgbackrest as the connecting user"
                             % user)
    euid = os.geteuid()
    if uid == euid:
        return None
    if euid != 0:
        module.warn("pgbackrest_info runs as uid %d, neither root nor user '%s': pgbackrest runs as uid %d "
                    "(become: true to run it as '%s')" % (euid, user, euid, user))
        return None
    return user


def build_command(module: AnsibleModule, p: Dict[str, Any]) -> List[str]:
    """The full command line, with the binaries found on the host."""
    binary = module.get_bin_path(p["binary"])
    if not binary:
        module.fail_json(msg="pgBackRest command '%s' not found on this host (PATH and the sbin directories): "
                             "install pgBackRest with the pgbackrest role, or set binary to its full path"
                             % p["binary"])
    run_as = run_as_user(module, p["user"])
    runuser = "runuser"
    if run_as:
        runuser = module.get_bin_path("runuser") or ""
        if not runuser:
            module.fail_json(msg="runuser (util-linux) not found: it is needed to run pgbackrest as '%s'; install "
                                 "util-linux, or use become_user: %s with user: ''" % (run_as, run_as))
    return info_command(binary, p["stanza"], p["config"], run_as, runuser)


def build_argument_spec() -> Dict[str, Any]:
    """The module's argument_spec (a function so tests can compare it with DOCUMENTATION)."""
    return dict(
        stanza=dict(type="str", required=True),
        binary=dict(type="str", default="pgbackrest"),
        config=dict(type="path"),
        user=dict(type="str", default="postgres"),
        expect_backups=dict(type="bool", default=False),
        max_age_s=dict(type="int"),
        target=dict(type="str"),
        target_variable=dict(type="str", default="target"),
    )


def main() -> None:
    module = AnsibleModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    p = module.params
    if not p["stanza"]:
        module.fail_json(msg="stanza is empty: give the pgBackRest stanza name, e.g. demo")
    argv = build_command(module, p)
    rc, stdout, stderr = module.run_command(argv, cwd="/")
    if rc != 0:
        module.fail_json(msg=command_error(argv, rc, stdout, stderr, p["config"]), changed=False, cmd=argv, rc=rc,
                         stdout=stdout, stderr=stderr)
    text, log_lines = split_output(stdout)
    for line in log_lines:
        module.warn("pgbackrest: %s" % line)
    try:
        stanza = select_stanza(parse_info_json(text), p["stanza"])
    except InfoError as exc:
        module.fail_json(msg="%s (command: %s)" % (exc, " ".join(argv)), changed=False, cmd=argv, stdout=stdout,
                         stderr=stderr)
    result = summarize(stanza, current_time())
    problems = check_expectations(result, p["expect_backups"], p["max_age_s"])
    result.update(changed=False, problems=problems, cmd=argv)
    if p["target"] is not None and not problems:
        try:
            result["restore"] = plan_restore(p["target"], result, current_time())
        except TargetError as exc:
            module.fail_json(msg="%s %r %s.\nBackups of stanza '%s':\n%s" % (p["target_variable"], p["target"], exc,
                                                                          p["stanza"], result["table"]), **result)
    if problems:
        module.fail_json(msg="\n".join(problems + ["Backups of stanza '%s':" % p["stanza"], result["table"]]),
                         **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
