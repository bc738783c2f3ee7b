"""Incumbents reported mid-solve: verified, improving only, bounds kept only when valid."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from optsched import Result, SmttInstance, SmttSolution, SolveParams, Status, solve
from optsched.deadline import Deadline
from optsched.io import read_instances
from optsched.registry import family_of, solvers

EXAMPLE = SmttInstance((3, 5, 2), (4, 6, 3), (1, 2, 1), name="example")
"""p = (3, 5, 2), d = (4, 6, 3), w = (1, 2, 1). Order 0,1,2 ends at 3, 8, 10: tardiness
0, 2, 7, weighted 0 + 4 + 7 = 11. Order 2,1,0 ends at 2, 7, 10: 0 + 2*1 + 6 = 8, the
optimum. Order 1,0,2 ends at 5, 8, 10: 2*0 + 4 + 7 = 11."""

INSTANCES = Path(__file__).parents[1] / "instances"


def offering(monkeypatch: pytest.MonkeyPatch,
             offers: list[tuple[Any, float | None, float | None]]) -> None:
    """Replace the cpsat backend by one that offers ``offers``, then returns the optimum."""
    def run(_instance: Any, _params: SolveParams, deadline: Deadline) -> Result:
        for solution, objective, bound in offers:
            deadline.report(solution, objective, bound)
        return Result(status=Status.OPTIMAL, solver="cpsat", solution=SmttSolution((2, 1, 0)),
                      objective=8, bound=8)

    table = solvers("smtt")
    monkeypatch.setitem(table, "cpsat", dataclasses.replace(table["cpsat"], run=run))


def test_only_verified_improvements_are_told(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offers: a repeated job (invalid), 0,1,2 claiming 10 (the checker says 11), 1,0,2
    (11 again: no improvement), 2,1,0 claiming 8 with a bound of 9 (above 8: dropped).
    Told: the hint (0,1,2: 11, with the family's lower bound 7 as its bound), then 2,1,0
    with 8 and still the hint's bound 7 (the claim 9 is above 8)."""
    offering(monkeypatch, [(SmttSolution((0, 0, 1)), None, None),
                           (SmttSolution((0, 1, 2)), 10, 7),
                           (SmttSolution((1, 0, 2)), None, 7),
                           (SmttSolution((2, 1, 0)), 8, 9)])
    told: list[Result] = []
    params = SolveParams(time_limit=5, workers=1, hint=SmttSolution((0, 1, 2)))
    result = solve(EXAMPLE, "cpsat", params, on_progress=told.append)
    assert [(r.solver, r.objective) for r in told] == [("hint", 11), ("cpsat", 8)]
    assert [(r.bound, r.stats) for r in told] == [(7, {"bound_by": "hint"})] * 2
    assert told[1].verified and told[1].status is Status.FEASIBLE
    assert result.objective == 8 and result.status is Status.OPTIMAL


def test_a_valid_claimed_bound_is_marked(monkeypatch: pytest.MonkeyPatch) -> None:
    """2,1,0 (8) with CP-SAT's bound 7.2: rounded up to 8 (integral objective), kept and
    marked as the solver's claim."""
    offering(monkeypatch, [(SmttSolution((2, 1, 0)), 8, 7.2)])
    told: list[Result] = []
    solve(EXAMPLE, "cpsat", SolveParams(time_limit=5, workers=1, hint=SmttSolution((0, 1, 2))),
          on_progress=told.append)
    assert told[-1].objective == 8 and told[-1].bound == 8
    assert told[-1].stats == {"bound_by": "cpsat"}


def test_a_broken_listener_does_not_end_the_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    offering(monkeypatch, [(SmttSolution((2, 1, 0)), 8, None)])

    def broken(_result: Result) -> None:
        raise RuntimeError("listener bug")

    result = solve(EXAMPLE, "cpsat", SolveParams(time_limit=5, workers=1), on_progress=broken)
    assert result.objective == 8


def test_nobody_listening_costs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``on_progress`` the deadline has no listener: solvers skip decoding."""
    seen: list[bool] = []

    def run(_instance: Any, _params: SolveParams, deadline: Deadline) -> Result:
        seen.append(deadline.listening)
        deadline.report(SmttSolution((2, 1, 0)), 8, 8)  # a no-op
        return Result(status=Status.OPTIMAL, solver="cpsat", solution=SmttSolution((2, 1, 0)),
                      objective=8, bound=8)

    table = solvers("smtt")
    monkeypatch.setitem(table, "cpsat", dataclasses.replace(table["cpsat"], run=run))
    solve(EXAMPLE, "cpsat", SolveParams(time_limit=5, workers=1))
    assert seen == [False]


def told_by(path: Path, solver: str) -> tuple[list[Result], Result]:
    """Solve ``path`` from the family's trivial solution as hint; every incumbent told."""
    instance = next(iter(read_instances(path)))
    family = family_of(instance)
    assert family.trivial is not None
    told: list[Result] = []
    params = SolveParams(time_limit=20, workers=1, seed=1, hint=family.trivial(instance))
    result = solve(instance, solver, params, on_progress=told.append)
    for r in told:  # each one re-checked here, and each better than the one before
        evaluation = family.evaluate(instance, r.solution)
        assert not evaluation.violations and evaluation.objective == r.objective
        assert r.objective is not None and (r.bound is None or r.bound <= r.objective)
    objectives = [r.objective for r in told if r.objective is not None]
    assert objectives == sorted(set(objectives), reverse=True)
    return told, result


@pytest.mark.parametrize("solver", ["cpsat", "highs"])
def test_solvers_report_from_inside_the_search(solver: str) -> None:
    """instances/pods/running.json: the trivial solution (pending pods left out) costs
    27; the optimum is 12 (instances/README.md). Each solver improves on the hint during
    its search, so at least one incumbent comes from it before the end."""
    told, result = told_by(INSTANCES / "pods" / "running.json", solver)
    assert told[0].solver == "hint" and told[0].objective == 27
    assert any(r.solver == solver for r in told)
    assert result.objective == 12 and told[-1].objective is not None
    assert told[-1].objective >= 12


def test_native_search_reports_its_improvements() -> None:
    """memalloc-lns tells its greedy start (a heuristic: no hint before it), then each
    window that lowers the peak. instances/memalloc/example.json: greedy by size already
    reaches the optimum 40 (instances/README.md), so it is the one incumbent told."""
    told, result = told_by(INSTANCES / "memalloc" / "example.json", "memalloc-lns")
    assert [(r.solver, r.objective) for r in told] == [("memalloc-lns", 40)]
    assert result.objective == 40
