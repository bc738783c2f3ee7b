"""A cheap valid bound: no plan's tokens per second can exceed it (the objective's floor).

A replica of ``p`` stages of ``t`` GPUs at micro-batch ``b`` has cycle ``C >=
sum_s T_s >= sum_l min_g tau_l(g, t, b) + min_g head(g, t, b)`` (every layer on
the fastest GPU type), so it makes at most ``p b / C`` tokens per second, that
is ``b / (t C)`` per GPU. The KV cache of ``p b`` sequences over all layers
needs at least ``p b S L kv(t)`` bytes in ``p`` stages, so ``b <= U / (S L
kv(t))`` with ``U`` the largest usable memory of a GPU. The best per-GPU rate
over TP and batch sizes, times the GPUs, bounds every plan. It is loose
(weights, SLOs and overhead ignored) but needs no search; the exact solver
reports the master's tight bound.
"""

from __future__ import annotations

import numpy as np

from optsched.problems.parplan import cost
from optsched.problems.parplan.instance import ParplanInstance
from optsched.problems.parplan.templates import cluster_tp_sizes, ep_choices


def lower_bound(inst: ParplanInstance) -> float:
    """Minus an upper bound of the cluster's tokens per second."""
    sizes = cluster_tp_sizes(inst)
    most_memory = max(cost.usable(inst, p) for p in inst.pools)
    sequence = cost.blocks_per_sequence(inst) * inst.cost.kv_block_tokens
    best = 0.0
    for tp in sizes:
        per_sequence = sequence * inst.model.num_hidden_layers * cost.kv_per_token(inst, tp)
        cap = most_memory / per_sequence
        for ep in ep_choices(inst, tp):
            for batch in inst.batch_sizes:
                if batch > cap:
                    break
                fastest = np.min([cost.decode_layers(inst, p, tp, ep, batch)
                                  for p in inst.pools], axis=0)
                head = min(cost.head_time(inst, p, tp, batch) for p in inst.pools)
                best = max(best, batch / (tp * (float(fastest.sum()) + head)))
    return -best * inst.gpus
