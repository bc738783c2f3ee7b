"""solve(): verification, bounds, hints and fallback, with backends replaced by fakes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from optsched import (
    InputError,
    InvalidSolutionError,
    NotSupportedError,
    Result,
    SmttInstance,
    SmttSolution,
    SolveParams,
    SolverUnavailableError,
    Status,
    UnknownSolverError,
    solve,
)
from optsched.registry import solvers

EXAMPLE = SmttInstance((3, 5, 2), (4, 6, 3), (1, 2, 1), name="example")
"""Optimum 8 by order 2,1,0; order 0,1,2 costs 0 + 2*2 + 7 = 11; family lower bound 7."""

PARAMS = SolveParams(time_limit=5, workers=1)


def fake(monkeypatch: pytest.MonkeyPatch, outcome: Callable[[], Result]) -> None:
    """Replace the cpsat backend by one that returns ``outcome()``."""
    def run(*_args: Any) -> Result:
        return outcome()

    table = solvers("smtt")
    monkeypatch.setitem(table, "cpsat", dataclasses.replace(table["cpsat"], run=run))


def answer(status: Status, sequence: tuple[int, ...] | None, objective: int | None,
           bound: int | None = None) -> Result:
    return Result(status=status, solver="cpsat",
                  solution=None if sequence is None else SmttSolution(sequence),
                  objective=objective, bound=bound)


def test_a_wrong_objective_is_logged_and_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """The solver claims 7 for order 2,1,0, whose cost is 8 (as a time-limited MILP
    incumbent overstates or understates its own value): the checker's 8 is reported, the
    claim logged, the solution kept."""
    fake(monkeypatch, lambda: answer(Status.FEASIBLE, (2, 1, 0), 7))
    result = solve(EXAMPLE, "cpsat", PARAMS)
    assert result.verified and result.objective == 8 and result.stats["fallback"] is None
    assert result.stats["disagreements"] == ["cpsat claimed objective 7, the checker "
                                             "computes 8"]


def test_an_invalid_sequence_gives_way_to_the_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sequence repeating job 1: the verified hint (cost 8) is returned, the violation
    logged; without the fallback it is an InvalidSolutionError."""
    fake(monkeypatch, lambda: answer(Status.FEASIBLE, (1, 1, 0), 11))
    result = solve(EXAMPLE, "cpsat", PARAMS)
    assert (result.objective, result.stats["fallback"]) == (8, "dynasearch")
    assert "appears more than once" in result.stats["disagreements"][0]
    with pytest.raises(InvalidSolutionError, match="appears more than once"):
        solve(EXAMPLE, "cpsat", dataclasses.replace(PARAMS, fallback=False))


def test_a_bound_above_the_objective_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bound of 9 above the verified objective 8 is not a bound: the family's 7 is kept,
    the solution too, and the claim is logged."""
    fake(monkeypatch, lambda: answer(Status.OPTIMAL, (2, 1, 0), 8, bound=9))
    result = solve(EXAMPLE, "cpsat", PARAMS)
    assert (result.status, result.objective, result.bound) == (Status.FEASIBLE, 8, 7)
    assert result.stats["disagreements"] == ["cpsat: bound 9 is above the verified objective "
                                             "8, not used"]


def test_unproven_optimum_is_downgraded(monkeypatch: pytest.MonkeyPatch) -> None:
    """'Optimal' for order 0,1,2 (cost 11) with bound 7 is reported as feasible."""
    fake(monkeypatch, lambda: answer(Status.OPTIMAL, (0, 1, 2), 11, bound=7))
    result = solve(EXAMPLE, "cpsat", dataclasses.replace(PARAMS, fallback=False))
    assert result.status is Status.FEASIBLE
    assert (result.objective, result.bound) == (11, 7)
    assert result.gap == pytest.approx(4 / 11)


def test_closed_gap_is_optimal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Feasible 8 with a fractional bound 7.4 rounds up to 8 (integral objective): optimal."""
    fake(monkeypatch, lambda: dataclasses.replace(answer(Status.FEASIBLE, (2, 1, 0), 8),
                                                  bound=7.4))
    result = solve(EXAMPLE, "cpsat", PARAMS)
    assert result.status is Status.OPTIMAL and result.bound == 8


def test_optimal_without_bound_gets_the_objective(monkeypatch: pytest.MonkeyPatch) -> None:
    """CBC proves optimality but reports no bound: the bound becomes the objective."""
    fake(monkeypatch, lambda: answer(Status.OPTIMAL, (2, 1, 0), 8))
    result = solve(EXAMPLE, "cpsat", PARAMS)
    assert result.status is Status.OPTIMAL and result.bound == 8 and result.verified


