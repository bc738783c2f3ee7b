"""The compiled part of ``memalloc-bb`` (method: :mod:`optsched.problems.memalloc.exact.solver`).

All numba code of the exact search lives in this one module (numba's disk
cache watches only the defining file). ``g`` is the read-only sweep as a
tuple of arrays, ``st`` the mutable state; the constants ``SIZE ... SPAN_HI``
and ``OFFSET ... SCRATCH`` below name their positions.
"""

from __future__ import annotations

import numpy as np

from optsched.compiled import IntArray, jit

HUGE = 1 << 62
# g: the sweep
SIZE, ALIGN, PIN, LOWER, UPPER, BS_PTR, BS_SEC, BS_TOP, BS_H, SEC_PTR, SEC_BUF, OV_PTR, OV_BUF, \
    OV_EFF, SPAN_LO, SPAN_HI = range(16)
# st: the state
OFFSET, MINOFF, FLOOR, TOTAL, CUTS, SOL, CTX, MARK, SCRATCH = range(9)
# CTX cells
NODES, LIMIT, BACKTRACKS, STAMP, SPLITS = range(5)
# opts cells (MiniMalloc's flags, and ours)
CANONICAL, DOMINANCE, HATLESS, UNALLOCATED_FLOOR, MONOTONIC, INFERENCE, DECOMPOSE, \
    BUFFER_CHECK = range(8)
# preordering keys (MiniMalloc's letters)
KEY_AREA, KEY_SECTIONS, KEY_LOWER, KEY_OVERLAPS, KEY_TOTAL, KEY_UPPER, KEY_WIDTH, \
    KEY_SIZE = range(8)
# statuses
FOUND, NOT_FOUND, ABORTED = range(3)
# search frames: the partition (members in the pool, sections [LO, HI)), the canonical
# threshold, the candidates, the placement being tried and its undo logs, and the
# sequence of independent ranges being solved after a placement split the partition
F_MEM, F_MEM_N, F_LO, F_HI, F_MIN_OFF, F_MIN_PRE, F_CAND, F_CAND_N, F_CI, F_B, F_O, F_HAT, \
    F_MLOG, F_MLOG_N, F_FLOG, F_FLOG_N, F_PHASE, F_SEQ_LO, F_SEQ_S, F_SEQ_END, F_SEQ_LAST, \
    F_SEQ_MEM, F_CUT = range(F_FIELDS := 23)
ENTER, NEXT, WAIT_CHILD, SEQ, WAIT_SEQ = range(5)


