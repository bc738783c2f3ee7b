"""The compiled part of ``smtt-bb`` (method and proofs: :mod:`optsched.problems.smtt.bb.solver`).

All numba code and the constants it reads live in this one module: numba's
disk cache notices changes only in the file defining a cached function, so
compiled code imported from another file could go stale. ``sets`` has a row
per job set, ``positions`` one per searched position of a set's longest job,
``registry`` maps packed set keys to set ids, and the memo table maps
``(set id, start time)`` to an optimal value and position.
"""

from __future__ import annotations

from optsched.compiled import IntArray, jit

HUGE, BITS, MAX_JOBS = 1 << 62, 21, 1 << 21
# memo rows: set id + 1 (0 = empty slot), start time, value, position << SIZE_BITS | set size
KEY, TIME, VALUE, INFO = range(4)
BUCKET, SIZE_BITS = 4, 24
# set rows; EDD keeps all on time iff t <= EDD_UNTIL, SPT makes all tardy iff t >= SPT_FROM;
# then PIECES lines (slope, offset) of the lower bound, from column LINES on, tight at
# PIECES evenly spaced start times up to SPT_FROM
FIRST, LAST, K, SIZE, EDD_UNTIL, SPT_FROM, SPT_CONST, POS_START, POS_END = range(LINES := 9)
PIECES = 6
SET_COLUMNS = LINES + 2 * PIECES
# position rows: member m, C - t, searched for LO <= t <= HI, ids of the sets before/after k
M, SPAN, LO, HI, LEFT, RIGHT = range(POS_COLUMNS := 6)
UNKNOWN, NO_JOBS, FULL = -1, -2, -3  # child id not looked up; the empty set; no room: grow
NSETS, NPOS = 0, 1
# search frames, control cells and statuses
START, GO_LEFT, GO_RIGHT, WAIT_LEFT, WAIT_RIGHT = range(5)
SID, T, PHASE, POS, BEST, BEST_POS, LEFT_VALUE = range(FIELDS := 7)
SP, RET, EXPANDED, STORED, STATUS = range(5)
RUNNING, DONE, GROW, BROKEN = range(4)



@jit
def bucket(key: int, t: int, mask: int) -> int:
    """First memo slot of the bucket of ``(key, t)``."""
    h = key * 0x9E3779B1 + t * 0x85EBCA77
    h ^= h >> 29
    h *= 0x27D4EB2F165667C5
    h ^= h >> 32
    return (h & mask) & ~(BUCKET - 1)


@jit
def lookup(table: IntArray, sid: int, t: int) -> int:
    """The memo slot holding ``(sid, t)``, or -1."""
    base = bucket(sid + 1, t, table.shape[0] - 1)
    for s in range(base, base + BUCKET):
        if table[s, KEY] == sid + 1 and table[s, TIME] == t:
            return s
    return -1


@jit
def store(table: IntArray, sid: int, t: int, value: int, choice: int, size: int) -> int:
    """Memorise ``(sid, t)``; 1 if it took an empty slot. A full bucket evicts its smallest set."""
    base = bucket(sid + 1, t, table.shape[0] - 1)
    victim, mask = base, (1 << SIZE_BITS) - 1
    for s in range(base, base + BUCKET):
        if (table[s, KEY] == sid + 1 and table[s, TIME] == t) or table[s, KEY] == 0:
            victim = s
            break
        if table[s, INFO] & mask < table[victim, INFO] & mask:
            victim = s
    taken = 1 if table[victim, KEY] == 0 else 0
    table[victim, KEY], table[victim, TIME] = sid + 1, t
    table[victim, VALUE], table[victim, INFO] = value, (choice << SIZE_BITS) | size
    return taken


@jit
def reinsert(old: IntArray, new: IntArray) -> int:
    """Store every entry of memo ``old`` into the empty ``new``; the slots taken."""
    taken = 0
    for s in range(old.shape[0]):
        if old[s, KEY] != 0:
            taken += store(new, old[s, KEY] - 1, old[s, TIME], old[s, VALUE],
                           old[s, INFO] >> SIZE_BITS, old[s, INFO] & ((1 << SIZE_BITS) - 1))
    return taken


