"""CP-SAT model of a scratchpad schedule whose order is free: time-indexed, for small graphs.

Each operator takes one step (``x[o][t]``, a permutation that respects the
graph); each tensor is resident or not at each step (``r[a][t]``) within the
window its readers and writer can reach (ASAP/ALAP). An operator's tensors
are resident at its step; a written tensor is not resident before its
writer's step. Every start of a residency after the first is a reload; one
that is not the creation also makes a written, non-output tensor pay its
store. A resident tensor keeps its address from one step to the next unless
it starts again there (a reload elsewhere, paid as one), and
each step's residents do not overlap (one ``NoOverlap`` per step, and the
linear capacity cut). ``T x tensors`` booleans: see :data:`.timeline.MAX_CELLS`.
"""

from __future__ import annotations

import time

from ortools.sat.python import cp_model

from optsched.backends.cpsat import CpFormulation
from optsched.deadline import Deadline
from optsched.params import SolveParams
from optsched.problems.memalloc.scratchpad.instance import ScratchpadInstance
from optsched.problems.memalloc.scratchpad.solution import ScratchpadSolution, Segment
from optsched.problems.memalloc.scratchpad.timeline import spans, stored, windows

Cells = dict[tuple[int, int], cp_model.IntVar]


def build(instance: ScratchpadInstance, params: SolveParams, deadline: Deadline
          ) -> CpFormulation:
    """The time-indexed model."""
    started = time.perf_counter()
    g = instance.graph
    ops = len(instance.operators)
    cap = instance.capacity
    early, late = windows(instance)
    model = cp_model.CpModel()
    x = {(o, t): model.new_bool_var(f"x{o}_{t}") for o in range(ops)
         for t in range(early[o], late[o] + 1)}
    for o in range(ops):
        model.add_exactly_one(x[o, t] for t in range(early[o], late[o] + 1))
    for t in range(ops):
        model.add_exactly_one(x[o, t] for o in range(ops) if (o, t) in x)
    pos = [sum(t * x[o, t] for t in range(early[o], late[o] + 1)) for o in range(ops)]
    for o in range(ops):
        for a in g.reads[o]:
            if g.producer[a] >= 0:
                model.add(pos[g.producer[a]] + 1 <= pos[o])
    users = [sorted({*g.readers[a], *([g.producer[a]] if g.producer[a] >= 0 else [])})
             for a in range(g.n)]
    span = spans(instance, early, late)
    r = {(a, t): model.new_bool_var(f"r{a}_{t}") for a in range(g.n) for t in span[a]}
    at = {(a, t): model.new_int_var(0, cap - g.sizes[a], f"y{a}_{t}")
          for a in range(g.n) for t in span[a]}
    begin: Cells = {}
    terms = []
    for a in range(g.n):
        deadline.check()
        p = g.producer[a]
        for o in users[a]:
            for t in range(early[o], late[o] + 1):
                model.add_implication(x[o, t], r[a, t])
        if p >= 0:  # not resident before its writer's step
            for t in span[a]:
                if t < late[p]:
                    model.add(r[a, t] <= sum(x[p, u] for u in range(early[p], t + 1)))
        starts = []
        for t in span[a]:  # a start: created, loaded, or reloaded elsewhere (moved)
            start = begin[a, t] = model.new_bool_var(f"s{a}_{t}")
            model.add_implication(start, r[a, t])
            if t - 1 in span[a]:
                model.add(start >= r[a, t] - r[a, t - 1])
                model.add(at[a, t] == at[a, t - 1]).only_enforce_if(
                    [r[a, t], r[a, t - 1], ~start])
            else:
                model.add(start >= r[a, t])
            starts.append((t, start))
        terms.append(g.sizes[a] * (sum(s for _, s in starts) - 1))
        if stored(g, a):  # a start that is not the creation: spilled, so stored once
            spill = model.new_bool_var(f"spill{a}")
            for t, start in starts:
                created = x.get((p, t), 0)
                model.add(spill >= start - created)
            terms.append(g.sizes[a] * spill)
    for t in range(ops):
        live = [a for a in range(g.n) if t in span[a]]
        boxes = [model.new_optional_fixed_size_interval_var(at[a, t], g.sizes[a], r[a, t],
                                                            f"b{a}_{t}") for a in live]
        if len(boxes) > 1:
            model.add_no_overlap(boxes)
        if sum(g.sizes[a] for a in live) > cap:
            model.add(sum(g.sizes[a] * r[a, t] for a in live) <= cap)
    model.minimize(sum(terms))
    _hint(model, instance, params, x, r, at)

    def decode(solver: cp_model.CpSolver) -> ScratchpadSolution:
        order = sorted(range(ops), key=lambda o: int(solver.value(pos[o])))
        segments = []
        for a in range(g.n):
            first = None
            for t in [*span[a], span[a].stop]:
                here = t in span[a] and solver.boolean_value(r[a, t])
                if first is not None and (not here or solver.boolean_value(begin[a, t])):
                    segments.append(Segment(g.ids[a], first, t - 1,
                                            int(solver.value(at[a, first]))))
                    first = None
                if here and first is None:
                    first = t
        return ScratchpadSolution(tuple(instance.operators[o].id for o in order),
                                  tuple(segments))

    return CpFormulation(model=model, decode=decode, build_s=time.perf_counter() - started,
                         stats={"cells": len(r)})




def _hint(model: cp_model.CpModel, instance: ScratchpadInstance, params: SolveParams,
          x: Cells, r: Cells, at: Cells) -> None:
    hint = params.hint
    if not isinstance(hint, ScratchpadSolution):
        return
    index = {op.id: o for o, op in enumerate(instance.operators)}
    tensor = {name: a for a, name in enumerate(instance.graph.ids)}
    if sorted(hint.order) != sorted(index):
        return
    step = {index[name]: t for t, name in enumerate(hint.order)}
    for (o, t), var in x.items():
        model.add_hint(var, step[o] == t)
    on: dict[tuple[int, int], int] = {}
    for s in hint.segments:
        for t in range(s.start, s.end + 1):
            on[tensor.get(s.tensor, -1), t] = s.offset
    for cell, var in r.items():
        model.add_hint(var, cell in on)
        if cell in on:
            model.add_hint(at[cell], on[cell])
