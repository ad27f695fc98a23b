#!/usr/bin/env python3
"""Patroni on_role_change / on_start callback: when this node becomes (or starts as) the PostgreSQL leader while
its own etcd member leads etcd, hand etcd's leadership to another healthy member.

Why: a crash of a node that runs both leaders also costs an etcd election, and a new etcd leader renews
every lease to its full TTL, so the dead Patroni's leader key lives a whole ttl from that election instead
of what was left of it (measured in docs/failover.md: about 6 s more per crash). Installed by the patroni
role when etcd runs on the Patroni nodes (patroni_etcd_leader_away). Patroni calls it as
``etcd_leader_away.py on_role_change|on_start <role> <scope>``; its settings (this member's etcd URL, TLS files) are
in the JSON file next to it. It never fails Patroni: every error is logged and the exit code is 0.
"""
from __future__ import annotations

import json
import os
import ssl
import sys
import urllib.request
from typing import Any, Dict, List, Optional

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "etcd_leader_away.json")
LEADER_ROLES = ("primary", "master", "promoted")
ACTIONS = ("on_role_change", "on_start")


def log(msg: str) -> None:
    print("etcd_leader_away: %s" % msg, file=sys.stderr, flush=True)


def ssl_context(cfg: Dict[str, Any]) -> Optional[ssl.SSLContext]:
    if not cfg.get("cacert"):
        return None
    ctx = ssl.create_default_context(cafile=cfg["cacert"])
    if cfg.get("cert"):
        ctx.load_cert_chain(cfg["cert"], cfg.get("key"))
    return ctx


def call(url: str, path: str, body: Dict[str, Any], ctx: Optional[ssl.SSLContext], timeout: float) -> Dict[str, Any]:
    """POST to etcd's v3 JSON gateway; the decoded answer."""
    req = urllib.request.Request(url.rstrip("/") + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout, context=ctx) as resp:
        answer: Dict[str, Any] = json.loads(resp.read().decode() or "{}")
    return answer


def successor(members: Any, me: str, ctx: Optional[ssl.SSLContext], timeout: float) -> Optional[str]:
    """The ID of another voting member that answers, or None."""
    for member in members or []:
        mid = str(member.get("ID", ""))
        if not mid or mid == me or member.get("isLearner"):
            continue
        for url in member.get("clientURLs") or []:
            try:
                call(url, "/v3/maintenance/status", {}, ctx, timeout)
                return mid
            except Exception:  # noqa: BLE001 - an unreachable member is simply not a successor
                continue
    return None


def main(argv: List[str]) -> int:
    if len(argv) < 3 or argv[1] not in ACTIONS or argv[2] not in LEADER_ROLES:
        return 0
    try:
        with open(CONFIG, encoding="utf-8") as fh:
            cfg = json.load(fh)
        ctx, timeout, local = ssl_context(cfg), float(cfg.get("timeout", 3)), cfg["local_url"]
        status = call(local, "/v3/maintenance/status", {}, ctx, timeout)
        me, leader = str(status.get("header", {}).get("member_id", "")), str(status.get("leader", ""))
        if not me or me != leader:
            return 0
        members = call(local, "/v3/cluster/member/list", {}, ctx, timeout).get("members")
        target = successor(members, me, ctx, timeout)
        if target is None:
            log("this member leads etcd, but no other member answers; leadership stays")
            return 0
        call(local, "/v3/maintenance/transfer-leadership", {"targetID": target}, ctx, timeout)
        log("etcd leadership handed from %s to %s (this node now leads PostgreSQL)" % (me, target))
    except Exception as exc:  # noqa: BLE001 - a callback must never fail Patroni
        log("left etcd's leadership alone: %s: %s" % (type(exc).__name__, exc))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
