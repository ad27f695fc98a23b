"""roles/exporters/files/pgha_textfile_metrics.py: the script that writes the pgha metrics of node exporter's textfile
collector. Its parsers run on captured formats (pgBackRest's JSON fixtures, `ip -o addr`, `openssl x509 -enddate`);
the commands themselves are faked. The real ones run on the lab (pgha-textfile-metrics.service)."""
from __future__ import annotations

import importlib.util
import os
import stat
import sys
from pathlib import Path
from typing import Dict, List

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "roles" / "exporters" / "files" / "pgha_textfile_metrics.py"
_SPEC = importlib.util.spec_from_file_location("pgha_textfile_metrics", SCRIPT)
assert _SPEC and _SPEC.loader
ptm = importlib.util.module_from_spec(_SPEC)
sys.modules["pgha_textfile_metrics"] = ptm
_SPEC.loader.exec_module(ptm)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "pgbackrest"

IP_ADDR = """\
1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
1: lo    inet6 ::1/128 scope host noprefixroute \\       valid_lft forever preferred_lft forever
2: eth0    inet 172.28.10.21/24 brd 172.28.10.255 scope global eth0\\       valid_lft forever preferred_lft forever
2: eth0    inet 172.28.10.100/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever
2: eth0    inet6 fe80::42:acff:fe1c:a15/64 scope link \\       valid_lft forever preferred_lft forever
"""


def test_parse_enddate() -> None:
    assert ptm.parse_enddate("notAfter=Dec 22 10:19:58 2026 GMT\n") == 1797934798
    assert ptm.parse_enddate("notAfter=Mar  1 00:00:00 2029 GMT") == 1867017600


@pytest.mark.parametrize("text", ["", "notBefore=Dec 22 10:19:58 2026 GMT", "notAfter=soon", "Could not open file"])
def test_parse_enddate_rejects_other_output(text: str) -> None:
    with pytest.raises(ptm.CollectorError):
        ptm.parse_enddate(text)


def test_vip_held() -> None:
    assert ptm.vip_held(IP_ADDR, "172.28.10.100")
    assert not ptm.vip_held(IP_ADDR, "172.28.10.101")
    # An address is matched whole, not as a prefix of another one.
    assert not ptm.vip_held(IP_ADDR, "172.28.10.10")
    assert ptm.vip_held(IP_ADDR, "::1")
    assert not ptm.vip_held("", "172.28.10.100")


def test_vip_held_rejects_a_bad_address() -> None:
    with pytest.raises(ptm.CollectorError):
        ptm.vip_held(IP_ADDR, "not-an-address")


def test_last_backup_stop_is_the_newest_of_any_type() -> None:
    text = (FIXTURES / "info_healthy.json").read_text()
    # full 10:16:05, diff, incr stopping at 12:15:22 UTC on 2026-12-01.
    assert ptm.last_backup_stop(text, "demo") == 1796127322


@pytest.mark.parametrize("fixture", ["info_no_backups.json", "info_missing_stanza.json"])
def test_last_backup_stop_is_zero_without_backups(fixture: str) -> None:
    assert ptm.last_backup_stop((FIXTURES / fixture).read_text(), "demo") == 0


@pytest.mark.parametrize("text", ["", "not json", '{"name": "demo"}', '[{"name": "other", "backup": []}]'])
def test_last_backup_stop_rejects_unusable_output(text: str) -> None:
    with pytest.raises(ptm.CollectorError):
        ptm.last_backup_stop(text, "demo")


def test_last_backup_stop_skips_malformed_entries() -> None:
    text = ('[{"name": "demo", "backup": [{"timestamp": null}, {"timestamp": {"stop": "x"}},'
            ' {"timestamp": {"stop": 5}}]}]')
    assert ptm.last_backup_stop(text, "demo") == 5


def test_parse_archive_failed() -> None:
    assert ptm.parse_archive_failed("1\n") == 1
    assert ptm.parse_archive_failed("0") == 0
    with pytest.raises(ptm.CollectorError):
        ptm.parse_archive_failed("")
    with pytest.raises(ptm.CollectorError):
        ptm.parse_archive_failed("t")


