"""DeepSeek's expert-parallelism load balancer (EPLB), re-implemented exactly in numpy.

Source: ``eplb.py`` of github.com/deepseek-ai/EPLB at commit
d52c72d5b2f2fb4c41afbf8eb21366820239913d (MIT License). An independent rewrite of
its ``rebalance_experts`` that returns, bit for bit, what the torch code returns on a
Linux (libstdc++) CPU build, ties included:

- Policies: hierarchical (groups of experts packed onto nodes, replicas made inside
  each node, each node's replicas packed onto its GPUs) when ``num_groups % num_nodes
  == 0``, else global, which is the hierarchical one with one group and one node.
- Float32 arithmetic wherever torch's is: loads are cast to float32; group loads are
  float32 sums in the order of torch's CPU sum kernel; load per replica is float32 /
  float32; pack loads accumulate in float32.
- Ties: descending sorts follow torch's CPU sort, libstdc++'s ``std::sort`` (introsort)
  under ``key_a > key_b``, which keeps ties in index order up to 16 items and scrambles
  them beyond (``ties="stable"`` keeps index order at every size instead). A replica
  goes to the first expert of highest load per replica; an item to the least loaded
  pack with room, the lowest index on ties; with one item per pack, item ``i`` goes
  to pack ``i`` without a sort.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from optsched.errors import InputError
from optsched.fields import require_int

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float32]
Ties = Literal["torch", "stable"]
Policy = Literal["auto", "hierarchical", "global"]

SUM_LANES = 8
"""Float32 lanes of torch's CPU sum kernel: 8 (AVX2; AVX-512 CPUs run that kernel too)."""
_RUN = 16
"""libstdc++'s ``_S_threshold``: introsort leaves runs this short to insertion sort."""


@dataclass(frozen=True, eq=False)
class EplbPlacement:
    """What ``rebalance_experts`` returns, and the policy that ran."""

    phy2log: Ints
    """``[layers, replicas]``: the logical expert in each physical slot."""
    log2phy: Ints
    """``[layers, experts, logcnt.max()]``: each expert's slots by replica rank (0 = the
    original, then in creation order), padded with -1."""
    logcnt: Ints
    """``[layers, experts]``: replicas of each expert."""
    policy: Literal["hierarchical", "global"]


def rebalance(weight: npt.ArrayLike, num_replicas: int, num_groups: int, num_nodes: int,
              num_gpus: int, *, policy: Policy = "auto", ties: Ties = "torch") -> EplbPlacement:
    """EPLB's ``rebalance_experts``: replicate experts and place the replicas on GPUs.

    Slot ``s`` of a layer is on GPU ``s // (num_replicas // num_gpus)``. Only the chosen
    policy's conditions are checked, as upstream does.

    Parameters
    ----------
    weight
        ``[layers, experts]`` non-negative finite loads, cast to float32.
    num_replicas
        Slots per layer: a multiple of ``num_gpus``, at least ``experts``.
    num_groups
        Groups of consecutive experts kept on one node (hierarchical: divides
        ``experts``).
    num_nodes
        Nodes (hierarchical: divides ``num_groups`` and ``num_gpus``).
    num_gpus
        GPUs in all.
    policy
        ``"auto"`` (hierarchical iff ``num_groups % num_nodes == 0``), ``"hierarchical"``
        or ``"global"``.
    ties
        The sort's tie rule, see :func:`descending_order`.

    Returns
    -------
    EplbPlacement
        ``phy2log``, ``log2phy`` and ``logcnt`` (``int64``).

    Raises
    ------
    InputError
        Naming the field: bad weights, counts that are not positive integers or do not
        divide as the policy needs, fewer replicas than experts, an unknown option.
    """
    w = _weights(weight)
    layers, experts = w.shape
    reps, groups, nodes, gpus = (require_int(v, f, 1, InputError) for v, f in (
        (num_replicas, "num_replicas"), (num_groups, "num_groups"), (num_nodes, "num_nodes"),
        (num_gpus, "num_gpus")))
    rule = _ties(ties)
    if policy not in ("auto", "hierarchical", "global"):
        raise InputError("policy", f"must be auto, hierarchical or global, got {policy!r}")
    hierarchical = policy == "hierarchical" or (policy == "auto" and groups % nodes == 0)
    if not hierarchical:
        groups = nodes = 1
    elif groups % nodes:
        raise InputError("num_groups", f"must be a multiple of num_nodes={nodes} for the "
                         f"hierarchical policy, got {groups}")
    for failed, field, problem in (
            (experts % groups, "num_groups", f"must divide the {experts} experts, got {groups}"),
            (gpus % nodes, "num_gpus", f"must be a multiple of num_nodes={nodes}, got {gpus}"),
            (reps % gpus, "num_replicas", f"must be a multiple of num_gpus={gpus}, got {reps}"),
            (reps < experts, "num_replicas", f"must be >= the {experts} experts, got {reps}")):
        if failed:
            raise InputError(field, problem)
    phy2log, phyrank, logcnt = _hierarchical(w, reps, groups, nodes, gpus, rule)
    width = int(logcnt.max())
    log2phy = np.full((layers, experts * width), -1, dtype=np.int64)
    slots = np.broadcast_to(np.arange(reps, dtype=np.int64), (layers, reps))
    np.put_along_axis(log2phy, phy2log * width + phyrank, slots, axis=1)
    return EplbPlacement(phy2log, log2phy.reshape(layers, experts, width), logcnt,
                         "hierarchical" if hierarchical else "global")