@jit
def home(key: int, mask: int) -> int:
    """Where linear probing for a packed set key starts in the registry."""
    return ((key * 0x9E3779B97F4A7C1) >> 17) & mask


@jit
def register(p: IntArray, d: IntArray, rank: IntArray, by_rank: IntArray, registry: IntArray,
             sets: IntArray, counts: IntArray, lo: int, hi: int, bound: int) -> int:
    """Id of the set (EDD indices ``lo..hi``, rank below ``bound``), added if new, or FULL."""
    first, last, k, size = -1, -1, -1, 0
    for x in range(lo, hi + 1):
        if rank[x] < bound:
            first = x if first < 0 else first
            last, size = x, size + 1
            k = x if k < 0 or rank[x] > rank[k] else k
    if size == 0:
        return NO_JOBS
    key = first | (last << BITS) | (k << (2 * BITS))
    mask = registry.shape[0] - 1
    slot = home(key, mask)
    while registry[slot, 0] >= 0:
        if registry[slot, 0] == key:
            return int(registry[slot, 1])
        slot = (slot + 1) & mask
    sid = int(counts[NSETS])
    if sid >= sets.shape[0] or 2 * (sid + 1) > registry.shape[0]:
        return FULL
    registry[slot, 0], registry[slot, 1] = key, sid
    counts[NSETS] = sid + 1
    until, start, const, c, c_spt = HUGE, -HUGE, 0, 0, 0
    for x in range(first, last + 1):
        if rank[x] <= rank[k]:
            c += p[x]
            until = min(until, d[x] - c)
    for q in range(rank[k] + 1):
        x = by_rank[q]
        if first <= x <= last:
            c_spt += p[x]
            start = max(start, d[x] - c_spt)
            const += c_spt - d[x]
    sets[sid, :LINES] = (first, last, k, size, until, start, const, -1, -1)
    sets[sid, LINES:] = 0
    x, q, c_spt = first, 0, 0
    for _ in range(size):  # the i-th due date (EDD order) against the i-th SPT completion
        while rank[x] > rank[k]:
            x += 1
        while not first <= by_rank[q] <= last:
            q += 1
        c_spt += p[by_rank[q]]
        a = d[x] - c_spt  # this pair is tardy from t > a
        for j in range(PIECES):
            if a < until + (j + 1) * (start - until) // PIECES:
                sets[sid, LINES + 2 * j] += 1
                sets[sid, LINES + 2 * j + 1] += a
        x, q = x + 1, q + 1
    return sid


@jit
def describe(p: IntArray, d: IntArray, rank: IntArray, sets: IntArray, positions: IntArray,
             counts: IntArray, sid: int) -> bool:
    """Append the positions of set ``sid`` searched for some t; False if there is no room."""
    row = sets[sid]
    last, k, m, span = row[LAST], row[K], row[K], 0
    if counts[NPOS] + row[SIZE] > positions.shape[0]:
        return False
    row[POS_START] = counts[NPOS]
    for x in range(row[FIRST], k + 1):
        span += p[x] if rank[x] <= rank[k] else 0
    while True:
        nxt = m + 1
        while nxt <= last and rank[nxt] >= rank[k]:
            nxt += 1
        low = -HUGE if m == k else d[m] + p[m] - span  # first rule of bb.py
        high = HUGE if nxt > last else d[nxt] - span - 1  # second rule
        if low <= high and low < row[SPT_FROM] and high > row[EDD_UNTIL]:
            positions[counts[NPOS]] = (m, span, low, high, UNKNOWN, UNKNOWN)
            counts[NPOS] += 1
        if nxt > last:
            break
        m, span = nxt, span + p[nxt]
    row[POS_END] = counts[NPOS]
    return True


