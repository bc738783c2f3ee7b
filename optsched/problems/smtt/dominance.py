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
