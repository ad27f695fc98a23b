"""chaos/tools/cpu_burn.py: the soak's CPU burner spins for the time asked and ends by itself."""
from __future__ import annotations

import time

import pytest

from pgha_test_helpers import load_tool

cpu_burn = load_tool("cpu_burn")


def test_spin_until_returns_at_the_deadline() -> None:
    start = time.monotonic()
    rounds = cpu_burn.spin_until(start + 0.2)
    took = time.monotonic() - start
    assert rounds > 0
    assert 0.2 <= took < 1.0


def test_burn_runs_every_worker_and_ends() -> None:
    start = time.monotonic()
    assert cpu_burn.burn(2, 0.3) == [0, 0]
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("workers, seconds, message", [(0, 1.0, "workers must be 1 or more"),
                                                       (1, 0.0, "seconds must be more than 0")])
def test_bad_input_is_refused(workers: int, seconds: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cpu_burn.burn(workers, seconds)


def test_main_refuses_bad_input_with_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cpu_burn.main(["--workers", "0", "--seconds", "1"])
    assert exc.value.code == 2
    assert "workers must be 1 or more" in capsys.readouterr().err
