#!/usr/bin/python3
"""Writes the pgha metrics that node exporter's textfile collector serves (installed by roles/exporters).

Run as root by pgha-textfile-metrics.service, which a systemd timer starts every exporters_textfile_interval
seconds. Each run rewrites one file (--output, e.g. /var/lib/prometheus/node-exporter/pgha.prom) atomically: a
temporary file in the same directory, renamed over the old one, so node exporter never reads half a file.

Collectors, each run only when its options are given:

  certificates  pgha_certificate_expiry_timestamp_seconds{path}        notAfter of every *.crt in --certificate-dir
  vip           pgha_keepalived_vip_held{vip}                          1 when an interface holds --vip (ip -o addr)
  backup        pgha_pgbackrest_last_backup_timestamp_seconds{stanza}  stop time of the newest backup of any type in
                                                                       `pgbackrest info` (as --backup-user), 0 if none
  archive       pgha_pgbackrest_archive_failed{stanza}                 1 when this node is a primary and PostgreSQL's
                                                                       last archive_command (pgbackrest archive-push)
                                                                       failed after the last success (pg_stat_archiver,
                                                                       read as postgres), else 0

pgha_textfile_collector_success{collector} says whether each collector worked. A collector that fails writes 0 there
and none of its own metrics (so no stale value survives), and logs why to the journal; the run still writes the file
and exits 0.
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import ssl
import subprocess
import sys
import tempfile
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence

HELP = {
    "pgha_certificate_expiry_timestamp_seconds": "notAfter of the certificate, Unix seconds.",
    "pgha_keepalived_vip_held": "1 while an interface of this host holds the virtual IP, else 0.",
    "pgha_pgbackrest_last_backup_timestamp_seconds": "Stop time of the newest pgBackRest backup, 0 when none.",
    "pgha_pgbackrest_archive_failed": "1 when the last WAL archive push of this primary failed, else 0.",
    "pgha_textfile_collector_success": "1 when the pgha textfile collector worked in its last run, else 0.",
}
ARCHIVE_QUERY = (
    "SELECT (NOT pg_is_in_recovery() AND last_failed_time IS NOT NULL"
    " AND last_failed_time >= coalesce(last_archived_time, '-infinity'))::int FROM pg_stat_archiver"
)


class Metric(NamedTuple):
    name: str
    labels: Dict[str, str]
    value: float


class CollectorError(Exception):
    """A collector could not read what it reports."""


class PartialError(CollectorError):
    """Some of a collector's metrics were read; the error says what was not."""

    def __init__(self, metrics: List[Metric], msg: str) -> None:
        super().__init__(msg)
        self.metrics = metrics


def log(level: int, msg: str) -> None:
    """One line to stderr with a syslog level prefix (<4> warning), which journald reads as the level."""
    print("<%d>pgha_textfile_metrics: %s" % (level, msg), file=sys.stderr, flush=True)


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_value(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render(metrics: Sequence[Metric]) -> str:
    """The text exposition format: one HELP and TYPE (gauge) per metric name, in order of first appearance."""
    by_name: Dict[str, List[Metric]] = {}
    for metric in metrics:
        by_name.setdefault(metric.name, []).append(metric)
    lines: List[str] = []
    for name, group in by_name.items():
        lines.append("# HELP %s %s" % (name, HELP.get(name, name)))
        lines.append("# TYPE %s gauge" % name)
        for metric in group:
            labels = ",".join('%s="%s"' % (k, escape_label(v)) for k, v in sorted(metric.labels.items()))
            lines.append("%s%s %s" % (name, "{%s}" % labels if labels else "", format_value(metric.value)))
    return "\n".join(lines) + "\n" if lines else ""


def parse_enddate(text: str) -> int:
    """notAfter of ``openssl x509 -noout -enddate`` ("notAfter=Mar  1 12:00:00 2029 GMT") as Unix seconds."""
    line = text.strip()
    if not line.startswith("notAfter="):
        raise CollectorError("unexpected openssl output: %r" % line[:200])
    try:
        return int(ssl.cert_time_to_seconds(line[len("notAfter="):]))
    except ValueError as exc:
        raise CollectorError("cannot read the date in %r: %s" % (line[:200], exc)) from None


def vip_held(ip_addr_output: str, vip: str) -> bool:
    """Whether a line of ``ip -o addr show`` carries the address ``vip`` (any interface, IPv4 or IPv6)."""
    try:
        wanted = ipaddress.ip_address(vip)
    except ValueError as exc:
        raise CollectorError(str(exc)) from None
    for line in ip_addr_output.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] in ("inet", "inet6"):
            try:
                if ipaddress.ip_interface(fields[3]).ip == wanted:
                    return True
            except ValueError:
                continue
    return False


def last_backup_stop(info_json: str, stanza: str) -> int:
    """Stop time (Unix seconds) of the newest backup of ``stanza`` in ``pgbackrest --output=json info``; 0 if none."""
    try:
        data: Any = json.loads(info_json)
    except ValueError as exc:
        raise CollectorError("pgbackrest info did not print JSON: %s" % exc) from None
    if not isinstance(data, list):
        raise CollectorError("pgbackrest info printed a JSON %s, expected a list of stanzas" % type(data).__name__)
    for entry in data:
        if isinstance(entry, dict) and entry.get("name") == stanza:
            stamps = [b.get("timestamp") for b in entry.get("backup") or [] if isinstance(b, dict)]
            stops = [t.get("stop") for t in stamps if isinstance(t, dict)]
            return max((int(s) for s in stops if isinstance(s, (int, float)) and not isinstance(s, bool)), default=0)
    raise CollectorError("stanza %r is not in the pgbackrest info output" % stanza)


