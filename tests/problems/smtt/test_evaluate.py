"""The independent checker: hand-computed objectives and violations."""

from __future__ import annotations

import pytest

from optsched import SmttInstance, SmttSolution, evaluate

EXAMPLE = SmttInstance((3, 5, 2), (4, 6, 3), (1, 2, 1), name="example")


def test_hand_computed_objective_and_metrics() -> None:
    """Order 2,1,0: C = 2, 7, 10; T = max(0,2-3)=0, max(0,7-6)=1, max(0,10-4)=6.

    Weighted: 1*0 + 2*1 + 1*6 = 8; total tardiness 7; 2 tardy jobs; max 6;
    total completion 2 + 7 + 10 = 19.
    """
    ev = evaluate(EXAMPLE, SmttSolution((2, 1, 0)))
    assert ev.feasible
    assert ev.objective == 8
    assert dict(ev.metrics) == {"weighted_tardiness": 8, "total_tardiness": 7, "tardy_jobs": 2,
                                "max_tardiness": 6, "total_completion": 19}


@pytest.mark.parametrize(("sequence", "message"), [
    ((0, 0, 1), "job 0 appears more than once"),
    ((0, 1), "missing"),
    ((0, 1, 2, 1), "job 1 appears more than once"),
    ((0, 1, 3), "out of range"),
    ((0, 1, -1), "out of range"),
])
def test_violations(sequence: tuple[int, ...], message: str) -> None:
    """A sequence that is not a permutation has violations and no objective."""
    ev = evaluate(EXAMPLE, SmttSolution(sequence))
    assert not ev.feasible
    assert ev.objective is None
    assert any(message in v for v in ev.violations), ev.violations
