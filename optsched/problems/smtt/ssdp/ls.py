"""Compiled local search giving ``smtt-ssdp`` its upper bounds.

Descent alternates adjacent interchanges and single-job insertions (every
target of a job priced in one sweep); the iterated search kicks the current
sequence with random nearby exchanges and descends again, keeping a descent
that is no worse. It runs in slices (``iterations`` per call) so that the
caller can watch the deadline, and repairs sequences that the Lagrangian
relaxation produces (some jobs twice, some missing) into permutations.
All numba code of this file is self-contained (numba's cache tracks one file).
"""

from __future__ import annotations

import numpy as np

from optsched.compiled import IntArray, jit


@jit
def seq_cost(p: IntArray, d: IntArray, w: IntArray, seq: IntArray) -> int:
    """Total weighted tardiness of the permutation ``seq``."""
    t, total = 0, 0
    for j in seq:
        t += p[j]
        total += w[j] * max(0, t - d[j])
    return total


@jit
def _interchange(p: IntArray, d: IntArray, w: IntArray, seq: IntArray) -> bool:
    """One pass of improving adjacent interchanges; True if any was made."""
    moved, t = False, 0
    for a in range(seq.shape[0] - 1):
        i, j = seq[a], seq[a + 1]
        end = t + p[i] + p[j]
        before = w[i] * max(0, t + p[i] - d[i]) + w[j] * max(0, end - d[j])
        after = w[j] * max(0, t + p[j] - d[j]) + w[i] * max(0, end - d[i])
        if after < before:
            seq[a], seq[a + 1] = j, i
            moved = True
            t += p[j]
        else:
            t += p[i]
    return moved


@jit
def _insertion(p: IntArray, d: IntArray, w: IntArray, seq: IntArray) -> bool:
    """One pass of best improving single-job insertions; True if any was made."""
    n, moved = seq.shape[0], False
    comp = np.empty(n, dtype=np.int64)
    for a in range(n):
        t = 0
        for q in range(n):
            t += p[seq[q]]
            comp[q] = t
        x = seq[a]
        here = w[x] * max(0, comp[a] - d[x])
        best, target, delta = 0, a, 0
        for b in range(a + 1, n):  # x after position b: job at b ends p[x] earlier
            y = seq[b]
            delta += w[y] * (max(0, comp[b] - p[x] - d[y]) - max(0, comp[b] - d[y]))
            gain = delta + w[x] * max(0, comp[b] - d[x]) - here
            if gain < best:
                best, target = gain, b
        delta = 0
        for b in range(a - 1, -1, -1):  # x before position b: job at b ends p[x] later
            y = seq[b]
            delta += w[y] * (max(0, comp[b] + p[x] - d[y]) - max(0, comp[b] - d[y]))
            gain = delta + w[x] * max(0, comp[b] - p[y] + p[x] - d[x]) - here
            if gain < best:
                best, target = gain, b
        if target > a:
            seq[a:target] = seq[a + 1:target + 1].copy()
            seq[target], moved = x, True
        elif target < a:
            seq[target + 1:a + 1] = seq[target:a].copy()
            seq[target], moved = x, True
    return moved


@jit
def descend(p: IntArray, d: IntArray, w: IntArray, seq: IntArray) -> int:
    """Interchanges and insertions on ``seq`` in place until neither improves; its cost."""
    while True:
        while _interchange(p, d, w, seq):
            pass
        if not _insertion(p, d, w, seq):
            return seq_cost(p, d, w, seq)


@jit
def ils(p: IntArray, d: IntArray, w: IntArray, current: IntArray, best: IntArray,
        iterations: int, seed: int) -> int:
    """Iterated local search from ``current`` (descended in place); ``best`` gets the best.

    Both arrays persist between calls, so repeated calls continue one search.
    Returns the cost of ``best``.
    """
    np.random.seed(seed)
    n = current.shape[0]
    cost = descend(p, d, w, current)
    best_cost = seq_cost(p, d, w, best)
    if cost < best_cost:
        best[:], best_cost = current, cost
    kicked = current.copy()
    for _ in range(iterations):
        if best_cost == 0 or n < 3:
            break
        kicked[:] = current
        for _ in range(max(2, n // 25)):
            a = np.random.randint(0, n)
            b = min(n - 1, a + np.random.randint(1, 4))
            kicked[a], kicked[b] = kicked[b], kicked[a]
        value = descend(p, d, w, kicked)
        if value <= cost:
            current[:], cost = kicked, value
            if value < best_cost:
                best[:], best_cost = kicked, value
    return best_cost


@jit
def repair(path: IntArray, n: int, d: IntArray) -> IntArray:
    """A permutation from a relaxed path: first occurrences in order, missing jobs by due date."""
    seen = np.zeros(n, dtype=np.bool_)
    out = np.empty(n, dtype=np.int64)
    size = 0
    for j in path:
        if not seen[j]:
            seen[j] = True
            out[size] = j
            size += 1
    for j in np.argsort(d, kind="mergesort"):
        if not seen[j]:
            out[size] = j
            size += 1
    return out
