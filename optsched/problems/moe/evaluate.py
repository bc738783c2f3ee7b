"""The independent checker of moe: recomputes every part of the cost model from ``phy2log``.

It shares no code with the solvers (only the instance, :mod:`.bounds` for
the token bounds that define the imbalance cap and for the per-layer
matrices of the sparse counts, and the communication formula of
:mod:`.costs`).
Formulas: ``docs/methods/moe.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optsched.family import Evaluation
from optsched.problems.moe.bounds import layer_matrices, token_bounds
from optsched.problems.moe.costs import comm_time, migration_time
from optsched.problems.moe.instance import MoeInstance
from optsched.problems.moe.solution import MoeSolution

TOLERANCE = 1e-9
"""Relative slack of the imbalance cap (loads are sums of doubles)."""


@dataclass(frozen=True)
class Parts:
    """The cost model's parts of one placement, per layer where it has layers."""

    tokens: np.ndarray
    """``[layers, gpus]`` tokens per GPU (replicas split their expert's tokens evenly)."""
    experts: np.ndarray
    """``[layers, gpus]`` distinct experts per GPU."""
    compute: np.ndarray
    """``[layers, gpus]`` microseconds: ``us_per_token * tokens + us_per_expert * experts``."""
    copies_gpu: np.ndarray
    """``[layers]`` dispatch copies, one per token and destination GPU (:func:`distinct`)."""
    copies_node: np.ndarray
    """``[layers]`` the same per destination node."""
    cross_gpu: np.ndarray
    """``[layers - 1]`` token copies that change GPU between layer ``l`` and ``l + 1`` (the
    transition counts over ``top_k``)."""
    cross_node: np.ndarray
    """``[layers - 1]`` transitions that change node."""
    traffic: np.ndarray
    """``[gpus, gpus]`` tokens sent from GPU to GPU: transitions, dispatch and combine."""
    moved: int
    """Expert copies on a GPU that did not hold that expert in ``previous`` (0 without)."""


def shares(instance: MoeInstance, row: np.ndarray) -> np.ndarray:
    """``[experts, gpus]``: the share of each expert's tokens that each GPU serves."""
    c = instance.cluster
    experts, gpus = instance.experts, c.gpus
    gpu = np.arange(c.slots) // c.slots_per_gpu
    n = np.bincount(row * gpus + gpu, minlength=experts * gpus).reshape(experts, gpus)
    count = n.sum(axis=1, keepdims=True)
    return np.asarray(n / np.maximum(count, 1), np.float64)


