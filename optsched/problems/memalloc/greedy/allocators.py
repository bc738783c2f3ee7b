"""The compilers' greedy allocators, each as its source does it (``docs/methods/memalloc.md``).

Every allocator here returns offsets in the instance's buffer order. Pinned
buffers are placed first, at their pins, and the rest avoid them; the
allocators themselves know no pins, gaps or windows: a buffer conflicts
with those live at a common step (gaps respected, a window taken as the
whole buffer). Ties the sources leave to ``std::sort`` are broken by the
buffer's position in the file. Given a deadline, an allocator stops once it
passes and the buffers it has not reached go above all others, one after
another (:func:`stacked`): offsets that are still valid.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from optsched.compiled import IntArray, stop_cell
from optsched.deadline import Deadline
from optsched.problems.memalloc.greedy import kernel
from optsched.problems.memalloc.instance import MAX_VALUE, MemallocInstance

BUCKETS = 256
"""Most time buckets of the index of placed buffers (``kernel.place``)."""

Allocator = Callable[..., IntArray]
"""``(instance, deadline=None) -> offsets``."""


def slots(instance: MemallocInstance) -> tuple[IntArray, IntArray, int]:
    """The pieces' start and end as slot numbers, and the number of slots."""
    a = instance.arrays
    times, inverse = np.unique(np.concatenate([a.piece_t0, a.piece_t1]), return_inverse=True)
    m = len(a.piece_t0)
    return inverse[:m].astype(np.int64), inverse[m:].astype(np.int64), len(times)


def in_order(instance: MemallocInstance, order: IntArray, rule: int = kernel.BEST_FIT,
             measure: int = kernel.ALIGNED, deadline: Deadline | None = None) -> IntArray:
    """Place the buffers in ``order`` (pinned ones first) by ``rule`` until ``deadline``."""
    a = instance.arrays
    t0, t1, count = slots(instance)
    pinned = a.pinned >= 0
    if pinned.any():
        order = np.concatenate([np.flatnonzero(pinned), order[~pinned[order]]])
    with stop_cell(deadline) as stop:
        offsets = kernel.place(order.astype(np.int64), a.size, a.alignment, a.pinned,
                               a.piece_start, t0, t1, count, rule, measure,
                               max(1, min(BUCKETS, count)), stop)
    return stacked(instance, offsets, order)


def stacked(instance: MemallocInstance, offsets: IntArray, order: IntArray) -> IntArray:
    """``offsets`` with every buffer still at -1 placed above all others, in ``order``.

    The buffers an allocator cut short did not reach (a pinned one keeps its pin): each
    gets its own range above the highest buffer placed (aligned), so they conflict
    with nothing.
    """
    if not (offsets < 0).any():
        return offsets
    a = instance.arrays
    offsets = np.where((offsets < 0) & (a.pinned >= 0), a.pinned, offsets)  # pins hold
    missing = offsets < 0
    top = int((offsets + a.size)[~missing].max(initial=0))
    for b in order[missing[order]].tolist():
        top += -top % int(a.alignment[b])
        offsets[b] = top
        top += int(a.size[b])
    return offsets


def by_keys(*keys: npt.NDArray[Any]) -> IntArray:
    """Buffer indices sorted by ``keys`` (the first the most significant), then by index."""
    n = len(keys[0])
    return np.lexsort((np.arange(n), *reversed(keys))).astype(np.int64)


def naive(instance: MemallocInstance, deadline: Deadline | None = None) -> IntArray:
    """No reuse: every buffer its own range, in file order (above any pinned buffer)."""
    a = instance.arrays
    offsets = a.pinned.copy()
    top = int(max((a.pinned + a.size)[a.pinned >= 0], default=0))
    for b in np.flatnonzero(a.pinned < 0):
        top += -top % int(a.alignment[b])
        offsets[b] = top
        top += int(a.size[b])
    return offsets


