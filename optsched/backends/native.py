"""The runner of a family's own algorithms (heuristics and native exact methods)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from optsched.deadline import Deadline
from optsched.params import SolveParams
from optsched.result import Result, Solution, Status


def found(solution: Solution, objective: int | float | None, **stats: Any) -> Result:
    """The result of a heuristic: a solution and the objective it claims for it.

    None claims nothing (``solve()``'s check computes it): for a heuristic whose only
    way to the objective is the family's checker, a check saved.
    """
    return Result(status=Status.FEASIBLE, solver="", solution=solution, objective=objective,
                  stats=stats)


def stopped(deadline: Deadline, how: str) -> dict[str, str]:
    """The ``stopped`` stat of a heuristic cut short by ``deadline``, else nothing.

    ``how`` says what the heuristic did with what it had not reached.
    """
    return {"stopped": f"the limit passed while it ran: {how}"} if deadline.expired() else {}


def timed(run: Any, name: str, instance: Any, params: SolveParams,
          deadline: Deadline) -> Result:
    """Run a native solver and stamp its result with its name and the time it took."""
    started = time.perf_counter()
    result: Result = run(instance, params, deadline)
    return replace(result, solver=name, solve_s=time.perf_counter() - started)
