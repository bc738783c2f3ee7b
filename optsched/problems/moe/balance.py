"""The balance model of one layer (CP-SAT): replica counts and their GPUs, least heaviest GPU.

Expert ``e`` takes one count ``k`` (``z[e, k]``); ``y[e, g, k]`` of its ``k``
replicas sit on GPU ``g``; each GPU fills its ``S`` slots. A replica of an
expert with ``k`` replicas carries ``load_e / k`` tokens, so the GPU's tokens
are linear in ``y``; tokens are scaled by ``Q = lcm(1..K)`` to integers, which
is exact. With every count from 1 to ``1 + slots - experts`` allowed the
model is exact and its bound is valid; ``moe-lns`` allows fewer counts (its
bound is then not used).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from optsched.problems.moe.bounds import replica_counts, token_bounds
from optsched.problems.moe.instance import MoeInstance

MAX_SCALE = 1 << 20
"""Largest ``lcm(1..K)`` used (K up to 16); beyond it counts are cut to stay exact."""


@dataclass(frozen=True)
class LayerModel:
    """One layer's block: its variables, for hints and decoding."""

    options: dict[int, list[int]]
    z: dict[tuple[int, int], Any]
    y: dict[tuple[int, int, int], Any]
    heaviest: Any
    scale: int
    exact: bool


def counts_allowed(instance: MoeInstance, load: np.ndarray, full: bool) -> dict[int, list[int]]:
    """Per expert the replica counts the model may choose (all of them when ``full``)."""
    c = instance.cluster
    most = 1 + c.slots - instance.experts
    if full:
        return {e: list(range(1, most + 1)) for e in range(instance.experts)}
    guess = replica_counts(load, c.slots, c.gpus)
    return {e: list(range(max(1, int(g) - 1), min(most, int(g) + 2) + 1))
            for e, g in enumerate(guess)}


def add_layer(model: Any, instance: MoeInstance, layer: int, full: bool,
              cap: float | None = None) -> LayerModel:
    """Add one layer's balance block to ``model``; return its handles."""
    c = instance.cluster
    gpus, per = c.gpus, c.slots_per_gpu
    load = instance.load[layer].astype(np.int64)
    options = counts_allowed(instance, load.astype(np.float64), full)
    top = max(max(ks) for ks in options.values())
    scale = math.lcm(*range(1, top + 1))
    exact = full
    if scale > MAX_SCALE:  # too many counts for an exact integer scale: cut them
        options = {e: [k for k in ks if k <= 16] for e, ks in options.items()}
        scale, exact = math.lcm(*range(1, 17)), False
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
        if g:  # the GPUs are interchangeable: order them by tokens
            model.add(sum(tokens[g]) <= sum(tokens[g - 1]))
        model.add(sum(slots[g]) == per)
        model.add(sum(tokens[g]) <= heaviest)
        if cap is not None:
            model.add(sum(tokens[g]) <= math.floor(cap * scale * (1 + 1e-12)))
    model.add(heaviest >= math.ceil(float(token_bounds(instance)[layer]) * scale - 1e-6))
    return LayerModel(options, z, y, heaviest, scale, exact)


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
    n = n[:, np.argsort(-(weight * n).sum(axis=0), kind="stable")]  # the model's GPU order
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
