"""Run a CP-SAT model: parameters, status mapping, bounds. OR-Tools is imported lazily."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from optsched.deadline import Deadline
from optsched.errors import InputError, OptschedError
from optsched.fields import excerpt
from optsched.params import SolveParams
from optsched.result import Result, Solution, Status

if TYPE_CHECKING:
    from ortools.sat.python import cp_model


@dataclass(frozen=True)
class CpFormulation:
    """A built CP-SAT model and how to read the family's solution from a solved solver."""

    model: cp_model.CpModel
    decode: Callable[[Any], Solution]
    """Reads the solution of a solved ``CpSolver``, or of a solution callback (mid-search)."""
    build_s: float
    stats: Mapping[str, Any] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    """Parameters the family suggests for this model; the caller's options override them."""
    offset: int = 0
    """An exact integer added to CP-SAT's objective value and bound. CP-SAT reports both
    as doubles, exact only below 2^53: a model whose objective has a larger constant keeps
    it here rather than in the proto's (double) offset."""
    scale: int = 1
    """The model's objective is the family's times ``scale`` (fixed point, e.g. moe's
    fractional tokens): objective and bound are divided by it."""
    reserve_s: float = 0.0
    """Seconds of the time left kept back from CP-SAT for what follows it: decoding the
    solution and the independent check. Subtracted from the time left when the solver
    starts (see :func:`configure`), after the build and the model's validation."""
    known: Solution | None = None
    """A solution the build itself found (e.g. a hint it improved), with its objective
    ``known_objective``: the result when CP-SAT finds none in its time (CP-SAT does not
    return its hint), so that the build's work is not lost to the caller's fallback."""
    known_objective: int | float | None = None


MIN_SOLVE_S = 0.01
"""The least time CP-SAT gets when a reserve would leave less (never more than is left)."""


_STATUS = {
    "OPTIMAL": Status.OPTIMAL,
    "FEASIBLE": Status.FEASIBLE,
    "INFEASIBLE": Status.INFEASIBLE,
    "UNKNOWN": Status.NO_SOLUTION,
    "MODEL_INVALID": Status.ERROR,
}


def configure(solver: cp_model.CpSolver, params: SolveParams, deadline: Deadline,
              suggested: Mapping[str, Any] | None = None, reserve_s: float = 0.0) -> None:
    """Apply workers, seed, log, the time left, suggested then the caller's options.

    The time limit is what ``deadline`` has left now, less ``reserve_s``, but
    at least :data:`MIN_SOLVE_S` (or all that is left, if less); the option
    ``max_time_in_seconds`` may only shorten it. The caller's options were
    checked against :func:`.cpsat_options.options` by ``solve()``.
    """
    p = solver.parameters
    p.num_workers = params.threads
    p.random_seed = params.seed
    p.log_search_progress = params.log
    p.log_to_stdout = params.log
    for key, value in {**(suggested or {}), **params.options}.items():
        try:
            if isinstance(value, list):  # a repeated field, e.g. subsolvers
                getattr(p, key).clear()
                getattr(p, key).extend(value)
            else:
                setattr(p, key, value)
        except (AttributeError, TypeError, ValueError) as exc:
            problem = " ".join(str(exc).split())[:120]
            raise InputError(f"options.{key}", f"bad value {excerpt(value)} for CP-SAT: {problem}"
                             ) from None
    left = deadline.remaining()
    if left is not None:  # max_time_in_seconds, if given, may only shorten the limit
        ours = max(left - reserve_s, min(left, MIN_SOLVE_S))
        p.max_time_in_seconds = min(p.max_time_in_seconds, ours)


def solve_model(solver: cp_model.CpSolver, model: cp_model.CpModel, deadline: Deadline,
                callback: cp_model.CpSolverSolutionCallback | None = None) -> Any:
    """``solver.solve(model)``, interrupted (keeping its incumbent) if the solve is stopped."""
    with deadline.on_stop(solver.stop_search):
        return solver.solve(model, callback)


def _reporter(form: CpFormulation, deadline: Deadline) -> cp_model.CpSolverSolutionCallback:
    """A solution callback that offers each of CP-SAT's solutions to ``deadline.report``.

    The formulation's ``decode`` reads the callback as it reads the solver
    (``value``, ``boolean_value``, ``response_proto``).
    """
    from ortools.sat.python import cp_model

    class Reporter(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self) -> None:
            objective = _scaled(_number(self.objective_value, form.offset), form.scale)
            bound = _scaled(_number(self.best_objective_bound, form.offset), form.scale)
            try:
                solution = form.decode(self)
            except Exception:  # the final result is decoded again, and checked
                return
            deadline.report(solution, objective, bound)

    return Reporter()


def run(form: CpFormulation, name: str, params: SolveParams, deadline: Deadline) -> Result:
    """Solve ``form`` within the deadline and map the outcome to a :class:`Result`."""
    from ortools.sat.python import cp_model

    if form.known is not None and deadline.expired():  # loading a large model takes time
        return Result(status=Status.FEASIBLE, solver=name, solution=form.known,
                      objective=form.known_objective, build_s=form.build_s,
                      stats={**form.stats, "known": "the limit passed while the model was "
                             "built; the build's own solution is returned"})
    problem = form.model.validate()
    if problem:
        raise OptschedError(f"CP-SAT rejects the model built for this instance: {problem}")
    solver = cp_model.CpSolver()
    configure(solver, params, deadline, form.parameters, form.reserve_s)
    started = time.perf_counter()
    reporter = _reporter(form, deadline) if deadline.listening else None
    code = solve_model(solver, form.model, deadline, reporter)
    solve_s = time.perf_counter() - started
    status = _STATUS[solver.status_name(code)]
    solution = objective = bound = None
    if status.has_solution:
        solution = form.decode(solver)
        objective = _scaled(_number(solver.objective_value, form.offset), form.scale)
        # Without a solution (UNKNOWN) CP-SAT reports 0.0 whatever the objective, e.g. when
        # it was stopped or ran out of time before its search began: not a bound.
        bound = _scaled(_number(solver.best_objective_bound, form.offset), form.scale)
    stats = {**form.stats, "conflicts": solver.num_conflicts, "branches": solver.num_branches,
             "solver_wall_s": solver.wall_time}
    if status is Status.NO_SOLUTION and form.known is not None:
        status, solution, objective = Status.FEASIBLE, form.known, form.known_objective
        stats["known"] = "CP-SAT found no solution; the build's own is returned"
    return Result(status=status, solver=name, solution=solution, objective=objective,
                  bound=bound, build_s=form.build_s, solve_s=solve_s, stats=stats)


def _scaled(value: int | float | None, scale: int) -> int | float | None:
    """``value / scale`` (unchanged when ``scale`` is 1, so integers stay exact)."""
    return value if value is None or scale == 1 else value / scale


def _number(value: float, offset: int = 0) -> int | float | None:
    """``value + offset``, an exact int for integral values; None for CP-SAT's 'unknown'.

    CP-SAT reports an unknown objective or bound as an infinity.
    """
    if not math.isfinite(value):
        return None
    return (int(value) if float(value).is_integer() else value) + offset
