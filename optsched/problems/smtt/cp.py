"""CP-SAT model of smtt: intervals on one machine, tardiness as a max, dominance precedences."""

from __future__ import annotations

import time

from ortools.sat.python import cp_model

from optsched.backends.cpsat import CpFormulation
from optsched.deadline import Deadline
from optsched.params import SolveParams
from optsched.problems.smtt.dominance import precedences, respect
from optsched.problems.smtt.heuristics.rules import cost
from optsched.problems.smtt.instance import SmttInstance
from optsched.problems.smtt.solution import SmttSolution


def build(instance: SmttInstance, params: SolveParams, deadline: Deadline) -> CpFormulation:
    """Build the model.

    Every interval lies in ``[0, P]`` with ``P`` the total processing time, so
    with no overlap the jobs tile ``[0, P]`` exactly: no idle time, and the
    solver's objective is the objective of the decoded sequence. A hint (made
    to respect the dominance precedences, or CP-SAT would drop it) also caps
    the objective.
    """
    started = time.perf_counter()
    p, d, w = instance.processing_times, instance.due_dates, instance.w
    horizon = instance.horizon
    jobs = range(instance.n)
    model = cp_model.CpModel()
    starts = [model.new_int_var(0, horizon - p[j], f"start{j}") for j in jobs]
    ends = [model.new_int_var(p[j], horizon, f"end{j}") for j in jobs]
    model.add_no_overlap([model.new_interval_var(starts[j], p[j], ends[j], f"job{j}")
                          for j in jobs])
    late = [model.new_int_var(0, max(0, horizon - d[j]), f"late{j}") for j in jobs]
    for j in jobs:
        model.add_max_equality(late[j], [ends[j] - d[j], 0])
    pairs = precedences(instance)
    for i, j in pairs:
        model.add(ends[i] <= starts[j])
    objective = sum(w[j] * late[j] for j in jobs)
    model.minimize(objective)
    if isinstance(params.hint, SmttSolution):
        sequence = respect(instance, params.hint.sequence)
        cap = cost(instance, sequence)
        model.add(objective <= cap)
        t = 0
        for j in sequence:
            model.add_hint(starts[j], t)
            t += p[j]
            model.add_hint(ends[j], t)
            model.add_hint(late[j], max(0, t - d[j]))

    def decode(solver: cp_model.CpSolver) -> SmttSolution:
        return SmttSolution(tuple(sorted(jobs, key=lambda j: solver.value(starts[j]))))

    return CpFormulation(model=model, decode=decode, build_s=time.perf_counter() - started,
                         stats={"precedences": len(pairs)}, parameters=_parameters(params))


def _parameters(params: SolveParams) -> dict[str, list[str]]:
    """With 2 or 3 workers CP-SAT's default portfolio has no core-based bound search.

    On 8 hard OR-Library wt40 instances (10 s, 2 workers) this set proved 3-5
    where the default portfolio proved 1 (an ad-hoc comparison on a loaded
    machine; the full wt40 run is in benchmarks/results/smtt-orlib-cpsat.md).
    """
    if 2 <= params.threads <= 3 and "subsolvers" not in params.options:
        return {"subsolvers": ["quick_restart_no_lp", "core"]}
    return {}
