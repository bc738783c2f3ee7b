"""Valid lower bounds of every part of the moe cost model (formulas in ``docs/methods/moe.md``).

All parts are bounded separately and added: the objective is a sum of
per-layer parts, each at least its bound whatever the other layers do.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

import numpy as np

from optsched.problems.moe.instance import MoeInstance


def replica_counts(load: np.ndarray, slots: int, cap: int) -> np.ndarray:
    """D'Hondt: each of ``slots - len(load)`` extra replicas to the largest ``load / count``.

    No expert gets more than ``cap`` replicas (while another can take one).
    The result minimises ``max(load / count)`` over counts with that cap
    and ``sum(count) == slots`` (a greedy that is exact for a max of
    decreasing functions). Ties go to the lowest index.
    """
    counts = np.ones(len(load), np.int64)
    heap = [(-float(w), e) for e, w in enumerate(load) if cap > 1]
    heapq.heapify(heap)
    extra = slots - len(load)
    while extra > 0 and heap:
        _, e = heapq.heappop(heap)
        counts[e] += 1
        extra -= 1
        if counts[e] < cap:
            heapq.heappush(heap, (-float(load[e]) / counts[e], e))
    while extra > 0:  # every expert at the cap: the rest go anywhere
        counts[extra % len(load)] += 1
        extra -= 1
    return counts


def token_bounds(instance: MoeInstance) -> np.ndarray:
    """Per layer, a lower bound of the heaviest GPU's tokens (computed once per instance)."""
    if "tokens" not in instance.cache:
        bounds = _token_bounds(instance)
        bounds.setflags(write=False)
        instance.cache["tokens"] = bounds
    return np.asarray(instance.cache["tokens"])


def _token_bounds(instance: MoeInstance) -> np.ndarray:
    """Per layer, a lower bound of the heaviest GPU's tokens.

    The largest of: the mean ``W / G``; the smallest possible largest share
    of one expert, ``min over counts of max_e load_e / min(G, c_e)`` (a GPU
    holds at least ``1 / min(G, c_e)`` of expert ``e``'s tokens); and the
    GPU with the largest slot piece, which holds ``S - 1`` more slots of at
    least the smallest piece each (without replicas: the ``S - 1`` smallest
    other experts).
    """
    c = instance.cluster
    gpus, per, slots = c.gpus, c.slots_per_gpu, c.slots
    extra = slots - instance.experts
    out = np.zeros(instance.layers)
    for layer, row in enumerate(instance.load.astype(np.float64)):
        counts = replica_counts(row, slots, gpus)
        share = float((row / np.minimum(counts, gpus)).max())
        free = replica_counts(row, slots, slots)
        piece = float((row / free).max())
        if extra == 0:
            ordered = np.sort(row)
            rest = float(ordered[:per - 1].sum()) if per > 1 else 0.0
            if per - 1 >= len(ordered):
                rest = float(ordered[:-1].sum())
        else:
            rest = (per - 1) * float(row.min()) / (extra + 1)
        out[layer] = max(float(row.sum()) / gpus, share, piece + rest)
    return out


def compute_bounds(instance: MoeInstance, tokens: np.ndarray | None = None) -> np.ndarray:
    """Per layer, a lower bound of the heaviest GPU's compute ``a * tokens + b * experts``.

    The heaviest GPU is at least the mean, ``a * W / G + b * E / G`` (every
    expert runs somewhere), and at least the GPU with the most tokens, which
    runs at least one expert.
    """
    a, b = instance.cost.us_per_token, instance.cost.us_per_expert
    gpus = instance.cluster.gpus
    tokens = token_bounds(instance) if tokens is None else tokens
    mean = a * instance.load.sum(axis=1) / gpus + b * instance.experts / gpus
    return np.asarray(np.maximum(mean, a * tokens + b))


