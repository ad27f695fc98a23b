"""The interrupted-runs test's timing table, printed in pytest's terminal summary (visible without -s)."""

from __future__ import annotations

from typing import List

import pytest

TIMINGS = pytest.StashKey[List[str]]()


@pytest.fixture(scope="session")
def timings(request: pytest.FixtureRequest) -> List[str]:
    """Lines for the summary; tests and fixtures append to it."""
    return request.config.stash.setdefault(TIMINGS, [])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash.get(TIMINGS, [])
    if lines:
        terminalreporter.section("interrupted runs: timings")
        for line in lines:
            terminalreporter.write_line(line)