def test_render_groups_by_name_with_help_and_type() -> None:
    text = ptm.render([
        ptm.Metric("pgha_certificate_expiry_timestamp_seconds", {"path": "/etc/pgha/tls/ca.crt"}, 1867017600),
        ptm.Metric("pgha_textfile_collector_success", {"collector": "certificates"}, 1),
        ptm.Metric("pgha_certificate_expiry_timestamp_seconds", {"path": "/etc/pgha/tls/node.crt"}, 1797934798),
    ])
    assert text == (
        "# HELP pgha_certificate_expiry_timestamp_seconds notAfter of the certificate, Unix seconds.\n"
        "# TYPE pgha_certificate_expiry_timestamp_seconds gauge\n"
        'pgha_certificate_expiry_timestamp_seconds{path="/etc/pgha/tls/ca.crt"} 1867017600\n'
        'pgha_certificate_expiry_timestamp_seconds{path="/etc/pgha/tls/node.crt"} 1797934798\n'
        "# HELP pgha_textfile_collector_success 1 when the pgha textfile collector worked in its last run, else 0.\n"
        "# TYPE pgha_textfile_collector_success gauge\n"
        'pgha_textfile_collector_success{collector="certificates"} 1\n'
    )
    assert ptm.render([]) == ""


def test_render_escapes_label_values_and_formats_numbers() -> None:
    text = ptm.render([ptm.Metric("x", {"path": 'a"b\\c\nd'}, 0.5), ptm.Metric("x", {}, 2.0)])
    assert 'x{path="a\\"b\\\\c\\nd"} 0.5\n' in text
    assert "\nx 2\n" in text


def test_write_atomic_replaces_the_file(tmp_path: Path) -> None:
    out = tmp_path / "pgha.prom"
    out.write_text("old\n")
    ptm.write_atomic(str(out), "new\n")
    assert out.read_text() == "new\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    # No temporary file is left behind (node exporter reads only *.prom anyway).
    assert os.listdir(tmp_path) == ["pgha.prom"]