def layer_matrices(rows: np.ndarray, layers: int, experts: int) -> Iterator[np.ndarray]:
    """Per layer, the ``[experts, experts]`` matrix of the sparse rows ``(l, e, f, n)``.

    One layer at a time: all at once would take ``layers * experts^2`` floats.
    """
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    cuts = np.searchsorted(rows[:, 0], np.arange(layers + 1))
    for layer in range(layers):
        part = rows[cuts[layer]:cuts[layer + 1]]
        yield np.bincount(part[:, 1] * experts + part[:, 2], weights=part[:, 3].astype(
            np.float64), minlength=experts * experts).reshape(experts, experts)


def _row_tops(matrix: np.ndarray, k: int) -> np.ndarray:
    """Per row of ``matrix``, the sum of its ``k`` largest values."""
    if k <= 0:
        return np.zeros(matrix.shape[0])
    if k >= matrix.shape[1]:
        return np.asarray(matrix.sum(axis=1))
    return np.asarray(-np.partition(-matrix, k - 1, axis=1)[:, :k].sum(axis=1))


def local_transitions(instance: MoeInstance, capacity: int) -> float:
    """An upper bound of the transition tokens that stay within a place of ``capacity`` slots.

    For a fixed expert ``e`` of layer ``l``, ``sum_f same(e, f) <= capacity``
    (the place that holds ``e`` has ``capacity`` slots of layer ``l + 1``)
    and each ``same <= 1``: at most its ``capacity`` largest transitions stay;
    the same from the side of ``f``; the smaller of the two totals holds.
    """
    t = instance.transitions
    if not len(t):
        return 0.0
    out = into = 0.0
    for moves in layer_matrices(t, instance.layers - 1, instance.experts):
        out += float(_row_tops(moves, capacity).sum())
        into += float(_row_tops(moves.T, capacity).sum())
    return min(out, into)


def fewest_copies(instance: MoeInstance, capacity: int) -> float:
    """A lower bound of the dispatch copies to places of ``capacity`` slots (all layers).

    The copies are ``sum_e load_e / (1 + m_e)`` (:func:`.evaluate.distinct`)
    with ``m_e = sum_f C_ef same_ef / load_e``; ``e`` shares its place with
    at most ``capacity - 1`` other slots' experts and each ``same <= 1``, so
    ``m_e`` is at most the sum of its ``capacity - 1`` largest pairs over
    ``load_e``.
    """
    load = instance.load.astype(np.float64)
    best = np.zeros(load.shape)
    if len(instance.coactivation) and capacity > 1:
        for layer, pairs in enumerate(layer_matrices(instance.coactivation, instance.layers,
                                                instance.experts)):
            best[layer] = _row_tops(pairs + pairs.T, capacity - 1)
    copies = (load / (1 + best / np.maximum(load, 1e-300))).sum(axis=1)
    return float(np.maximum(copies, load.sum(axis=1) / instance.model.top_k).sum())


def lower_bound(instance: MoeInstance) -> float:
    """The objective's bound: per-layer token (``load``) or compute + communication (``time``).

    Computed once per instance (a DeepSeek-V3-sized one takes a second or two).
    """
    if "bound" not in instance.cache:
        instance.cache["bound"] = _lower_bound(instance)
    return float(instance.cache["bound"])


def _lower_bound(instance: MoeInstance) -> float:
    from optsched.problems.moe.costs import comm_time

    tokens = token_bounds(instance)
    if instance.objective == "load":
        return float(tokens.sum())
    c = instance.cluster
    per_node = c.slots_per_gpu * c.gpus_per_node
    total_t = float(instance.transitions[:, 3].sum()) if len(instance.transitions) else 0.0
    k = instance.model.top_k
    cross_gpu = max(0.0, total_t - local_transitions(instance, c.slots_per_gpu)) / k
    cross_node = max(0.0, total_t - local_transitions(instance, per_node)) / k
    copies_gpu = fewest_copies(instance, c.slots_per_gpu)
    copies_node = fewest_copies(instance, per_node)
    cross_gpu = max(cross_gpu, cross_node)
    if c.inter_node_GBps > c.intra_node_GBps:  # then every crossing might as well cross nodes
        cross_node = cross_gpu
    comm = comm_time(instance, copies_gpu, copies_node, cross_gpu, cross_node)
    return float(compute_bounds(instance, tokens).sum()) + comm
