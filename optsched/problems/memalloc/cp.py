"""CP-SAT model of memalloc: one ``NoOverlap`` of address intervals per maximal clique.

Two pieces live at a common step share a maximal clique of the interval
graph (Helly), so a no-overlap constraint over the address intervals of each
clique's pieces is exactly the packing condition, and it propagates more
than one ``NoOverlap2D`` over time x address rectangles (``-m
overlap=2d`` builds that instead, for comparison).
"""

from __future__ import annotations

import time

from ortools.sat.python import cp_model

from optsched.backends.cpsat import CpFormulation
from optsched.deadline import Deadline
from optsched.params import SolveParams
from optsched.problems.memalloc.bounds import lower_bound
from optsched.problems.memalloc.cliques import members, sections
from optsched.problems.memalloc.instance import MemallocInstance
from optsched.problems.memalloc.solution import MemallocSolution, make


def upper_limit(instance: MemallocInstance, params: SolveParams) -> int:
    """The highest peak worth modelling: the capacity, the hint's peak, or no reuse at all."""
    a = instance.arrays
    limits = [sum(map(int, a.size)) + sum(map(int, a.alignment)) + int(max(a.pinned.max(), 0))]
    if instance.capacity is not None:
        limits.append(instance.capacity)
    if isinstance(params.hint, MemallocSolution):
        limits.append(max(o + b.size for o, b in zip(params.hint.in_order(instance),
                                                     instance.buffers, strict=True)))
    return min(limits)


def build(instance: MemallocInstance, params: SolveParams, deadline: Deadline) -> CpFormulation:
    """Offsets ``align_b * y_b``, the peak above every buffer, no overlap per clique."""
    started = time.perf_counter()
    a = instance.arrays
    top = upper_limit(instance, params)
    model = cp_model.CpModel()
    offsets: list[cp_model.LinearExprT] = []
    steps: list[cp_model.IntVar | None] = []
    for b in range(a.n):
        size, align, pin = int(a.size[b]), int(a.alignment[b]), int(a.pinned[b])
        if pin >= 0:
            offsets.append(pin)
            steps.append(None)
            continue
        var = model.new_int_var(0, max(0, (top - size) // align), f"y{b}")
        offsets.append(var * align if align > 1 else var)
        steps.append(var)
    peak = model.new_int_var(lower_bound(instance), max(top, lower_bound(instance)), "peak")
    for b in range(a.n):
        model.add(offsets[b] + int(a.size[b]) <= peak)
    pieces = []
    for q in range(len(a.piece_t0)):
        b = int(a.piece_buffer[q])
        start = offsets[b] + int(a.piece_w0[q])
        pieces.append(model.new_fixed_size_interval_var(start, int(a.piece_w1[q] - a.piece_w0[q]),
                                                        f"p{q}"))
    overlap = params.model.get("overlap", "cliques")
    if overlap == "2d":
        times = [model.new_fixed_size_interval_var(int(a.piece_t0[q]),
                                                   int(a.piece_t1[q] - a.piece_t0[q]), f"t{q}")
                 for q in range(len(pieces))]
        model.add_no_overlap_2d(times, pieces)
        cliques = 0
    else:
        s0, s1, cliques = sections(a.piece_t0, a.piece_t1)
        deadline.check()
        for group in members(s0, s1, cliques):
            if len(group) > 1:
                model.add_no_overlap([pieces[q] for q in group])
                deadline.check()
    model.minimize(peak)
    if isinstance(params.hint, MemallocSolution):
        hinted = params.hint.in_order(instance)
        for b, step in enumerate(steps):
            if step is not None:
                model.add_hint(step, hinted[b] // int(a.alignment[b]))
        model.add_hint(peak, max(o + int(a.size[b]) for b, o in enumerate(hinted)))

    def decode(solver: cp_model.CpSolver) -> MemallocSolution:
        return make(instance, [o if isinstance(o, int) else int(solver.value(o))
                               for o in offsets])

    return CpFormulation(model=model, decode=decode, build_s=time.perf_counter() - started,
                         stats={"cliques": cliques, "upper_limit": top})
