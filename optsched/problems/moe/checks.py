"""Validation of a :class:`.MoeInstance` as a whole: every message names the field and index."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from optsched.errors import InstanceError
from optsched.fields import excerpt

if TYPE_CHECKING:
    from optsched.problems.moe.instance import MoeInstance


def check_instance(instance: MoeInstance) -> None:
    """Raise :class:`InstanceError` naming the first bad field of ``instance``.

    Also stores ``coactivation`` with ``e < f`` in every row (it is symmetric).
    """
    from optsched.problems.moe.instance import MAX_COUNT, OBJECTIVES

    model, cluster = instance.model, instance.cluster
    layers, experts = model.layers, model.experts
    if experts % model.groups:
        raise InstanceError("model.groups", f"{model.groups} groups must divide the "
                                            f"{experts} experts")
    if model.top_k > experts:
        raise InstanceError("model.top_k", f"must be at most the {experts} experts, got "
                                           f"{model.top_k}")
    if cluster.slots < experts:
        raise InstanceError("cluster.slots_per_gpu", f"{cluster.gpus} GPUs x "
                                                     f"{cluster.slots_per_gpu} slots = "
                                                     f"{cluster.slots} slots, fewer than the "
                                                     f"{experts} experts")
    _array(instance.load, "load", (layers, experts))
    if instance.load.min(initial=0) < 0 or instance.load.max(initial=0) > MAX_COUNT:
        i, j = np.argwhere((instance.load < 0) | (instance.load > MAX_COUNT))[0]
        raise InstanceError(f"load[{i}][{j}]", f"must be an integer in [0, 2^40], got "
                                               f"{instance.load[i, j]}")
    _entries(instance.transitions, "transitions", layers - 1, experts, same=True)
    _entries(instance.coactivation, "coactivation", layers, experts, same=False)
    co = instance.coactivation
    if len(co):
        normal = co.copy()
        normal[:, 1], normal[:, 2] = co[:, 1:3].min(axis=1), co[:, 1:3].max(axis=1)
        _unique(normal, "coactivation")
        object.__setattr__(instance, "coactivation", normal)
    _unique(instance.transitions, "transitions")
    if instance.previous is not None:
        check_placement(instance.previous, layers, experts, cluster.slots, "previous")
    if instance.objective not in OBJECTIVES:
        raise InstanceError("objective", f"must be one of {', '.join(OBJECTIVES)}, got "
                                         f"{excerpt(instance.objective)}")
    if instance.imbalance is not None and not 1 <= instance.imbalance <= 1e6:
        raise InstanceError("imbalance", f"must be a number >= 1 (a multiple of each layer's "
                                         f"bound), got {instance.imbalance}")
    if instance.max_moved is not None:
        if not 0 <= instance.max_moved <= 1:
            raise InstanceError("max_moved", f"must be a share in [0, 1], got "
                                             f"{instance.max_moved}")
        if instance.previous is None:
            raise InstanceError("max_moved", "needs a previous placement")


def check_placement(placement: np.ndarray, layers: int, experts: int, slots: int,
                    where: str) -> None:
    """A placement's shape, its entries in range and every expert in every layer."""
    _array(placement, where, (layers, slots))
    bad = np.argwhere((placement < 0) | (placement >= experts))
    if len(bad):
        i, j = bad[0]
        raise InstanceError(f"{where}[{i}][{j}]", f"must be an expert in [0, {experts - 1}], "
                                                  f"got {placement[i, j]}")
    for layer in range(layers):
        missing = np.setdiff1d(np.arange(experts), placement[layer])
        if len(missing):
            raise InstanceError(f"{where}[{layer}]", f"expert {missing[0]} has no slot (every "
                                                     "expert needs at least one)")


def _array(array: object, where: str, shape: tuple[int, ...]) -> None:
    if not isinstance(array, np.ndarray) or array.dtype != np.int64:
        raise InstanceError(where, "must be an int64 array")
    if array.shape != shape:
        raise InstanceError(where, f"must have shape {list(shape)}, got {list(array.shape)}")


def _entries(rows: np.ndarray, where: str, layers: int, experts: int, same: bool) -> None:
    """Rows ``(l, e, f, count)`` with ``l < layers``, experts in range, ``count >= 0``."""
    from optsched.problems.moe.instance import MAX_COUNT

    if not isinstance(rows, np.ndarray) or rows.ndim != 2 or rows.shape[1] != 4:
        raise InstanceError(where, "must be rows of [layer, e, f, count]")
    checks = (
        ((rows[:, 0] < 0) | (rows[:, 0] >= layers), "layer",
         f"a layer in [0, {layers - 1}]" if layers > 0 else "absent: there is no next layer"),
        ((rows[:, 1] < 0) | (rows[:, 1] >= experts), "e", f"an expert in [0, {experts - 1}]"),
        ((rows[:, 2] < 0) | (rows[:, 2] >= experts), "f", f"an expert in [0, {experts - 1}]"),
        ((rows[:, 3] < 0) | (rows[:, 3] > MAX_COUNT), "count", "a count in [0, 2^40]"),
    )
    for mask, name, wanted in checks:
        bad = np.flatnonzero(mask)
        if len(bad):
            i = bad[0]
            raise InstanceError(f"{where}[{i}]", f"{name} must be {wanted}, got "
                                                 f"{rows[i].tolist()}")
    if not same:
        bad = np.flatnonzero(rows[:, 1] == rows[:, 2])
        if len(bad):
            raise InstanceError(f"{where}[{bad[0]}]", f"names expert {rows[bad[0], 1]} twice "
                                                      "(a pair needs two experts)")


def _unique(rows: np.ndarray, where: str) -> None:
    if len(rows) < 2:
        return
    keys = rows[:, :3]
    order = np.lexsort(keys.T[::-1])
    sorted_keys = keys[order]
    dup = np.flatnonzero((sorted_keys[1:] == sorted_keys[:-1]).all(axis=1))
    if len(dup):
        first, second = sorted(order[dup[0]:dup[0] + 2])
        raise InstanceError(f"{where}[{second}]", f"repeats the layer and experts of entry "
                                                  f"{first} ({rows[second, :3].tolist()})")
