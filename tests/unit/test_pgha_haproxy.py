"""Tests for module_utils/pgha_haproxy.py.

Facts the fixtures must keep (they may be replaced by lab captures with the same names):
* haproxy_stats.csv: listen sections "primary" (patroni1 UP, patroni2/3 DOWN), "replicas" (patroni2/3 UP,
  patroni1 DOWN) and "stats" (no servers).
* haproxy_stats_transition.csv: same sections; it contains at least one server each in a MAINT, a
  "no check" and a transitional ("UP 1/3" / "DOWN 1/2") status.
"""

from __future__ import annotations

import pytest

from ansible.module_utils.pgha_haproxy import (
    CsvError,
    check_expectations,
    normalize_state,
    parse_csv,
    render_table,
    stats_csv_url,
    summarize,
)
from pgha_test_helpers import load_text


@pytest.mark.parametrize("url,expected", [
    ("http://127.0.0.1:7000/", "http://127.0.0.1:7000/;csv"),
    ("http://127.0.0.1:7000", "http://127.0.0.1:7000/;csv"),
    ("http://127.0.0.1:7000/;csv", "http://127.0.0.1:7000/;csv"),
    ("http://127.0.0.1:7000/;csv;norefresh", "http://127.0.0.1:7000/;csv;norefresh"),
    ("http://h:8404/stats", "http://h:8404/stats;csv"),
])
def test_stats_csv_url(url, expected):
    assert stats_csv_url(url) == expected


@pytest.mark.parametrize("status,state", [
    ("UP", "up"), ("no check", "up"), ("DOWN", "down"), ("MAINT", "maint"), ("MAINT (via b/s)", "maint"),
    ("MAINT (resolution)", "maint"), ("DRAIN", "drain"), ("NOLB", "drain"), ("UP 1/3", "transition"),
    ("DOWN 1/2", "transition"), ("NOLB 1/2", "transition"), ("", "unknown"), ("OPEN", "unknown"),
])
def test_normalize_state(status, state):
    assert normalize_state(status) == state


def test_parse_csv_fixture():
    rows = parse_csv(load_text("haproxy_stats.csv"))
    assert rows and {"pxname", "svname", "status", "type", "check_status", "lastchg"} <= set(rows[0])
    assert "" not in rows[0] and "-" not in rows[0]  # no field for the trailing comma or the "-" separator
    assert {r["pxname"] for r in rows} >= {"primary", "replicas", "stats"}


def test_parse_csv_rejects_html_and_empty():
    with pytest.raises(CsvError):
        parse_csv("<html><body>401 Unauthorized</body></html>")
    with pytest.raises(CsvError):
        parse_csv("")
    with pytest.raises(CsvError):
        parse_csv("# foo,bar\n")


def test_parse_csv_minimal_header_and_short_rows():
    rows = parse_csv("# pxname,svname,status,\nbe,s1,UP,\nbe,s2\n")
    assert rows == [{"pxname": "be", "svname": "s1", "status": "UP"}, {"pxname": "be", "svname": "s2", "status": ""}]
    s = summarize(rows)  # no type column: inferred from svname
    assert s["backends"]["be"]["up"] == ["s1"]


def test_summarize_healthy_fixture():
    s = summarize(parse_csv(load_text("haproxy_stats.csv")))
    be = s["backends"]
    assert be["primary"]["up"] == ["patroni1"]
    assert sorted(be["primary"]["down"]) == ["patroni2", "patroni3"]
    assert sorted(be["replicas"]["up"]) == ["patroni2", "patroni3"]
    assert be["replicas"]["down"] == ["patroni1"]
    assert be["stats"]["servers"] == []
    assert {"primary", "replicas", "stats"} <= set(s["frontends"])
    server = be["primary"]["servers"][0]
    # HAProxy 2.6 leaves the addr column empty for servers in this capture.
    assert server["state"] == "up" and "addr" in server
    assert isinstance(server["last_change_seconds"], int)
    assert check_expectations(be, {"primary": ["patroni1"], "replicas": ["patroni3", "patroni2"]},
                              {"replicas": 2, "primary": 1}) == []


def test_transition_fixture_states():
    s = summarize(parse_csv(load_text("haproxy_stats_transition.csv")))
    states = {sv["status"]: sv["state"] for be in s["backends"].values() for sv in be["servers"]}
    assert "maint" in states.values() and "transition" in states.values()
    assert states.get("no check") == "up"
    for status, state in states.items():
        if status.startswith(("UP ", "DOWN ")):
            assert state == "transition"


def test_expectation_failures_are_explained():
    be = summarize(parse_csv(load_text("haproxy_stats.csv")))["backends"]
    problems = check_expectations(be, {"primary": ["patroni2"], "nope": ["x"], "replicas": ["patroni2", "ghost"]},
                                  {"replicas": 3, "missing": 1})
    text = "\n".join(problems)
    assert "backend primary: expected UP exactly [patroni2], found UP [patroni1]" in text
    assert "patroni2 (DOWN" in text
    assert "backend nope not found in the stats (known: primary, replicas, stats)" in text
    assert "no such server(s): ghost" in text
    assert "backend replicas: expected 3 server(s) UP, found 2" in text
    assert "backend missing not found" in text


def test_render_table():
    be = summarize(parse_csv(load_text("haproxy_stats.csv")))["backends"]
    table = render_table(be)
    lines = table.splitlines()
    assert len({len(line) for line in lines}) == 1
    primary = next(line for line in lines if line.startswith("| primary "))
    assert "patroni1" in primary and "patroni2 (DOWN" in primary
    assert any(line.startswith("| stats ") for line in lines)
