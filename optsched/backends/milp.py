"""Run a PuLP model with HiGHS (through highspy) or CBC (bundled with PuLP).

Status mapping, limits and bounds live here only. PuLP reports a time-limited
solve that has an incumbent as ``"Optimal"``; only ``problem.sol_status``
tells a proven optimum (1) from a feasible incumbent (2).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from optsched.backends.interrupt import stop_requested
from optsched.deadline import Deadline
from optsched.errors import InputError
from optsched.params import SolveParams
from optsched.result import Result, Solution, Status

if TYPE_CHECKING:
    import pulp


@dataclass(frozen=True)
class MilpFormulation:
    """A built PuLP problem and how to read the family's solution once it is solved.

    ``integral`` says the objective takes integer values at every feasible
    point, so a gap below 1 already proves optimality.
    """

    problem: pulp.LpProblem
    decode: Callable[[], Solution]
    build_s: float
    integral: bool = True
    stats: Mapping[str, Any] = field(default_factory=dict)


_SOL_STATUS = {1: Status.OPTIMAL, 2: Status.FEASIBLE, 0: Status.NO_SOLUTION,
               -1: Status.INFEASIBLE, -2: Status.ERROR}
_last_threads: list[int] = []


def _abs_gap(form: MilpFormulation) -> float:
    return 0.999 if form.integral else 1e-9


def _highs_solver(form: MilpFormulation, params: SolveParams, left: float | None) -> Any:
    import highspy
    import pulp

    options = dict(params.options)
    probe = highspy.Highs()
    probe.setOptionValue("output_flag", False)
    for key, value in options.items():
        if probe.setOptionValue(key, value) != highspy.HighsStatus.kOk:
            raise InputError(f"options.{key}", f"is not a HiGHS option taking {value!r}")
    # HiGHS fixes its thread pool per process: a solve asking for another
    # thread count fails with "Not Solved" unless the scheduler is reset first.
    if _last_threads and _last_threads[0] != params.workers:
        highspy.Highs.resetGlobalScheduler(True)
    _last_threads[:] = [params.workers]
    options.setdefault("random_seed", params.seed)
    interrupt = highspy.cb.HighsCallbackType.kCallbackMipInterrupt
    return pulp.HiGHS(msg=params.log, timeLimit=left, threads=params.workers, gapRel=0.0,
                      gapAbs=_abs_gap(form), callbackTuple=(_stop_if_asked, None),
                      callbacksToActivate=[interrupt], **options)


def _stop_if_asked(_kind: int, _message: str, _out: Any, data_in: Any, _user: Any) -> None:
    """HiGHS MIP callback: interrupt (keeping the incumbent) once a stop was requested."""
    if stop_requested():
        data_in.user_interrupt = True


def _cbc_solver(form: MilpFormulation, params: SolveParams, left: float | None) -> Any:
    import pulp

    # CBC reads randomCbcSeed 0 as "seed from the clock": shift by one to stay reproducible.
    native = [f"randomCbcSeed {params.seed + 1}"]
    native += [f"{key} {value}" for key, value in params.options.items()]
    # "threads 1" makes the bundled CBC 2.10.3 hand the search to one worker thread,
    # which now and then never starts: the main thread waits out the whole time limit
    # and reports "Stopped on time" on a model it had solved in milliseconds. One
    # worker therefore means CBC's serial code, which is what it asks for anyway.
    threads = params.workers if params.workers > 1 else None
    with warnings.catch_warnings():  # PuLP 3.3 warns that PuLP 4 drops the bundled CBC
        warnings.simplefilter("ignore", DeprecationWarning)
        return pulp.PULP_CBC_CMD(msg=params.log, timeLimit=left, threads=threads,
                                 gapRel=0.0, gapAbs=_abs_gap(form), options=native)


def _run(form: MilpFormulation, name: str, params: SolveParams, deadline: Deadline,
         make_solver: Callable[[MilpFormulation, SolveParams, float | None], Any],
         read_bound: Callable[[Any], float | None]) -> Result:
    import pulp

    left = deadline.remaining()
    if left is not None and left <= 0:
        return Result(status=Status.NO_SOLUTION, solver=name, build_s=form.build_s,
                      stats=dict(form.stats))
    solver = make_solver(form, params, left)
    started = time.perf_counter()
    form.problem.solve(solver)
    solve_s = time.perf_counter() - started
    status = _SOL_STATUS.get(form.problem.sol_status, Status.ERROR)
    solution = objective = None
    if status.has_solution:
        solution = form.decode()
        objective = pulp.value(form.problem.objective)
    bound = read_bound(form.problem) if status is not Status.INFEASIBLE else None
    stats = {**form.stats, "pulp_status": pulp.LpStatus[form.problem.status]}
    return Result(status=status, solver=name, solution=solution, objective=objective,
                  bound=bound, build_s=form.build_s, solve_s=solve_s, stats=stats)


def _highs_bound(problem: pulp.LpProblem) -> float | None:
    # The model is always a minimisation, so the dual bound needs no sign flip; but
    # PuLP does not pass the objective's constant term to HiGHS, so add it back.
    value = problem.solverModel.getInfo().mip_dual_bound
    return value + problem.objective.constant if math.isfinite(value) else None


def run_highs(form: MilpFormulation, name: str, params: SolveParams,
              deadline: Deadline) -> Result:
    """Solve with HiGHS; the bound is HiGHS' MIP dual bound."""
    return _run(form, name, params, deadline, _highs_solver, _highs_bound)


def run_cbc(form: MilpFormulation, name: str, params: SolveParams,
            deadline: Deadline) -> Result:
    """Solve with CBC; PuLP's CBC interface returns no bound, so none is reported."""
    return _run(form, name, params, deadline, _cbc_solver, lambda _problem: None)
