"""MILP model of moe's ``load`` objective (PuLP): the balance blocks of :mod:`.cp`, in reals.

Expert ``e`` takes one replica count ``k`` (binary ``z``), ``y[e, g, k]``
integer replicas on GPU ``g``; a GPU's tokens are ``sum load_e / k * y``;
each layer's heaviest GPU is bounded below by every GPU's tokens.
"""

from __future__ import annotations

import time

import numpy as np
import pulp

from optsched.backends.milp import MilpFormulation
from optsched.deadline import Deadline
from optsched.params import SolveParams
from optsched.problems.moe.balance import counts_allowed
from optsched.problems.moe.bounds import token_bounds
from optsched.problems.moe.instance import MoeInstance
from optsched.problems.moe.lns import budget, caps
from optsched.problems.moe.solution import MoeSolution, make


def build(instance: MoeInstance, params: SolveParams, deadline: Deadline
          ) -> MilpFormulation:
    """Every layer's balance block; moved copies counted against ``max_moved``."""
    started = time.perf_counter()
    c = instance.cluster
    gpus, per = c.gpus, c.slots_per_gpu
    prob = pulp.LpProblem("moe", pulp.LpMinimize)
    cap, limit, bound = caps(instance), budget(instance), token_bounds(instance)
    ys: list[dict[tuple[int, int, int], pulp.LpVariable]] = []
    heaviest = []
    new_copies = []
    for layer in range(instance.layers):
        deadline.check()
        load = instance.load[layer].astype(np.float64)
        options = counts_allowed(instance)
        y: dict[tuple[int, int, int], pulp.LpVariable] = {}
        tokens: list[list[object]] = [[] for _ in range(gpus)]
        top = prob.add_variable(f"h_{layer}", float(bound[layer]))
        heaviest.append(top)
        for e, ks in options.items():
            z = [prob.add_variable(f"z_{layer}_{e}_{k}", cat=pulp.LpBinary) for k in ks]
            prob += pulp.lpSum(z) == 1
            for k, zk in zip(ks, z, strict=True):
                row = [prob.add_variable(f"y_{layer}_{e}_{g}_{k}", 0, min(k, per),
                                         pulp.LpInteger) for g in range(gpus)]
                prob += pulp.lpSum(row) == k * zk
                for g, var in enumerate(row):
                    y[e, g, k] = var
                    tokens[g].append(load[e] / k * var)
        for g in range(gpus):
            prob += pulp.lpSum(var for (_, h, _), var in y.items() if h == g) == per
            prob += pulp.lpSum(tokens[g]) <= top
            if cap is not None:
                prob += pulp.lpSum(tokens[g]) <= float(cap[layer]) * (1 + 1e-9)
        if limit is not None and instance.previous is not None:
            before = np.zeros((instance.experts, gpus), bool)
            before[instance.previous[layer], np.arange(c.slots) // per] = True
            for e, ks in options.items():
                for g in np.flatnonzero(~before[e]).tolist():
                    held = prob.add_variable(f"n_{layer}_{e}_{g}", cat=pulp.LpBinary)
                    prob += pulp.lpSum(y[e, g, k] for k in ks) <= per * held
                    new_copies.append(held)
        ys.append(y)
    if new_copies and limit is not None:
        prob += pulp.lpSum(new_copies) <= limit
    prob += pulp.lpSum(heaviest)

    def decode() -> MoeSolution:
        rows = []
        for y in ys:
            slots: list[list[int]] = [[] for _ in range(gpus)]
            for (e, g, _), var in y.items():
                slots[g] += [e] * round(var.value() or 0)
            rows.append([e for gpu in slots for e in gpu])
        return make(rows)

    return MilpFormulation(problem=prob, decode=decode, build_s=time.perf_counter() - started,
                           integral=False, stats={"layers": instance.layers})
