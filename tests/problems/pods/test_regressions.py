"""Instances that once broke a solve (``../shared/data/pods/regressions``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from optsched import SolveParams, read_instance, solve


@pytest.mark.data
@pytest.mark.parametrize("limit", [0.05, 0.2, 1.0])
def test_a_short_limit_keeps_the_verified_solution(data_dir: Path, limit: float) -> None:
    """paper-grid-n8-bound at short limits once stopped with "cpsat reports bound 1079 above
    the verified objective 1" (CP-SAT's bound of a search that had not begun): now a
    verified result with a bound no higher than its objective (0 is optimal: at 10 s it is
    proven)."""
    path = data_dir / "pods" / "regressions" / "paper-grid-n8-bound.json"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    result = solve(read_instance(path), "cpsat", SolveParams(time_limit=limit, workers=2))
    assert result.verified and result.objective is not None
    assert result.bound is not None and 0 <= result.bound <= result.objective
    assert "disagreements" not in result.stats
