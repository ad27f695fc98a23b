"""pytest fixtures for the unit tests (helpers live in pgha_test_helpers.py).

No test touches the network: ``fake_http`` replaces ``open_url`` inside ``ansible.module_utils.pgha_http``
(the only place the project's modules send HTTP from) with a router of canned answers, and ``fake_clock``
makes waiting instantaneous.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Dict

import pytest
from ansible.module_utils import pgha_http

from pgha_test_helpers import FakeClock, FakeHttp, patch_module_args


@pytest.fixture
def fake_http(monkeypatch: pytest.MonkeyPatch) -> FakeHttp:
    fake = FakeHttp()
    monkeypatch.setattr(pgha_http, "open_url", fake)
    return fake


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    clock = FakeClock()
    monkeypatch.setattr(time, "monotonic", clock.monotonic)
    monkeypatch.setattr(time, "sleep", clock.sleep)
    return clock


@pytest.fixture
def run_module(capsys: pytest.CaptureFixture) -> Callable[..., Dict[str, Any]]:
    """Run ``module.main()`` with ``args``; return the JSON result (``failed`` is set by fail_json)."""

    def _run(module: Any, args: Dict[str, Any], check_mode: bool = False, diff: bool = False) -> Dict[str, Any]:
        args = dict(args)
        if check_mode:
            args["_ansible_check_mode"] = True
        if diff:
            args["_ansible_diff"] = True
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                module.main()
        return json.loads(capsys.readouterr().out)

    return _run
