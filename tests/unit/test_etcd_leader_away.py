"""roles/patroni/files/etcd_leader_away.py: the Patroni callback that hands etcd's leadership away from a new
PostgreSQL leader. etcd's JSON gateway is faked (urllib); the real one is exercised by the crash experiments."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "roles" / "patroni" / "files" / "etcd_leader_away.py"
_SPEC = importlib.util.spec_from_file_location("etcd_leader_away", SCRIPT)
assert _SPEC and _SPEC.loader
ela = importlib.util.module_from_spec(_SPEC)
sys.modules["etcd_leader_away"] = ela
_SPEC.loader.exec_module(ela)

MEMBERS = {"members": [{"ID": "1", "name": "patroni1", "clientURLs": ["https://n1:2379"]},
                       {"ID": "2", "name": "patroni2", "clientURLs": ["https://n2:2379"]},
                       {"ID": "3", "name": "patroni3", "clientURLs": ["https://n3:2379"]}]}


@pytest.fixture
def etcd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Dict[str, Any]:
    """A fake etcd: member 1 local; ``leader`` and the unreachable URLs are set by each test; calls recorded."""
    state: Dict[str, Any] = {"leader": "1", "down": set(), "calls": []}
    cfg = tmp_path / "etcd_leader_away.json"
    cfg.write_text(json.dumps({"local_url": "https://n1:2379", "timeout": 1}))
    monkeypatch.setattr(ela, "CONFIG", str(cfg))

    def call(url: str, path: str, body: Dict[str, Any], ctx: Any, timeout: float) -> Dict[str, Any]:
        state["calls"].append((url, path, body))
        if url in state["down"]:
            raise OSError("connection refused")
        if path == "/v3/maintenance/status":
            return {"header": {"member_id": url[-6]}, "leader": state["leader"]}
        if path == "/v3/cluster/member/list":
            return MEMBERS
        return {}

    monkeypatch.setattr(ela, "call", call)
    return state


def transfers(state: Dict[str, Any]) -> List[Tuple[str, Dict[str, Any]]]:
    return [(url, body) for url, path, body in state["calls"] if path == "/v3/maintenance/transfer-leadership"]


def test_a_new_leader_hands_etcd_leadership_to_a_member_that_answers(etcd: Dict[str, Any]) -> None:
    etcd["down"] = {"https://n2:2379"}
    assert ela.main(["x", "on_role_change", "primary", "demo"]) == 0
    assert transfers(etcd) == [("https://n1:2379", {"targetID": "3"})]


def test_nothing_moves_when_another_member_leads_etcd(etcd: Dict[str, Any]) -> None:
    etcd["leader"] = "2"
    assert ela.main(["x", "on_start", "primary", "demo"]) == 0
    assert transfers(etcd) == []


@pytest.mark.parametrize("argv", [["x", "on_role_change", "replica", "demo"], ["x", "on_stop", "primary", "demo"],
                                  ["x"]])
def test_other_roles_and_actions_do_nothing(etcd: Dict[str, Any], argv: List[str]) -> None:
    assert ela.main(argv) == 0
    assert etcd["calls"] == []


def test_errors_never_fail_patroni(etcd: Dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    etcd["down"] = {"https://n1:2379"}
    assert ela.main(["x", "on_role_change", "primary", "demo"]) == 0
    assert "left etcd's leadership alone: OSError" in capsys.readouterr().err


def test_no_successor_leaves_leadership(etcd: Dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    etcd["down"] = {"https://n2:2379", "https://n3:2379"}
    assert ela.main(["x", "on_role_change", "primary", "demo"]) == 0
    assert transfers(etcd) == [] and "no other member answers" in capsys.readouterr().err
