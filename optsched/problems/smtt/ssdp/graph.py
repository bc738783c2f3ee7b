"""Compiled successive sublimation of ``smtt-ssdp``: relaxations with job memory.

A state ``(t, k, S)`` says job ``k`` completes at ``t`` and the jobs of ``S``,
a subset of the memorised jobs ``M``, are done; ``S`` is a bitmask over the
positions of the jobs in ``M`` (two int64 words, so ``|M| <= 128``). The
arcs and their costs are those of :mod:`optsched.problems.smtt.ssdp.lr`
(its arc table ``ok``), restricted so that no memorised job repeats and the
memorised jobs not yet done still fit before ``T``. The lexicographically
smallest optimal sequence remains a path, so the cheapest path bounds the
optimum; when it is a permutation it is optimal.

States are generated forwards from the source; one is kept only when its
forward value plus a completion bound of the previous, weaker relaxation
(the same state with ``S`` cut to the previous memory, and the first-stage
bound of ``(t, k)``) does not exceed ``UB - 1`` (threshold ``thr`` on the
values without ``sum(mu)``): every sequence through it would cost at least
the incumbent. The backward pass computes exact completions and kills the
states that fail the same test. Rows of ``nodes`` are ``TIME, JOB, M0, M1,
PM`` (processing time of ``S``), ``PRED`` and ``NEXT`` (the next state of
the same time); ``values`` holds the forward and backward values; ``table``
is an open-addressing hash of the states; ``head[t]`` starts the list of
time ``t``. All numba code of this file is self-contained.
"""

from __future__ import annotations

import numpy as np

from optsched.compiled import BoolArray, FloatArray, IntArray, jit

INF = np.inf
TIME, JOB, M0, M1, PM, PRED, NEXT = range(COLUMNS := 7)
FV, BV = 0, 1
CURSOR, COUNT, STATUS = range(3)
RUNNING, DONE, GROW = range(3)



@jit
def slot_of(t: int, k: int, m0: int, m1: int, mask: int) -> int:
    """The first hash slot of a state."""
    h = t * 0x9E3779B1 + k * 0x85EBCA77 + m0 * 0x27D4EB2F165667C5 + m1 * 0x165667B19E3779F9
    h ^= h >> 29
    h *= 0x27D4EB2F165667C5
    h ^= h >> 32
    return h & mask


@jit
def find(nodes: IntArray, table: IntArray, t: int, k: int, m0: int, m1: int) -> int:
    """The slot of ``(t, k, m0, m1)`` in ``table``: its row there, or an empty slot (-1)."""
    mask = table.shape[0] - 1
    s = slot_of(t, k, m0, m1, mask)
    while True:
        x = table[s]
        if x < 0 or (nodes[x, TIME] == t and nodes[x, JOB] == k and nodes[x, M0] == m0
                     and nodes[x, M1] == m1):
            return s
        s = (s + 1) & mask


@jit
def rehash(nodes: IntArray, count: int, table: IntArray) -> None:
    """Insert the first ``count`` states into the empty ``table``."""
    for x in range(count):
        table[find(nodes, table, nodes[x, TIME], nodes[x, JOB], nodes[x, M0], nodes[x, M1])] = x


@jit
def with_job(m0: int, m1: int, b: int) -> tuple[int, int, bool]:
    """The masks with memorised bit ``b`` set, and whether it was set already.

    ``b < 0`` (the job is not memorised) leaves the masks as they are.
    """
    if b < 0:
        return m0, m1, False
    bit = np.int64(1) << (b & 63)
    if b < 64:
        return int(m0 | bit), m1, bool(m0 & bit)
    return m0, int(m1 | bit), bool(m1 & bit)


@jit
def start(nodes: IntArray, values: FloatArray, head: IntArray, table: IntArray,
          ctl: IntArray, n: int) -> None:
    """Put the source (time 0, job ``n``, nothing done) into an empty level."""
    nodes[0, :] = (0, n, 0, 0, 0, -1, -1)
    values[0, FV], values[0, BV] = 0.0, INF
    head[:] = -1
    head[0] = 0
    table[:] = -1
    table[find(nodes, table, 0, n, 0, 0)] = 0
    ctl[CURSOR], ctl[COUNT], ctl[STATUS] = 0, 1, RUNNING