def parts(instance: MoeInstance, phy2log: np.ndarray) -> Parts:
    """Every part of the cost model (``phy2log`` must be a valid placement)."""
    c, cost = instance.cluster, instance.cost
    layers, gpus, k = instance.layers, c.gpus, instance.model.top_k
    experts = instance.experts
    to_node = np.zeros((gpus, c.nodes))
    to_node[np.arange(gpus), np.arange(gpus) // c.gpus_per_node] = 1
    a = np.stack([shares(instance, phy2log[layer]) for layer in range(layers)])
    load = instance.load.astype(np.float64)
    tokens = np.einsum("le,leg->lg", load, a)
    held = (a > 0).sum(axis=1)
    compute = cost.us_per_token * tokens + cost.us_per_expert * held
    received = tokens.copy()  # copies a GPU receives: one per token, not per expert
    mates_gpu, mates_node = np.zeros((layers, experts)), np.zeros((layers, experts))
    if len(instance.coactivation):
        for layer, pairs in enumerate(layer_matrices(instance.coactivation, layers, experts)):
            pairs = pairs + pairs.T
            near = pairs @ a[layer]
            mates_gpu[layer] = (a[layer] * near).sum(axis=1)
            node_share = a[layer] @ to_node
            mates_node[layer] = (node_share * (pairs @ node_share)).sum(axis=1)
            received[layer] -= (a[layer] * near).sum(axis=0) / 2
    routed = load.sum(axis=1)
    copies_gpu = np.maximum(distinct(load, mates_gpu), routed / k)
    copies_node = np.maximum(distinct(load, mates_node), routed / k)
    dispatch = np.tile(np.maximum(received, 0).sum(axis=0) / gpus, (gpus, 1))  # homes: even
    traffic = dispatch + dispatch.T  # dispatch, and the combine back
    cross_gpu, cross_node = np.zeros(max(layers - 1, 0)), np.zeros(max(layers - 1, 0))
    if len(instance.transitions):
        for layer, moves in enumerate(layer_matrices(instance.transitions, layers - 1, experts)):
            # each of a token's k next copies leaves from one of its k experts' GPUs
            between = a[layer].T @ (moves / k) @ a[layer + 1]  # [GPU from, GPU to]
            total = moves.sum() / k
            cross_gpu[layer] = total - np.trace(between)
            cross_node[layer] = total - np.trace(to_node.T @ between @ to_node)
            traffic += between
    np.fill_diagonal(traffic, 0)
    moved = 0 if instance.previous is None else _moved(instance, phy2log, instance.previous)
    return Parts(tokens, held, compute, copies_gpu, copies_node, np.maximum(cross_gpu, 0),
                 np.maximum(cross_node, 0), traffic, moved)


def distinct(load: np.ndarray, mates: np.ndarray) -> np.ndarray:
    """Per layer, the estimated (token, place) copies: ``sum_e load_e / (1 + m_e)``.

    ``m_e = mates_e / load_e`` is the mean number of a token's other experts
    that share ``e``'s place (GPU or node), from the co-activation counts: a
    token whose ``j`` chosen experts share a place sends one copy there,
    ``1 / j`` per expert. Exact when all of ``e``'s tokens have the same
    number of mates there; below the truth otherwise (Jensen).
    """
    safe = np.maximum(load, 1e-300)
    return np.asarray((load / (1 + mates / safe)).sum(axis=1))


def _moved(instance: MoeInstance, now: np.ndarray, before: np.ndarray) -> int:
    """Expert copies new on their GPU: ``sum over (l, g) of |now(l, g) - before(l, g)|``."""
    per = instance.cluster.slots_per_gpu
    moved = 0
    for layer in range(instance.layers):
        for g in range(instance.cluster.gpus):
            cells = slice(g * per, (g + 1) * per)
            moved += len(set(now[layer, cells].tolist()) - set(before[layer, cells].tolist()))
    return moved


def objective(instance: MoeInstance, p: Parts) -> tuple[float, dict[str, float]]:
    """The objective and its parts, in the units of ``instance.objective``."""
    max_tokens = p.tokens.max(axis=1)
    max_compute = p.compute.max(axis=1)
    comm = comm_time(instance, float(p.copies_gpu.sum()), float(p.copies_node.sum()),
                     float(p.cross_gpu.sum()), float(p.cross_node.sum()))
    moved_bytes = float(p.moved * instance.model.expert_bytes)
    migration = migration_time(instance, moved_bytes)
    time = float(max_compute.sum()) + comm + migration
    values = {"load": float(max_tokens.sum()), "time": time, "compute_us": float(
        max_compute.sum()), "comm_us": comm, "migration_us": migration}
    return values[instance.objective], values


def evaluate(instance: MoeInstance, solution: MoeSolution) -> Evaluation:
    """Recompute the objective and every part; list every violation.

    Violations: a placement of the wrong shape, a slot naming no expert of
    the layer, an expert without a slot, a layer above the imbalance cap,
    more moved expert copies than ``max_moved`` allows.
    """
    phy = solution.phy2log
    c = instance.cluster
    shape = (instance.layers, c.slots)
    if phy.ndim != 2 or phy.shape != shape:
        return Evaluation(None, (f"phy2log must have {shape[0]} rows of {shape[1]} slots, got "
                                 f"shape {list(phy.shape)}",))
    found: list[str] = []
    bad = np.argwhere((phy < 0) | (phy >= instance.experts))
    if len(bad):
        i, j = bad[0]
        found.append(f"phy2log[{i}][{j}] = {phy[i, j]} is not an expert of the layer "
                     f"({len(bad)} such slot(s))")
        return Evaluation(None, tuple(found))
    for layer in range(instance.layers):
        missing = np.setdiff1d(np.arange(instance.experts), phy[layer])
        if len(missing):
            found.append(f"layer {layer}: expert {missing[0]} has no slot ({len(missing)} "
                         "expert(s) missing)")
    if found:
        return Evaluation(None, tuple(found))
    p = parts(instance, phy)
    value, values = objective(instance, p)
    bounds = token_bounds(instance)
    max_tokens = p.tokens.max(axis=1)
    if instance.imbalance is not None:
        over = np.flatnonzero(max_tokens > instance.imbalance * bounds * (1 + TOLERANCE))
        if len(over):
            l0 = over[0]
            found.append(f"layer {l0}: the heaviest GPU has {max_tokens[l0]:.6g} tokens, above "
                         f"{instance.imbalance} x the bound {bounds[l0]:.6g} ({len(over)} "
                         "layer(s) over)")
    moved_share = p.moved / (instance.layers * c.slots)
    if instance.max_moved is not None and moved_share > instance.max_moved + TOLERANCE:
        found.append(f"{p.moved} expert copies moved ({moved_share:.4g} of the slots), above "
                     f"max_moved {instance.max_moved}")
    node_copies = p.copies_node * (c.nodes - 1) / c.nodes
    metrics = {**values, "goal": instance.objective,
               "token_bound": float(bounds.sum()),
               "imbalance": float((max_tokens / np.maximum(bounds, 1e-300)).max()),
               "balancedness": float((p.tokens.mean(axis=1).sum()) / max(max_tokens.sum(),
                                                                         1e-300)),
               "cross_gpu": float(p.cross_gpu.sum()), "cross_node": float(p.cross_node.sum()),
               "dispatch_gpu_copies": float(p.copies_gpu.sum()),
               "internode_copies": float(node_copies.sum()),
               "moved": p.moved, "moved_share": moved_share,
               "moved_bytes": p.moved * instance.model.expert_bytes,
               "replicas": int(c.slots - instance.experts)}
    return Evaluation(objective=value, violations=tuple(found), metrics=metrics)