def balanced_packing(weight: npt.ArrayLike, num_packs: int, *,
                     ties: Ties = "torch") -> tuple[Ints, Ints]:
    """Greedy LPT per row into ``num_packs`` packs of exactly ``n / num_packs`` items.

    Parameters
    ----------
    weight
        ``[rows, n]`` non-negative loads, cast to float32.
    num_packs
        Packs per row; divides ``n``.
    ties
        The sort's tie rule, see :func:`descending_order`.

    Returns
    -------
    pack_index, rank_in_pack : numpy.ndarray
        ``[rows, n]`` ``int64``: each item's pack, and its arrival rank in the pack.

    Raises
    ------
    InputError
        Bad weights, or ``num_packs`` does not divide ``n``.
    """
    w = _weights(weight)
    m = require_int(num_packs, "num_packs", 1, InputError)
    if w.shape[1] % m:
        raise InputError("num_packs", f"must divide the {w.shape[1]} items, got {m}")
    return _pack(w, m, _ties(ties))


def replicate_experts(weight: npt.ArrayLike, num_phy: int) -> tuple[Ints, Ints, Ints]:
    """Add replicas one by one to the expert of highest load per replica (D'Hondt).

    Parameters
    ----------
    weight
        ``[rows, n]`` non-negative loads, cast to float32.
    num_phy
        Slots per row, at least ``n``; slot ``i < n`` holds expert ``i``.

    Returns
    -------
    phy2log, rank, logcnt : numpy.ndarray
        ``int64``: each slot's expert ``[rows, num_phy]``, its replica rank (0 = the
        original) ``[rows, num_phy]``, the replica counts ``[rows, n]``.

    Raises
    ------
    InputError
        Bad weights, or ``num_phy < n``.
    """
    w = _weights(weight)
    return _replicate(w, require_int(num_phy, "num_phy", w.shape[1], InputError))


def descending_order(keys: npt.ArrayLike, *, ties: Ties = "torch") -> Ints:
    """The permutation that sorts ``keys`` descending, as ``torch.sort(descending=True)``.

    Parameters
    ----------
    keys
        1-D loads, compared as float32 (no NaN).
    ties
        ``"torch"``: libstdc++'s ``std::sort`` order under ``key_a > key_b`` (torch's
        CPU sort); ``"stable"``: equal keys in index order.

    Returns
    -------
    numpy.ndarray
        ``int64`` indices, heaviest first.

    Raises
    ------
    InputError
        ``keys`` is not 1-D or holds NaN, or ``ties`` is unknown.
    """
    x = np.asarray(keys).astype(np.float32)
    if x.ndim != 1:
        raise InputError("keys", f"must be 1-D, got {x.ndim}-D")
    if np.isnan(x).any():
        raise InputError("keys", "must not contain NaN")
    return _descending(x, _ties(ties))


