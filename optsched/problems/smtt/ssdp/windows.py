"""Compiled propagation of the (job, completion time) nodes of ``smtt-ssdp``.

The nodes alive after elimination by the incumbent (see
:mod:`optsched.problems.smtt.ssdp.lr`) are the only places where the
lexicographically first optimal sequence, if it beats the incumbent, can
complete each job. Those sets are windows of a one-machine schedule without
idle time, and scheduling reasoning removes more of them: a job that has to
run over another job's node, or jobs that cannot fit before or after it,
rule the node out. Fewer nodes make the Lagrangian bound higher and the
later relaxations smaller. All numba code of this file is self-contained.
"""

from __future__ import annotations

import numpy as np

from optsched.compiled import BoolArray, IntArray, jit


@jit
def _ends(p: IntArray, alive: BoolArray, first: IntArray, start: IntArray) -> None:
    """Per job: its earliest alive completion and its latest alive start (``-1`` if none)."""
    horizon, n = alive.shape[0] - 1, alive.shape[1]
    for i in range(n):
        first[i], start[i] = horizon + 1, -1
        for t in range(horizon + 1):
            if alive[t, i]:
                first[i] = t
                break
        for t in range(horizon, -1, -1):
            if alive[t, i]:
                start[i] = t - p[i]
                break


@jit
def propagate(p: IntArray, before: BoolArray, alive: BoolArray) -> int:
    """Kill the nodes no sequence through alive nodes can use; the number killed.

    If job ``j`` completes at ``t`` (it starts at ``s = t - p[j]``), every
    other job ``i`` completes by ``s`` or starts at ``t`` or later. ``i``
    can come before only if it has an alive completion ``<= s`` and ``j``
    need not precede it (``before[j, i]`` False), and after only if it has
    an alive start ``>= t`` and need not precede ``j``. The node dies when
    some job can do neither, when the jobs that can only come before take
    longer than ``s``, or those that can only come after take longer than
    ``T - t``. Repeated until no node dies, as each death can narrow
    another job's window.

    For a fixed ``j``, each ``i`` changes its case at two times only, so a
    pass adds the cases up as differences over time and sweeps the times up
    to each job's last node once: ``O(n (n + T))`` per pass, not ``O(n^2 T)``.
    """
    horizon, n = alive.shape[0] - 1, alive.shape[1]
    first, start = np.empty(n, np.int64), np.empty(n, np.int64)
    stuck, pre, post = (np.empty(horizon + 2, np.int64), np.empty(horizon + 2, np.int64),
                        np.empty(horizon + 2, np.int64))
    killed = 0
    while True:
        _ends(p, alive, first, start)
        now = 0
        for j in range(n):
            stuck[:] = 0
            pre[:] = 0
            post[:] = 0
            for i in range(n):
                if i == j:
                    continue
                early = horizon + 1 if before[j, i] else min(first[i] + p[j], horizon + 1)
                late = -1 if before[i, j] else max(start[i], -1)  # i may follow until late
                if late + 1 < early:  # between them i can go neither way
                    stuck[late + 1] += 1
                    stuck[early] -= 1
                pre[max(early, late + 1)] += p[i]  # from there i can only come before
                post[0] += p[i]  # up to min(late, early - 1) i can only come after
                post[min(late, early - 1) + 1] -= p[i]
            gaps = pre_sum = post_sum = 0
            for t in range(start[j] + p[j] + 1):  # up to j's last alive completion
                gaps += stuck[t]
                pre_sum += pre[t]
                post_sum += post[t]
                if alive[t, j] and (gaps > 0 or pre_sum > t - p[j] or post_sum > horizon - t):
                    alive[t, j] = False
                    now += 1
        killed += now
        if now == 0:
            return killed
