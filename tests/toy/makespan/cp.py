"""CP-SAT model: a Boolean per (job, machine), the makespan above every machine's load."""

from __future__ import annotations

import time

from ortools.sat.python import cp_model

from optsched.backends.cpsat import CpFormulation
from optsched.deadline import Deadline
from optsched.params import SolveParams

from .evaluate import lower_bound
from .instance import MakespanInstance, MakespanSolution


def build(instance: MakespanInstance, params: SolveParams, deadline: Deadline) -> CpFormulation:
    """Build the model; the hint (a verified solution) starts the search."""
    started = time.perf_counter()
    jobs, machines = range(len(instance.times)), range(instance.machines)
    model = cp_model.CpModel()
    x = {(j, k): model.new_bool_var(f"x{j}_{k}") for j in jobs for k in machines}
    span = model.new_int_var(lower_bound(instance), sum(instance.times), "makespan")
    for j in jobs:
        model.add_exactly_one(x[j, k] for k in machines)
    for k in machines:
        model.add(sum(instance.times[j] * x[j, k] for j in jobs) <= span)
    model.minimize(span)
    if isinstance(params.hint, MakespanSolution):
        for j in jobs:
            for k in machines:
                model.add_hint(x[j, k], params.hint.machine[j] == k)

    def decode(solver: cp_model.CpSolver) -> MakespanSolution:
        return MakespanSolution(tuple(next(k for k in machines if solver.value(x[j, k]))
                                      for j in jobs))

    return CpFormulation(model=model, decode=decode, build_s=time.perf_counter() - started)
