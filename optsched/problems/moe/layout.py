"""Building blocks of placements: GPU lists to ``phy2log`` rows, replica pieces, LPT packing."""

from __future__ import annotations

import heapq

import numpy as np

from optsched.problems.moe.bounds import replica_counts
from optsched.problems.moe.instance import MoeInstance


def pieces(load: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every replica as (expert, tokens), heaviest first (ties: lower expert first)."""
    experts = np.repeat(np.arange(len(load)), counts)
    size = (load / counts)[experts]
    order = np.lexsort((experts, -size))
    return experts[order], size[order]


def lpt_row(load: np.ndarray, counts: np.ndarray, gpus: int, per: int) -> np.ndarray:
    """Longest processing time first with ``per`` slots per GPU: the ``phy2log`` row.

    Each replica, heaviest first, goes to the GPU with the fewest tokens that
    has room and does not hold the expert yet (any GPU with room when all
    those are full).
    """
    experts, size = pieces(load, counts)
    slots: list[list[int]] = [[] for _ in range(gpus)]
    heap = [(0.0, g) for g in range(gpus)]
    for e, w in zip(experts.tolist(), size.tolist(), strict=True):
        held: list[tuple[float, int]] = []
        while heap:
            tokens, g = heapq.heappop(heap)
            if e not in slots[g]:
                break
            held.append((tokens, g))
        else:
            tokens, g = held.pop(0)
        for item in held:
            heapq.heappush(heap, item)
        slots[g].append(e)
        if len(slots[g]) < per:
            heapq.heappush(heap, (tokens + w, g))
    return np.array([e for gpu in slots for e in gpu], np.int64)


def lpt(instance: MoeInstance) -> np.ndarray:
    """LPT per layer with D'Hondt replica counts (at most one replica per GPU each)."""
    c = instance.cluster
    rows = []
    for load in instance.load.astype(np.float64):
        counts = replica_counts(load, c.slots, c.gpus)
        rows.append(lpt_row(load, counts, c.gpus, c.slots_per_gpu))
    return np.array(rows, np.int64)


def contiguous(instance: MoeInstance) -> np.ndarray:
    """Slot ``s`` holds expert ``s mod E``: vLLM's and SGLang's default placement.

    Experts come in blocks by GPU (Megatron's expert order); redundant slots
    wrap around.
    """
    slots = instance.cluster.slots
    return np.tile(np.arange(slots) % instance.experts, (instance.layers, 1))


def round_robin(instance: MoeInstance) -> np.ndarray:
    """Expert ``e`` on GPU ``e mod G``: slot ``j`` of GPU ``g`` holds ``(j * G + g) mod E``."""
    c = instance.cluster
    gpu, j = np.divmod(np.arange(c.slots), c.slots_per_gpu)
    return np.tile((j * c.gpus + gpu) % instance.experts, (instance.layers, 1))