def tflite_arena(instance: MemallocInstance, deadline: Deadline | None = None) -> IntArray:
    """TFLite's ``ArenaPlanner`` with ``SimpleMemoryArena::Allocate``.

    Order (``CreateTensorAllocationVector``): buffers live over the whole
    program first, by index; then size descending, first use ascending.
    Placement: the smallest gap below a conflicting allocation, measured
    from the unaligned end below it; else above the conflicts.
    """
    a = instance.arrays
    whole = (a.lower == a.lower.min()) & (a.upper == a.upper.max())
    order = by_keys((~whole).astype(np.int64), np.where(whole, 0, -a.size),
                    np.where(whole, 0, a.lower))
    return in_order(instance, order, kernel.BEST_FIT, kernel.UNALIGNED, deadline)


def greedy_by_size(instance: MemallocInstance, deadline: Deadline | None = None) -> IntArray:
    """TFLite GPU's ``GreedyBySizeAssignment``: size descending, best fit (aligned gaps)."""
    return in_order(instance, by_keys(-instance.arrays.size), deadline=deadline)


def xla_ticks(instance: MemallocInstance) -> tuple[IntArray, IntArray]:
    """XLA's ``HeapSimulator`` event ticks: each buffer's start and end tick.

    For each step in turn, the buffers allocated there get a tick each,
    then the buffers freed there (last live step), both in (start, end, id) order.
    """
    a = instance.arrays
    n = a.n
    last = a.upper - 1
    steps = np.concatenate([a.lower, last])
    kinds = np.concatenate([np.zeros(n, np.int64), np.ones(n, np.int64)])
    ids = np.concatenate([np.arange(n), np.arange(n)])
    ends = np.concatenate([last, last])
    starts = np.concatenate([a.lower, a.lower])
    tick = np.empty(2 * n, np.int64)
    tick[np.lexsort((ids, ends, starts, kinds, steps))] = np.arange(2 * n)
    return tick[:n], tick[n:]


def xla(instance: MemallocInstance, temporal: bool, deadline: Deadline | None = None
        ) -> IntArray:
    """XLA's ``GlobalDecreasingSizeBestFitHeap``, kSpatial or kTemporal.

    Spatial: size descending, then duration (in event ticks) descending,
    then buffer; temporal: duration, then size. Placement: the smallest free
    chunk that fits (aligned), else above the conflicts.
    """
    size = instance.arrays.size
    start, end = xla_ticks(instance)
    duration = end - start
    order = by_keys(-duration, -size) if temporal else by_keys(-size, -duration)
    return in_order(instance, order, deadline=deadline)


def xla_best(instance: MemallocInstance, deadline: Deadline | None = None) -> IntArray:
    """XLA's buffer assignment: the smaller heap of spatial and temporal (spatial on ties)."""
    return _smallest(instance, [xla(instance, False, deadline), xla(instance, True, deadline)])


def first_fit(instance: MemallocInstance, deadline: Deadline | None = None) -> IntArray:
    """First fit by start time: buffers by first step (then size descending), lowest gap."""
    a = instance.arrays
    return in_order(instance, by_keys(a.lower, -a.size), kernel.FIRST_FIT, deadline=deadline)


def greedy_by_breadth(instance: MemallocInstance, deadline: Deadline | None = None
                      ) -> IntArray:
    """TFLite GPU's ``GreedyByBreadthAssignment`` into shared objects, then ``ObjectsToOffsets``.

    Steps by breadth (bytes live) descending; each step's buffers largest
    first take a shared object; the objects are laid end to end in the
    order they were made (each at a multiple of its buffers' alignments,
    above any pinned buffer). Naive offsets past :data:`MAX_BREADTH_ENTRIES`.
    """
    a = instance.arrays
    t0, t1, count = slots(instance)
    free = np.flatnonzero(a.pinned[a.piece_buffer] < 0)  # pieces of unpinned buffers
    if int((t1[free] - t0[free]).sum()) > MAX_BREADTH_ENTRIES:
        return naive(instance)  # see MAX_BREADTH_ENTRIES
    live_steps = np.repeat(t0[free], t1[free] - t0[free]) + _ramp(t1[free] - t0[free])
    live_buffers = np.repeat(a.piece_buffer[free], t1[free] - t0[free])
    by_step = np.lexsort((live_buffers, -a.size[live_buffers], live_steps))
    live_steps, live_buffers = live_steps[by_step], live_buffers[by_step]
    step_ptr = np.zeros(count + 1, np.int64)
    np.cumsum(np.bincount(live_steps, minlength=count), out=step_ptr[1:])
    breadth = np.zeros(count, np.int64)
    np.add.at(breadth, live_steps, a.size[live_buffers])
    order_steps = by_keys(-breadth)
    with stop_cell(deadline) as stop:
        obj, obj_size = kernel.breadth_objects(order_steps, step_ptr,
                                               live_buffers.astype(np.int64), a.size,
                                               a.piece_start, t0, t1, stop)
    offsets = a.pinned.copy()
    top = int(max((a.pinned + a.size)[a.pinned >= 0], default=0))
    start = np.zeros(len(obj_size), np.int64)
    alignment = [1] * len(obj_size)
    for b in np.flatnonzero(obj >= 0):
        alignment[obj[b]] = math.lcm(alignment[obj[b]], int(a.alignment[b]))
    if max(alignment, default=1) > MAX_VALUE:  # no object start fits in 64 bits
        return naive(instance)
    for o in range(len(obj_size)):
        top += -top % alignment[o]
        start[o] = top
        top += int(obj_size[o])
    live = np.zeros(a.n, np.bool_)
    live[live_buffers] = True
    idle = (obj < 0) & (a.pinned < 0) & ~live
    offsets[obj >= 0] = start[obj[obj >= 0]]
    offsets[idle] = 0  # live nowhere: conflicts with nothing
    return stacked(instance, offsets, np.arange(a.n, dtype=np.int64))


