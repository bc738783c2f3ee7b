"""The balance model of one layer (CP-SAT): replica counts and their GPUs, least heaviest GPU.

Expert ``e`` takes one count ``k`` (``z[e, k]``); ``y[e, g, k]`` of its ``k``
replicas sit on GPU ``g``; each GPU fills its ``S`` slots. A replica of an
expert with ``k`` replicas carries ``load_e / k`` tokens, so the GPU's tokens
are linear in ``y``; tokens are scaled by ``Q = lcm(1..K)`` to integers, which
is exact. With every count from 1 to ``1 + slots - experts`` allowed the
model is exact and its bound is valid; it takes at most :data:`MAX_COUNT`
counts (the scale stays below 2^20).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from optsched.problems.moe.bounds import token_bounds
from optsched.problems.moe.instance import MoeInstance

MAX_COUNT = 16
"""Most replica counts an exact block takes (``lcm(1..16)`` = 720,720 is its scale)."""


@dataclass(frozen=True)
class LayerModel:
    """One layer's block: its variables, for hints and decoding."""

    options: dict[int, list[int]]
    z: dict[tuple[int, int], Any]
    y: dict[tuple[int, int, int], Any]
    heaviest: Any
    scale: int


def counts_allowed(instance: MoeInstance) -> dict[int, list[int]]:
    """Per expert every replica count it may have: 1 to ``1 + slots - experts``."""
    most = 1 + instance.cluster.slots - instance.experts
    return {e: list(range(1, most + 1)) for e in range(instance.experts)}


def add_layer(model: Any, instance: MoeInstance, layer: int, cap: float | None = None
              ) -> LayerModel:
    """Add one layer's balance block to ``model``; return its handles.

    The GPUs are ordered by tokens (symmetry breaking) unless ``max_moved``
    makes them distinguishable (each has its own previous experts).
    """
    c = instance.cluster
    gpus, per = c.gpus, c.slots_per_gpu
    load = instance.load[layer].astype(np.int64)
    options = counts_allowed(instance)
    scale = math.lcm(*range(1, max(max(ks) for ks in options.values()) + 1))
    z, y = {}, {}
    tokens: list[list[Any]] = [[] for _ in range(gpus)]
    slots: list[list[Any]] = [[] for _ in range(gpus)]
    for e, ks in options.items():
        choice = []
        for k in ks:
            z[e, k] = model.new_bool_var("")
            choice.append(z[e, k])
            weight = int(load[e]) * (scale // k)
            row = []
            for g in range(gpus):
                y[e, g, k] = model.new_int_var(0, min(k, per), "")
                row.append(y[e, g, k])
                tokens[g].append(weight * y[e, g, k])
                slots[g].append(y[e, g, k])
            model.add(sum(row) == k * z[e, k])
        model.add_exactly_one(choice)
    total = int(load.sum()) * scale
    heaviest = model.new_int_var(0, total, "")
    for g in range(gpus):
        if g and instance.max_moved is None:  # interchangeable GPUs: order them by tokens
            model.add(sum(tokens[g]) <= sum(tokens[g - 1]))
        model.add(sum(slots[g]) == per)
        model.add(sum(tokens[g]) <= heaviest)
        if cap is not None:
            model.add(sum(tokens[g]) <= math.floor(cap * scale * (1 + 1e-12)))
    model.add(heaviest >= math.ceil(float(token_bounds(instance)[layer]) * scale - 1e-6))
    return LayerModel(options, z, y, heaviest, scale)


def hint(model: Any, block: LayerModel, instance: MoeInstance, layer: int, row: np.ndarray
         ) -> None:
    """Hint the block with a placement row."""
    c = instance.cluster
    n = np.zeros((instance.experts, c.gpus), np.int64)
    np.add.at(n, (row, np.arange(c.slots) // c.slots_per_gpu), 1)
    count = n.sum(axis=1)
    weight = np.zeros(n.shape, np.int64)
    for (e, _, k) in block.y:
        if count[e] == k:
            weight[e] = int(instance.load[layer, e]) * (block.scale // k)
    if instance.max_moved is None:
        n = n[:, np.argsort(-(weight * n).sum(axis=0), kind="stable")]  # the model's order
    for (e, k), var in block.z.items():
        model.add_hint(var, int(count[e] == k))
    for (e, g, k), var in block.y.items():
        model.add_hint(var, int(n[e, g]) if count[e] == k else 0)


def decode(solver: Any, block: LayerModel, instance: MoeInstance) -> np.ndarray:
    """The placement row of a solved block."""
    c = instance.cluster
    slots: list[list[int]] = [[] for _ in range(c.gpus)]
    for (e, g, _), var in block.y.items():
        slots[g] += [e] * int(solver.value(var))
    return np.array([e for gpu in slots for e in gpu], np.int64)
