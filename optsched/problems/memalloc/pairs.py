"""The overlapping pairs of buffers and their effective sizes, for the models (plain Python)."""

from __future__ import annotations

from optsched.problems.memalloc.exact.sweep import sections
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
    members: list[list[int]] = [[] for _ in range(count)]
    for q in range(len(s0)):
        for s in range(int(s0[q]), int(s1[q])):
            members[s].append(q)
    out: dict[tuple[int, int], list[tuple[int, int]]] = {}
    buffer, w0, w1 = a.piece_buffer, a.piece_w0, a.piece_w1
    for group in members:
        for u, p in enumerate(group):
            for q in group[u + 1:]:
                i, j = int(buffer[p]), int(buffer[q])
                if i == j:
                    continue
                if i > j:
                    i, j, p, q = j, i, q, p
                entry = (int(w1[p] - w0[q]), int(w1[q] - w0[p]))
                known = out.setdefault((i, j), [])
                if entry not in known:
                    known.append(entry)
    return out


def pair_count(instance: MemallocInstance) -> int:
    """An upper bound of the number of overlapping pairs (pairs of pieces per clique)."""
    a = instance.arrays
    s0, s1, count = sections(a.piece_t0, a.piece_t1)
    sizes = [0] * count
    for q in range(len(s0)):
        for s in range(int(s0[q]), int(s1[q])):
            sizes[s] += 1
    return sum(m * (m - 1) // 2 for m in sizes)
