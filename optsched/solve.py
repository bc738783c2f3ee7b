"""``solve()``: dispatch, hint, fallback and verification."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

from optsched.deadline import Deadline, StopRequest
from optsched.errors import InputError, InvalidSolutionError, OptschedError
from optsched.family import Family, Kind
from optsched.params import SolveParams
from optsched.registry import AUTO, SolverSpec, family_of, get_solver, solvers
from optsched.result import Result, Status
from optsched.threads import PROCESS, ThreadBudget

HINT_SHARE = 0.1
"""Most of the time limit a computed hint may take before the exact solver starts."""


@dataclass(frozen=True)
class Request:
    """A solve request checked before any work: the family, the solver, checked parameters."""

    family: Family[Any, Any]
    spec: SolverSpec
    params: SolveParams


def prepare(instance: Any, solver: str = AUTO, params: SolveParams | None = None) -> Request:
    """Check everything about a solve that can be checked before it starts.

    The solver must exist in the instance's family and be installed; the
    options (``-o``) and formulation options (``-m``) must be declared by the
    solver and its formulation, with valid values; a solver that cannot take
    this instance must say so now.

    Raises
    ------
    InputError
        Naming the field (``solver``, ``options.<key>``, ``model.<key>``, or the
        instance field a solver does not support) and the valid choices.
    """
    params = params or SolveParams()
    family = family_of(instance)
    spec = get_solver(solver, family)
    options = spec.options().check(params.options, "options", spec.label)
    model = spec.model_options.check(params.model, "model", spec.label)
    if spec.supports is not None:
        spec.supports(instance)
    return Request(family, spec, replace(params, options=options, model=model))


def solve(instance: Any, solver: str = AUTO, params: SolveParams | None = None, *,
          stop: StopRequest | None = None, threads: ThreadBudget | None = None) -> Result:
    """Solve ``instance`` with ``solver`` and return a verified :class:`Result`.

    Exact solvers get the family's heuristic solution as a hint (unless
    ``params.hint`` gives one); when they find nothing in time, or only
    something worse, that solution is returned instead and
    ``stats["fallback"]`` names it (so an exact solver is never worse than
    the family's heuristic). Every solution is re-evaluated by the family's
    independent checker.

    Parameters
    ----------
    instance
        An instance of any family.
    solver
        A solver of the instance's family, or ``"auto"`` for its default.
    params
        Limits, workers, seed, hint and options (:class:`SolveParams`).
    stop
        This solve's stop request: setting it (from any thread) ends the solve
        soon with the best solution found. Other solves are not affected.
    threads
        The budget ``params.workers`` is leased from (default: the process's,
        shared by every solve that names none).

    Raises
    ------
    InputError
        Unknown or unusable solver, or bad parameters (see :func:`prepare`).
    InvalidSolutionError
        The solver's answer fails the independent check (a solver or model bug).
    """
    request = prepare(instance, solver, params)
    family, spec, params = request.family, request.spec, request.params
    deadline = Deadline(params.time_limit, stop)
    with (threads or PROCESS).lease(params.workers) as workers:
        return _solve(family, spec, instance, replace(params, workers=workers), deadline)


def _solve(family: Family[Any, Any], spec: SolverSpec, instance: Any, params: SolveParams,
           deadline: Deadline) -> Result:
    stats: dict[str, Any] = {"fallback": None, "workers": params.workers, "seed": params.seed}
    hint = None
    if spec.kind is Kind.EXACT and spec.name != family.hint_solver:
        try:
            hint = _hint(family, instance, params, deadline, stats)
        except OptschedError:
            raise
        except Exception as exc:  # a crashing hint solver must not stop the exact one
            stats["hint_error"] = repr(exc)
        if hint is not None:
            params = replace(params, hint=hint.solution)
    try:
        result = spec.run(instance, params, deadline)
    except OptschedError:
        raise
    except Exception as exc:  # a solver crash becomes a status, never a traceback
        result = Result(status=Status.ERROR, solver=spec.name, stats={"error": repr(exc)})
    result = replace(result, solver=spec.name, stats={**result.stats, **stats})
    if hint is not None and result.status is Status.INFEASIBLE:
        raise InvalidSolutionError(f"{spec.name} claims {instance.name or 'the instance'} is "
                                   "infeasible, but the hint is a verified solution")
    if params.fallback and not result.status.is_success and hint is not None:
        result = replace(result, status=Status.FEASIBLE, solution=hint.solution,
                         objective=hint.objective,
                         stats={**result.stats, "fallback": family.hint_solver})
    result = verify(family, instance, result)
    if (params.fallback and hint is not None and hint.objective is not None
            and result.objective is not None and hint.objective < result.objective):
        # e.g. a MILP without a warm start that stopped at a worse incumbent
        result = verify(family, instance, replace(
            result, status=Status.FEASIBLE, solution=hint.solution, objective=hint.objective,
            stats={**result.stats, "fallback": family.hint_solver,
                   "solver_objective": result.objective}))
    return result


def _hint(family: Family[Any, Any], instance: Any, params: SolveParams, deadline: Deadline,
          stats: dict[str, Any]) -> Result | None:
    """The family's heuristic solution, verified, as hint, upper bound and fallback."""
    started = time.perf_counter()
    if params.hint is not None:
        if not isinstance(params.hint, family.solution_type):
            raise InputError("hint", f"must be a {family.solution_type.__name__}, got "
                                     f"{type(params.hint).__name__}")
        evaluation = family.evaluate(instance, params.hint)
        if evaluation.violations:
            raise InputError("hint", "; ".join(evaluation.violations[:3]))
        hint = Result(status=Status.FEASIBLE, solver="hint", solution=params.hint,
                      objective=evaluation.objective)
    else:
        own = replace(params, options=family.hint_options, model={})  # not the exact solver's
        hint = solvers(family)[family.hint_solver].run(instance, own, deadline.part(HINT_SHARE))
        stats["hint"] = family.hint_solver
    hint = verify(family, instance, hint)
    stats["hint_objective"] = hint.objective
    stats["hint_s"] = round(time.perf_counter() - started, 6)
    return hint if hint.status.has_solution else None


def verify(family: Family[Any, Any], instance: Any, result: Result) -> Result:
    """Recompute the objective with the family's checker and reconcile the bound.

    The checker's objective replaces the solver's (after checking they agree);
    the bound becomes the best of the solver's and the family's lower bound; a
    claimed optimum whose bound does not meet the objective is downgraded to
    ``feasible``, and a feasible solution whose bound meets it is ``optimal``.
    """
    name = instance.name or "the instance"
    if not result.status.has_solution or result.solution is None:
        bound = _tidy_bound(family, result.bound)
        return replace(result, family=family.name, instance=instance.name, solution=None,
                       objective=None, bound=bound if result.status is not Status.INFEASIBLE
                       else None)
    evaluation = family.evaluate(instance, result.solution)
    if evaluation.violations:
        raise InvalidSolutionError(f"{result.solver} returned an invalid solution for {name}: "
                                   + "; ".join(evaluation.violations[:3]))
    objective = evaluation.objective
    assert objective is not None
    # Integral objectives compare exactly: a relative tolerance would hide a wrong lowest
    # digit of a large lexicographic objective (pods).
    tol = 0.5 if family.integral else 1e-6 * max(1.0, abs(objective))
    if result.objective is not None and abs(result.objective - objective) > tol:
        raise InvalidSolutionError(f"{result.solver} claims objective {result.objective} for "
                                   f"{name}, the checker computes {objective}")
    bounds = [b for b in (_tidy_bound(family, result.bound), family.lower_bound(instance))
              if b is not None]
    status = result.status
    if status is Status.OPTIMAL and result.bound is None:
        bounds.append(objective)  # e.g. CBC proves optimality but reports no bound
    bound = max(bounds) if bounds else None
    if bound is not None and bound > objective + tol:
        raise InvalidSolutionError(f"{result.solver} reports bound {bound} above the verified "
                                   f"objective {objective} for {name}")
    closed = bound is not None and objective - bound <= tol
    if status is Status.OPTIMAL and not closed:
        status = Status.FEASIBLE
    elif status is Status.FEASIBLE and closed:
        status = Status.OPTIMAL
    stats = {**result.stats, "metrics": dict(evaluation.metrics)}
    return replace(result, family=family.name, instance=instance.name, status=status,
                   objective=objective, bound=bound, verified=True, stats=stats)


def _tidy_bound(family: Family[Any, Any], bound: int | float | None) -> int | float | None:
    """Round a solver's bound up to an integer for integral objectives."""
    if bound is None or not math.isfinite(bound):
        return None
    if family.integral:
        if float(bound).is_integer():  # e.g. CP-SAT's bounds: exact
            return int(bound)
        return math.ceil(bound - 1e-6 * max(1.0, abs(bound)))
    return bound
