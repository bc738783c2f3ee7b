"""MILP models of smtt (PuLP): time-indexed step form, or linear ordering.

The time-indexed model has the strongest LP relaxation but ``n * P``
variables, so it is used only when that count is at most
:data:`TIME_INDEXED_LIMIT`; otherwise the compact linear-ordering model.
``SolveParams.model["formulation"]`` chooses explicitly.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence

import pulp

from optsched.backends.milp import MilpFormulation
from optsched.deadline import Deadline
from optsched.params import SolveParams
from optsched.problems.smtt.dominance import dominance_matrix, respect
from optsched.problems.smtt.instance import SmttInstance
from optsched.problems.smtt.solution import SmttSolution

TIME_INDEXED_LIMIT = 60_000
"""Largest number of time-indexed variables (sum of ``P - p_j``) built by default."""


def time_indexed(instance: SmttInstance, start: Sequence[int] | None = None,
                 deadline: Deadline | None = None
                 ) -> tuple[pulp.LpProblem, Callable[[], SmttSolution]]:
    """Step form: ``y[j, t] = 1`` when job ``j`` has completed by time ``t``.

    ``Y_j(t)`` is 0 for ``t < p_j``, the variable ``y[j, t]`` for
    ``p_j <= t < P`` and 1 for ``t >= P``; it never decreases. Job ``j`` runs
    in the unit slot ``(t - 1, t]`` exactly when ``Y_j(t + p_j - 1) - Y_j(t - 1) = 1``,
    and every slot holds one job. Tardiness is the number of ``t >= d_j`` with
    ``Y_j(t) = 0``: ``T_j = sum_{t = d_j}^{P-1} (1 - Y_j(t))``. A ``start``
    sequence gives every variable its start value; past ``deadline`` the build
    stops (:class:`OutOfTimeError`).
    """
    p, d, w = instance.processing_times, instance.due_dates, instance.w
    horizon = instance.horizon
    prob = pulp.LpProblem("smtt_time_indexed", pulp.LpMinimize)
    y = {(j, t): prob.add_variable(f"y_{j}_{t}", cat=pulp.LpBinary)
         for j in range(instance.n) for t in range(p[j], horizon)}

    def step(j: int, t: int) -> pulp.LpAffineExpression | int:
        if t < p[j]:
            return 0
        return 1 if t >= horizon else y[j, t]

    if start is not None:
        done = completions(instance, start)
        for (j, t), var in y.items():
            var.setInitialValue(int(t >= done[j]))
    for j in range(instance.n):
        if deadline:
            deadline.check()
        for t in range(p[j], horizon - 1):
            prob += y[j, t] <= y[j, t + 1]
    for t in range(1, horizon + 1):
        if deadline and t % 64 == 0:
            deadline.check()
        prob += pulp.lpSum(step(j, t + p[j] - 1) - step(j, t - 1)
                           for j in range(instance.n)) == 1
    constant = sum(w[j] * max(0, p[j] - d[j]) for j in range(instance.n))
    prob += constant + pulp.lpSum(w[j] * (1 - y[j, t]) for j in range(instance.n)
                                  for t in range(max(d[j], p[j]), horizon))

    def decode() -> SmttSolution:
        done = [horizon - sum(round(y[j, t].value() or 0) for t in range(p[j], horizon))
                for j in range(instance.n)]
        return SmttSolution(tuple(sorted(range(instance.n), key=lambda j: done[j])))

    return prob, decode


def linear_ordering(instance: SmttInstance, start: Sequence[int] | None = None,
                    deadline: Deadline | None = None
                    ) -> tuple[pulp.LpProblem, Callable[[], SmttSolution]]:
    """``x[i, j] = 1`` (``i < j``) when job ``i`` precedes job ``j``.

    ``C_j = p_j + sum of p_i over the predecessors i``; ``T_j >= C_j - d_j``,
    ``T_j >= 0`` (integer, so the objective is integral); transitivity on
    every triple not fixed by dominance, which also fixes the pairs it decides. A
    ``start`` sequence (reordered to obey the fixed pairs) gives every variable its
    start value; past ``deadline`` the build stops (:class:`OutOfTimeError`).
    """
    p, d, w = instance.processing_times, instance.due_dates, instance.w
    n = instance.n
    dom = dominance_matrix(instance)
    prob = pulp.LpProblem("smtt_linear_ordering", pulp.LpMinimize)
    x = {}
    for i, j in itertools.combinations(range(n), 2):
        fixed = 1 if dom[i, j] else 0 if dom[j, i] else None
        x[i, j] = prob.add_variable(f"x_{i}_{j}", lowBound=fixed or 0,
                                    upBound=1 if fixed is None else fixed, cat=pulp.LpInteger)

    def before(i: int, j: int) -> pulp.LpAffineExpression:
        return x[i, j] if i < j else 1 - x[j, i]

    late = [prob.add_variable(f"T_{j}", lowBound=0, cat=pulp.LpInteger) for j in range(n)]
    for j in range(n):
        prob += late[j] >= p[j] - d[j] + pulp.lpSum(p[i] * before(i, j)
                                                    for i in range(n) if i != j)
    for count, (i, j, k) in enumerate(itertools.combinations(range(n), 3)):
        if deadline and count % 4096 == 0:
            deadline.check()
        if all(x[a, b].lowBound == x[a, b].upBound for a, b in ((i, j), (j, k), (i, k))):
            continue
        prob += x[i, j] + x[j, k] - x[i, k] <= 1
        prob += x[i, k] - x[i, j] - x[j, k] <= 0
    prob += pulp.lpSum(w[j] * late[j] for j in range(n))
    if start is not None:
        order = respect(instance, start)
        position = {j: k for k, j in enumerate(order)}
        for (i, j), var in x.items():
            var.setInitialValue(int(position[i] < position[j]))
        done = completions(instance, order)
        for j in range(n):
            late[j].setInitialValue(max(0, done[j] - d[j]))

    def decode() -> SmttSolution:
        preds = [sum(round(pulp.value(before(i, j))) for i in range(n) if i != j)
                 for j in range(n)]
        return SmttSolution(tuple(sorted(range(n), key=lambda j: preds[j])))

    return prob, decode


FORMULATIONS = {"time-indexed": time_indexed, "linear-ordering": linear_ordering}


def build(instance: SmttInstance, params: SolveParams, deadline: Deadline) -> MilpFormulation:
    """Build the MILP chosen by ``params.model["formulation"]`` (None: by size)."""
    started = time.perf_counter()
    name = params.model.get("formulation")
    if name is None:
        size = sum(instance.horizon - pj for pj in instance.processing_times)
        name = "time-indexed" if size <= TIME_INDEXED_LIMIT else "linear-ordering"
    start = params.hint.sequence if isinstance(params.hint, SmttSolution) else None
    prob, decode = FORMULATIONS[name](instance, start, deadline)
    return MilpFormulation(problem=prob, decode=decode, build_s=time.perf_counter() - started,
                           stats={"formulation": name}, started=start is not None)


def completions(instance: SmttInstance, sequence: Sequence[int]) -> dict[int, int]:
    """The completion time of each job when ``sequence`` runs without idle time."""
    done, t = {}, 0
    for j in sequence:
        t += instance.processing_times[j]
        done[j] = t
    return done
