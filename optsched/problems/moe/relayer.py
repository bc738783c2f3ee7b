"""Re-place one layer's replicas exactly (CP-SAT), its neighbours fixed: moe-lns's big move.

The replicas keep their counts; each goes to one GPU, every GPU gets its
``S`` slots, the tokens of a GPU stay under the layer's cap. The objective
is the heaviest GPU's compute minus the transition terms with the fixed
neighbours, which are linear, and the co-activation term linearised at the
current placement. The new placement is kept only if the exact cost of the
layer (:meth:`.Plan.layer_cost`) goes down.
"""

from __future__ import annotations

import numpy as np

from optsched.deadline import Deadline
from optsched.params import SolveParams
from optsched.problems.moe import subsolve
from optsched.problems.moe.search import Plan

RESOLUTION = 1e6
"""The largest objective coefficient after scaling to integers."""


def relayer(plan: Plan, layer: int, params: SolveParams, deadline: Deadline,
            seconds: float) -> bool:
    """Solve the layer's assignment; apply it if the exact layer cost improves."""
    from ortools.sat.python import cp_model

    inst, w = plan.instance, plan.w
    c = inst.cluster
    gpus, per = c.gpus, c.slots_per_gpu
    row = plan.phy[layer].copy()
    count = plan.count[layer]
    size = plan.load[layer][row] / count[row]
    u, v, pg, pn = plan.terms(layer)
    a = plan.shares(layer)
    gain = u + pg @ a + (v + pn @ (a @ plan.to_node))[:, plan.node]
    gain = gain[row] / count[row][:, None]  # [pieces, gpus]
    top = max(float(np.abs(gain).max(initial=0)), float(w.token * size.sum() + w.expert * per),
              1e-12)
    k = RESOLUTION / top
    model = cp_model.CpModel()
    y = [[model.new_bool_var("") for _ in range(gpus)] for _ in row]
    experts = np.unique(row)
    held = {(e, g): model.new_bool_var("") for e in experts.tolist() for g in range(gpus)}
    for p, e in enumerate(row.tolist()):
        model.add_exactly_one(y[p])
        for g in range(gpus):
            model.add_implication(y[p][g], held[e, g])
    heaviest = model.new_int_var(0, int(RESOLUTION * 4 + 1), "heaviest")
    weights = np.rint(k * w.token * size).astype(np.int64)
    cap = None if plan.caps is None else float(plan.caps[layer])
    for g in range(gpus):
        column = [y[p][g] for p in range(len(row))]
        model.add(sum(column) == per)
        model.add(heaviest >= sum(int(x) * b for x, b in zip(weights, column, strict=True))
                  + round(k * w.expert) * sum(held[e, g] for e in experts.tolist()))
        if cap is not None:
            tokens = sum(round(s * 1000) * b for s, b in zip(size, column, strict=True))
            model.add(tokens <= int(cap * 1000 * (1 + 1e-9)))
    coefficients = np.rint(k * gain).astype(np.int64)
    model.minimize(heaviest - sum(int(coefficients[p, g]) * y[p][g] for p in range(len(row))
                                  for g in range(gpus) if coefficients[p, g]))
    for p in range(len(row)):
        for g in range(gpus):
            model.add_hint(y[p][g], int(plan.gpu[p] == g))
    status, solver = subsolve.solve(model, params, deadline, seconds)
    if status not in ("OPTIMAL", "FEASIBLE"):
        return False
    slots: list[list[int]] = [[] for _ in range(gpus)]
    for p, e in enumerate(row.tolist()):
        g = next(g for g in range(gpus) if solver.value(y[p][g]))
        slots[g].append(e)
    new = np.array([e for gpu in slots for e in sorted(gpu)], np.int64)
    before = plan.layer_cost(layer)
    plan.set_row(layer, new)
    within = cap is None or float((plan.load[layer] @ plan.shares(layer)).max()) <= cap * (
        1 + 1e-9)
    if within and plan.layer_cost(layer) < before - 1e-9 * max(abs(before), 1.0):
        return True
    plan.set_row(layer, row)
    return False
