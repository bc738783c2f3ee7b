"""``solve()``: dispatch, hint, fallback and verification."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

from optsched.deadline import Deadline
from optsched.errors import InputError, InvalidSolutionError, OptschedError
from optsched.family import Family, Kind
from optsched.params import SolveParams
from optsched.registry import AUTO, family_of, get_solver
from optsched.result import Result, Status

HINT_SHARE = 0.1
"""Most of the time limit a computed hint may take before the exact solver starts."""


def solve(instance: Any, solver: str = AUTO, params: SolveParams | None = None) -> Result:
    """Solve ``instance`` with ``solver`` and return a verified :class:`Result`.

    Exact solvers get the family's heuristic solution as a hint (unless
    ``params.hint`` gives one); when they find nothing in time, or only
    something worse, that solution is returned instead and
    ``stats["fallback"]`` names it (so an exact solver is never worse than
    the family's heuristic). Every solution is re-evaluated by the family's
    independent checker.

    Raises
    ------
    InputError
        Unknown or unusable solver, or bad parameters.
    InvalidSolutionError
        The solver's answer fails the independent check (a solver or model bug).
    """
    params = params or SolveParams()
    family = family_of(instance)
    spec = get_solver(solver, family)
    deadline = Deadline(params.time_limit)
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
        result = spec.run(family, instance, params, deadline)
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


def _hint(family: Family, instance: Any, params: SolveParams, deadline: Deadline,
          stats: dict[str, Any]) -> Result | None:
    """The family's heuristic solution, verified, as hint, upper bound and fallback."""
    started = time.perf_counter()
    if params.hint is not None:
        evaluation = family.evaluate(instance, params.hint)
        if evaluation.violations:
            raise InputError("hint", "; ".join(evaluation.violations[:3]))
        hint = Result(status=Status.FEASIBLE, solver="hint", solution=params.hint,
                      objective=evaluation.objective)
    else:
        hint_spec = get_solver(family.hint_solver, family)
        own = replace(params, options=family.hint_options, model={})  # not the exact solver's
        hint = hint_spec.run(family, instance, own, Deadline(deadline.share(HINT_SHARE)))
        stats["hint"] = family.hint_solver
    hint = verify(family, instance, hint)
    stats["hint_objective"] = hint.objective
    stats["hint_s"] = round(time.perf_counter() - started, 6)
    return hint if hint.status.has_solution else None


def verify(family: Family, instance: Any, result: Result) -> Result:
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


def _tidy_bound(family: Family, bound: int | float | None) -> int | float | None:
    """Round a solver's bound up to an integer for integral objectives."""
    if bound is None or not math.isfinite(bound):
        return None
    if family.integral:
        if float(bound).is_integer():  # e.g. CP-SAT's bounds: exact
            return int(bound)
        return math.ceil(bound - 1e-6 * max(1.0, abs(bound)))
    return bound
