"""The independent replay check of a scratchpad schedule, and its non-compulsory bytes.

The check does not trust the solver: it replays the order step by step. Every
operator comes after the writers of its inputs; each tensor is created at its
writer's step and not before; it is resident whenever an operator reads it;
a tensor's segments never overlap in time; residents never share an address
nor pass the scratchpad's end. The objective is the bytes moved beyond the
compulsory ones: every reload, and the one store of a tensor written on chip
that is spilled and is not a graph output (``docs/formats.md``).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections import defaultdict

from optsched.family import Evaluation
from optsched.fields import excerpt
from optsched.problems.memalloc.scratchpad.instance import ScratchpadInstance
from optsched.problems.memalloc.scratchpad.solution import ScratchpadSolution, Segment
from optsched.problems.memalloc.scratchpad.timeline import cost, steps_of, stored, uses

MAX_LISTED = 20
"""Violations listed before the check stops looking."""


def evaluate(instance: ScratchpadInstance, solution: ScratchpadSolution) -> Evaluation:
    """Replay ``solution``; the objective is None when the order itself is broken."""
    g = instance.graph
    names = [op.id for op in instance.operators]
    index = {name: o for o, name in enumerate(names)}
    if sorted(solution.order) != sorted(names):
        return Evaluation(None, ("order: must list every operator exactly once",))
    if instance.fixed and tuple(solution.order) != tuple(names):
        return Evaluation(None, ("order: the instance's order is the listed one (\"order\": "
                                 "\"listed\"); it may not change",))
    step = steps_of([index[name] for name in solution.order], len(names))
    bad: list[str] = []
    for o, reads in enumerate(g.reads):
        for a in reads:
            p = g.producer[a]
            if p >= 0 and step[p] > step[o]:
                bad.append(f"order: {excerpt(names[o])} at step {step[o]} reads "
                           f"{excerpt(g.ids[a])} before {excerpt(names[p])} writes it")
    if bad:
        return Evaluation(None, tuple(bad[:MAX_LISTED]))
    tensor = {name: a for a, name in enumerate(g.ids)}
    mine: dict[int, list[Segment]] = defaultdict(list)
    steps = len(names)
    for i, s in enumerate(solution.segments):
        where = f"segments[{i}]"
        found = tensor.get(s.tensor)
        if found is None:
            bad.append(f"{where}: unknown tensor {excerpt(s.tensor)}")
        elif not 0 <= s.start <= s.end < steps:
            bad.append(f"{where}: steps {s.start}..{s.end} are not within 0..{steps - 1}")
        elif not 0 <= s.offset <= instance.capacity - g.sizes[found]:
            bad.append(f"{where}: {excerpt(s.tensor)} at offset {s.offset} ({g.sizes[found]} "
                       f"bytes) does not fit the scratchpad of {instance.capacity}")
        else:
            mine[found].append(s)
    if bad:
        return Evaluation(None, tuple(bad[:MAX_LISTED]))
    objective = loads = 0
    spilled = 0
    for a, used in enumerate(uses(g, step)):
        segments = sorted(mine.get(a, []), key=lambda s: s.start)
        bad.extend(_residency(g.ids[a], g.producer[a] >= 0, used, segments))
        if segments:
            extra = len(segments) - 1  # the first one creates it, or is its compulsory load
            objective += cost(g, a, extra)
            loads += extra
            spilled += int(stored(g, a) and len(segments) > 1)
    bad.extend(_overlaps(instance, mine))
    peak = max((s.offset + g.sizes[tensor[s.tensor]] for s in solution.segments), default=0)
    compulsory = sum(g.sizes[a] for a in range(g.n) if g.producer[a] < 0 or g.output[a])
    metrics = {"non_compulsory_bytes": objective, "reloads": loads, "spilled": spilled,
               "compulsory_bytes": compulsory, "peak": peak}
    return Evaluation(objective, tuple(bad[:MAX_LISTED]), metrics)


def _residency(name: str, written: bool, used: list[int], segments: list[Segment]
               ) -> list[str]:
    """Created at its writer's step, resident at each use, segments apart in time."""
    out = []
    for before, after in itertools.pairwise(segments):
        if after.start <= before.end:
            out.append(f"tensor {excerpt(name)}: segments {before.start}..{before.end} and "
                       f"{after.start}..{after.end} overlap in time")
    if written:
        created = used[0]
        if not segments or segments[0].start != created:
            out.append(f"tensor {excerpt(name)}: not created at step {created}, where it is "
                       "written")
        if segments and segments[0].start < created:
            out.append(f"tensor {excerpt(name)}: resident at step {segments[0].start}, before "
                       f"it is written at step {created}")
    starts = [s.start for s in segments]
    for t in used:
        k = bisect.bisect_right(starts, t) - 1
        if k < 0 or segments[k].end < t:
            out.append(f"tensor {excerpt(name)}: not resident at step {t}, where it is used")
    return out


def _overlaps(instance: ScratchpadInstance, mine: dict[int, list[Segment]]) -> list[str]:
    """Residents of one step that share an address (a sweep over the steps)."""
    sizes = instance.graph.sizes
    ids = instance.graph.ids
    starts = sorted((s.start, s.offset, a, s.end) for a, segs in mine.items() for s in segs)
    active: list[tuple[int, int, int]] = []  # (offset, end offset, tensor), by offset
    ending: list[tuple[int, int, int]] = []  # (last step, offset, tensor)
    out: list[str] = []
    for start, offset, a, end in starts:
        while ending and ending[0][0] < start:
            _, off, b = heapq.heappop(ending)
            active.remove((off, off + sizes[b], b))
        item = (offset, offset + sizes[a], a)
        k = bisect.bisect_left(active, item)
        for other in active[max(0, k - 1):k + 1]:
            if other[0] < item[1] and item[0] < other[1]:
                out.append(f"step {start}: {excerpt(ids[a])} at [{item[0]}, {item[1]}) "
                           f"overlaps {excerpt(ids[other[2]])} at [{other[0]}, {other[1]})")
                if len(out) >= MAX_LISTED:
                    return out
        active.insert(k, item)
        heapq.heappush(ending, (end, offset, a))
    return out
