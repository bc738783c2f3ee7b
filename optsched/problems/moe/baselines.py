"""The field's placements as baselines: EPLB, MoETuner's two stages, ExFlow's affinity grouping.

Citations and the deviations from each original are in ``docs/methods/moe.md``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from optsched.deadline import Deadline
from optsched.errors import InputError, NotSupportedError
from optsched.params import SolveParams
from optsched.problems.moe import eplb, subsolve
from optsched.problems.moe.bounds import replica_counts
from optsched.problems.moe.instance import MoeInstance
from optsched.problems.moe.layout import contiguous, lpt_row, pieces
from optsched.problems.moe.search import Plan, Weights

QUANTUM = 1000
"""Fixed-point steps per token in the CP-SAT stages (replicas carry fractional tokens)."""


def deepseek(instance: MoeInstance, policy: eplb.Policy = "auto") -> np.ndarray:
    """EPLB's ``rebalance_experts`` on the instance's loads, groups, nodes and GPUs."""
    c = instance.cluster
    try:
        return eplb.rebalance(instance.load, c.slots, instance.model.groups, c.nodes, c.gpus,
                              policy=policy).phy2log
    except InputError as exc:
        raise NotSupportedError(f"model.{exc.field}", f"EPLB's {policy} policy: "
                                                      f"{exc.problem}") from None


def exflow(instance: MoeInstance, deadline: Deadline) -> np.ndarray:
    """ExFlow-style grouping: fewest GPU changes between layers, equal experts per GPU.

    Swap descent from the contiguous layout on the layer-to-layer changes of
    GPU, a change of node counting twice (ExFlow's hops).
    """
    hops = Weights(0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0)
    plan = Plan(instance, contiguous(instance), None, weights=hops)
    while plan.sweep(deadline) and not deadline.expired():
        pass
    return plan.phy


def moetuner(instance: MoeInstance, params: SolveParams, deadline: Deadline) -> np.ndarray:
    """MoETuner's two stages (Go and Mahajan 2025), each solved with CP-SAT.

    Stage 1, per layer: the replicas into ``G`` clusters of ``S`` slots with
    the least total deviation of cluster tokens from the mean. Stage 2, per
    layer boundary in order: clusters to GPUs so that the heaviest GPU pair's
    tokens over its bandwidth is smallest, given the previous layer's map.
    A layer (boundary) whose model would not end in time, as long as the longest so
    far, keeps its LPT clusters (maps them to the GPUs in order), with no model
    built (one layer's model is 0.2 s of Python on 64 GPUs, one boundary's 1.4 s).
    """
    from ortools.sat.python import cp_model

    c = instance.cluster
    gpus, per = c.gpus, c.slots_per_gpu
    layers = instance.layers
    clusters: list[list[list[int]]] = []
    longest = 0.0  # the longest layer (or boundary) so far: a new one starts only in time
    for layer, load in enumerate(instance.load.astype(np.float64)):
        counts = replica_counts(load, c.slots, gpus)
        experts, size = pieces(load, counts)
        start = lpt_row(load, counts, gpus, per).reshape(gpus, per)
        if not _in_time(deadline, longest):
            clusters.append([gpu.tolist() for gpu in start])
            continue
        began = time.perf_counter()
        model = cp_model.CpModel()
        y = [[model.new_bool_var("") for _ in range(gpus)] for _ in experts]
        weight = np.rint(size * QUANTUM).astype(np.int64)
        mean = int(weight.sum()) // gpus
        deviation = []
        for p in range(len(experts)):
            model.add_exactly_one(y[p])
        for e in np.unique(experts).tolist():
            same = np.flatnonzero(experts == e)
            for g in range(gpus):
                model.add_at_most_one(y[p][g] for p in same)
        for g in range(gpus):
            model.add(sum(y[p][g] for p in range(len(experts))) == per)
            total = sum(int(weight[p]) * y[p][g] for p in range(len(experts)))
            d = model.new_int_var(0, int(weight.sum()), "")
            model.add(d >= total - mean)
            model.add(d >= mean - total)
            deviation.append(d)
        model.add(y[0][0] == 1)  # the clusters are interchangeable
        model.minimize(sum(deviation))
        _hint(model, y, experts, start)
        status, solver = subsolve.solve(model, params, deadline,
                                        _share(deadline, 0.5, 2 * layers - layer))
        if status in ("OPTIMAL", "FEASIBLE"):
            groups = [[int(experts[p]) for p in range(len(experts)) if solver.value(y[p][g])]
                      for g in range(gpus)]
        else:
            groups = [gpu.tolist() for gpu in start]
        clusters.append(groups)
        longest = max(longest, time.perf_counter() - began)
    rows = [np.array([e for group in clusters[0] for e in group], np.int64)]
    longest = 0.0
    for layer in range(1, layers):
        if not _in_time(deadline, longest):
            rows.append(np.array([e for group in clusters[layer] for e in group], np.int64))
            continue
        began = time.perf_counter()
        rows.append(_map_clusters(instance, rows[-1], clusters[layer], layer, params, deadline,
                                  _share(deadline, 1.0, layers - layer)))
        longest = max(longest, time.perf_counter() - began)
    return np.array(rows, np.int64)


def _in_time(deadline: Deadline, longest: float) -> bool:
    """Whether a step as long as the ``longest`` so far still ends before ``deadline``."""
    left = deadline.remaining()
    return left is None or left > longest


def _share(deadline: Deadline, fraction: float, parts: int) -> float | None:
    left = deadline.remaining()
    return None if left is None else fraction * left / max(parts, 1)


def _hint(model: Any, y: list[list[Any]], experts: np.ndarray, start: np.ndarray) -> None:
    """Hint stage 1 with the LPT clusters (each replica to a GPU of the start holding it)."""
    free: dict[int, list[int]] = {}
    for p, e in enumerate(experts.tolist()):
        free.setdefault(e, []).append(p)
    for g, gpu in enumerate(start.tolist()):
        for e in gpu:
            p = free[e].pop()
            for h in range(start.shape[0]):
                model.add_hint(y[p][h], int(h == g))


def _map_clusters(instance: MoeInstance, before: np.ndarray, groups: list[list[int]],
                  layer: int, params: SolveParams, deadline: Deadline,
                  seconds: float | None) -> np.ndarray:
    """Stage 2 for one boundary: the clusters of ``layer`` onto GPUs, ``before`` fixed."""
    from ortools.sat.python import cp_model

    c = instance.cluster
    gpus, per, experts = c.gpus, c.slots_per_gpu, instance.experts
    share_before = np.zeros((experts, gpus))
    np.add.at(share_before, (before, np.arange(c.slots) // per), 1)
    share_before /= share_before.sum(axis=1, keepdims=True)
    counts = np.bincount([e for g in groups for e in g], minlength=experts)
    member = np.zeros((gpus, experts))
    for k, group in enumerate(groups):
        np.add.at(member[k], group, 1 / counts[group])
    t = instance.transitions
    t = t[t[:, 0] == layer - 1]
    flow = np.zeros((gpus, gpus))  # [GPU before, cluster]: tokens between them
    if len(t):
        flow = (share_before[t[:, 1]] * t[:, 3, None]).T @ member[:, t[:, 2]].T
    node = np.arange(gpus) // c.gpus_per_node
    scale = QUANTUM / max(float(flow.max(initial=0)), 1.0)
    model = cp_model.CpModel()
    y = [[model.new_bool_var("") for _ in range(gpus)] for _ in range(gpus)]
    for k in range(gpus):
        model.add_exactly_one(y[k])
        model.add_exactly_one(y[j][k] for j in range(gpus))
    worst = model.new_int_var(0, 1 << 40, "worst")
    for g1 in range(gpus):
        if deadline.expired():
            return np.array([e for group in groups for e in group], np.int64)
        for g2 in range(gpus):
            if g1 != g2:
                bw = c.intra_node_GBps if node[g1] == node[g2] else c.inter_node_GBps
                coef = [round(flow[g1, k] * scale * 1000 / bw) for k in range(gpus)]
                model.add(worst >= sum(coef[k] * y[k][g2] for k in range(gpus)))
    model.minimize(worst)
    status, solver = subsolve.solve(model, params, deadline, seconds)
    order = list(range(gpus))
    if status in ("OPTIMAL", "FEASIBLE"):
        order = [next(g for g in range(gpus) if solver.value(y[k][g])) for k in range(gpus)]
    slots: list[list[int]] = [[] for _ in range(gpus)]
    for k, g in enumerate(order):
        slots[g] = groups[k]
    return np.array([e for gpu in slots for e in gpu], np.int64)
