"""Every exact solver proves the brute-force optimum on tiny instances."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings

from optsched import SmttInstance, SolveParams, Status, solve
from optsched.family import Kind

from ...conftest import declined, installed
from .oracle import brute_force, instances

FAST = SolveParams(time_limit=20, workers=1)
FORMULATIONS = ("time-indexed", "linear-ordering")
MILP = [s for s in installed("smtt", Kind.EXACT) if s in ("highs", "cbc")]


def _settings(solver: str) -> list[SolveParams]:
    """One run per MILP formulation for the MILP solvers, one run for the others."""
    if solver not in MILP:
        return [FAST]
    return [SolveParams(time_limit=20, workers=1, model={"formulation": f})
            for f in FORMULATIONS]


def test_hand_solved_example(solver: str) -> None:
    """p=(3,5,2), d=(4,6,3), w=(1,2,1); of the 6 orders the best is 2,1,0.

    2,1,0: C=2,7,10, cost 0 + 2*1 + 1*6 = 8.   2,0,1: C=2,5,10, cost 0 + 1 + 2*4 = 9.
    0,2,1: 0 + 2 + 8 = 10.   1,2,0: 0 + 4 + 6 = 10.   1,0,2: 0 + 4 + 7 = 11.
    0,1,2: 0 + 2*2 + 7 = 11.   So the optimum is 8.
    """
    inst = SmttInstance((3, 5, 2), (4, 6, 3), (1, 2, 1), name="hand")
    if declined(inst, solver):
        pytest.skip(f"{solver} declines weighted instances")
    for params in _settings(solver):
        result = solve(inst, solver, params)
        assert result.status is Status.OPTIMAL
        assert result.objective == 8 and result.bound == 8 and result.gap == 0.0
        assert result.verified
        assert result.solution is not None
        assert result.solution.to_dict() == {"sequence": [2, 1, 0]}


def test_hand_solved_unweighted(solver: str) -> None:
    """p=(4,2,6,3), d=(5,9,8,4): the 24 orders give a best cost of 9 (e.g. 3,0,1,2).

    3,0,1,2: C = 3, 7, 9, 15; T = 0, 2, 0, 7 = 9. The bound side: SPT completions
    2, 5, 9, 15 against sorted due dates 4, 5, 8, 9 give 0 + 0 + 1 + 6 = 7 <= 9.
    """
    inst = SmttInstance((4, 2, 6, 3), (5, 9, 8, 4), name="hand-u")
    assert brute_force(inst)[0] == 9
    result = solve(inst, solver, FAST)
    assert result.status is Status.OPTIMAL and result.objective == 9


def test_all_jobs_early_is_zero(solver: str) -> None:
    """Due dates at the horizon: EDD finishes every job in time, optimum 0."""
    inst = SmttInstance((2, 3, 4), (9, 9, 9), name="early")
    result = solve(inst, solver, FAST)
    assert result.status is Status.OPTIMAL and result.objective == 0


def test_one_job(solver: str) -> None:
    """One job, p=5, d=2, w=3: cost 3 * (5 - 2) = 9."""
    result = solve(SmttInstance((5,), (2,), (3,), name="one"), solver, FAST)
    assert result.status is Status.OPTIMAL and result.objective == 9


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(instances(max_n=8))
def test_matches_the_oracle(solver: str, instance: SmttInstance) -> None:
    """Status optimal, objective = brute-force optimum, bound = objective, verified."""
    assume(not declined(instance, solver))
    result = solve(instance, solver, FAST)
    optimum, _ = brute_force(instance)
    assert result.status is Status.OPTIMAL
    assert result.objective == optimum
    assert result.bound == optimum
    assert result.verified


@pytest.mark.parametrize("milp", MILP)
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(instances(max_n=6))
def test_linear_ordering_matches_the_oracle(milp: str, instance: SmttInstance) -> None:
    """The compact MILP model proves the same optimum as enumeration."""
    params = SolveParams(time_limit=20, workers=1, model={"formulation": "linear-ordering"})
    result = solve(instance, milp, params)
    optimum, _ = brute_force(instance)
    assert result.status is Status.OPTIMAL and result.objective == optimum
