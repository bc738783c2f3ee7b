"""Run a PuLP model with HiGHS (highspy) in this process: options, threads, stop, bound."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

from optsched.backends.milp import MilpFormulation, nothing, outcome
from optsched.deadline import Deadline
from optsched.fields import excerpt
from optsched.options import Option, OptionSet
from optsched.params import SolveParams
from optsched.result import Result

if TYPE_CHECKING:
    import pulp

RESERVED = {"threads": "--workers (SolveParams.workers)",
            "random_seed": "--seed (SolveParams.seed)",
            "output_flag": "--log (SolveParams.log)",
            "log_to_console": "--log (SolveParams.log)"}


def _offered(name: str) -> bool:
    """Options that read or write files are not offered (a solve writes nowhere)."""
    return not (name.startswith(("_", "read_", "write_")) or "file" in name)


@cache
def options() -> OptionSet:
    """Every HiGHS option of this highspy but the reserved and file ones.

    Names, types and defaults come from HiGHS' option table; HiGHS itself
    checks a value's range (:func:`_check`), as it knows the bounds.
    """
    import highspy

    probe = highspy.Highs()
    probe.setOptionValue("output_flag", False)
    kinds = {highspy.HighsOptionType.kBool: bool, highspy.HighsOptionType.kInt: int,
             highspy.HighsOptionType.kDouble: float, highspy.HighsOptionType.kString: str}
    declared = []
    for name in sorted(n for n in dir(probe.getOptions()) if _offered(n)):
        if name in RESERVED:
            continue
        kind = kinds[probe.getOptionType(name)[1]]
        default = probe.getOptionValue(name)[1]
        declared.append(Option(name, kind, default, "HiGHS option"))
    return OptionSet(tuple(declared), RESERVED, library_check=_check,
                     source="HiGHS' option table")


def _check(name: str, value: Any) -> str | None:
    import highspy

    probe = highspy.Highs()
    probe.setOptionValue("output_flag", False)
    if probe.setOptionValue(name, value) != highspy.HighsStatus.kOk:
        return f"HiGHS rejects {excerpt(value)} (out of the option's range or choices)"
    return None


class _Scheduler:
    """HiGHS' task scheduler: one per process, its thread count fixed until it is reset.

    A solve asking for another count than the scheduler's fails ("Not
    Solved") unless the scheduler is reset, and resetting it under a running
    solve would break that solve. So the count is changed only while no
    HiGHS solve of this process runs; a solve started beside others joins
    their scheduler (its threads are shared, not added) and reports its size.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._size: int | None = None
        self._running = 0

    @contextmanager
    def use(self, threads: int) -> Iterator[int]:
        import highspy

        with self._lock:
            if self._running == 0 and self._size != threads:
                highspy.Highs.resetGlobalScheduler(True)
                self._size = threads
            self._running += 1
            size = self._size
        assert size is not None
        try:
            yield size
        finally:
            with self._lock:
                self._running -= 1


SCHEDULER = _Scheduler()


def run(form: MilpFormulation, name: str, params: SolveParams, deadline: Deadline) -> Result:
    """Solve with HiGHS; the bound is HiGHS' MIP dual bound; a stop interrupts the search.

    HiGHS' time limit is set when it starts, after PuLP has passed it the
    model (which takes a while for a large one), to what the deadline has left
    then; the ``time_limit`` option may only shorten it.
    """
    import highspy

    options = dict(params.options)
    cap = options.pop("time_limit", None)
    if deadline.expired():
        return nothing(form, name)

    kinds = highspy.cb.HighsCallbackType
    improving = kinds.kCallbackMipImprovingSolution

    def interrupt(kind: int, _message: str, data_out: Any, data_in: Any, _user: Any) -> None:
        if kind == improving:
            _report(form, data_out, deadline)
        elif deadline.expired():
            data_in.user_interrupt = True

    active = [kinds.kCallbackMipInterrupt, kinds.kCallbackSimplexInterrupt,
              kinds.kCallbackIpmInterrupt, *([improving] if deadline.listening else [])]
    with SCHEDULER.use(params.threads) as threads:
        solver = _highs()(msg=params.log, threads=threads, gapRel=0.0, gapAbs=form.abs_gap,
                          callbackTuple=(interrupt, None), callbacksToActivate=active,
                          random_seed=params.seed, **options)
        solver.when = (lambda: _shorter(deadline.remaining(), cap), form.started)
        started = time.perf_counter()
        form.problem.solve(solver)
        solve_s = time.perf_counter() - started
    return outcome(form, name, solve_s, _bound(form.problem), threads=threads)


def _report(form: MilpFormulation, data_out: Any, deadline: Deadline) -> None:
    """Offer HiGHS' improving MIP solution to ``deadline.report``, decoded by the formulation.

    The values are put on PuLP's variables (by their column, ``var.index``), as
    PuLP does after the solve, which overwrites them with the final ones.
    """
    values = data_out.mip_solution
    constant = form.problem.objective.constant
    try:
        for var in form.problem.variables():
            var.varValue = float(values[var.index])
        solution = form.decode()
    except Exception:  # the final result is decoded again, and checked
        return
    bound = data_out.mip_dual_bound
    deadline.report(solution, data_out.objective_function_value + constant,
                    bound + constant if math.isfinite(bound) else None)


@cache
def _highs() -> Any:
    """PuLP's HiGHS interface, setting the time limit and the MIP start as HiGHS starts."""
    import highspy
    import pulp

    class TimedHiGHS(pulp.HiGHS):  # type: ignore[misc]
        when: tuple[Callable[[], float | None], bool]

        def callSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802 - PuLP's name
            left, started = self.when[0](), self.when[1]
            if left is not None:
                lp.solverModel.setOptionValue("time_limit", max(0.0, float(left)))
            if started:
                start = highspy.HighsSolution()
                start.col_value = [float(v.varValue or 0) for v in lp.variables()]
                lp.solverModel.setSolution(start)
            super().callSolver(lp)

        def findSolutionValues(self, lp: pulp.LpProblem) -> tuple[int, int]:  # noqa: N802
            # PuLP takes an interrupt (our stop or deadline) for a feasible incumbent even
            # when HiGHS has none, whose values are zeros: ask HiGHS whether it has one.
            status, solution = super().findSolutionValues(lp)
            feasible = highspy.SolutionStatus.kSolutionStatusFeasible
            if (solution == pulp.LpSolutionIntegerFeasible
                    and lp.solverModel.getInfo().primal_solution_status != feasible):
                return pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound
            return int(status), int(solution)

    return TimedHiGHS


def _shorter(left: float | None, cap: float | None) -> float | None:
    """The time left, shortened by the ``time_limit`` option (it cannot lengthen it)."""
    return cap if left is None else left if cap is None else min(left, cap)


def _bound(problem: pulp.LpProblem) -> float | None:
    # The model is always a minimisation, so the dual bound needs no sign flip; but
    # PuLP does not pass the objective's constant term to HiGHS, so add it back.
    value = problem.solverModel.getInfo().mip_dual_bound
    return value + problem.objective.constant if math.isfinite(value) else None
