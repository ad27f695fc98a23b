"""Smoke test of chaos/tools/pgha_loadprobe.py against the running lab (no fault is injected).

Runs only with ``PGHA_RUN_LAB_TESTS=1`` and a lab built by ``make up`` (``.lab/pg_service.conf``)::

    PGHA_RUN_LAB_TESTS=1 .venv/bin/python -m pytest -m lab tests/lab -q

Writes for about 3 s through the VIP's write port, reads through the read port, polls the Patroni nodes, then
checks the ledger against the table (more than 50 acknowledged writes, none lost, no split brain) and deletes
its own rows.
"""

from __future__ import annotations

import configparser
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from ansible.module_utils import pgha_ledger as L

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVICE_FILE = os.path.join(ROOT, ".lab", "pg_service.conf")
PASSWORD_FILE = os.path.join(ROOT, ".lab", "secrets", "patroni_app_password")
SCRIPT = os.path.join(ROOT, "chaos", "tools", "pgha_loadprobe.py")

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(not (os.path.exists(SERVICE_FILE) and os.environ.get("PGHA_RUN_LAB_TESTS") == "1"),
                       reason="needs the lab (.lab/pg_service.conf) and PGHA_RUN_LAB_TESTS=1"),
]


def service(name: str, password: str) -> dict:
    parser = configparser.ConfigParser()
    parser.read(SERVICE_FILE)
    sec = parser[name]
    return {"host": sec["host"], "port": int(sec["port"]), "dbname": sec["dbname"], "user": sec["user"],
            "password": password}


def lab_nodes() -> list:
    with open(os.path.join(ROOT, "inventories", "lab", "hosts.yml"), encoding="utf-8") as fh:
        inv = yaml.safe_load(fh)
    hosts = inv["all"]["children"]["patroni_cluster"]["hosts"]
    return [{"name": name, "host": h["cluster_address"], "port": 5432} for name, h in sorted(hosts.items())]


def test_loadprobe_against_the_lab(tmp_path):
    import psycopg2

    with open(PASSWORD_FILE, encoding="utf-8") as fh:
        password = fh.read().rstrip("\n")
    writer, reader = service("primary", password), service("replicas", password)
    run_id = "pytest-lab-%d" % int(time.time())
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"writer": writer, "reader": reader, "run_id": run_id, "rate": 50,
                                  "poll_nodes": lab_nodes()}))
    os.chmod(str(config), 0o600)
    proc = subprocess.Popen([sys.executable, SCRIPT, "--config", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        time.sleep(3.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out.decode()
    assert password.encode() not in out

    conn = psycopg2.connect(connect_timeout=3, **writer)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id FROM chaos_ledger WHERE run_id = %s", (run_id,))
            final_ids = [row[0] for row in cur.fetchall()]
            cur.execute("DELETE FROM chaos_ledger WHERE run_id = %s", (run_id,))
        conn.commit()
    finally:
        conn.close()

    an = L.analyze(L.read_jsonl(str(tmp_path / "ledger.jsonl")), L.read_jsonl(str(tmp_path / "events.jsonl")),
                   final_ids)
    assert an.writes.ok > 50, an.writes
    assert an.lost.checked and an.lost.lost == 0
    assert an.reads.ok > 50 and not an.split_brain.detected
    assert an.polls["ok"] > 0