def _hierarchical(w: Floats, reps: int, groups: int, nodes: int, gpus: int,
                  ties: Ties) -> tuple[Ints, Ints, Ints]:
    """Upstream's three steps: ``phy2log``, the replica ranks, ``logcnt``."""
    layers, experts = w.shape
    size, per_node, node_reps = experts // groups, experts // nodes, reps // nodes
    # 1. groups onto nodes; "mlog" numbers the experts node after node
    group_load = _torch_sum(w.reshape(layers * groups, size)).reshape(layers, groups)
    node, rank = _pack(group_load, nodes, ties)
    start = (node * (groups // nodes) + rank) * size
    log2mlog = (start[:, :, None] + np.arange(size, dtype=np.int64)).reshape(layers, experts)
    mlog2log = _inverse(log2mlog)
    # 2. replicas inside each node: one row per (layer, node)
    w_mlog = np.take_along_axis(w, mlog2log, axis=1).reshape(layers * nodes, per_node)
    phy2mlog, phyrank, mlogcnt = _replicate(w_mlog, node_reps)
    # 3. each node's replicas onto its GPUs, by load per replica
    w_phy = np.take_along_axis(np.divide(w_mlog, mlogcnt, dtype=np.float32), phy2mlog, axis=1)
    gpu, slot = _pack(w_phy, gpus // nodes, ties)
    pphy2phy = _inverse(gpu * (reps // gpus) + slot)
    pphy2mlog = np.take_along_axis(phy2mlog, pphy2phy, axis=1).reshape(layers, nodes, -1)
    pphy2mlog += (np.arange(nodes, dtype=np.int64) * per_node)[None, :, None]
    phy2log = np.take_along_axis(mlog2log, pphy2mlog.reshape(layers, reps), axis=1)
    ranks = np.take_along_axis(phyrank, pphy2phy, axis=1).reshape(layers, reps)
    logcnt = np.take_along_axis(mlogcnt.reshape(layers, experts), log2mlog, axis=1)
    return phy2log, ranks, logcnt


def _replicate(w: Floats, phy: int) -> tuple[Ints, Ints, Ints]:
    rows, n = w.shape
    phy2log = np.tile(np.arange(phy, dtype=np.int64), (rows, 1))
    rank = np.zeros((rows, phy), dtype=np.int64)
    logcnt = np.ones((rows, n), dtype=np.int64)
    count = np.ones((rows, n), dtype=np.float32)
    at = np.arange(rows)
    for i in range(n, phy):
        best = np.argmax(w / count, axis=1)  # float32 ratios; the first maximum wins
        phy2log[:, i], rank[:, i] = best, logcnt[at, best]
        logcnt[at, best] += 1
        count[at, best] += 1
    return phy2log, rank, logcnt


def _pack(w: Floats, packs: int, ties: Ties) -> tuple[Ints, Ints]:
    rows, n = w.shape
    if n == packs:
        return np.tile(np.arange(n, dtype=np.int64), (rows, 1)), np.zeros_like(w, np.int64)
    order = np.stack([_descending(row, ties) for row in w])
    index, rank = np.empty((rows, n), np.int64), np.empty((rows, n), np.int64)
    load, count = np.zeros((rows, packs), np.float32), np.zeros((rows, packs), np.int64)
    at = np.arange(rows)
    for item in order.T:
        room = count < n // packs
        least = np.where(room, load, np.inf).min(axis=1, keepdims=True)
        chosen = np.argmax(room & (load == least), axis=1)  # exact even for an inf load
        index[at, item], rank[at, item] = chosen, count[at, chosen]
        load[at, chosen] += w[at, item]
        count[at, chosen] += 1
    return index, rank


def _descending(x: Floats, ties: Ties) -> Ints:
    stable = np.argsort(-x, kind="stable").astype(np.int64)
    if ties == "stable" or x.size <= _RUN:
        return stable  # short runs are insertion-sorted, which keeps ties in order
    ranked = x[stable]
    if not (ranked[1:] == ranked[:-1]).any():
        return stable  # without ties every correct sort agrees
    return np.array(_introsort(x.tolist()), dtype=np.int64)


def _introsort(k: list[float], depth: int | None = None) -> list[int]:
    """libstdc++'s ``std::sort`` of the indices of ``k`` under ``k[a] > k[b]``."""
    n = len(k)
    a = list(range(n))

    def loop(first: int, last: int, depth: int) -> None:
        while last - first > _RUN:
            if depth == 0:
                heapsort(first, last)
                return
            depth -= 1
            # __move_median_to_first of first + 1, middle, last - 1
            x, y, z = first + 1, first + (last - first) // 2, last - 1
            kx, ky, kz = k[a[x]], k[a[y]], k[a[z]]
            if kx > ky:
                m = y if ky > kz else (z if kx > kz else x)
            else:
                m = x if kx > kz else (z if ky > kz else y)
            a[first], a[m] = a[m], a[first]
            pivot, lo, hi = k[a[first]], first + 1, last
            while True:  # unguarded Hoare partition of [first + 1, last)
                while k[a[lo]] > pivot:
                    lo += 1
                hi -= 1
                while pivot > k[a[hi]]:
                    hi -= 1
                if lo >= hi:
                    break
                a[lo], a[hi] = a[hi], a[lo]
                lo += 1
            loop(lo, last, depth)
            last = lo

    def sift(base: int, hole: int, length: int, value: int) -> None:
        top = child = hole  # __adjust_heap, ending in __push_heap
        while child < (length - 1) // 2:
            child = 2 * child + 2
            if k[a[base + child]] > k[a[base + child - 1]]:
                child -= 1
            a[base + hole], hole = a[base + child], child
        if length % 2 == 0 and child == (length - 2) // 2:
            a[base + hole], hole = a[base + 2 * child + 1], 2 * child + 1
        while hole > top and k[a[base + (hole - 1) // 2]] > k[value]:
            a[base + hole], hole = a[base + (hole - 1) // 2], (hole - 1) // 2
        a[base + hole] = value

    def heapsort(first: int, last: int) -> None:
        length = last - first
        for parent in range((length - 2) // 2, -1, -1):
            sift(first, parent, length, a[first + parent])
        for end in range(length - 1, 0, -1):
            value, a[first + end] = a[first + end], a[first]
            sift(first, 0, end, value)

    if n > 1:
        loop(0, n, 2 * (n.bit_length() - 1) if depth is None else depth)
    for i in range(1, n):  # guarded insertion over the first 16, unguarded after
        value = a[i]
        if i < _RUN and k[value] > k[a[0]]:
            a[1:i + 1] = a[:i]
            a[0] = value
            continue
        j = i - 1
        while k[value] > k[a[j]]:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = value
    return a


def _torch_sum(x: Floats, lanes: int = SUM_LANES) -> Floats:
    """Float32 row sums in the order of torch's CPU ``sum`` over a contiguous last dim."""
    rows, n = x.shape
    if n < lanes:
        return _row_sum([x[:, i] for i in range(n)], np.zeros(rows, np.float32))
    vecs = n // lanes
    acc = _row_sum([x[:, i * lanes:(i + 1) * lanes] for i in range(vecs)],
                   np.zeros((rows, lanes), np.float32))
    total = np.zeros(rows, np.float32)
    for column in [*x[:, vecs * lanes:].T, *acc.T]:
        total += column
    return total


def _row_sum(items: list[Floats], zero: Floats) -> Floats:
    """Torch's ``row_sum``: ``multi_row_sum``'s 4 interleaved cascades, then the tail."""
    size = len(items) // 4
    power = max(4, max(size - 1, 0).bit_length() // 4)
    step = 1 << power
    acc = [[zero.copy() for _ in range(4)] for _ in range(4)]  # [level][column]
    i = 0
    while i < size:
        for c in range(4):
            acc[0][c] += items[4 * i + c]
        i += 1
        if i % step:
            continue  # the cascade runs after each full chunk, never in the tail
        for level in range(1, 4):
            for c in range(4):
                acc[level][c] += acc[level - 1][c]
                acc[level - 1][c] = zero.copy()
            if i & ((step - 1) << (level * power)):
                break
    part = acc[0]
    for level in range(1, 4):
        for c in range(4):
            part[c] += acc[level][c]
    for item in [*items[4 * size:], *part[1:]]:
        part[0] += item
    return part[0]


def _inverse(perm: Ints) -> Ints:
    inv = np.empty_like(perm)
    np.put_along_axis(inv, perm, np.arange(perm.shape[1], dtype=np.int64)[None, :], axis=1)
    return inv


def _ties(ties: object) -> Ties:
    if ties not in ("torch", "stable"):
        raise InputError("ties", f"must be torch or stable, got {ties!r}")
    return "torch" if ties == "torch" else "stable"


def _weights(weight: npt.ArrayLike) -> Floats:
    try:
        arr = np.asarray(weight)
    except (TypeError, ValueError) as exc:
        raise InputError("weight", f"must be a numeric array ({exc})") from exc
    if arr.ndim != 2 or 0 in arr.shape or arr.dtype.kind not in "biuf":
        raise InputError("weight", f"must be a non-empty numeric 2-D array [rows, items], "
                         f"got shape {arr.shape} of {arr.dtype}")
    with np.errstate(over="ignore"):
        w = arr.astype(np.float32)
    for bad, problem in ((~np.isfinite(arr), "must be finite"), (arr < 0, "must be >= 0"),
                         (~np.isfinite(w), "must fit in float32")):
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise InputError(f"weight[{r}][{c}]", f"{problem}, got {arr[r, c]}")
    return w
