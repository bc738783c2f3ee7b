"""The compiled part of the greedy allocators (who does what: :mod:`.allocators`).

All numba code of the greedy allocators lives in this one module (numba's
disk cache watches only the defining file). Time is in *slots*: the pieces'
start and end steps numbered in order. A buffer conflicts with another when
one of its pieces shares a slot with one of the other's (a gap's window is
taken as the whole buffer: safe, as the allocators named here know no windows).
"""

from __future__ import annotations

import numpy as np

from optsched.compiled import IntArray, jit

HUGE = 1 << 62
BEST_FIT, FIRST_FIT, ABOVE = range(3)
"""Where a buffer goes among the free ranges below the top of the buffers it conflicts with:
the smallest that fits, the lowest that fits, or none (above them all)."""
UNALIGNED, ALIGNED = range(2)
"""How best fit measures a free range: from the aligned start for the test, and from the
unaligned end of the allocation below for the best so far (TFLite's SimpleMemoryArena, as
written), or from the aligned start for both (TFLite GPU, XLA)."""


@jit
def buckets(piece_t0: IntArray, piece_t1: IntArray, slots: int, count: int
            ) -> tuple[IntArray, IntArray, IntArray]:
    """Room for each piece in the time buckets it overlaps (``count`` buckets of slots).

    Returns the buckets' CSR pointers, the bucket of each slot and a fill
    cursor per bucket.
    """
    of_slot = np.empty(slots + 1, np.int64)
    for t in range(slots + 1):
        of_slot[t] = min(t * count // max(slots, 1), count - 1)
    ptr = np.zeros(count + 1, np.int64)
    for q in range(len(piece_t0)):
        for k in range(of_slot[piece_t0[q]], of_slot[piece_t1[q] - 1] + 1):
            ptr[k + 1] += 1
    for k in range(count):
        ptr[k + 1] += ptr[k]
    return ptr, of_slot, ptr[:-1].copy()


@jit
def place(order: IntArray, size: IntArray, align: IntArray, pinned: IntArray,
          piece_start: IntArray, piece_t0: IntArray, piece_t1: IntArray, slots: int,
          rule: int, measure: int, bucket_count: int, stop: IntArray) -> IntArray:
    """Offsets of the buffers placed one by one in ``order`` by ``rule``.

    For each buffer, the placed buffers it conflicts with are gathered and
    sorted by offset; the free ranges between them (below their top) are
    the candidates; a buffer goes at the aligned start of the range that
    ``rule`` picks, or at the aligned top of its conflicts if none fits
    (TFLite's ``SimpleMemoryArena::Allocate``, TFLite GPU's
    ``GreedyBySizeAssignment``, XLA's ``FindChunkCandidate``). A pinned
    buffer keeps its pin. Ties between equal ranges go to the lowest. Once ``stop[0]``
    is set the buffers not yet reached keep offset -1.
    """
    n = len(size)
    ptr, of_slot, fill = buckets(piece_t0, piece_t1, slots, bucket_count)
    filled = np.empty(max(ptr[-1], 1), np.int64)
    offset = np.full(n, -1, np.int64)
    stamp = np.full(n, -1, np.int64)
    seen = np.empty(n, np.int64)
    lows = np.empty(n, np.int64)
    highs = np.empty(n, np.int64)
    piece_buffer = np.empty(len(piece_t0), np.int64)
    for b in range(n):
        for q in range(piece_start[b], piece_start[b + 1]):
            piece_buffer[q] = b
    for b in order:
        if stop[0] != 0:
            break
        count = 0
        for q in range(piece_start[b], piece_start[b + 1]):
            t0, t1 = piece_t0[q], piece_t1[q]
            for k in range(of_slot[t0], of_slot[t1 - 1] + 1):
                for e in range(ptr[k], fill[k]):
                    r = filled[e]
                    c = piece_buffer[r]
                    if stamp[c] == b or piece_t0[r] >= t1 or piece_t1[r] <= t0:
                        continue
                    stamp[c] = b
                    seen[count] = c
                    count += 1
        if pinned[b] >= 0:
            o = pinned[b]
        else:
            for i in range(count):
                lows[i] = offset[seen[i]]
                highs[i] = offset[seen[i]] + size[seen[i]]
            o = _choose(lows[:count], highs[:count], size[b], align[b], rule, measure)
        offset[b] = o
        for q in range(piece_start[b], piece_start[b + 1]):
            for k in range(of_slot[piece_t0[q]], of_slot[piece_t1[q] - 1] + 1):
                filled[fill[k]] = q
                fill[k] += 1
    return offset


@jit
def _choose(lows: IntArray, highs: IntArray, size: int, align: int, rule: int,
            measure: int) -> int:
    """The offset ``rule`` picks among the free ranges below the allocations ``lows/highs``."""
    order = np.argsort(lows)
    cur = 0
    best = -1
    best_fit = HUGE
    if rule != ABOVE:
        for i in order:
            lo = lows[i]
            start = cur + (-cur) % align
            if start + size <= lo:
                if rule == FIRST_FIT:
                    return start
                if lo - start < best_fit:  # TFLite tests the aligned gap, keeps the other
                    best_fit = lo - (cur if measure == UNALIGNED else start)
                    best = start
            if highs[i] > cur:
                cur = highs[i]
    else:
        for i in order:
            if highs[i] > cur:
                cur = highs[i]
    if best >= 0:
        return best
    return cur + (-cur) % align


@jit
def breadth_objects(order_steps: IntArray, step_ptr: IntArray, step_buffers: IntArray,
                    size: IntArray, piece_start: IntArray, piece_t0: IntArray,
                    piece_t1: IntArray, stop: IntArray) -> tuple[IntArray, IntArray]:
    """TFLite GPU's ``GreedyByBreadthAssignment``: each buffer's shared object and their sizes.

    Steps are visited by decreasing breadth (``order_steps``); at each, its
    live buffers, largest first (``step_buffers``), take the smallest object
    at least as large that is free over their lifetime, else the largest
    free one (which grows), else a new one. Each object keeps its pieces
    sorted by time in a segment of one pool (moved to the end, doubled, when full).
    Once ``stop[0]`` is set the buffers not yet reached keep object -1.
    """
    n = len(size)
    obj = np.full(n, -1, np.int64)
    obj_size = np.empty(n, np.int64)
    seg_at = np.zeros(n, np.int64)
    seg_len = np.zeros(n, np.int64)
    seg_cap = np.zeros(n, np.int64)
    pool_t0 = np.empty(2 * len(piece_t0) + 16, np.int64)
    pool_t1 = np.empty(2 * len(piece_t0) + 16, np.int64)
    pool_top = 0
    objects = 0
    for t in order_steps:
        if stop[0] != 0:
            break
        for e in range(step_ptr[t], step_ptr[t + 1]):
            b = step_buffers[e]
            if obj[b] >= 0:
                continue
            best = -1
            for o in range(objects):
                if best >= 0:
                    bs, cs = obj_size[best], obj_size[o]
                    if bs < size[b]:
                        if cs <= bs:
                            continue
                    elif cs < size[b] or cs >= bs:
                        continue
                if _free(pool_t0[seg_at[o]:seg_at[o] + seg_len[o]],
                         pool_t1[seg_at[o]:seg_at[o] + seg_len[o]], b, piece_start, piece_t0,
                         piece_t1):
                    best = o
            if best < 0:
                best = objects
                objects += 1
                obj_size[best] = size[b]
            elif obj_size[best] < size[b]:
                obj_size[best] = size[b]
            obj[b] = best
            for q in range(piece_start[b], piece_start[b + 1]):
                if seg_len[best] == seg_cap[best]:
                    cap = max(4, 2 * seg_cap[best])
                    if pool_top + cap > len(pool_t0):
                        bigger = max(2 * len(pool_t0), pool_top + cap)
                        grown0 = np.empty(bigger, np.int64)
                        grown1 = np.empty(bigger, np.int64)
                        grown0[:pool_top] = pool_t0[:pool_top]
                        grown1[:pool_top] = pool_t1[:pool_top]
                        pool_t0, pool_t1 = grown0, grown1
                    at, length = seg_at[best], seg_len[best]
                    pool_t0[pool_top:pool_top + length] = pool_t0[at:at + length]
                    pool_t1[pool_top:pool_top + length] = pool_t1[at:at + length]
                    seg_at[best], seg_cap[best] = pool_top, cap
                    pool_top += cap
                at, length = seg_at[best], seg_len[best]
                pos = np.searchsorted(pool_t0[at:at + length], piece_t0[q])
                for i in range(length, pos, -1):
                    pool_t0[at + i] = pool_t0[at + i - 1]
                    pool_t1[at + i] = pool_t1[at + i - 1]
                pool_t0[at + pos] = piece_t0[q]
                pool_t1[at + pos] = piece_t1[q]
                seg_len[best] += 1
    return obj, obj_size[:objects].copy()


@jit
def _free(t0s: IntArray, t1s: IntArray, b: int, piece_start: IntArray, piece_t0: IntArray,
          piece_t1: IntArray) -> bool:
    """True when no piece of an object (sorted, disjoint ``t0s/t1s``) meets a piece of ``b``."""
    for q in range(piece_start[b], piece_start[b + 1]):
        pos = np.searchsorted(t0s, piece_t0[q], side="right")
        if pos > 0 and t1s[pos - 1] > piece_t0[q]:
            return False
        if pos < len(t0s) and t0s[pos] < piece_t1[q]:
            return False
    return True
