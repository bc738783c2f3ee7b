"""The overlapping pairs of buffers and their effective sizes, for the MILP model."""

from __future__ import annotations

from optsched.problems.memalloc.cliques import members, sections, sizes
from optsched.problems.memalloc.instance import MemallocInstance


def overlapping_pairs(instance: MemallocInstance) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """``(i, j) -> [(up, down), ...]`` for buffers ``i < j`` live at a common step.

    Each entry is one pair of their pieces live together: ``j`` above ``i``
    there needs ``offset[j] >= offset[i] + up`` (``i``'s top there minus
    ``j``'s bottom there), ``j`` below needs ``offset[i] >= offset[j] +
    down``. Without windows every piece holds the whole buffer, so a pair has
    one entry (the two sizes); with windows the two buffers may swap sides
    from one piece to the next, and each distinct entry is its own choice.
    """
    a = instance.arrays
    s0, s1, count = sections(a.piece_t0, a.piece_t1)
    out: dict[tuple[int, int], list[tuple[int, int]]] = {}
    buffer, w0, w1 = a.piece_buffer, a.piece_w0, a.piece_w1
    for group in members(s0, s1, count):
        for u, first in enumerate(group):
            for second in group[u + 1:]:
                p, q = (first, second) if buffer[first] < buffer[second] else (second, first)
                i, j = int(buffer[p]), int(buffer[q])
                if i == j:
                    continue
                entry = (int(w1[p] - w0[q]), int(w1[q] - w0[p]))
                known = out.setdefault((i, j), [])
                if entry not in known:
                    known.append(entry)
    return out


def pair_count(instance: MemallocInstance) -> int:
    """An upper bound of the number of overlapping pairs (pairs of pieces per clique)."""
    a = instance.arrays
    s0, s1, count = sections(a.piece_t0, a.piece_t1)
    m = sizes(s0, s1, count)
    return int((m * (m - 1) // 2).sum())
