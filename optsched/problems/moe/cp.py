"""CP-SAT model of moe's ``load`` objective: every layer's balance block (:mod:`.balance`).

Layers do not interact under ``load`` (only through ``max_moved``), so the
model is one block per layer with every replica count allowed (exact), the
objective the sum of the layers' heaviest GPUs in fixed point.
"""

from __future__ import annotations

import time

import numpy as np
from ortools.sat.python import cp_model

from optsched.backends.cpsat import CpFormulation
from optsched.deadline import Deadline
from optsched.errors import NotSupportedError
from optsched.params import SolveParams
from optsched.problems.moe import balance
from optsched.problems.moe.instance import MoeInstance
from optsched.problems.moe.lns import budget, caps
from optsched.problems.moe.solution import MoeSolution, make

MAX_VARIABLES = 300_000
"""Most replica variables (layers x experts x GPUs x counts) of the exact models."""


def supports(instance: MoeInstance) -> None:
    """The exact models take the ``load`` objective, up to :data:`MAX_VARIABLES`."""
    if instance.objective != "load":
        raise NotSupportedError("objective", "the exact models take the load objective (the "
                                             "time objective's copy estimate is not linear; "
                                             "moe-lns solves it)")
    c = instance.cluster
    counts = 1 + c.slots - instance.experts
    if counts > balance.MAX_COUNT:
        raise NotSupportedError("cluster.slots_per_gpu", f"the exact models take at most "
                                                         f"{balance.MAX_COUNT - 1} redundant "
                                                         f"slots per layer ({counts - 1} here)")
    size = instance.layers * instance.experts * c.gpus * counts
    if size > MAX_VARIABLES:
        raise NotSupportedError("cluster", f"the exact models take at most {MAX_VARIABLES} "
                                           f"replica variables ({size} here)")


def build(instance: MoeInstance, params: SolveParams, deadline: Deadline) -> CpFormulation:
    """One exact balance block per layer; moved copies counted against ``max_moved``."""
    started = time.perf_counter()
    model = cp_model.CpModel()
    cap = caps(instance)
    blocks = []
    for layer in range(instance.layers):
        deadline.check()
        blocks.append(balance.add_layer(model, instance, layer,
                                        None if cap is None else float(cap[layer])))
    limit = budget(instance)
    if limit is not None and instance.previous is not None:
        model.add(sum(_new_copies(model, instance, layer, block)
                      for layer, block in enumerate(blocks)) <= limit)
    model.minimize(sum(block.heaviest for block in blocks))
    if isinstance(params.hint, MoeSolution):
        for layer, block in enumerate(blocks):
            balance.hint(model, block, instance, layer, params.hint.phy2log[layer])

    def decode(solver: cp_model.CpSolver) -> MoeSolution:
        return make([balance.decode(solver, block, instance) for block in blocks])

    return CpFormulation(model=model, decode=decode, build_s=time.perf_counter() - started,
                         scale=blocks[0].scale, stats={"counts": 1 + instance.cluster.slots
                                                       - instance.experts})


def _new_copies(model: cp_model.CpModel, instance: MoeInstance, layer: int,
                block: balance.LayerModel) -> cp_model.LinearExprT:
    """Booleans ``held[e, g]`` for experts on a GPU that did not hold them before."""
    assert instance.previous is not None
    c = instance.cluster
    before = np.zeros((instance.experts, c.gpus), bool)
    before[instance.previous[layer], np.arange(c.slots) // c.slots_per_gpu] = True
    new = []
    for e in range(instance.experts):
        for g in range(c.gpus):
            if before[e, g]:
                continue
            held = model.new_bool_var("")
            for k in block.options[e]:
                model.add(block.y[e, g, k] <= min(k, c.slots_per_gpu) * held)
            new.append(held)
    return sum(new)
