"""A CP-SAT sub-problem inside a native solver: its share of the time, the solve's threads."""

from __future__ import annotations

from typing import Any

from optsched.backends.cpsat import solve_model
from optsched.deadline import Deadline
from optsched.params import SolveParams


def solve(model: Any, params: SolveParams, deadline: Deadline, seconds: float | None,
          workers: int | None = None) -> tuple[str, Any]:
    """Solve ``model`` for at most ``seconds`` (and what ``deadline`` has left).

    Returns the status name and the solver (to read values from).
    """
    from ortools.sat.python import cp_model

    solver = cp_model.CpSolver()
    p = solver.parameters
    p.num_workers = workers or params.threads
    p.random_seed = params.seed
    left = deadline.remaining()
    limits = [x for x in (seconds, left) if x is not None]
    if limits:
        p.max_time_in_seconds = max(0.005, min(limits))
    code = solve_model(solver, model, deadline)
    return solver.status_name(code), solver
