"""``solve()``: dispatch, hint, fallback and verification."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from optsched.deadline import Deadline, StopRequest
from optsched.errors import InputError, InvalidSolutionError, OptschedError
from optsched.family import Family, Kind
from optsched.incumbents import Incumbents, Progress
from optsched.params import SolveParams
from optsched.registry import AUTO, SolverSpec, family_of, get_solver, solvers
from optsched.result import Result, Status
from optsched.threads import PROCESS, ThreadBudget
from optsched.watchdog import GRACE_S, STOP_WAIT_S, bounded

HINT_SHARE = 0.1
"""Share of the time limit a computed hint may take before the exact solver starts, unless
the family expects it to need more (:attr:`Family.hint_seconds`, :func:`hint_share`)."""
HINT_MAX_SHARE = 0.5
"""Most of the time limit a computed hint may take when the family expects it to need more
than :data:`HINT_SHARE`: the exact solver keeps at least the other half."""
HINT_MARGIN = 1.5
"""The hint's share covers this many times its expected time (a busy machine)."""
HINT_GRACE_S = 0.05
"""Seconds the hint may run past a stop request (and, at least, past its share) before the
solve goes on without it; past its share it may run as long again."""


@dataclass(frozen=True)
class Request:
    """A solve request checked before any work: the family, the solver, checked parameters."""

    family: Family[Any, Any]
    spec: SolverSpec
    params: SolveParams
    why: str = ""
    """Why ``auto`` chose this solver (empty when the caller named it)."""
    instance: Any = None
    """The instance to solve: the caller's, with the family's instance options applied."""


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
    settings = family.instance_options
    if settings is not None and any(settings.options.get(k) for k in params.model):
        own = {k: v for k, v in params.model.items() if settings.options.get(k)}
        instance = settings.apply(instance, settings.options.check(own, "model", family.name))
        params = replace(params, model={k: v for k, v in params.model.items() if k not in own})
    why = ""
    if solver == AUTO:
        solver, why = (family.choose(instance, params) if family.choose
                       else (family.default_of(instance), "the family's default"))
    spec = get_solver(solver, family)
    options = spec.options().check(params.options, "options", spec.label)
    if settings is not None:
        for key in params.model:
            if spec.model_options.get(key) is None:
                names = [o.name for o in (*spec.model_options.options, *settings.options.options)]
                raise InputError(f"model.{key}", f"is not an option of {spec.label} or of "
                                                 f"{family.name}'s instances (valid: "
                                                 f"{', '.join(names)})")
    model = spec.model_options.check(params.model, "model", spec.label)
    if spec.supports is not None:
        spec.supports(instance)
    return Request(family, spec, replace(params, options=options, model=model), why, instance)


