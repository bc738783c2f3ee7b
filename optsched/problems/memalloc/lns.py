"""``memalloc-lns``: the best greedy solution, then the exact search on the top band.

Large traces (thousands of buffers, long-lived weights crossing the rest)
are beyond one exact search, but a greedy solution is usually wasteful in
a thin band under its peak. The large-neighbourhood search starts from
greedy by size (TFLite's and XLA's best fit, usually the best) and the rest
of the portfolio while a fifth of the limit lasts; then, while the peak is
above the lower bound, it frees the ``window`` buffers with the highest
tops, turns every other buffer into a skyline (per span of time, a pinned
block as high as the highest of them there) and asks :mod:`.exact.solver`
for the smallest peak of the freed buffers on that skyline, from their
current offsets. A gain is kept; no gain doubles the window, up to
:data:`MAX_WINDOW` buffers (the whole of a trace of that size). Each window
gets a slice of the time left, so the search moves on from a hard one; the
largest gets all of it.
Every step keeps a valid solution, so the result is never worse than the
best greedy one.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from optsched.compiled import LOADING, IntArray
from optsched.deadline import Deadline
from optsched.errors import InstanceError, NotSupportedError
from optsched.options import Option, OptionSet
from optsched.params import SolveParams
from optsched.problems.memalloc import portfolio
from optsched.problems.memalloc.bounds import lower_bound
from optsched.problems.memalloc.evaluate import evaluate
from optsched.problems.memalloc.exact import solver as exact
from optsched.problems.memalloc.greedy.allocators import ALLOCATORS, peak
from optsched.problems.memalloc.instance import Buffer, MemallocInstance
from optsched.problems.memalloc.solution import MemallocSolution, make
from optsched.result import Result, Status

OPTIONS = OptionSet((
    Option("window", int, 300, "buffers freed at first, those with the highest tops "
                               "(doubled when a window brings no gain, up to 8000)", low=2,
           high=1_000_000),
    Option("slice", float, 0.2, "most of the time left that one window's search may take "
                                "(the largest window: all of it)", low=0.01, high=1.0),
))
MAX_WINDOW = 8000
"""Most buffers one window frees: the whole of a trace of up to that many buffers (twice
what ``auto`` gives the exact search alone, which has no greedy start to fall back on)."""
GREEDY_SHARE = 0.2
"""Most of the time left the portfolio after greedy by size may take (it runs only when
that is at least twice what greedy by size took)."""


def run(instance: MemallocInstance, params: SolveParams, deadline: Deadline) -> Result:
    """The best greedy offsets improved window by window until the bound or the limit.

    The greedy kernels are loaded (the family's solver table gates this on them).
    """
    started = time.perf_counter()
    bound = lower_bound(instance)
    capacity = instance.capacity
    if capacity is not None and capacity < bound:
        return Result(status=Status.INFEASIBLE, solver="", bound=bound,
                      stats={"why": f"the lower bound {bound} is above the capacity"})
    offsets = ALLOCATORS["greedy-by-size"][0](instance, deadline=deadline)
    first_s = time.perf_counter() - started
    stats: dict[str, object] = {"first_s": round(first_s, 6),
                                "first_peak": peak(instance, offsets)}
    share = deadline.share(GREEDY_SHARE)
    if peak(instance, offsets) > bound and (share is None or share > 2 * first_s):
        more, name, tried = portfolio.best(instance, deadline.part(GREEDY_SHARE),
                                           known=("greedy-by-size", offsets))
        stats.update(greedy=name, greedy_tried=tried)
        if peak(instance, more) < peak(instance, offsets):
            offsets = more
    stats["greedy_peak"] = greedy = peak(instance, offsets)
    if deadline.listening:
        deadline.report(make(instance, offsets.copy()), greedy)
    if LOADING.ready("memalloc-bb", exact.load, deadline):
        offsets = _improve(instance, offsets, bound, params, deadline, stats)
    value = peak(instance, offsets)
    if capacity is not None and value > capacity:
        return Result(status=Status.NO_SOLUTION, solver="", bound=bound,
                      stats={**stats, "peak": value, "why": "the peak is above the capacity"})
    status = Status.OPTIMAL if value <= bound else Status.FEASIBLE
    return Result(status=status, solver="", solution=make(instance, offsets), objective=value,
                  bound=bound, stats=stats)


def _improve(instance: MemallocInstance, offsets: IntArray, bound: int, params: SolveParams,
             deadline: Deadline, stats: dict[str, object]) -> IntArray:
    a = instance.arrays
    most = min(MAX_WINDOW, instance.n)
    window = min(int(params.options.get("window", 300)), most)
    share = float(params.options.get("slice", 0.2))
    windows = gains = 0
    offsets = offsets.copy()
    goal = instance.capacity or bound  # with a capacity: any fit will do
    build = 0.0  # the longest a window took to build: keep twice that in hand
    while True:
        left = deadline.remaining()
        if left is not None and left < 2 * build + 0.05:
            break
        tops = offsets + a.size
        value = int(tops.max())
        if value <= max(bound, goal):
            break
        free = np.sort(np.argsort(-tops, kind="stable")[:window])
        last = window >= most  # nothing is tried after it: it may take all the time left
        found, built = _solve_band(instance, offsets, free,
                                   deadline.part(1.0 if last else share), params)
        build = max(build, built)
        windows += 1
        if found is not None and int((found + a.size[free]).max()) < value:
            offsets[free] = found
            gains += 1
            if deadline.listening:
                deadline.report(make(instance, offsets.copy()), peak(instance, offsets))
        elif last:
            break
        else:
            window = min(2 * window, most)
            build *= 2  # about linear in the window
    stats.update(windows=windows, gains=gains, last_window=window)
    return offsets


def _solve_band(instance: MemallocInstance, offsets: IntArray, free: IntArray,
                deadline: Deadline, params: SolveParams) -> tuple[IntArray | None, float]:
    """The smallest-peak offsets of the ``free`` buffers above the rest as they are.

    Returns them (None when the search finds none) and the seconds spent
    outside the search.

    The rest become a skyline: over each span between the free buffers'
    event times, one pinned block as high as the highest top of the other
    buffers live there. Every free buffer lies above the others it meets in
    time (they are the highest), so the current offsets fit the skyline.
    """
    started = time.perf_counter()
    a = instance.arrays
    tops = offsets + a.size
    others = np.ones(instance.n, np.bool_)
    others[free] = False
    cuts = np.unique(np.concatenate([a.lower[free], a.upper[free]]))
    starts, ends = cuts[:-1], cuts[1:]
    # the highest top of the other buffers live in each span [starts[k], ends[k])
    first = np.searchsorted(cuts, a.lower, side="right") - 1
    last = np.searchsorted(cuts, a.upper, side="left")
    height = np.zeros(len(starts), np.int64)
    for b in np.flatnonzero(others & (a.upper > cuts[0]) & (a.lower < cuts[-1])):
        lo, hi = max(int(first[b]), 0), min(int(last[b]), len(starts))
        np.maximum(height[lo:hi], tops[b], out=height[lo:hi])
    buffers = [replace(instance.buffers[i], id=f"f{k}", hint=None)  # pins stay
               for k, i in enumerate(free)]
    blocks = [Buffer(f"s{k}", int(starts[k]), int(ends[k]), int(height[k]), offset=0)
              for k in range(len(starts)) if height[k] > 0]
    try:
        sub = MemallocInstance(tuple(buffers + blocks), name=f"{instance.name}-band")
        exact.supports(sub)
    except (InstanceError, NotSupportedError):  # blocks past the limits of a size: skip
        return None, time.perf_counter() - started
    hint = MemallocSolution({**{f"f{k}": int(offsets[i]) for k, i in enumerate(free)},
                             **{b.id: 0 for b in blocks}})
    if evaluate(sub, hint).violations:  # one buffer in a gap of another, across the band
        return None, time.perf_counter() - started
    built = time.perf_counter() - started
    result = exact.run(sub, replace(params, hint=hint, options={"mode": "min-peak"}), deadline)
    solution = result.solution
    if not isinstance(solution, MemallocSolution) or evaluate(sub, solution).violations:
        return None, built
    return np.array([solution.offsets[f"f{k}"] for k in range(len(free))], np.int64), built