MAX_BREADTH_ENTRIES = 50_000_000
"""Most (buffer, step) entries greedy-by-breadth lists (8 bytes each, twice): beyond, and
when its objects' alignments have no common multiple below 2^52, it answers with naive."""


def _ramp(lengths: IntArray) -> IntArray:
    """``0, 1, ..., l - 1`` for each length, concatenated."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(total, dtype=np.int64) - starts


def conflicts(instance: MemallocInstance) -> IntArray:
    """How many buffers' lifetimes overlap each buffer's (gaps ignored)."""
    a = instance.arrays
    lower, upper = np.sort(a.lower), np.sort(a.upper)
    return (np.searchsorted(lower, a.upper, "left") - np.searchsorted(upper, a.lower, "right")
            - 1).astype(np.int64)


def portfolio_orders(instance: MemallocInstance) -> dict[str, IntArray]:
    """The orders of ``best-of-k``: size, duration, area, start, conflicts."""
    a = instance.arrays
    duration = a.upper - a.lower
    return {"size": by_keys(-a.size, -duration),
            "duration": by_keys(-duration, -a.size),
            "area": by_keys(-(a.size.astype(np.float64) * duration)),
            "start": by_keys(a.lower, -a.size),
            "conflicts": by_keys(-conflicts(instance), -a.size)}


def peak(instance: MemallocInstance, offsets: IntArray) -> int:
    """``max(offset + size)``."""
    return int((offsets + instance.arrays.size).max())


def _smallest(instance: MemallocInstance, candidates: list[IntArray]) -> IntArray:
    peaks = [peak(instance, c) for c in candidates]
    return candidates[peaks.index(min(peaks))]


ALLOCATORS: dict[str, tuple[Allocator, str]] = {
    "naive": (naive, "no reuse: each buffer its own range, in file order"),
    "tflite-arena": (tflite_arena, "TFLite ArenaPlanner / SimpleMemoryArena: whole-life "
                                   "first, size descending, best fit"),
    "greedy-by-size": (greedy_by_size, "TFLite GPU GreedyBySizeAssignment: size descending, "
                                       "best fit"),
    "greedy-by-breadth": (greedy_by_breadth, "TFLite GPU GreedyByBreadthAssignment: shared "
                                             "objects by step breadth, laid end to end"),
    "xla-spatial": (partial(xla, temporal=False), "XLA GlobalDecreasingSizeBestFitHeap, "
                                                   "kSpatial: size, then duration, best fit"),
    "xla-temporal": (partial(xla, temporal=True), "XLA GlobalDecreasingSizeBestFitHeap, "
                                                   "kTemporal: duration, then size, best fit"),
    "xla": (xla_best, "XLA buffer assignment: the smaller of kSpatial and kTemporal"),
    "first-fit": (first_fit, "first fit by start time (linear scan)"),
}
"""The named baselines: function and one line of summary."""
