"""The overlapping pairs of buffers and their effective sizes, for the models (plain Python)."""

from __future__ import annotations

from optsched.problems.memalloc.exact.sweep import sections
from optsched.problems.memalloc.instance import MemallocInstance


def overlapping_pairs(instance: MemallocInstance) -> dict[tuple[int, int], tuple[int, int]]:
    """``(i, j) -> (eff(i, j), eff(j, i))`` for buffers ``i < j`` live at a common step.

    ``eff(i, j)``: with ``j`` above ``i``, ``offset[j] >= offset[i] + eff(i, j)``
    keeps every pair of their pieces apart: the most, over the cliques both
    share, of ``i``'s top there minus ``j``'s bottom there (the sizes, without
    windows).
    """
    a = instance.arrays
    s0, s1, count = sections(a.piece_t0, a.piece_t1)
    members: list[list[int]] = [[] for _ in range(count)]
    for q in range(len(s0)):
        for s in range(int(s0[q]), int(s1[q])):
            members[s].append(q)
    out: dict[tuple[int, int], tuple[int, int]] = {}
    buffer, w0, w1 = a.piece_buffer, a.piece_w0, a.piece_w1
    for group in members:
        for u, p in enumerate(group):
            for q in group[u + 1:]:
                i, j = int(buffer[p]), int(buffer[q])
                if i == j:
                    continue
                if i > j:
                    i, j, p, q = j, i, q, p
                up, down = int(w1[p] - w0[q]), int(w1[q] - w0[p])
                old = out.get((i, j))
                out[i, j] = (up, down) if old is None else (max(old[0], up), max(old[1], down))
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