@jit
def known_value(sets: IntArray, sid: int, t: int) -> int:
    """The set's optimum from ``t`` when EDD or SPT settles it, else -1."""
    if sid == NO_JOBS or t <= sets[sid, EDD_UNTIL]:
        return 0
    return int(sets[sid, SIZE] * t + sets[sid, SPT_CONST]) if t >= sets[sid, SPT_FROM] else -1


@jit
def lower(sets: IntArray, sid: int, t: int) -> int:
    """A lower bound on the set's optimum from ``t`` (exact where EDD or SPT settles it)."""
    known = known_value(sets, sid, t)
    if known >= 0:
        return known
    best = 0
    for j in range(PIECES):
        best = max(best, sets[sid, LINES + 2 * j] * t - sets[sid, LINES + 2 * j + 1])
    return best


@jit
def value(sets: IntArray, table: IntArray, sid: int, t: int) -> int:
    """The set's optimum from ``t`` if EDD, SPT or the memo settles it, else -1."""
    found = known_value(sets, sid, t)
    slot = lookup(table, sid, t) if found < 0 else -1
    return int(table[slot, VALUE]) if slot >= 0 else found


@jit
def next_position(positions: IntArray, q: int, end: int, t: int) -> int:
    """The first position at or after ``q`` searched at start time ``t``, or ``end``."""
    while q < end and not positions[q, LO] <= t <= positions[q, HI]:
        q += 1
    return q


@jit
def dominated(p: IntArray, d: IntArray, rank: IntArray, positions: IntArray, k: int,
              early: int, late: int, t: int) -> bool:
    """True when position ``late`` is no better than ``early`` (block rule of bb.py)."""
    c, cost = t + positions[early, SPAN], 0
    saved = max(0, t + positions[late, SPAN] - d[k]) - max(0, c - d[k])
    for x in range(positions[early, M] + 1, positions[late, M] + 1):
        if rank[x] < rank[k]:
            c += p[x]
            cost += max(0, c - d[x])
            if cost > saved:
                return False
    return True


@jit
def push(frames: IntArray, sp: int, sid: int, t: int) -> int:
    """Push the subproblem (set ``sid`` from time ``t``); return the new depth."""
    frames[sp, SID], frames[sp, T], frames[sp, PHASE] = sid, t, START
    return sp + 1


@jit
def child(p: IntArray, d: IntArray, rank: IntArray, by_rank: IntArray, registry: IntArray,
          sets: IntArray, positions: IntArray, counts: IntArray, sid: int, q: int,
          side: int) -> int:
    """Id of the set before (side LEFT) or after (RIGHT) ``k`` at position ``q``, or FULL."""
    if positions[q, side] == UNKNOWN:
        lo = sets[sid, FIRST] if side == LEFT else positions[q, M] + 1
        hi = positions[q, M] if side == LEFT else sets[sid, LAST]
        found = register(p, d, rank, by_rank, registry, sets, counts, lo, hi, rank[sets[sid, K]])
        if found == FULL:
            return FULL
        positions[q, side] = found
    return int(positions[q, side])