@pytest.mark.parametrize("status", [Status.NO_SOLUTION, Status.ERROR])
def test_fallback_to_the_hint(monkeypatch: pytest.MonkeyPatch, status: Status) -> None:
    """Nothing found: the verified dynasearch hint (cost 8) is returned, marked as the fallback.

    The solver's bound 5 is weaker than the family's bound 7, so the bound is 7
    and the status feasible (8 > 7).
    """
    fake(monkeypatch, lambda: answer(status, None, None, bound=5))
    result = solve(EXAMPLE, "cpsat", PARAMS)
    assert result.status is Status.FEASIBLE
    assert (result.objective, result.bound, result.stats["fallback"]) == (8, 7, "dynasearch")
    assert result.solver == "cpsat" and result.verified


def test_no_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """With fallback off, nothing found stays no_solution, with the better of the solver's
    bound 5 and the family's 7."""
    fake(monkeypatch, lambda: answer(Status.NO_SOLUTION, None, None, bound=5))
    result = solve(EXAMPLE, "cpsat", dataclasses.replace(PARAMS, fallback=False))
    assert result.status is Status.NO_SOLUTION
    assert result.solution is None and result.objective is None and result.bound == 7


def test_crash_becomes_error_status(monkeypatch: pytest.MonkeyPatch) -> None:
    """A backend exception is a status with the message, not a traceback."""
    def boom() -> Result:
        raise RuntimeError("solver exploded")

    fake(monkeypatch, boom)
    result = solve(EXAMPLE, "cpsat", dataclasses.replace(PARAMS, fallback=False))
    assert result.status is Status.ERROR
    assert "solver exploded" in result.stats["error"]


def test_infeasible_claim_contradicting_the_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every order is feasible, so 'infeasible' is a solver bug: the hint is returned."""
    fake(monkeypatch, lambda: answer(Status.INFEASIBLE, None, None))
    result = solve(EXAMPLE, "cpsat", PARAMS)
    assert (result.status, result.objective, result.bound) == (Status.FEASIBLE, 8, 7)
    assert "claimed the instance infeasible" in result.stats["disagreements"][0]


def test_user_hint_is_checked() -> None:
    """A hint that repeats a job is bad input naming 'hint'."""
    bad = dataclasses.replace(PARAMS, hint=SmttSolution((0, 0, 1)))
    with pytest.raises(InputError, match="^hint: "):
        solve(EXAMPLE, "cpsat", bad)


def test_user_hint_is_used() -> None:
    """A user hint replaces the heuristic one (no 'hint' solver named in stats)."""
    params = dataclasses.replace(PARAMS, hint=SmttSolution((0, 1, 2)))
    result = solve(EXAMPLE, "cpsat", params)
    assert result.objective == 8 and result.stats["hint_objective"] == 11
    assert "hint" not in result.stats


def test_unknown_solver_lists_the_choices() -> None:
    """An unknown name is bad input that lists the family's solvers."""
    with pytest.raises(UnknownSolverError, match="unknown solver 'gurobi'.*cpsat"):
        solve(EXAMPLE, "gurobi")


def test_solver_of_another_family() -> None:
    """pods' ``default`` does not solve smtt: refused, naming its family and smtt's solvers."""
    with pytest.raises(NotSupportedError, match="does not solve smtt: it is a solver of pods.*"
                                                "cpsat"):
        solve(EXAMPLE, "default")


def test_unavailable_solver_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """A solver whose package is missing names the package to install."""
    table = solvers("smtt")
    monkeypatch.setitem(table, "highs", dataclasses.replace(table["highs"],
                                                            packages=("no_such_package_xyz",)))
    with pytest.raises(SolverUnavailableError, match="no_such_package_xyz.*pip install"):
        solve(EXAMPLE, "highs")


def test_a_worse_answer_gives_way_to_the_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """The solver returns sequence 0, 1, 2 (C = 3, 8, 10: tardiness 0 + 2*2 + 7 = 11) as
    feasible; the hint costs 8, so the hint is returned, marked as the fallback, with the
    solver's objective kept in the stats."""
    fake(monkeypatch, lambda: answer(Status.FEASIBLE, (0, 1, 2), 11, bound=5))
    result = solve(EXAMPLE, "cpsat", PARAMS)
    assert (result.objective, result.stats["fallback"], result.stats["solver_objective"]) == (
        8, "dynasearch", 11)
    assert result.verified and result.status is Status.FEASIBLE


