"""The baselines: TFLite-style linear allocation with Belady replacement, in a given order.

Step by step, the operator's tensors that are not resident are placed
largest first at the lowest address where they fit (first fit in the free
holes, as TFLite's simple memory arena). When one does not fit, the resident
tensor whose next use is furthest away (Belady) leaves: it is stored first
if DRAM has no copy of it. A tensor is freed after its last use. If even an
arena without other tensors leaves no hole, the operator's own resident
inputs are placed again (a reload each): this rule makes the baseline
complete (an operator fits an empty scratchpad, or the instance is refused),
where TFLite would fail. Li, Gupta and Malik (2023) compare COSMA with this
baseline (``docs/methods/memalloc.md``).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from optsched.problems.memalloc.scratchpad.instance import ScratchpadInstance
from optsched.problems.memalloc.scratchpad.solution import ScratchpadSolution, Segment
from optsched.problems.memalloc.scratchpad.timeline import steps_of, uses


def listed_order(instance: ScratchpadInstance) -> list[int]:
    """The listed order, or (free order) the topological order closest to it."""
    g = instance.graph
    ops = len(instance.operators)
    waiting = [sum(1 for a in g.reads[o] if g.producer[a] >= 0) for o in range(ops)]
    ready = [o for o in range(ops) if waiting[o] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        o = heapq.heappop(ready)
        order.append(o)
        for a in g.writes[o]:
            for r in g.readers[a]:
                waiting[r] -= 1
                if waiting[r] == 0:
                    heapq.heappush(ready, r)
    return order


def memory_order(instance: ScratchpadInstance) -> list[int]:
    """A memory-aware topological order (greedy).

    Next comes the ready operator after which the fewest bytes are live (ties:
    the listed order).
    """
    g = instance.graph
    ops = len(instance.operators)
    waiting = [sum(1 for a in g.reads[o] if g.producer[a] >= 0) for o in range(ops)]
    left = [len(set(g.readers[a])) for a in range(g.n)]
    ready = {o for o in range(ops) if waiting[o] == 0}
    order = []
    while ready:
        def change(o: int) -> tuple[int, int]:
            made = sum(g.sizes[a] for a in g.writes[o])
            freed = sum(g.sizes[a] for a in g.reads[o] if left[a] == 1)
            return made - freed, o

        o = min(ready, key=change)
        ready.remove(o)
        order.append(o)
        for a in g.reads[o]:
            left[a] -= 1
        for a in g.writes[o]:
            for r in set(g.readers[a]):
                waiting[r] -= 1
                if waiting[r] == 0:
                    ready.add(r)
    return order


def belady(instance: ScratchpadInstance, order: Sequence[int]) -> ScratchpadSolution:
    """Simulate linear allocation with Belady replacement in ``order``."""
    g = instance.graph
    used = uses(g, steps_of(order, len(instance.operators)))
    nxt = [0] * g.n  # index into used[a] of its next use not yet passed
    where: dict[int, tuple[int, int]] = {}  # resident tensor -> (offset, segment start)
    segments: list[Segment] = []

    def leave(a: int, last: int) -> None:
        offset, start = where.pop(a)
        segments.append(Segment(g.ids[a], start, last, offset))

    def next_use(b: int, t: int) -> int:
        while used[b][nxt[b]] < t:
            nxt[b] += 1
        return used[b][nxt[b]]

    def place(items: list[int], mine: set[int], t: int) -> bool:
        for a in items:
            offset = _first_fit(where, g.sizes, g.sizes[a], instance.capacity)
            while offset is None:
                victims = [b for b in where if b not in mine]
                if not victims:
                    return False
                leave(max(victims, key=lambda b: (next_use(b, t), g.sizes[b], b)), t - 1)
                offset = _first_fit(where, g.sizes, g.sizes[a], instance.capacity)
            where[a] = (offset, t)
        return True

    for t, o in enumerate(order):
        mine = {*g.reads[o], *g.writes[o]}
        largest = sorted(mine, key=lambda a: (-g.sizes[a], a))
        if not place([a for a in largest if a not in where], mine, t):
            for b in [b for b in where if b in mine]:  # fragmented by its own inputs
                if where[b][1] == t:
                    del where[b]
                else:
                    leave(b, t - 1)
            placed = place(largest, mine, t)
            assert placed, "an operator that fits the scratchpad fits it empty"
        for a in mine:
            if next_use(a, t) == t and nxt[a] == len(used[a]) - 1:
                leave(a, t)  # its last use
    return ScratchpadSolution(tuple(instance.operators[o].id for o in order), tuple(segments))


def _first_fit(where: dict[int, tuple[int, int]], sizes: Sequence[int], size: int,
               capacity: int) -> int | None:
    """The lowest offset of a hole of ``size`` bytes among the residents, or None."""
    at = 0
    for offset, end in sorted((off, off + sizes[b]) for b, (off, _) in where.items()):
        if offset - at >= size:
            return at
        at = max(at, end)
    return at if capacity - at >= size else None