@jit
def search(p: IntArray, d: IntArray, rank: IntArray, by_rank: IntArray, registry: IntArray,
           sets: IntArray, positions: IntArray, counts: IntArray, table: IntArray,
           frames: IntArray, ctl: IntArray, budget: int, grow_at: int, prune: bool) -> None:
    """Search for ``budget`` expansions or until the memo holds ``grow_at`` entries.

    With ``prune``, a position is skipped once lower bounds show it cannot beat
    the best position of the subproblem found so far (values stay exact).

    ``ctl[STATUS]`` becomes DONE (bottom frame's optimum in ``ctl[RET]``), RUNNING
    or GROW (grow a table; call again), or BROKEN (no position to search: a bug).
    """
    sp, ret, status = ctl[SP], ctl[RET], RUNNING
    while sp > 0:
        f = sp - 1
        sid, t, phase = frames[f, SID], frames[f, T], frames[f, PHASE]
        if phase == START:
            if budget <= 0:
                break
            if sets[sid, POS_START] < 0 and not describe(p, d, rank, sets, positions, counts,
                                                         sid):
                status = GROW
                break
            budget, ctl[EXPANDED] = budget - 1, ctl[EXPANDED] + 1
            q = next_position(positions, sets[sid, POS_START], sets[sid, POS_END], t)
            frames[f, POS], frames[f, BEST], frames[f, BEST_POS], phase = q, HUGE, -1, GO_LEFT
            if q == sets[sid, POS_END]:
                status = BROKEN
                break
        end, q, k = sets[sid, POS_END], frames[f, POS], sets[sid, K]
        start = t + positions[q, SPAN]
        tardy_k = max(0, start - d[k])
        if phase in (GO_LEFT, WAIT_LEFT):
            left = ret
            if phase == GO_LEFT:
                before = child(p, d, rank, by_rank, registry, sets, positions, counts, sid, q,
                               LEFT)
                after = child(p, d, rank, by_rank, registry, sets, positions, counts, sid, q,
                              RIGHT)
                if before == FULL or after == FULL:
                    frames[f, PHASE], status = GO_LEFT, GROW
                    break
                if prune and frames[f, BEST] < HUGE and (
                        lower(sets, before, t) + tardy_k + lower(sets, after, start)
                        >= frames[f, BEST]):
                    left = HUGE  # this position cannot beat the best one found
                else:
                    left = value(sets, table, before, t)
                if left < 0:
                    frames[f, PHASE] = WAIT_LEFT
                    sp = push(frames, sp, before, t)
                    continue
            frames[f, LEFT_VALUE] = left
            phase = GO_RIGHT if left + tardy_k < frames[f, BEST] else -1
            if phase == GO_RIGHT and prune and frames[f, BEST] < HUGE and (
                    left + tardy_k + lower(sets, positions[q, RIGHT], start) >= frames[f, BEST]):
                phase = -1
        if phase in (GO_RIGHT, WAIT_RIGHT):
            right = ret
            if phase == GO_RIGHT:
                after = child(p, d, rank, by_rank, registry, sets, positions, counts, sid, q,
                              RIGHT)
                if after == FULL:
                    frames[f, PHASE], status = GO_RIGHT, GROW
                    break
                right = value(sets, table, after, start)
                if right < 0:
                    frames[f, PHASE] = WAIT_RIGHT
                    sp = push(frames, sp, after, start)
                    continue
            if frames[f, LEFT_VALUE] + tardy_k + right < frames[f, BEST]:
                frames[f, BEST], frames[f, BEST_POS] = frames[f, LEFT_VALUE] + tardy_k + right, q
        later = end if frames[f, BEST] == 0 else next_position(positions, q + 1, end, t)
        while later < end and dominated(p, d, rank, positions, k, q, later, t):
            q, later = later, next_position(positions, later + 1, end, t)
        if later < end:
            frames[f, POS], frames[f, PHASE] = later, GO_LEFT
            continue
        ret = frames[f, BEST]
        ctl[STORED] += store(table, sid, t, ret, frames[f, BEST_POS], sets[sid, SIZE])
        sp -= 1
        if ctl[STORED] >= grow_at:
            status = GROW
            break
    ctl[SP], ctl[RET], ctl[STATUS] = sp, ret, DONE if sp == 0 and status == RUNNING else status


@jit
def rehash_registry(old: IntArray, new: IntArray) -> None:
    """Insert every key of registry ``old`` into the (larger, empty) ``new``."""
    mask = new.shape[0] - 1
    for s in range(old.shape[0]):
        if old[s, 0] >= 0:
            slot = home(old[s, 0], mask)
            while new[slot, 0] >= 0:
                slot = (slot + 1) & mask
            new[slot, 0], new[slot, 1] = old[s, 0], old[s, 1]
