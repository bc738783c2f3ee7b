"""The pieces of the exact fixed-order models: a tensor at each use, and across each gap.

Between two consecutive uses of a tensor, the only choice that matters is
whether it stays (at the same address, over the steps strictly between: one
piece) or leaves right after the first use and is loaded again right at the
second (a reload, perhaps at another address; and a store once, when DRAM has
no copy). Keeping it longer or loading it earlier only takes more room, since
the objective counts bytes moved, not when they move. So a tensor with
``k + 1`` uses has ``k`` binary decisions, against COSMA's four per tensor and
step. Uses on consecutive steps have no step between them, so their gap has no
piece, but the choice remains: a reload there moves the tensor (to make room
for a larger one, say).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from optsched.problems.memalloc.scratchpad.instance import ScratchpadInstance
from optsched.problems.memalloc.scratchpad.solution import ScratchpadSolution, Segment
from optsched.problems.memalloc.scratchpad.timeline import steps_of, stored, uses


@dataclass(frozen=True)
class Gap:
    """Tensor ``tensor`` between its uses ``i`` and ``i + 1``, over steps ``first..last``.

    No step lies between uses on consecutive steps (``first > last``).
    """

    tensor: int
    i: int
    first: int
    last: int

    @property
    def empty(self) -> bool:
        """True when no step lies between the two uses."""
        return self.first > self.last


@dataclass(frozen=True)
class Pieces:
    """Every use and every gap of every tensor under ``order``."""

    order: tuple[int, ...]
    uses: tuple[tuple[int, ...], ...]
    gaps: tuple[Gap, ...]
    """Every gap between two consecutive uses of a tensor."""

    def at_steps(self, steps: int) -> list[tuple[list[tuple[int, int]], list[int]]]:
        """The uses ``(tensor, i)`` and the gaps across each step where a piece starts.

        Those steps are the maximal cliques of the interval graph of the pieces.
        """
        starts: dict[int, None] = {}
        for used in self.uses:
            starts.update(dict.fromkeys(used))
        for gap in self.gaps:
            if not gap.empty:
                starts[gap.first] = None
        at: dict[int, list[tuple[int, int]]] = {t: [] for t in starts}
        for a, used in enumerate(self.uses):
            for i, t in enumerate(used):
                at[t].append((a, i))
        by_first = sorted((g.first, k) for k, g in enumerate(self.gaps) if not g.empty)
        active: list[tuple[int, int]] = []  # (last step, gap), a heap
        out = []
        nxt = 0
        for t in sorted(starts):
            if t >= steps:
                break
            while nxt < len(by_first) and by_first[nxt][0] <= t:
                k = by_first[nxt][1]
                heapq.heappush(active, (self.gaps[k].last, k))
                nxt += 1
            while active and active[0][0] < t:
                heapq.heappop(active)
            out.append((at[t], sorted(k for _, k in active)))
        return out

    def pairs(self, steps: int) -> int:
        """Pairs of pieces that share a step (counted per clique: an upper bound)."""
        return sum((n := len(u) + len(g)) * (n - 1) // 2 for u, g in self.at_steps(steps))

    def count(self) -> int:
        """Pieces: every use, and every gap with a step inside."""
        return sum(map(len, self.uses)) + sum(not g.empty for g in self.gaps)


def pieces(instance: ScratchpadInstance, order: Sequence[int]) -> Pieces:
    """The pieces of ``instance`` under ``order`` (operator indices)."""
    used = uses(instance.graph, steps_of(order, len(instance.operators)))
    gaps = tuple(Gap(a, i, u[i] + 1, u[i + 1] - 1) for a, u in enumerate(used)
                 for i in range(len(u) - 1))
    return Pieces(tuple(order), tuple(map(tuple, used)), gaps)


def decode(instance: ScratchpadInstance, p: Pieces, kept: Sequence[bool],
           address: Sequence[Sequence[int]]) -> ScratchpadSolution:
    """The segments from the gaps kept and each use's address (``address[a][i]``)."""
    names = instance.graph.ids
    keep = {(g.tensor, g.i): k for g, k in zip(p.gaps, kept, strict=True)}
    segments = []
    for a, used in enumerate(p.uses):
        start = 0
        for i in range(len(used)):
            last = i == len(used) - 1
            if last or not keep.get((a, i), True):
                segments.append(Segment(names[a], used[start], used[i], int(address[a][start])))
                start = i + 1
    return ScratchpadSolution(tuple(instance.operators[o].id for o in p.order),
                              tuple(segments))


def from_solution(instance: ScratchpadInstance, p: Pieces, solution: ScratchpadSolution
                  ) -> tuple[list[bool], list[list[int]]] | None:
    """The gaps kept and each use's address in a solution (a hint); None off the order."""
    index = {op.id: o for o, op in enumerate(instance.operators)}
    if tuple(index.get(o, -1) for o in solution.order) != p.order:
        return None
    tensor = {name: a for a, name in enumerate(instance.graph.ids)}
    mine: list[list[Segment]] = [[] for _ in p.uses]
    for s in solution.segments:
        if s.tensor in tensor:
            mine[tensor[s.tensor]].append(s)
    address = [[_covering(mine[a], t) for t in used] for a, used in enumerate(p.uses)]
    kept = [_same(mine[g.tensor], p.uses[g.tensor][g.i], p.uses[g.tensor][g.i + 1])
            for g in p.gaps]
    return kept, [[0 if s is None else s.offset for s in row] for row in address]


def _covering(segments: list[Segment], t: int) -> Segment | None:
    return next((s for s in segments if s.start <= t <= s.end), None)


def _same(segments: list[Segment], t: int, u: int) -> bool:
    s = _covering(segments, t)
    return s is not None and s.end >= u


def reloads(instance: ScratchpadInstance, p: Pieces) -> Iterator[tuple[int, int]]:
    """Per gap: its index and the bytes of the reload when the tensor leaves there."""
    for k, gap in enumerate(p.gaps):
        yield k, instance.graph.sizes[gap.tensor]


def stores(instance: ScratchpadInstance, p: Pieces) -> dict[int, list[int]]:
    """The tensors that pay one store when they leave at any of their gaps (listed)."""
    out: dict[int, list[int]] = {}
    for k, gap in enumerate(p.gaps):
        if stored(instance.graph, gap.tensor):
            out.setdefault(gap.tensor, []).append(k)
    return out


def room(instance: ScratchpadInstance, p: Pieces, uses_at: list[tuple[int, int]],
         gaps_at: list[int]) -> int | None:
    """The bytes the gaps across a step may keep: the capacity less the step's uses.

    None when they all fit anyway (no cut needed).
    """
    sizes = instance.graph.sizes
    left = instance.capacity - sum(sizes[a] for a, _ in uses_at)
    across = sum(sizes[p.gaps[k].tensor] for k in gaps_at)
    return left if gaps_at and across > left else None
