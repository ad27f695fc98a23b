# -*- coding: utf-8 -*-
# The PostgreSQL connection options of the chaos harness's modules: pg_load_probe's writer and reader,
# chaos_report's final_ids_dsn. Modules use it as ``ansible.module_utils.pgha_dsn`` (Ansible ships it with them).
"""argument_spec ``options`` of a PostgreSQL connection (host, port, dbname, user, password, sslmode)."""

from __future__ import annotations

from typing import Any, Dict


def dsn_options(sslrootcert: bool = False) -> Dict[str, Any]:
    """A fresh ``options`` dict for a connection option; ``sslrootcert`` adds the CA file that verifies the server
    and libpq's target_session_attrs (with a comma-separated host list: client-side failover)."""
    options: Dict[str, Any] = dict(
        host=dict(type="str", required=True),
        port=dict(type="int", default=5432),
        dbname=dict(type="str", required=True),
        user=dict(type="str", required=True),
        password=dict(type="str", no_log=True),
        sslmode=dict(type="str"),
    )
    if sslrootcert:
        options["sslrootcert"] = dict(type="path")
        options["target_session_attrs"] = dict(
            type="str", choices=["any", "read-write", "read-only", "primary", "standby", "prefer-standby"])
    return options
