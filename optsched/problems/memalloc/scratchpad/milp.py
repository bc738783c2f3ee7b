"""MILP model of a fixed-order scratchpad schedule (PuLP): the CP-SAT model's pieces.

The same keep-or-reload binary per gap and address per use as
:mod:`.scratchpad.cp`; two pieces that share a step get an order binary and
two big-M rows (``M`` = the capacity), switched off when a gap piece is
absent. The rows that the pieces of each step fit the capacity carry the LP
bound (COSMA's model has only the big-M rows: its root bound is 0).
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import pulp

from optsched.backends.milp import MilpFormulation
from optsched.deadline import Deadline
from optsched.params import SolveParams
from optsched.problems.memalloc.scratchpad import pieces as layout
from optsched.problems.memalloc.scratchpad.belady import listed_order
from optsched.problems.memalloc.scratchpad.bounds import lower_bound
from optsched.problems.memalloc.scratchpad.instance import ScratchpadInstance
from optsched.problems.memalloc.scratchpad.solution import ScratchpadSolution


def build(instance: ScratchpadInstance, params: SolveParams, deadline: Deadline
          ) -> MilpFormulation:
    """The model of the listed order."""
    started = time.perf_counter()
    g = instance.graph
    p = layout.pieces(instance, listed_order(instance))
    cap = instance.capacity
    prob = pulp.LpProblem("scratchpad", pulp.LpMinimize)
    address = [[prob.add_variable(f"y_{a}_{i}", 0, cap - g.sizes[a], pulp.LpInteger)
                for i in range(len(u))] for a, u in enumerate(p.uses)]
    keep = [prob.add_variable(f"keep_{k}", cat=pulp.LpBinary) for k in range(len(p.gaps))]
    for k, gap in enumerate(p.gaps):  # kept: the same address at both uses
        after, before = address[gap.tensor][gap.i + 1], address[gap.tensor][gap.i]
        prob += after - before <= cap * (1 - keep[k])
        prob += before - after <= cap * (1 - keep[k])
    # a piece: (address, size, presence or None when mandatory)
    piece: dict[tuple[str, int, int], tuple[Any, int, Any]] = {}
    for a, row in enumerate(address):
        for i, y in enumerate(row):
            piece["u", a, i] = (y, g.sizes[a], None)
    for k, gap in enumerate(p.gaps):
        if not gap.empty:
            piece["g", k, 0] = (address[gap.tensor][gap.i], g.sizes[gap.tensor], keep[k])
    pairs: set[tuple[tuple[str, int, int], tuple[str, int, int]]] = set()
    for uses_at, gaps_at in p.at_steps(len(p.order)):
        deadline.check()
        members = [("u", a, i) for a, i in uses_at] + [("g", k, 0) for k in gaps_at]
        pairs.update(itertools.combinations(sorted(members), 2))
        left = layout.room(instance, p, uses_at, gaps_at)
        if left is not None:
            prob += pulp.lpSum(g.sizes[p.gaps[k].tensor] * keep[k] for k in gaps_at) <= left
    order = []
    for n, (one, two) in enumerate(sorted(pairs)):
        (y1, s1, on1), (y2, s2, on2) = piece[one], piece[two]
        off = (1 - on1 if on1 is not None else 0) + (1 - on2 if on2 is not None else 0)
        below = prob.add_variable(f"z_{n}", cat=pulp.LpBinary)
        prob += y1 + s1 <= y2 + cap * (1 - below) + cap * off
        prob += y2 + s2 <= y1 + cap * below + cap * off
        order.append((below, y1, s1, y2))
    terms = [size * (1 - keep[k]) for k, size in layout.reloads(instance, p)]
    spills = layout.stores(instance, p)
    spill = {a: prob.add_variable(f"spill_{a}", cat=pulp.LpBinary) for a in spills}
    for a, gaps in spills.items():
        terms.append(g.sizes[a] * spill[a])
        for k in gaps:
            prob += spill[a] >= 1 - keep[k]
    objective = pulp.lpSum(terms)
    prob += objective
    prob += objective >= lower_bound(instance)
    warm = _start(instance, p, params, keep, address)
    if warm:  # the rest of a complete start: spills and the pairs' order as hinted
        for var in spill.values():
            var.setInitialValue(0)
        for k, gap in enumerate(p.gaps):
            if gap.tensor in spill and not keep[k].varValue:
                spill[gap.tensor].setInitialValue(1)
        for below, y1, s1, y2 in order:
            below.setInitialValue(int(y1.varValue + s1 <= y2.varValue))

    def decode() -> ScratchpadSolution:
        kept = [(k.value() or 0) > 0.5 for k in keep]
        return layout.decode(instance, p, kept,
                             [[round(y.value() or 0) for y in row] for row in address])

    return MilpFormulation(problem=prob, decode=decode, build_s=time.perf_counter() - started,
                           stats={"gaps": len(p.gaps), "pairs": len(pairs)}, started=warm)


def _start(instance: ScratchpadInstance, p: layout.Pieces, params: SolveParams,
           keep: list[pulp.LpVariable], address: list[list[pulp.LpVariable]]) -> bool:
    """Start values of the gaps and addresses from the hint (the caller sets the rest)."""
    if not isinstance(params.hint, ScratchpadSolution):
        return False
    found = layout.from_solution(instance, p, params.hint)
    if found is None:
        return False
    kept, where = found
    for var, stays in zip(keep, kept, strict=True):
        var.setInitialValue(int(stays))
    for row, values in zip(address, where, strict=True):
        for var, value in zip(row, values, strict=True):
            var.setInitialValue(value)
    return True