def test_integral_objectives_are_compared_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    """A claim of 10.4 for a sequence the checker prices 11 is logged, not rounded away;
    the hint (8) is better and is returned."""
    fake(monkeypatch, lambda: answer(Status.FEASIBLE, (0, 1, 2), 10.4))  # type: ignore[arg-type]
    result = solve(EXAMPLE, "cpsat", PARAMS)
    assert result.stats["disagreements"] == ["cpsat claimed objective 10.4, the checker "
                                             "computes 11"]
    assert result.objective == 8 and result.stats["solver_objective"] == 11


@pytest.mark.parametrize(("weights", "chosen"), [((1, 1, 1), "smtt-bb"),
                                                 ((1, 2, 1), "smtt-ssdp")])
def test_auto_picks_the_exact_method_made_for_the_instance(
        weights: tuple[int, ...], chosen: str) -> None:
    """Equal weights go to smtt-bb, unequal ones to smtt-ssdp; the result says why.

    Equal weights: 2,0,1 gives C = 2, 5, 10, tardiness 0 + 1 + 4 = 5, the optimum
    (2,1,0 costs 0 + 1 + 7 = 8). Unequal: the example's optimum 8.
    """
    inst = SmttInstance((3, 5, 2), (4, 6, 3), weights, name="auto")
    result = solve(inst, "auto", PARAMS)
    assert result.solver == chosen and result.status is Status.OPTIMAL
    assert result.objective == (5 if chosen == "smtt-bb" else 8)
    assert result.stats["auto"].endswith(f"{chosen} proves them fastest")


def test_an_objective_past_a_float_is_verified_exactly() -> None:
    """1,100 pending pods of 1,100 priorities, one cpu each, on a one-cpu node: the
    lexicographic objective weighs each level twice the one below (one pod each), so
    leaving them all pending is 2^1100 - 1, past a float's range (about 2^1024). A bound
    one below it is kept (the family's own is 0), with no float conversion on the way."""
    from optsched.problems.pods import samples as ex
    from optsched.problems.pods.solution import as_it_is
    from optsched.registry import family_of
    from optsched.solve import verify

    pods = [ex.pod(f"p{i}", "1", i) for i in range(1100)]
    inst = ex.instance([ex.node("n1", "1")], pods)
    claim = Result(status=Status.FEASIBLE, solver="test", solution=as_it_is(inst),
                   objective=None, bound=2**1100 - 2)
    checked = verify(family_of(inst), inst, claim)
    assert checked.objective == 2**1100 - 1 and checked.bound == 2**1100 - 2


@pytest.mark.parametrize(("expected", "left", "share"), [
    (None, 10.0, 0.1),  # no estimate: HINT_SHARE
    (0.2, None, 0.1),  # no limit
    (0.2, 10.0, 0.1),  # 1.5 * 0.2 / 10 = 0.03: at least HINT_SHARE
    (0.2, 1.0, 0.3),  # 1.5 * 0.2 / 1 = 0.3
    (1.0, 1.0, 0.5),  # 1.5: at most HINT_MAX_SHARE
])
def test_the_hint_share_follows_the_family_estimate(expected: float | None, left: float | None,
                                                    share: float) -> None:
    """The hint's share of the time left is 1.5 times its expected time, within 0.1-0.5."""
    from optsched.registry import get_family
    from optsched.solve import hint_share

    family = dataclasses.replace(get_family("smtt"), hint_seconds=(
        None if expected is None else lambda instance: expected))
    assert hint_share(family, EXAMPLE, left) == pytest.approx(share)


@pytest.mark.parametrize(("expected", "limit"), [(None, 0.5), (1.0, 1.5)])
def test_the_hint_gets_its_expected_time(monkeypatch: pytest.MonkeyPatch,
                                         expected: float | None, limit: float) -> None:
    """A stand-in hint solver records its deadline: with a 5 s limit, a tenth (0.5 s)
    without an estimate; 1.5 s (1.5 times 1 s) when smtt says its hint takes 1 s."""
    from optsched.deadline import Deadline
    from optsched.registry import registry

    seen: list[float | None] = []

    def run(instance: Any, params: SolveParams, deadline: Deadline) -> Result:
        seen.append(deadline.time_limit)
        return Result(status=Status.FEASIBLE, solver="dynasearch",
                      solution=SmttSolution((2, 1, 0)), objective=8)

    table = solvers("smtt")
    monkeypatch.setitem(table, "dynasearch", dataclasses.replace(table["dynasearch"], run=run))
    family = registry().families["smtt"]
    monkeypatch.setitem(registry().families, "smtt", dataclasses.replace(
        family, hint_seconds=None if expected is None else lambda instance: expected))
    result = solve(EXAMPLE, "cpsat", PARAMS)
    assert result.objective == 8 and seen[0] is not None
    assert limit - 0.05 < seen[0] <= limit
