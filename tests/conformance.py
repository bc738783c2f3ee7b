"""The contract every family keeps, as checks a test runs on one family.

``test_conformance.py`` runs them for every family found; a family added as a
folder is checked without any edit here (``docs/adding-a-family.md``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from optsched import SolveParams, solve
from optsched.errors import InputError, NotSupportedError
from optsched.family import Family, Kind
from optsched.io import instance_from_dict, instance_to_dict, result_to_json, solution_from_dict
from optsched.registry import solvers
from optsched.result import Status

from .conftest import declined

PARAMS = SolveParams(time_limit=30, workers=1, seed=1)
AnyFamily = Family[Any, Any]


def pairs(families: list[AnyFamily]) -> list[tuple[str, str]]:
    """(family, solver) for every installed solver of every family."""
    return [(f.name, s.name) for f in families for s in solvers(f).values() if s.installed()]


def check_entry(family: AnyFamily) -> None:
    """Samples exist, the family has an exact solver and a heuristic, the hint is a heuristic."""
    assert family.samples(), f"{family.name}: samples() gives no instance"
    kinds = {s.kind for s in solvers(family).values() if s.installed()}
    assert kinds == {Kind.EXACT, Kind.HEURISTIC}, family.name
    assert solvers(family)[family.hint_solver].kind is Kind.HEURISTIC


def check_round_trip(family: AnyFamily) -> None:
    """Every sample survives JSON and back."""
    for instance in family.samples():
        data = json.loads(json.dumps(instance_to_dict(instance)))
        assert instance_from_dict(data) == instance


_OPTIMA: dict[tuple[str, str], Any] = {}


def optimum(family: AnyFamily, instance: Any) -> Any:
    """The optimum by the first installed exact solver that takes the instance (cached); None
    when none takes it (moe's time objective: then the bound is all a heuristic meets)."""
    key = (family.name, instance.name)
    if key not in _OPTIMA:
        exact = next((s.name for s in solvers(family).values() if s.kind is Kind.EXACT
                      and s.installed() and not declined(instance, s.name)), None)
        _OPTIMA[key] = None if exact is None else solve(instance, exact, PARAMS).objective
    return _OPTIMA[key]


def check_solver(family: AnyFamily, solver: str) -> None:
    """Verified, bound <= objective, exact solvers optimal and agreeing, results round-trip.

    A solver may refuse an instance only when its ``supports`` says so before
    any work; it must solve at least one sample.
    """
    spec = solvers(family)[solver]
    solved = 0
    for instance in family.samples():
        if declined(instance, solver):
            with pytest.raises(NotSupportedError):
                solve(instance, solver, PARAMS)
            continue
        result = solve(instance, solver, PARAMS)
        solved += 1
        assert result.verified and result.status.is_success, result
        assert "disagreements" not in result.stats, result.stats["disagreements"]
        assert result.objective is not None
        assert (result.family, result.instance, result.solver) == (family.name, instance.name,
                                                                   solver)
        assert result.bound is None or result.bound <= result.objective
        if result.bound is not None and family.integral:
            assert result.bound >= family.lower_bound(instance)
        best = optimum(family, instance)
        if spec.kind is Kind.EXACT:
            assert result.status is Status.OPTIMAL and result.objective == best
            assert result.gap == 0
        elif best is not None:
            assert result.objective >= best
        back = json.loads(result_to_json(result))
        solution = solution_from_dict(back, family)
        assert solution == result.solution
        assert family.evaluate(instance, solution).objective == result.objective
    assert solved, f"{solver} solved none of the {family.name} samples"


def check_options_refused(family: AnyFamily, solver: str) -> None:
    """A wrong key and a wrong value are refused before any work, naming the field."""
    spec = solvers(family)[solver]
    instance = next(i for i in family.samples() if not declined(i, solver))
    cases = [(SolveParams(options={"no_such_option": 1}), "options.no_such_option"),
             (SolveParams(model={"no_such_option": 1}), "model.no_such_option")]
    cases += [(SolveParams(options={o.name: _bad_value(o.type)}), f"options.{o.name}")
              for o in spec.options().options[:5]]
    cases += [(SolveParams(model={o.name: _bad_value(o.type)}), f"model.{o.name}")
              for o in spec.model_options.options]
    for params, field in cases:
        with pytest.raises(InputError) as caught:
            solve(instance, solver, params)
        assert caught.value.field == field, (solver, str(caught.value))


def _bad_value(kind: type) -> object:
    """A value no option of type ``kind`` accepts."""
    return {bool: "yes", int: 1.5, float: "fast", str: 3, list: "not-a-list"}[kind]
