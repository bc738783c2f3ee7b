"""The pairwise dominance rule both exact models use, and hints that respect it.

Job ``i`` dominates ``j`` when ``p_i <= p_j``, ``d_i <= d_j`` and ``w_i >= w_j``
(identical jobs: the lower index dominates). Some optimal sequence puts every
dominating job before the jobs it dominates: exchanging a dominated job ``j``
scheduled before ``i`` with ``i`` makes ``i`` finish no later than ``j`` did,
makes ``j`` finish when ``i`` did, moves the jobs between no later, and
``w_i max(0, C - d_i)`` grows at least as fast in ``C`` as ``w_j max(0, C - d_j)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from optsched.compiled import BoolArray, IntArray
from optsched.problems.smtt.instance import SmttInstance


def dominance_matrix(instance: SmttInstance) -> npt.NDArray[np.bool_]:
    """``D[i, j]`` is True when job ``i`` must come before job ``j``."""
    p, d, w = instance.arrays
    weak = (p[:, None] <= p[None, :]) & (d[:, None] <= d[None, :]) & (w[:, None] >= w[None, :])
    same = (p[:, None] == p[None, :]) & (d[:, None] == d[None, :]) & (w[:, None] == w[None, :])
    index = np.arange(instance.n)
    out: npt.NDArray[np.bool_] = weak & (~same | (index[:, None] < index[None, :]))
    return out


def precedences(instance: SmttInstance) -> list[tuple[int, int]]:
    """Every dominance pair ``(i, j)``: ``i`` before ``j``."""
    rows, cols = np.nonzero(dominance_matrix(instance))
    return [(int(i), int(j)) for i, j in zip(rows, cols, strict=True)]


def respect(instance: SmttInstance, sequence: Sequence[int]) -> list[int]:
    """Reorder ``sequence`` to obey every dominance pair without raising its cost.

    Left to right, each position takes the job that comes first in the linear
    extension ``(p, d, -w, index)`` among the later jobs dominating the job
    there. Each exchange never costs more (module docstring), and once a
    position is settled no later job dominates it.
    """
    dom = dominance_matrix(instance)
    p, d, w = instance.arrays
    rank = np.empty(instance.n, dtype=np.int64)
    rank[np.lexsort((np.arange(instance.n), -w, d, p))] = np.arange(instance.n)
    seq = np.asarray(sequence, dtype=np.int64)
    for a in range(len(seq) - 1):
        later = seq[a + 1:]
        rivals = np.nonzero(dom[later, seq[a]])[0]
        if rivals.size:
            b = a + 1 + rivals[np.argmin(rank[later[rivals]])]
            seq[a], seq[b] = seq[b], seq[a]
    return [int(j) for j in seq]


def completion_windows(p: IntArray, d: IntArray,
                       w: IntArray) -> tuple[IntArray, IntArray, BoolArray]:
    """Earliest and latest completion of each job in the lexicographically first optimum.

    Also returns ``before``: ``before[i, j]`` when that optimum puts ``i`` before ``j``.

    The optimum meant is the smallest by job index among all optimal sequences.
    Let ``i < j`` and ``p_i <= p_j``. If ``j`` came before ``i``, swapping the
    two would move the jobs between them no later and give a smaller sequence,
    so that optimum puts ``i`` first whenever the swap costs no more, which
    holds in two cases:

    1. ``w_i >= w_j`` and ``d_i <= max(d_j, E_j)``, ``E_j`` the earliest
       completion of ``j`` known so far (Rinnooy Kan, Lageweg & Lenstra
       1975): with ``d_i <= d_j`` by the module docstring's argument; else
       both are tardy and the change is ``(C_i - C_j)(w_j - w_i) <= 0``.
    2. ``d_j >= L_i``, the latest completion of ``i`` known so far: ``j``
       would end where ``i`` ended, on time, and ``i`` ends earlier.

    A job ends no sooner than its own time plus all jobs that must precede
    it (transitive closure), and no later than ``T`` minus all that must
    follow it; pairs and windows are grown together until nothing changes.
    Numbering the jobs by ``(p, -w, d)`` first lets the most pairs qualify.
    """
    n = p.shape[0]
    return tighten_windows(p, d, w, p.copy(), np.full(n, int(p.sum())),
                           np.zeros((n, n), dtype=np.bool_))


def tighten_windows(p: IntArray, d: IntArray, w: IntArray, earliest: IntArray,
                    latest: IntArray, closure: BoolArray) -> tuple[IntArray, IntArray, BoolArray]:
    """:func:`completion_windows` started from known windows and precedences.

    ``earliest``, ``latest`` and ``closure`` (transitively closed) must hold
    for the lexicographically first optimum; so do the windows and the
    precedences returned, which are never weaker than those given.
    """
    lower = np.arange(p.shape[0])[:, None] < np.arange(p.shape[0])[None, :]
    shorter = lower & (p[:, None] <= p[None, :])
    may = shorter & (w[:, None] >= w[None, :])
    while True:
        earliest = np.maximum(earliest, p + closure.astype(np.int64).T @ p)
        latest = np.minimum(latest, int(p.sum()) - closure.astype(np.int64) @ p)
        before = (closure | (may & (d[:, None] <= np.maximum(d, earliest)[None, :]))
                  | (shorter & (d[None, :] >= latest[:, None])))
        while True:  # transitive closure by squaring (at most log2(n) rounds)
            wider = before | ((before.astype(np.int64) @ before.astype(np.int64)) > 0)
            if (wider == before).all():
                break
            before = wider
        if (before == closure).all():
            return earliest, latest, closure
        closure = before
