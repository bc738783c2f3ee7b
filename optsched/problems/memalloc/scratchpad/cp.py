"""CP-SAT model of a fixed-order scratchpad schedule: keep-or-reload per gap, addresses.

Each use of a tensor is a mandatory address interval; each gap between two
uses an optional one, present when the tensor stays (then its address is
the same at both uses; a reload may move it). At each step where a piece
starts, one ``NoOverlap`` of the address intervals covering it (the
maximal cliques of the fixed time spans, as memalloc's model), and the
linear cut that their bytes fit the capacity, whose relaxation COSMA's
big-M model lacks. Objective: reload bytes, plus the one store of each
spilled tensor that needs it.
"""

from __future__ import annotations

import time

from ortools.sat.python import cp_model

from optsched.backends.cpsat import CpFormulation
from optsched.deadline import Deadline
from optsched.errors import InputError
from optsched.params import SolveParams
from optsched.problems.memalloc.scratchpad import pieces as layout
from optsched.problems.memalloc.scratchpad.belady import listed_order
from optsched.problems.memalloc.scratchpad.bounds import lower_bound
from optsched.problems.memalloc.scratchpad.instance import ScratchpadInstance
from optsched.problems.memalloc.scratchpad.solution import ScratchpadSolution


def build(instance: ScratchpadInstance, params: SolveParams, deadline: Deadline
          ) -> CpFormulation:
    """The model of the listed order."""
    started = time.perf_counter()
    if params.model.get("overlap", "cliques") != "cliques":
        raise InputError("model.overlap", "is a setting of the buffers model; the scratchpad "
                                          "model has one NoOverlap per clique")
    g = instance.graph
    p = layout.pieces(instance, listed_order(instance))
    capacity = instance.capacity
    model = cp_model.CpModel()
    address = [[model.new_int_var(0, capacity - g.sizes[a], f"y{a}_{i}") for i in range(len(u))]
               for a, u in enumerate(p.uses)]
    keep = [model.new_bool_var(f"keep{k}") for k in range(len(p.gaps))]
    for k, gap in enumerate(p.gaps):
        model.add(address[gap.tensor][gap.i + 1] == address[gap.tensor][gap.i]
                  ).only_enforce_if(keep[k])
    at_use = [[model.new_fixed_size_interval_var(y, g.sizes[a], f"u{a}_{i}")
               for i, y in enumerate(row)] for a, row in enumerate(address)]
    across = {k: model.new_optional_fixed_size_interval_var(
        address[gap.tensor][gap.i], g.sizes[gap.tensor], keep[k], f"g{k}")
        for k, gap in enumerate(p.gaps) if not gap.empty}
    cliques = 0
    for uses_at, gaps_at in p.at_steps(len(p.order)):
        deadline.check()
        members = [at_use[a][i] for a, i in uses_at] + [across[k] for k in gaps_at]
        if len(members) > 1:
            model.add_no_overlap(members)
            cliques += 1
        left = layout.room(instance, p, uses_at, gaps_at)
        if left is not None:
            model.add(sum(g.sizes[p.gaps[k].tensor] * keep[k] for k in gaps_at) <= left)
    terms = [size * (1 - keep[k]) for k, size in layout.reloads(instance, p)]
    for a, gaps in layout.stores(instance, p).items():
        spill = model.new_bool_var(f"spill{a}")
        terms.append(g.sizes[a] * spill)
        for k in gaps:
            model.add_implication(~keep[k], spill)
    objective = sum(terms)
    model.add(objective >= lower_bound(instance))
    model.minimize(objective)
    _hint(model, instance, p, params, keep, address)

    def decode(solver: cp_model.CpSolver) -> ScratchpadSolution:
        kept = [bool(solver.boolean_value(k)) for k in keep]
        return layout.decode(instance, p, kept,
                             [[int(solver.value(y)) for y in row] for row in address])

    return CpFormulation(model=model, decode=decode, build_s=time.perf_counter() - started,
                         stats={"gaps": len(p.gaps), "cliques": cliques})


def _hint(model: cp_model.CpModel, instance: ScratchpadInstance, p: layout.Pieces,
          params: SolveParams, keep: list[cp_model.IntVar],
          address: list[list[cp_model.IntVar]]) -> None:
    if not isinstance(params.hint, ScratchpadSolution):
        return
    found = layout.from_solution(instance, p, params.hint)
    if found is None:
        return
    kept, where = found
    for var, stays in zip(keep, kept, strict=True):
        model.add_hint(var, stays)
    for row, values in zip(address, where, strict=True):
        for var, value in zip(row, values, strict=True):
            model.add_hint(var, value)
