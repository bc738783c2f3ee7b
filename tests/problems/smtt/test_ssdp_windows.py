"""Propagation of the (job, completion time) nodes of smtt-ssdp."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from optsched.problems.smtt.ssdp.windows import propagate


def test_propagation_narrows_the_windows_until_they_fix_the_sequence() -> None:
    """p=(2,3,1), T=6: job 0 may end at 2 or 6, job 1 only at 5, job 2 anywhere.

    First pass (windows: job 0 ends from 2, starts by 4; job 1 ends from 5,
    starts by 2; job 2 ends from 1, starts by 5):

    - (6, 0) starts at 4: job 1 cannot end by 4 nor start at 6 or later. Dies.
    - (5, 1) starts at 2: job 0 cannot start at 5 or later, so it comes
      before, 2 <= 2; job 2 may go either way. Lives.
    - (t, 2) for t = 2..5 starts at t - 1 >= 1: job 1 can neither end by
      t - 1 <= 4 nor start at t >= 2. Die. (1, 2) and (6, 2) live.

    Second pass: job 0 now starts by 0, so at (1, 2) it can neither end by 0
    nor start at 1 or later. Dies. What is left is the only sequence 0, 1, 2
    ending at 2, 5 and 6: six nodes killed in all.
    """
    p = np.array([2, 3, 1], dtype=np.int64)
    alive = np.zeros((7, 3), dtype=np.bool_)
    alive[[2, 6], 0] = True
    alive[5, 1] = True
    alive[1:, 2] = True
    assert propagate(p, np.zeros((3, 3), dtype=np.bool_), alive) == 6
    assert sorted(zip(*np.nonzero(alive), strict=True)) == [(2, 0), (5, 1), (6, 2)]


def test_a_job_that_must_come_first_cannot_come_after() -> None:
    """p=(2,3), T=5, job 1 before job 0: job 0 cannot end at 2, nor job 1 at 5.

    All nodes are alive at first; (2, 0) would need job 1 (p=3) to start at
    2 or later, which it may, but it must precede job 0. Likewise (5, 1)
    would need job 0 before it. Left: job 1 ends at 3, job 0 at 5.
    """
    p = np.array([2, 3], dtype=np.int64)
    alive = np.arange(6)[:, None] >= p[None, :]
    before = np.array([[False, False], [True, False]])
    propagate(p, before, alive)
    assert sorted(zip(*np.nonzero(alive), strict=True)) == [(3, 1), (5, 0)]


def _by_definition(p: list[int], before: npt.NDArray[np.bool_],
                   alive: npt.NDArray[np.bool_]) -> None:
    """``propagate`` written node by node from its docstring, in plain Python."""
    horizon, n = alive.shape[0] - 1, len(p)
    while True:
        times = [np.flatnonzero(alive[:, i]) for i in range(n)]
        first = [int(x[0]) if x.size else horizon + 1 for x in times]
        start = [int(x[-1]) - p[i] if x.size else -1 for i, x in enumerate(times)]
        dead = []
        for j in range(n):
            for t in times[j]:
                s, pre, post, stuck = t - p[j], 0, 0, False
                for i in set(range(n)) - {j}:
                    early = first[i] <= s and not before[j, i]
                    late = start[i] >= t and not before[i, j]
                    stuck |= not early and not late
                    pre += p[i] if early and not late else 0
                    post += p[i] if late and not early else 0
                if stuck or pre > s or post > horizon - t:
                    dead.append((t, j))
        if not dead:
            return
        for t, j in dead:
            alive[t, j] = False


@pytest.mark.parametrize("seed", range(40))
def test_propagation_matches_its_definition(seed: int) -> None:
    """On random nodes and precedences, the same fixed point as the node-by-node check."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 7))
    p = rng.integers(1, 5, size=n)
    horizon = int(p.sum())
    alive = (np.arange(horizon + 1)[:, None] >= p[None, :]) & (rng.random((horizon + 1, n)) < 0.7)
    before = np.triu(rng.random((n, n)) < 0.15, 1)
    expected, nodes = alive.copy(), int(alive.sum())
    _by_definition(p.tolist(), before, expected)
    killed = propagate(p.astype(np.int64), before, alive)
    assert (alive == expected).all()
    assert killed == nodes - int(alive.sum())