@jit
def memberships(bs_ptr: IntArray, piece_start: IntArray, s0: IntArray, s1: IntArray,
                w0: IntArray, w1: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Each buffer's sections, with the top and height of its live bytes there."""
    total = bs_ptr[-1]
    sec = np.empty(total, np.int64)
    top = np.empty(total, np.int64)
    height = np.empty(total, np.int64)
    n = len(bs_ptr) - 1
    for b in range(n):
        at = bs_ptr[b]
        for q in range(piece_start[b], piece_start[b + 1]):
            for s in range(s0[q], s1[q]):
                sec[at] = s
                top[at] = w1[q]
                height[at] = w1[q] - w0[q]
                at += 1
    return sec, top, height


@jit
def by_section(bs_ptr: IntArray, bs_sec: IntArray, sections: int) -> tuple[IntArray, IntArray]:
    """Each section's buffers (CSR by section)."""
    ptr = np.zeros(sections + 1, np.int64)
    for e in range(len(bs_sec)):
        ptr[bs_sec[e] + 1] += 1
    for s in range(sections):
        ptr[s + 1] += ptr[s]
    fill = ptr[:-1].copy()
    buf = np.empty(len(bs_sec), np.int64)
    n = len(bs_ptr) - 1
    for b in range(n):
        for e in range(bs_ptr[b], bs_ptr[b + 1]):
            s = bs_sec[e]
            buf[fill[s]] = b
            fill[s] += 1
    return ptr, buf


@jit
def overlaps(n: int, piece_start: IntArray, s0: IntArray, s1: IntArray, w0: IntArray,
             w1: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Each buffer's overlapping buffers and effective sizes (CSR by buffer).

    Pieces overlap when their ranges of sections ``[s0, s1)`` meet; over the
    pieces ``p`` of ``b`` and ``q`` of ``c`` that do, ``eff(b, c)`` is the
    most of ``w1[p] - w0[q]`` (MiniMalloc's effective size): ``c`` above
    ``b`` clears ``b`` when ``offset[c] >= offset[b] + eff``. Pairs are found
    from the pieces sorted by first section, in time linear in their number.
    """
    owner = np.empty(len(s0), np.int64)
    for b in range(n):
        for q in range(piece_start[b], piece_start[b + 1]):
            owner[q] = b
    order = np.argsort(s0, kind="mergesort")
    ptr = np.zeros(n + 1, np.int64)
    for i in range(len(order)):
        p = order[i]
        j = i + 1
        while j < len(order) and s0[order[j]] < s1[p]:
            if owner[p] != owner[order[j]]:
                ptr[owner[p] + 1] += 1
                ptr[owner[order[j]] + 1] += 1
            j += 1
    for b in range(n):
        ptr[b + 1] += ptr[b]
    buf = np.empty(ptr[n], np.int64)
    eff = np.empty(ptr[n], np.int64)
    fill = ptr[:-1].copy()
    for i in range(len(order)):
        p = order[i]
        j = i + 1
        while j < len(order) and s0[order[j]] < s1[p]:
            q = order[j]
            b, c = owner[p], owner[q]
            if b != c:
                buf[fill[b]], eff[fill[b]] = c, w1[p] - w0[q]
                buf[fill[c]], eff[fill[c]] = b, w1[q] - w0[p]
                fill[b] += 1
                fill[c] += 1
            j += 1
    # buffers with gaps have several pieces: merge their repeated pairs (the most)
    stamp = np.full(n, -1, np.int64)
    where = np.zeros(n, np.int64)
    at = 0
    for b in range(n):
        first = ptr[b]
        ptr[b] = at
        for e in range(first, ptr[b + 1]):
            c = buf[e]
            if stamp[c] != b:
                stamp[c] = b
                where[c] = at
                buf[at], eff[at] = c, eff[e]
                at += 1
            elif eff[e] > eff[where[c]]:
                eff[where[c]] = eff[e]
    ptr[n] = at
    return ptr, buf[:at].copy(), eff[:at].copy()


@jit
def preorder(g: tuple[IntArray, ...], st: tuple[IntArray, ...], members: IntArray,
             heuristic: IntArray) -> IntArray:
    """``members`` sorted by the heuristic's keys, each descending, then by index.

    The keys are MiniMalloc's static preordering data (its letters A, C, L,
    O, T, U, W, Z); T, the largest unplaced total of the buffer's sections,
    is taken now, as MiniMalloc takes it when a partition is solved.
    """
    m = len(members)
    order = np.arange(m)
    keys = np.empty(m, np.float64)
    size, lower, upper = g[SIZE], g[LOWER], g[UPPER]
    for h in range(len(heuristic) - 1, -1, -1):
        code = heuristic[h]
        for i in range(m):
            b = members[order[i]]
            width = float(upper[b] - lower[b])
            if code == KEY_AREA:
                value = width * size[b]
            elif code == KEY_SECTIONS:
                value = float(g[SPAN_HI][b] - g[SPAN_LO][b])
            elif code == KEY_LOWER:
                value = float(lower[b])
            elif code == KEY_OVERLAPS:
                value = float(g[OV_PTR][b + 1] - g[OV_PTR][b])
            elif code == KEY_TOTAL:
                best = 0
                for e in range(g[BS_PTR][b], g[BS_PTR][b + 1]):
                    best = max(best, st[TOTAL][g[BS_SEC][e]])
                value = float(best)
            elif code == KEY_UPPER:
                value = float(upper[b])
            elif code == KEY_WIDTH:
                value = width
            else:
                value = float(size[b])
            keys[i] = -value
        order = order[np.argsort(keys, kind="mergesort")]
    return members[order]


@jit
def _grow(pool: IntArray, need: int) -> IntArray:
    """``pool`` with room for ``need`` entries (doubled, contents kept)."""
    if need <= len(pool):
        return pool
    bigger = np.empty(max(need, 2 * len(pool)), np.int64)
    bigger[:len(pool)] = pool
    return bigger


@jit
def reset(g: tuple[IntArray, ...], st: tuple[IntArray, ...]) -> None:
    """The state before any placement: nothing placed, pinned buffers at their pins."""
    n = len(g[SIZE])
    st[OFFSET][:] = -1
    st[SOL][:] = -1
    for b in range(n):
        st[MINOFF][b] = max(g[PIN][b], 0)
    st[FLOOR][:] = 0
    st[TOTAL][:] = 0
    for e in range(len(g[BS_SEC])):
        st[TOTAL][g[BS_SEC][e]] += g[BS_H][e]
    st[CUTS][:] = 0
    for b in range(n):
        for s in range(g[SPAN_LO][b], g[SPAN_HI][b] - 1):
            st[CUTS][s] += 1


@jit
def run(g: tuple[IntArray, ...], st: tuple[IntArray, ...], opts: IntArray, heuristic: IntArray,
        capacity: int, limit: int, stop: IntArray) -> int:
    """Decide ``capacity`` with at most ``limit`` nodes; FOUND, NOT_FOUND or ABORTED.

    MiniMalloc's search (Moffitt 2023) with an explicit stack: each step
    places a buffer at its lowest offset, in increasing (offset, preorder)
    order (canonical); a buffer that would start at or above some other's
    lowest top is skipped (dominance); every section must hold its unplaced
    bytes above its floor (inference); when a placement leaves no unplaced
    buffer spanning a section boundary, the ranges on either side are solved
    one after the other, each on its own (decomposition); a placed buffer
    with nothing unplaced above it ends the alternatives (hatless pruning).
    FOUND leaves the offsets in ``st[SOL]``; NOT_FOUND proves that no
    canonical placement fits, hence none (for buffers without windows).
    """
    size, align, pin = g[SIZE], g[ALIGN], g[PIN]
    ov_ptr, ov_buf, ov_eff = g[OV_PTR], g[OV_BUF], g[OV_EFF]
    bs_ptr, bs_sec, bs_top, bs_h = g[BS_PTR], g[BS_SEC], g[BS_TOP], g[BS_H]
    sec_ptr, sec_buf, span_lo, span_hi = g[SEC_PTR], g[SEC_BUF], g[SPAN_LO], g[SPAN_HI]
    offset, minoff, floor, total, cuts = st[OFFSET], st[MINOFF], st[FLOOR], st[TOTAL], st[CUTS]
    sol, ctx, mark, scratch = st[SOL], st[CTX], st[MARK], st[SCRATCH]
    reset(g, st)
    n = len(size)
    sections = len(floor)
    ctx[NODES] = 0
    ctx[LIMIT] = limit
    ctx[BACKTRACKS] = 0
    ctx[SPLITS] = 0
    frames = np.zeros((n + 2, F_FIELDS), np.int64)
    mem = np.empty(4 * n + 16, np.int64)
    cand = np.empty(4 * n + 16, np.int64)
    mlog = np.empty(2 * len(ov_buf) // 4 + 16, np.int64)
    flog = np.empty(2 * len(bs_sec) + 16, np.int64)
    mem_top = cand_top = mlog_top = flog_top = 0
    # the root: the whole range, split where no buffer spans a boundary
    mem[:n] = np.arange(n)
    mem_top = n
    top = 0
    root = frames[0]
    root[F_MEM], root[F_MEM_N], root[F_LO], root[F_HI] = 0, n, 0, sections
    root[F_B] = -1
    root[F_PHASE] = SEQ
    root[F_SEQ_LO], root[F_SEQ_S], root[F_SEQ_END] = 0, 0, sections - 1
    root[F_SEQ_MEM] = mem_top
    ret = FOUND
    while top >= 0:
        f = frames[top]
        phase = f[F_PHASE]
        if phase == ENTER:
            ctx[NODES] += 1
            if ctx[NODES] > ctx[LIMIT] or stop[0] != 0:
                ret = ABORTED
                top -= 1
                continue
            part = mem[f[F_MEM]:f[F_MEM] + f[F_MEM_N]]
            min_height = HUGE
            unplaced = 0
            for b in part:
                if offset[b] < 0:
                    unplaced += 1
                    if minoff[b] + size[b] < min_height:
                        min_height = minoff[b] + size[b]
            if unplaced == 0:
                ret = FOUND
                top -= 1
                continue
            cand = _grow(cand, cand_top + unplaced)
            keys = np.empty(unplaced, np.int64)
            picked = np.empty(unplaced, np.int64)
            k = 0
            for p in range(len(part)):
                b = part[p]
                if offset[b] >= 0:
                    continue
                o = minoff[b]
                if opts[CANONICAL] and (o < f[F_MIN_OFF] or (o == f[F_MIN_OFF]
                                                            and p <= f[F_MIN_PRE])):
                    continue
                if opts[DOMINANCE] and o >= min_height:
                    continue
                if pin[b] >= 0 and o != pin[b]:
                    continue
                picked[k] = p
                keys[k] = o
                k += 1
            order = np.argsort(keys[:k], kind="mergesort")
            for i in range(k):
                cand[cand_top + i] = picked[order[i]]
            f[F_CAND], f[F_CAND_N], f[F_CI] = cand_top, k, 0
            cand_top += k
            f[F_PHASE] = NEXT
            continue
        if phase == NEXT:
            if stop[0] != 0:  # each placement may take long on a large instance
                ret = ABORTED
                cand_top = f[F_CAND]
                top -= 1
                continue
            if f[F_CI] >= f[F_CAND_N]:
                ctx[BACKTRACKS] += 1
                cand_top = f[F_CAND]
                ret = NOT_FOUND
                top -= 1
                continue
            p = cand[f[F_CAND] + f[F_CI]]
            b = mem[f[F_MEM] + p]
            o = minoff[b]
            offset[b] = o
            sol[b] = o
            f[F_B], f[F_O] = b, o
            # raise the lowest offsets of the unplaced buffers overlapping b
            mlog = _grow(mlog, mlog_top + 2 * (ov_ptr[b + 1] - ov_ptr[b]))
            f[F_MLOG] = mlog_top
            hat = 0
            fail = False
            ctx[STAMP] += 1
            stamp = ctx[STAMP]
            affected = 0
            for e in range(ov_ptr[b], ov_ptr[b + 1]):
                c = ov_buf[e]
                if offset[c] >= 0:
                    continue
                hat = 1
                h = o + ov_eff[e]
                if minoff[c] >= h:
                    continue
                r = h % align[c]
                if r:
                    h += align[c] - r
                mlog[mlog_top] = c
                mlog[mlog_top + 1] = minoff[c]
                mlog_top += 2
                minoff[c] = h
                if (pin[c] >= 0 and h > pin[c]) or (opts[BUFFER_CHECK]
                                                    and h + size[c] > capacity):
                    fail = True
                if opts[UNALLOCATED_FLOOR]:
                    for q in range(bs_ptr[c], bs_ptr[c + 1]):
                        s = bs_sec[q]
                        if mark[s] != stamp:
                            mark[s] = stamp
                            scratch[affected] = s
                            affected += 1
            f[F_MLOG_N] = mlog_top - f[F_MLOG]
            f[F_HAT] = hat
            # b's sections: the floor rises to its top, its bytes leave the totals
            flog = _grow(flog, flog_top + 2 * (bs_ptr[b + 1] - bs_ptr[b] + affected))
            f[F_FLOG] = flog_top
            for e in range(bs_ptr[b], bs_ptr[b + 1]):
                s = bs_sec[e]
                flog[flog_top] = s
                flog[flog_top + 1] = floor[s]
                flog_top += 2
                floor[s] = o + bs_top[e]
                total[s] -= bs_h[e]
            # a section's floor is at least the lowest offset of its unplaced buffers
            for a in range(affected):
                s = scratch[a]
                low = HUGE
                for q in range(sec_ptr[s], sec_ptr[s + 1]):
                    c = sec_buf[q]
                    if offset[c] < 0 and minoff[c] < low:
                        low = minoff[c]
                if low != HUGE and floor[s] < low:
                    flog[flog_top] = s
                    flog[flog_top + 1] = floor[s]
                    flog_top += 2
                    floor[s] = low
            f[F_FLOG_N] = flog_top - f[F_FLOG]
            if not fail:
                for s in range(f[F_LO], f[F_HI]):
                    fl = floor[s]
                    if opts[MONOTONIC] and o > fl:
                        fl = o
                    if opts[INFERENCE]:
                        fl += total[s]
                    if fl > capacity:
                        fail = True
                        break
            f[F_CUT] = 0
            if fail:
                ret = NOT_FOUND
                f[F_PHASE] = WAIT_CHILD  # undo at once, as after a failed child
                continue
            split = False
            if opts[DECOMPOSE]:
                f[F_CUT] = 1
                for s in range(span_lo[b], span_hi[b] - 1):
                    cuts[s] -= 1
                    if cuts[s] == 0:
                        split = True
            if not split:
                f[F_PHASE] = WAIT_CHILD
                top += 1
                child = frames[top]
                child[F_MEM], child[F_MEM_N] = f[F_MEM], f[F_MEM_N]
                child[F_LO], child[F_HI] = f[F_LO], f[F_HI]
                child[F_MIN_OFF], child[F_MIN_PRE] = o, p
                child[F_PHASE] = ENTER
                continue
            ctx[SPLITS] += 1
            f[F_SEQ_LO] = f[F_LO]
            f[F_SEQ_S] = max(span_lo[b], f[F_LO])
            f[F_SEQ_END] = min(span_hi[b], f[F_HI]) - 1
            f[F_SEQ_MEM] = mem_top
            f[F_PHASE] = SEQ
            continue
        if phase == SEQ:
            # the next independent range: up to the next boundary no buffer spans
            lo = f[F_SEQ_LO]
            hi = f[F_HI]
            last = 1
            for s in range(f[F_SEQ_S], f[F_SEQ_END]):
                if cuts[s] == 0:
                    hi = s + 1
                    last = 0
                    break
            f[F_SEQ_S] = hi
            f[F_SEQ_LO] = hi
            f[F_SEQ_LAST] = last
            mem_top = f[F_SEQ_MEM]
            part = mem[f[F_MEM]:f[F_MEM] + f[F_MEM_N]]
            count = 0
            for b in part:
                if offset[b] < 0 and span_hi[b] > lo and span_lo[b] < hi:
                    count += 1
            if count == 0:
                ret = FOUND
                f[F_PHASE] = WAIT_SEQ
                continue
            members = np.empty(count, np.int64)
            count = 0
            for b in part:
                if offset[b] < 0 and span_hi[b] > lo and span_lo[b] < hi:
                    members[count] = b
                    count += 1
            members = preorder(g, st, members, heuristic)
            mem = _grow(mem, mem_top + count)
            mem[mem_top:mem_top + count] = members
            f[F_PHASE] = WAIT_SEQ
            top += 1
            child = frames[top]
            child[F_MEM], child[F_MEM_N] = mem_top, count
            child[F_LO], child[F_HI] = lo, hi
            child[F_MIN_OFF], child[F_MIN_PRE] = 0, -1
            child[F_PHASE] = ENTER
            mem_top += count
            continue
        if phase == WAIT_SEQ:
            mem_top = f[F_SEQ_MEM]
            if ret == FOUND and not f[F_SEQ_LAST]:
                f[F_PHASE] = SEQ
                continue
            if f[F_B] < 0:  # the root: done
                return ret
            # the placement's outcome is ret: undo it as after a child
        # WAIT_CHILD (or a finished sequence): undo the placement, then the next candidate
        b, o = f[F_B], f[F_O]
        if f[F_CUT]:
            for s in range(span_lo[b], span_hi[b] - 1):
                cuts[s] += 1
        for q in range(f[F_FLOG] + f[F_FLOG_N] - 2, f[F_FLOG] - 2, -2):
            floor[flog[q]] = flog[q + 1]
        for e in range(bs_ptr[b], bs_ptr[b + 1]):
            total[bs_sec[e]] += bs_h[e]
        for q in range(f[F_MLOG] + f[F_MLOG_N] - 2, f[F_MLOG] - 2, -2):
            minoff[mlog[q]] = mlog[q + 1]
        offset[b] = -1
        mlog_top = f[F_MLOG]
        flog_top = f[F_FLOG]
        if ret != NOT_FOUND or (opts[HATLESS] and not f[F_HAT]):
            if ret == NOT_FOUND:
                ctx[BACKTRACKS] += 1
            cand_top = f[F_CAND]
            top -= 1
            continue
        f[F_CI] += 1
        f[F_PHASE] = NEXT
    return ret
