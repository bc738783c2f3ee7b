"""The independent checker of memalloc: offsets, alignment, pins, collisions, peak, capacity.

Plain Python over the buffers themselves, sharing no code with the solvers
(:mod:`.overlap` is the checker's own sweep), so that it can catch their
mistakes.
"""

from __future__ import annotations

from optsched.family import Evaluation
from optsched.fields import excerpt, is_int
from optsched.problems.memalloc.instance import MemallocInstance
from optsched.problems.memalloc.overlap import collisions, pieces
from optsched.problems.memalloc.solution import MemallocSolution

REPORTED = 5
"""Most collisions listed."""
MAX_OFFSET = 1 << 61
"""Highest offset a solution may give (a solver never needs more: sizes add up to 2^60)."""


def evaluate(instance: MemallocInstance, solution: MemallocSolution) -> Evaluation:
    """Recompute the peak and list every violation.

    The peak is ``max(offset + size)``. Violations: a buffer without an
    offset, an id the instance does not have, an offset that is negative,
    not a multiple of the buffer's alignment or away from its pin, two
    buffers live at one step with overlapping bytes, a peak above the
    capacity.
    """
    found: list[str] = []
    unknown = [k for k in solution.offsets if instance.index(k) is None]
    if unknown:
        found.append(f"{len(unknown)} offset(s) for ids the instance does not have, first "
                     f"{excerpt(unknown[0])}")
    offsets: list[int] = []
    for b in instance.buffers:
        offset = solution.offsets.get(b.id)
        if offset is None:
            found.append(f"buffer {excerpt(b.id)} has no offset")
            continue
        if not is_int(offset) or not 0 <= offset <= MAX_OFFSET:
            found.append(f"buffer {excerpt(b.id)}: offset {excerpt(offset)} is not an "
                         "integer in [0, 2^61]")
        elif offset % b.alignment:
            found.append(f"buffer {excerpt(b.id)}: offset {offset} is not a multiple of its "
                         f"alignment {b.alignment}")
        elif b.offset is not None and offset != b.offset:
            found.append(f"buffer {excerpt(b.id)} is pinned at {b.offset}, not {offset}")
        offsets.append(offset)
    if len(offsets) < instance.n or any(not is_int(o) or not 0 <= o <= MAX_OFFSET
                                        for o in offsets):
        return Evaluation(objective=None, violations=tuple(found))
    for i, j, step in collisions(instance.buffers, offsets, REPORTED):
        a, b = instance.buffers[i], instance.buffers[j]
        found.append(f"buffers {excerpt(a.id)} [{offsets[i]}, {offsets[i] + a.size}) and "
                     f"{excerpt(b.id)} [{offsets[j]}, {offsets[j] + b.size}) are both live at "
                     f"step {step}")
    peak = max(o + b.size for o, b in zip(offsets, instance.buffers, strict=True))
    if instance.capacity is not None and peak > instance.capacity:
        found.append(f"the peak {peak} is above the capacity {instance.capacity}")
    live = _live_peak(instance)
    metrics = {"peak": peak, "live_peak": live, "above_live": peak - live,
               "capacity": instance.capacity, "buffers": instance.n}
    return Evaluation(objective=peak, violations=tuple(found), metrics=metrics)


def _live_peak(instance: MemallocInstance) -> int:
    """The most bytes live at one step, from the checker's own pieces."""
    changes: list[tuple[int, int]] = []
    for b in instance.buffers:
        for t0, t1, w0, w1 in pieces(b):
            changes += ((t0, w1 - w0), (t1, w0 - w1))
    changes.sort()  # at one step, the ends (negative) first
    live = best = 0
    for _, change in changes:
        live += change
        best = max(best, live)
    return best

