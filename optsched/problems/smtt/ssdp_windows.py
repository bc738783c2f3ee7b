"""Compiled propagation of the (job, completion time) nodes of ``smtt-ssdp``.

The nodes alive after elimination by the incumbent (see
:mod:`optsched.problems.smtt.ssdp_lr`) are the only places where the
lexicographically first optimal sequence, if it beats the incumbent, can
complete each job. Those sets are windows of a one-machine schedule without
idle time, and scheduling reasoning removes more of them: a job that has to
run over another job's node, or jobs that cannot fit before or after it,
rule the node out. Fewer nodes make the Lagrangian bound higher and the
later relaxations smaller. All numba code of this file is self-contained.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
F_ = TypeVar("F_", bound=Callable[..., Any])


def jit(fn: F_) -> F_:
    """Compile ``fn`` with numba in nopython mode, cached on disk across runs."""
    return cast(F_, numba.njit(cache=True)(fn))


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
    """
    horizon, n = alive.shape[0] - 1, alive.shape[1]
    first, start = np.empty(n, np.int64), np.empty(n, np.int64)
    killed = 0
    while True:
        _ends(p, alive, first, start)
        now = 0
        for j in range(n):
            for t in range(first[j], start[j] + p[j] + 1):
                if not alive[t, j]:
                    continue
                s, pre, post, dead = t - p[j], 0, 0, False
                for i in range(n):
                    if i == j:
                        continue
                    early = first[i] <= s and not before[j, i]
                    late = start[i] >= t and not before[i, j]
                    if early and not late:
                        pre += p[i]
                    elif late and not early:
                        post += p[i]
                    elif not early:
                        dead = True
                        break
                if dead or pre > s or post > horizon - t:
                    alive[t, j] = False
                    now += 1
        killed += now
        if now == 0:
            return killed
