"""The contract every family x solver pair keeps; a new family joins by adding samples."""

from __future__ import annotations

import json
from typing import Any

import pytest

from optsched import SolveParams, solve
from optsched.family import Kind
from optsched.io import instance_from_dict, instance_to_dict, result_to_json, solution_from_dict
from optsched.registry import FAMILIES, SOLVERS
from optsched.result import Status

from .conftest import solve_unless_declined
from .samples import SAMPLES

PAIRS = [(f, s.name) for f in FAMILIES for s in SOLVERS.values()
         if s.installed() and s.supports(FAMILIES[f])]
PARAMS = SolveParams(time_limit=30, workers=1, seed=1)


def test_every_family_has_samples_and_solvers() -> None:
    for name, family in FAMILIES.items():
        assert name in SAMPLES, f"add tiny {name} instances to tests/samples.py"
        kinds = {SOLVERS[s].kind for f, s in PAIRS if f == name}
        assert kinds == {Kind.EXACT, Kind.HEURISTIC}, name
        assert family.hint_solver in family.solvers


@pytest.mark.parametrize("family", list(FAMILIES))
def test_instances_round_trip(family: str) -> None:
    for instance in SAMPLES[family]():
        data = json.loads(json.dumps(instance_to_dict(instance)))
        assert instance_from_dict(data) == instance


_OPTIMA: dict[tuple[str, str], Any] = {}


def _optimum(family: str, instance: Any) -> Any:
    """The optimum by the first installed exact solver (cached across the suite)."""
    key = (family, instance.name)
    if key not in _OPTIMA:
        exact = next(s for f, s in PAIRS if f == family and SOLVERS[s].kind is Kind.EXACT)
        _OPTIMA[key] = solve(instance, exact, PARAMS).objective
    return _OPTIMA[key]


@pytest.mark.parametrize(("family", "solver"), PAIRS, ids=[f"{f}-{s}" for f, s in PAIRS])
def test_solver_contract(family: str, solver: str) -> None:
    """Verified, bound <= objective, exact solvers optimal and agreeing, results round-trip.

    A solver may decline the weighted samples (see ``solve_unless_declined``)
    but must solve the others.
    """
    fam = FAMILIES[family]
    solved = 0
    for instance in SAMPLES[family]():
        result = solve_unless_declined(instance, solver, PARAMS)
        if result is None:
            continue
        solved += 1
        assert result.verified and result.status.is_success, result
        assert result.objective is not None
        assert (result.family, result.instance, result.solver) == (family, instance.name, solver)
        assert result.bound is None or result.bound <= result.objective
        if result.bound is not None:
            assert result.bound >= fam.lower_bound(instance) or not fam.integral
        optimum = _optimum(family, instance)
        if SOLVERS[solver].kind is Kind.EXACT:
            assert result.status is Status.OPTIMAL and result.objective == optimum
            assert result.gap == 0
        else:
            assert result.objective >= optimum
        back = json.loads(result_to_json(result))
        solution = solution_from_dict(back, fam)
        assert solution == result.solution
        assert fam.evaluate(instance, solution).objective == result.objective
    assert solved, f"{solver} solved none of the {family} samples"