@jit
def forward(p: IntArray, d: IntArray, w: IntArray, mu: FloatArray, ok: BoolArray,
            thr: float, memo: IntArray, pm_total: int, base: FloatArray, prev: IntArray,
            prev_values: FloatArray, prev_table: IntArray, keep0: int, keep1: int,
            need: IntArray, forbid: IntArray, nodes: IntArray, values: FloatArray,
            head: IntArray, table: IntArray, ctl: IntArray, budget: int) -> None:
    """Generate states time by time from ``ctl[CURSOR]`` for about ``budget`` arcs.

    ``memo[k]`` is the bit of job ``k`` in the masks, or -1. ``base[t, k]``
    is the first-stage completion bound (inf if eliminated). A state ``(t, k,
    S)`` is made only if ``S`` holds the memorised jobs that must precede
    ``k`` (masks ``need[k]``) and none that must follow it (``forbid[k]``),
    precedences the lexicographically first optimum obeys. With a previous
    level (``prev`` not empty), a state's mask is cut by ``keep0, keep1``
    and looked up there. Leaves ``ctl[STATUS]`` at ``DONE``, ``RUNNING``
    (budget spent) or ``GROW`` (no room: grow, then call again; a time is
    simply generated again, as updates only ever lower values).
    """
    n, horizon, cap = p.shape[0], head.shape[0] - 1, nodes.shape[0]
    use_prev = prev.shape[0] > 0
    work, t = 0, ctl[CURSOR]
    while t < horizon:
        x = head[t]
        while x >= 0:
            f, i = values[x, FV], nodes[x, JOB]
            for k in range(n):
                t2 = t + p[k]
                if k == i or t2 > horizon or base[t2, k] == INF:
                    continue
                v = f + w[k] * max(0, t2 - d[k]) - mu[k]
                if v + base[t2, k] > thr or (i < n and not ok[t, i, k]):
                    continue
                m0, m1, done = with_job(nodes[x, M0], nodes[x, M1], memo[k])
                if done or (m0 & need[k, 0]) != need[k, 0] or (m1 & need[k, 1]) != need[k, 1]:
                    continue
                if (m0 & forbid[k, 0]) != 0 or (m1 & forbid[k, 1]) != 0:
                    continue
                pm = nodes[x, PM] + (p[k] if memo[k] >= 0 else 0)
                if pm_total - pm > horizon - t2:
                    continue
                if use_prev:
                    y = prev_table[find(prev, prev_table, t2, k, m0 & keep0, m1 & keep1)]
                    if y < 0 or v + prev_values[y, BV] > thr:
                        continue
                s = find(nodes, table, t2, k, m0, m1)
                y = table[s]
                if y < 0:
                    y = ctl[COUNT]
                    if y >= cap:
                        ctl[STATUS] = GROW
                        return
                    nodes[y, :] = (t2, k, m0, m1, pm, x, head[t2])
                    values[y, FV], values[y, BV] = v, INF
                    head[t2], table[s], ctl[COUNT] = y, y, y + 1
                elif v < values[y, FV]:
                    values[y, FV], nodes[y, PRED] = v, x
            work += n
            x = nodes[x, NEXT]
        t += 1
        ctl[CURSOR] = t
        if work > budget:
            ctl[STATUS] = RUNNING if t < horizon else DONE
            return
    ctl[STATUS] = DONE


@jit
def backward(p: IntArray, d: IntArray, w: IntArray, mu: FloatArray, ok: BoolArray,
             thr: float, memo: IntArray, nodes: IntArray, values: FloatArray, head: IntArray,
             table: IntArray, ctl: IntArray, budget: int) -> None:
    """Completion values from ``T`` down, from ``ctl[CURSOR]`` for about ``budget`` arcs.

    A state whose forward plus backward value exceeds ``thr`` gets the
    backward value inf (eliminated). ``ctl[STATUS]`` becomes ``DONE`` once
    the source is done, else ``RUNNING``.
    """
    n, horizon = p.shape[0], head.shape[0] - 1
    work, t = 0, ctl[CURSOR]
    while t >= 0:
        x = head[t]
        while x >= 0:
            i, best = nodes[x, JOB], 0.0 if t == horizon else INF
            for k in range(n):
                t2 = t + p[k]
                if t == horizon or k == i or t2 > horizon or (i < n and not ok[t, i, k]):
                    continue
                m0, m1, done = with_job(nodes[x, M0], nodes[x, M1], memo[k])
                if done:
                    continue
                y = table[find(nodes, table, t2, k, m0, m1)]
                if y >= 0 and values[y, BV] < INF:
                    best = min(best, w[k] * max(0, t2 - d[k]) - mu[k] + values[y, BV])
            values[x, BV] = best if values[x, FV] + best <= thr else INF
            work += n
            x = nodes[x, NEXT]
        t -= 1
        ctl[CURSOR] = t
        if work > budget:
            break
    ctl[STATUS] = DONE if t < 0 else RUNNING


@jit
def best_path(p: IntArray, nodes: IntArray, values: FloatArray, head: IntArray) -> IntArray:
    """The jobs of the cheapest surviving path (empty if none), in order."""
    horizon, x, best = head.shape[0] - 1, head[head.shape[0] - 1], -1
    while x >= 0:
        if values[x, BV] < INF and (best < 0 or values[x, FV] < values[best, FV]):
            best = x
        x = nodes[x, NEXT]
    out = np.empty(horizon, dtype=np.int64)
    size = 0
    while best > 0:
        out[size] = nodes[best, JOB]
        size += 1
        best = nodes[best, PRED]
    return out[:size][::-1].copy()
