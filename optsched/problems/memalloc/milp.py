"""MILP model of memalloc (PuLP): offsets, the peak, and an order binary per overlapping pair.

For each pair of buffers live at a common step, ``z = 1`` puts ``a`` below
``b`` (``x_a + eff(a, b) <= x_b``) and ``z = 0`` the reverse, each side
relaxed by the big-M ``U``, the highest peak worth modelling (the capacity,
the hint's peak, or no reuse at all). Its LP bound is weak (the live peak is
added as a bound on the peak); it is here for small instances and as a
cross-check of the other solvers.
"""

from __future__ import annotations

import time

import pulp

from optsched.backends.milp import MilpFormulation
from optsched.deadline import Deadline
from optsched.params import SolveParams
from optsched.problems.memalloc.bounds import lower_bound
from optsched.problems.memalloc.cp import upper_limit
from optsched.problems.memalloc.instance import MemallocInstance
from optsched.problems.memalloc.pairs import overlapping_pairs
from optsched.problems.memalloc.solution import MemallocSolution, make


def build(instance: MemallocInstance, params: SolveParams, deadline: Deadline
          ) -> MilpFormulation:
    """The big-M disjunctive model."""
    started = time.perf_counter()
    a = instance.arrays
    top = upper_limit(instance, params)
    prob = pulp.LpProblem("memalloc", pulp.LpMinimize)
    steps: list[pulp.LpVariable] = []
    for b in range(a.n):
        size, align, pin = int(a.size[b]), int(a.alignment[b]), int(a.pinned[b])
        if pin >= 0:
            steps.append(prob.add_variable(f"y_{b}", pin // align, pin // align, pulp.LpInteger))
        else:
            steps.append(prob.add_variable(f"y_{b}", 0, max(0, (top - size) // align),
                                           pulp.LpInteger))
    x = [int(a.alignment[b]) * steps[b] for b in range(a.n)]
    peak = prob.add_variable("peak", lower_bound(instance), max(top, lower_bound(instance)))
    prob += peak
    for b in range(a.n):
        prob += x[b] + int(a.size[b]) <= peak
    pairs = overlapping_pairs(instance)
    order: dict[tuple[int, int, int], pulp.LpVariable] = {}
    for (i, j), entries in pairs.items():
        deadline.check()
        for k, (up, down) in enumerate(entries):
            z = prob.add_variable(f"z_{i}_{j}_{k}", cat=pulp.LpBinary)
            order[i, j, k] = z
            prob += x[i] + up <= x[j] + top * (1 - z)
            prob += x[j] + down <= x[i] + top * z
    warm = isinstance(params.hint, MemallocSolution)
    if isinstance(params.hint, MemallocSolution):
        hinted = params.hint.in_order(instance)
        for b in range(a.n):
            steps[b].setInitialValue(hinted[b] // int(a.alignment[b]))
        peak.setInitialValue(max(o + int(a.size[b]) for b, o in enumerate(hinted)))
        for (i, j, k), z in order.items():
            z.setInitialValue(int(hinted[i] + pairs[i, j][k][0] <= hinted[j]))

    def decode() -> MemallocSolution:
        return make(instance, [int(a.alignment[b]) * round(steps[b].value() or 0)
                               for b in range(a.n)])

    return MilpFormulation(problem=prob, decode=decode, build_s=time.perf_counter() - started,
                           stats={"pairs": len(order), "upper_limit": top}, started=warm)
