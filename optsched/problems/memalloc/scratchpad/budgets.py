"""COSMA's scratchpad budgets of a network in its listed order (Li, Gupta and Malik 2023).

- ``min`` (M_R): the most bytes one operator needs at once, its inputs and
  outputs (and its weights when they are streamed). No smaller scratchpad
  runs the graph, since operators are never split.
- ``peak`` (M_P): the smallest scratchpad that runs the listed order with no
  spill at all. Each tensor is then a buffer live from its first use to its
  last (a graph input from its first read, a streamed weight at its
  operator's step only), and M_P is the smallest peak of that memalloc
  *buffers* problem, addresses included (so a budget of M_P is feasible at no
  cost, fragmentation and all). COSMA minimises the peak over every order;
  this is the listed order's, which is at least that.
- ``mid`` (M_H): ``(M_R + M_P) // 2``.
"""

from __future__ import annotations

import time
from typing import Any

from optsched.params import SolveParams
from optsched.problems.memalloc.bounds import live_peak
from optsched.problems.memalloc.instance import Buffer, MemallocInstance
from optsched.problems.memalloc.scratchpad.belady import listed_order
from optsched.problems.memalloc.scratchpad.instance import ScratchpadInstance
from optsched.problems.memalloc.scratchpad.timeline import steps_of, uses
from optsched.result import Status

BUDGETS = ("min", "mid", "peak")
PEAK_SOLVER = "memalloc-bb"
TIME_LIMIT = 10.0
"""Seconds the exact search gets for M_P (the networks here need well under one)."""


def buffers(instance: ScratchpadInstance) -> MemallocInstance:
    """The listed order with no spill as a memalloc instance (no capacity: the peak).

    Tensor ``a`` is the buffer ``[first use, last use + 1)``; with a free
    order, the topological order closest to the listed one.
    """
    g = instance.graph
    used = uses(g, steps_of(listed_order(instance), len(instance.operators)))
    return MemallocInstance(tuple(Buffer(g.ids[a], at[0], at[-1] + 1, g.sizes[a])
                                  for a, at in enumerate(used)),
                            None, f"{instance.name or 'scratchpad'}-buffers")


def budgets(instance: ScratchpadInstance, time_limit: float = TIME_LIMIT) -> dict[str, Any]:
    """M_R, M_P and M_H of ``instance`` (its ``stream_weights`` setting decides the weights).

    Returns ``min``, ``mid`` and ``peak`` (the budgets in bytes), ``live_peak``
    (the most bytes live at one step, a lower bound on ``peak``),
    ``peak_proven`` (False when the search ran out of time: ``peak`` is then
    the best found, an upper bound) and ``peak_seconds``.
    """
    # Deferred: optsched's registry imports the memalloc family, which imports this package.
    from optsched.solve import solve

    m_r = max(instance.graph.needs)
    problem = buffers(instance)
    start = time.perf_counter()
    result = solve(problem, PEAK_SOLVER, SolveParams(time_limit=time_limit, workers=1))
    seconds = time.perf_counter() - start
    if result.objective is None:  # nothing in time: no reuse at all, an upper bound
        m_p = sum(b.size for b in problem.buffers)
    else:
        m_p = int(result.objective)
    return {"min": m_r, "mid": (m_r + m_p) // 2, "peak": m_p, "live_peak": live_peak(problem),
            "peak_proven": result.status is Status.OPTIMAL, "peak_seconds": seconds}
