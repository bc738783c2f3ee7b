"""What the MILP backends share: the built PuLP problem and the reading of its outcome.

PuLP reports a time-limited solve that has an incumbent as ``"Optimal"``;
only ``problem.sol_status`` tells a proven optimum (1) from a feasible
incumbent (2). HiGHS runs in this process (:mod:`.highs`), CBC as a child
process that can be stopped (:mod:`.cbc`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
    started: bool = False
    """The builder gave every variable a start value (``setInitialValue``) from the hint;
    the backend passes them to the solver as a MIP start."""

    @property
    def abs_gap(self) -> float:
        """The absolute gap at which the solver may stop with a proof."""
        return 0.999 if self.integral else 1e-9


SOL_STATUS = {1: Status.OPTIMAL, 2: Status.FEASIBLE, 0: Status.NO_SOLUTION,
              -1: Status.INFEASIBLE, -2: Status.ERROR}


def nothing(form: MilpFormulation, name: str) -> Result:
    """The result when no time was left to start the solver."""
    return Result(status=Status.NO_SOLUTION, solver=name, build_s=form.build_s,
                  stats=dict(form.stats))


def outcome(form: MilpFormulation, name: str, solve_s: float, bound: float | None,
            **stats: Any) -> Result:
    """The :class:`Result` of a solved problem: status from ``sol_status``, decoded solution."""
    import pulp

    status = SOL_STATUS.get(form.problem.sol_status, Status.ERROR)
    solution = objective = None
    if status.has_solution:
        solution = form.decode()
        objective = pulp.value(form.problem.objective)
    return Result(status=status, solver=name, solution=solution, objective=objective,
                  bound=bound if status is not Status.INFEASIBLE else None,
                  build_s=form.build_s, solve_s=solve_s,
                  stats={**form.stats, "pulp_status": pulp.LpStatus[form.problem.status],
                         **stats})