def solve(instance: Any, solver: str = AUTO, params: SolveParams | None = None, *,
          stop: StopRequest | None = None, threads: ThreadBudget | None = None,
          on_progress: Progress | None = None) -> Result:
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
    on_progress
        Called with each improving incumbent before the end, once the family's
        checker has verified it: an exact solver's hint, then what the solver
        reports as it runs (CP-SAT's and HiGHS' improving solutions, the
        native searches' improvements). Its ``bound`` is the solver's claim at
        that moment (``stats["bound_by"]``), kept only when not above the
        verified objective. It runs in the solver's thread; an exception it
        raises is ignored.

    Raises
    ------
    InputError
        Unknown or unusable solver, or bad parameters (see :func:`prepare`).
    InvalidSolutionError
        The solver's answer fails the independent check (a solver or model bug).
    """
    entered = time.perf_counter()  # the limit covers the checks and the solver's imports
    request = prepare(instance, solver, params)
    family, spec, params, instance = request.family, request.spec, request.params, request.instance
    # The solve's own request: the watchdog may set it without touching the caller's.
    incumbents = None
    if on_progress is not None:
        incumbents = Incumbents(family, instance, spec.name, on_progress)
    deadline = Deadline(params.time_limit, (stop or StopRequest()).child(),
                        None if incumbents is None else _tidied(family, incumbents), entered)
    with (threads or PROCESS).lease(params.workers) as workers:
        result = _solve(family, spec, instance, replace(params, workers=workers), deadline,
                        incumbents)
    auto = {"auto": request.why} if request.why else {}
    return replace(result, stats={**result.stats, **auto, "call_s": round(deadline.elapsed(), 6)})


def _tidied(family: Family[Any, Any], incumbents: Incumbents
            ) -> Callable[[Any, float | None, float | None], None]:
    """``incumbents`` taking the solver's bound as :func:`verify` does (integral: rounded up)."""
    return lambda solution, objective, bound: incumbents(solution, objective,
                                                         _tidy_bound(family, bound))


def _solve(family: Family[Any, Any], spec: SolverSpec, instance: Any, params: SolveParams,
           deadline: Deadline, incumbents: Incumbents | None = None) -> Result:
    stats: dict[str, Any] = {"fallback": None, "workers": params.workers, "seed": params.seed}
    hint = None
    if spec.kind is Kind.EXACT and spec.name != family.hint_of(instance)[0]:
        try:
            hint = _hint(family, instance, params, deadline, stats)
        except OptschedError:
            raise
        except Exception as exc:  # a crashing hint solver must not stop the exact one
            stats["hint_error"] = repr(exc)
        if hint is not None:
            params = replace(params, hint=hint.solution)
            if incumbents is not None:
                incumbents.hint(hint)
    try:
        ran = bounded(lambda: spec.run(instance, params, deadline), deadline, spec.name)
    except OptschedError:
        raise
    except Exception as exc:  # a solver crash becomes a status, never a traceback
        ran = Result(status=Status.ERROR, solver=spec.name, stats={"error": repr(exc)})
    result = ran or Result(status=Status.NO_SOLUTION, solver=spec.name, stats={
        "watchdog": f"{spec.name} did not end within {GRACE_S + STOP_WAIT_S:g} s of its "
                    "limit and a stop request; it was left behind"})
    result = replace(result, solver=spec.name, stats={**result.stats, **stats})
    if hint is None or not params.fallback:
        result = verify(family, instance, result)
        return _last_resort(family, instance, result) if params.fallback else result
    if result.status is Status.INFEASIBLE:
        return _fall_back(family, instance, result, hint, f"{spec.name} claimed the instance "
                                                          "infeasible; the hint is a solution")
    if not result.status.is_success:
        return _fall_back(family, instance, result, hint)
    try:
        result = verify(family, instance, result)
    except InvalidSolutionError as exc:
        return _fall_back(family, instance, replace(result, bound=None), hint, str(exc))
    if hint.objective is not None and result.objective is not None and _below(
            family, hint.objective, result.objective):
        # e.g. a MILP without a warm start that stopped at a worse incumbent
        return _fall_back(family, instance, replace(
            result, stats={**result.stats, "solver_objective": result.objective}), hint)
    return result


def _below(family: Family[Any, Any], a: int | float, b: int | float) -> bool:
    """True when objective ``a`` is better than ``b`` by more than rounding (fractional ones)."""
    if family.integral:
        return a < b
    return a < b - 1e-9 * max(1.0, abs(b))


def _last_resort(family: Family[Any, Any], instance: Any, result: Result) -> Result:
    """The family's trivial solution when nothing was found (and it is valid), else ``result``."""
    if result.solution is not None or family.trivial is None or result.status in (
            Status.INFEASIBLE, Status.ERROR):
        return result
    try:
        return verify(family, instance, replace(
            result, status=Status.FEASIBLE, solution=family.trivial(instance), objective=None,
            stats={**result.stats, "fallback": "trivial"}))
    except InvalidSolutionError:  # e.g. a cluster whose running pods overfill a node
        return result


def _fall_back(family: Family[Any, Any], instance: Any, result: Result, hint: Result,
               disagreement: str = "") -> Result:
    """The hint in place of the solver's answer, with the solver's (valid) bound kept."""
    notes = [*result.stats.get("disagreements", ()), *([disagreement] if disagreement else ())]
    stats = {**result.stats, "fallback": family.hint_of(instance)[0], "disagreements": notes}
    status = Status.FEASIBLE
    bound = None if result.status is Status.INFEASIBLE else result.bound
    return verify(family, instance, replace(result, status=status, solution=hint.solution,
                                            objective=hint.objective, bound=bound,
                                            stats=stats))


def hint_fits(expected: float, left: float) -> bool:
    """Whether a hint expected to take ``expected`` seconds fits in ``left`` seconds.

    With :data:`HINT_MARGIN`, within the most of the time a hint may have
    (:data:`HINT_MAX_SHARE`).
    """
    return HINT_MARGIN * expected <= HINT_MAX_SHARE * left


def hint_share(family: Family[Any, Any], instance: Any, left: float | None) -> float:
    """The share of the time ``left`` that the computed hint of ``instance`` may take.

    :data:`HINT_SHARE`, or :data:`HINT_MARGIN` times the family's expected time of the
    hint (:attr:`Family.hint_seconds`) when that is more, at most :data:`HINT_MAX_SHARE`.
    A hint cut short is often worse than no search at all (pods at cluster scale: the
    pods it has not reached stay pending), and it is the exact solver's fallback.
    """
    if not left or family.hint_seconds is None:
        return HINT_SHARE
    return min(HINT_MAX_SHARE, max(HINT_SHARE, HINT_MARGIN * family.hint_seconds(instance)
                                   / left))


def _hint(family: Family[Any, Any], instance: Any, params: SolveParams, deadline: Deadline,
          stats: dict[str, Any]) -> Result | None:
    """The family's heuristic solution, verified, as hint, upper bound and fallback."""
    started = time.perf_counter()
    if params.hint is not None:
        expected = family.solution_type_of(instance)
        if not isinstance(params.hint, expected):
            raise InputError("hint", f"must be a {expected.__name__}, got "
                                     f"{type(params.hint).__name__}")
        evaluation = family.evaluate(instance, params.hint)
        if evaluation.violations:
            raise InputError("hint", "; ".join(evaluation.violations[:3]))
        hint = Result(status=Status.FEASIBLE, solver="hint", solution=params.hint,
                      objective=evaluation.objective)
    else:
        name, options = family.hint_of(instance)
        own = replace(params, options=dict(options), model={})  # not the exact solver's
        part = deadline.part(hint_share(family, instance, deadline.remaining()),
                             own_stop=True)
        part.found = None  # the hint is told once verified, as the hint
        run = solvers(family)[name].run
        grace = max(HINT_GRACE_S, part.time_limit or 0.0)  # up to twice its share
        found = bounded(lambda: run(instance, own, part), part, name, grace,
                        HINT_GRACE_S)
        stats["hint"] = name
        if found is None:  # e.g. compiling its kernels on a cold cache: go on without it
            stats["hint_error"] = "did not end in its share of the time limit"
            stats["hint_s"] = round(time.perf_counter() - started, 6)
            return None
        hint = found
    hint = verify(family, instance, hint)
    stats["hint_objective"] = hint.objective
    stats["hint_s"] = round(time.perf_counter() - started, 6)
    return hint if hint.status.has_solution else None


def verify(family: Family[Any, Any], instance: Any, result: Result) -> Result:
    """Recompute the objective with the family's checker and keep only valid bounds.

    The checker's objective replaces the solver's claim; the bound is the best
    of the solver's and the family's lower bound that does not exceed it; a
    claimed optimum whose bound does not meet the objective is downgraded to
    ``feasible``, and a feasible solution whose bound meets it is ``optimal``.
    A claim the checker contradicts (objective, bound) is listed in
    ``stats["disagreements"]``, never a reason to lose the solution.

    Raises
    ------
    InvalidSolutionError
        The solution violates the instance (a solver or formulation bug).
    """
    notes: list[str] = list(result.stats.get("disagreements", ()))
    claimed = _tidy_bound(family, result.bound)
    floor = family.lower_bound(instance)
    if not result.status.has_solution or result.solution is None:
        bounds = [b for b in (claimed, floor) if b is not None]
        bound = None if result.status is Status.INFEASIBLE or not bounds else max(bounds)
        return replace(result, family=family.name, instance=instance.name, solution=None,
                       objective=None, bound=bound, stats=_with(result.stats, notes))
    evaluation = family.evaluate(instance, result.solution)
    if evaluation.violations:
        raise InvalidSolutionError(f"{result.solver} returned an invalid solution for "
                                   f"{instance.name or 'the instance'}: "
                                   + "; ".join(evaluation.violations[:3]))
    objective = evaluation.objective
    assert objective is not None
    # Integral objectives compare exactly: a relative tolerance would hide a wrong lowest
    # digit of a large lexicographic objective (pods).
    tol = 0.5 if family.integral else 1e-6 * max(1.0, abs(objective))
    agrees = result.objective is None or abs(result.objective - objective) <= tol
    if not agrees:
        notes.append(f"{result.solver} claimed objective {result.objective}, the checker "
                     f"computes {objective}")
    bounds = []
    for source, value in ((result.solver, claimed), ("the family's lower bound", floor)):
        if value is not None and (value > objective if family.integral  # exact: a wide
                                  else value > objective + tol):  # objective passes float
            notes.append(f"{source}: bound {value} is above the verified objective "
                         f"{objective}, not used")
        elif value is not None:
            bounds.append(value)
    status = result.status
    if status is Status.OPTIMAL and result.bound is None and agrees:
        bounds.append(objective)  # e.g. CBC proves optimality but reports no bound
    bound = max(bounds) if bounds else None
    closed = bound is not None and objective - bound <= tol
    if closed:  # within the tolerance (a MILP's bound of a fractional objective): equal
        bound = objective
    if status is Status.OPTIMAL and not closed:
        status = Status.FEASIBLE
    elif status is Status.FEASIBLE and closed:
        status = Status.OPTIMAL
    stats = _with({**result.stats, "metrics": dict(evaluation.metrics)}, notes)
    return replace(result, family=family.name, instance=instance.name, status=status,
                   objective=objective, bound=bound, verified=True, stats=stats)


def _with(stats: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """``stats`` with the disagreements, if there are any."""
    out = {k: v for k, v in stats.items() if k != "disagreements"}
    return {**out, "disagreements": notes} if notes else out


def _tidy_bound(family: Family[Any, Any], bound: int | float | None) -> int | float | None:
    """Round a solver's bound up to an integer for integral objectives."""
    if isinstance(bound, int):  # exact already (and maybe past a float's range)
        return bound
    if bound is None or not math.isfinite(bound):
        return None
    if family.integral:
        if float(bound).is_integer():  # e.g. CP-SAT's bounds: exact
            return int(bound)
        return math.ceil(bound - 1e-6 * max(1.0, abs(bound)))
    return bound