def test_write_atomic_leaves_nothing_when_the_directory_is_missing(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        ptm.write_atomic(str(tmp_path / "missing" / "pgha.prom"), "x\n")


class FakeCommands:
    """Stands in for ``run``: answers by the command's first words, records every call."""

    def __init__(self, answers: Dict[str, str]) -> None:
        self.answers = answers
        self.calls: List[List[str]] = []

    def __call__(self, argv: List[str], timeout: float) -> str:
        self.calls.append(argv)
        for prefix, answer in self.answers.items():
            if " ".join(argv).startswith(prefix):
                if answer.startswith("FAIL"):
                    raise ptm.CollectorError(answer)
                return answer
        raise ptm.CollectorError("unexpected command %s" % argv)


def test_collect_every_collector(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text("x")
    (tmp_path / "node.crt").write_text("x")
    (tmp_path / "node.key").write_text("x")
    fake = FakeCommands({
        "openssl x509 -noout -enddate -in %s/ca.crt" % tmp_path: "notAfter=Mar  1 00:00:00 2029 GMT\n",
        "openssl x509 -noout -enddate -in %s/node.crt" % tmp_path: "notAfter=Dec 22 10:19:58 2026 GMT\n",
        "ip -o addr show": IP_ADDR,
        "runuser -u pgbackrest -- pgbackrest --stanza=demo --output=json info":
            (FIXTURES / "info_healthy.json").read_text(),
        "runuser -u postgres -- /usr/lib/postgresql/15/bin/psql": "1\n",
    })
    monkeypatch.setattr(ptm, "run", fake)
    args = ptm.parse_args(["--output", str(tmp_path / "pgha.prom"), "--certificate-dir", str(tmp_path),
                           "--vip", "172.28.10.100", "--backup-stanza", "demo", "--backup-user", "pgbackrest",
                           "--archive-stanza", "demo", "--psql", "/usr/lib/postgresql/15/bin/psql"])
    metrics = {(m.name, tuple(sorted(m.labels.items()))): m.value for m in ptm.collect(args)}
    assert metrics == {
        ("pgha_certificate_expiry_timestamp_seconds", (("path", "%s/ca.crt" % tmp_path),)): 1867017600,
        ("pgha_certificate_expiry_timestamp_seconds", (("path", "%s/node.crt" % tmp_path),)): 1797934798,
        ("pgha_keepalived_vip_held", (("vip", "172.28.10.100"),)): 1,
        ("pgha_pgbackrest_last_backup_timestamp_seconds", (("stanza", "demo"),)): 1796127322,
        ("pgha_pgbackrest_archive_failed", (("stanza", "demo"),)): 1,
        ("pgha_textfile_collector_success", (("collector", "certificates"),)): 1,
        ("pgha_textfile_collector_success", (("collector", "vip"),)): 1,
        ("pgha_textfile_collector_success", (("collector", "backup"),)): 1,
        ("pgha_textfile_collector_success", (("collector", "archive"),)): 1,
    }
    psql = [c for c in fake.calls if len(c) > 4 and c[4].endswith("/psql")][0]
    assert psql[:4] == ["runuser", "-u", "postgres", "--"]
    assert psql[psql.index("-h") + 1] == "/var/run/postgresql" and psql[psql.index("-p") + 1] == "5432"


def test_collect_reports_a_failed_collector_without_its_metrics(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.crt").write_text("x")
    (tmp_path / "b.crt").write_text("x")
    monkeypatch.setattr(ptm, "run", FakeCommands({
        "openssl x509 -noout -enddate -in %s/a.crt" % tmp_path: "notAfter=Mar  1 00:00:00 2029 GMT\n",
        "openssl x509 -noout -enddate -in %s/b.crt" % tmp_path: "FAIL: unable to load certificate",
        "runuser -u postgres": "FAIL: connection refused",
    }))
    args = ptm.parse_args(["--output", "x.prom", "--certificate-dir", str(tmp_path), "--archive-stanza", "demo"])
    metrics = ptm.collect(args)
    names = [(m.name, m.labels, m.value) for m in metrics]
    # The readable certificate is still reported; the collector says it missed one.
    assert ("pgha_certificate_expiry_timestamp_seconds", {"path": "%s/a.crt" % tmp_path}, 1867017600) in names
    assert ("pgha_textfile_collector_success", {"collector": "certificates"}, 0) in names
    # No archive metric at all (never a stale or guessed 0), only its failed success line.
    assert not [m for m in metrics if m.name == "pgha_pgbackrest_archive_failed"]
    assert ("pgha_textfile_collector_success", {"collector": "archive"}, 0) in names
    err = capsys.readouterr().err
    assert "<4>pgha_textfile_metrics: archive: FAIL: connection refused" in err
    assert "b.crt" in err


def test_collect_certificates_of_a_missing_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(ptm, "run", FakeCommands({}))
    args = ptm.parse_args(["--output", "x.prom", "--certificate-dir", str(tmp_path / "missing")])
    assert [(m.name, m.value) for m in ptm.collect(args)] == [("pgha_textfile_collector_success", 0)]


def test_collect_nothing_without_options() -> None:
    assert ptm.collect(ptm.parse_args(["--output", "x.prom"])) == []


def test_run_reports_failures_on_one_line() -> None:
    assert ptm.run([sys.executable, "-c", "print('ok')"], 10) == "ok\n"
    with pytest.raises(ptm.CollectorError, match=r"exited 3: line one line two$"):
        ptm.run([sys.executable, "-c", "import sys; sys.stderr.write('line one\\nline two\\n'); sys.exit(3)"], 10)
    with pytest.raises(ptm.CollectorError, match="No such file"):
        ptm.run(["/nonexistent/command"], 10)
    with pytest.raises(ptm.CollectorError, match="timed out"):
        ptm.run([sys.executable, "-c", "import time; time.sleep(5)"], 0.2)


def test_main_writes_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(ptm, "run", FakeCommands({"ip -o addr show": IP_ADDR}))
    out = tmp_path / "pgha.prom"
    assert ptm.main(["--output", str(out), "--vip", "172.28.10.101"]) == 0
    assert 'pgha_keepalived_vip_held{vip="172.28.10.101"} 0\n' in out.read_text()
    assert 'pgha_textfile_collector_success{collector="vip"} 1\n' in out.read_text()