def parse_archive_failed(psql_output: str) -> int:
    """The 0 or 1 that ARCHIVE_QUERY printed (psql -At)."""
    value = psql_output.strip()
    if value not in ("0", "1"):
        raise CollectorError("unexpected answer from pg_stat_archiver: %r" % value[:200])
    return int(value)


def run(argv: List[str], timeout: float) -> str:
    """stdout of a command; CollectorError with its stderr when it fails or times out."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd="/", check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CollectorError("%s: %s" % (argv[0], exc)) from None
    if proc.returncode != 0:
        # One line for the journal: the end of stderr, whitespace collapsed.
        raise CollectorError("%s exited %d: %s" % (argv[0], proc.returncode, " ".join(proc.stderr.split())[-300:]))
    return proc.stdout


def as_user(user: str, argv: List[str]) -> List[str]:
    return ["runuser", "-u", user, "--"] + argv


def collect_certificates(dirs: Sequence[str], timeout: float) -> List[Metric]:
    metrics: List[Metric] = []
    problems: List[str] = []
    for directory in map(os.path.abspath, dirs):
        try:
            names = sorted(n for n in os.listdir(directory) if n.endswith(".crt"))
        except OSError as exc:
            problems.append(str(exc))
            continue
        for name in names:
            path = os.path.join(directory, name)
            try:
                not_after = parse_enddate(run(["openssl", "x509", "-noout", "-enddate", "-in", path], timeout))
            except CollectorError as exc:
                problems.append("%s: %s" % (path, exc))
                continue
            metrics.append(Metric("pgha_certificate_expiry_timestamp_seconds", {"path": path}, not_after))
    if problems:
        # The certificates that were read are still reported; success says that some were not.
        raise PartialError(metrics, "; ".join(problems))
    return metrics


def collect_vip(vip: str, timeout: float) -> List[Metric]:
    held = vip_held(run(["ip", "-o", "addr", "show"], timeout), vip)
    return [Metric("pgha_keepalived_vip_held", {"vip": vip}, 1 if held else 0)]


def collect_backup(stanza: str, user: str, timeout: float) -> List[Metric]:
    argv = ["pgbackrest", "--stanza=" + stanza, "--output=json", "info"]
    stop = last_backup_stop(run(as_user(user, argv) if user else argv, timeout), stanza)
    return [Metric("pgha_pgbackrest_last_backup_timestamp_seconds", {"stanza": stanza}, stop)]


def collect_archive(stanza: str, psql: str, socket_dir: str, port: int, timeout: float) -> List[Metric]:
    argv = [psql, "-X", "-A", "-t", "-q", "-h", socket_dir, "-p", str(port), "-d", "postgres", "-c", ARCHIVE_QUERY]
    failed = parse_archive_failed(run(as_user("postgres", argv), timeout))
    return [Metric("pgha_pgbackrest_archive_failed", {"stanza": stanza}, failed)]


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory, renamed over it (mode 0644)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".pgha.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fchmod(fh.fileno(), 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="the .prom file to write (in the textfile directory)")
    parser.add_argument("--timeout", type=float, default=10, help="seconds each command may take")
    parser.add_argument("--certificate-dir", action="append", default=[], help="report every *.crt in it")
    parser.add_argument("--vip", help="report whether this host holds this address")
    parser.add_argument("--backup-stanza", help="report the newest backup of this stanza (repository host)")
    parser.add_argument("--backup-user", default="", help="OS user pgbackrest info runs as (runuser)")
    parser.add_argument("--archive-stanza", help="report failed WAL archiving of this node, labelled with the stanza")
    parser.add_argument("--psql", default="psql", help="psql binary")
    parser.add_argument("--postgres-socket-dir", default="/var/run/postgresql", help="PostgreSQL's socket directory")
    parser.add_argument("--postgres-port", type=int, default=5432, help="PostgreSQL's port")
    return parser.parse_args(argv)


def collect(args: argparse.Namespace) -> List[Metric]:
    """Every requested collector's metrics, then one success line per collector."""
    collectors: Dict[str, Callable[[], List[Metric]]] = {}
    if args.certificate_dir:
        collectors["certificates"] = lambda: collect_certificates(args.certificate_dir, args.timeout)
    if args.vip:
        collectors["vip"] = lambda: collect_vip(args.vip, args.timeout)
    if args.backup_stanza:
        collectors["backup"] = lambda: collect_backup(args.backup_stanza, args.backup_user, args.timeout)
    if args.archive_stanza:
        collectors["archive"] = lambda: collect_archive(args.archive_stanza, args.psql, args.postgres_socket_dir,
                                                        args.postgres_port, args.timeout)
    metrics: List[Metric] = []
    success: List[Metric] = []
    for name, collector in collectors.items():
        try:
            metrics.extend(collector())
            ok = 1
        except PartialError as exc:
            metrics.extend(exc.metrics)
            log(4, "%s: %s" % (name, exc))
            ok = 0
        except CollectorError as exc:
            log(4, "%s: %s" % (name, exc))
            ok = 0
        success.append(Metric("pgha_textfile_collector_success", {"collector": name}, ok))
    return metrics + success


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    write_atomic(args.output, render(collect(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
