"""Maximal cliques of pieces in time (*sections*), for the search and the models (numpy only).

Time is cut at every piece's start and end; a section is an elementary span
between consecutive cuts whose live set is maximal (some piece starts where
it starts and some piece ends where it ends). By the Helly property of
intervals, two pieces that overlap in time share a section.
"""

from __future__ import annotations

import numpy as np

from optsched.compiled import IntArray


def sections(t0: IntArray, t1: IntArray) -> tuple[IntArray, IntArray, int]:
    """Each piece's sections ``[s0, s1)`` and the number of sections."""
    times, inverse = np.unique(np.concatenate([t0, t1]), return_inverse=True)
    e0, e1 = inverse[:len(t0)], inverse[len(t0):]
    starts = np.zeros(len(times) + 1, np.bool_)
    ends = np.zeros(len(times) + 1, np.bool_)
    starts[e0] = True
    ends[e1] = True
    maximal = starts[:-2] & ends[1:-1]  # elementary span k = [times[k], times[k + 1])
    before = np.zeros(len(times), np.int64)
    np.cumsum(maximal, out=before[1:])
    return before[e0], before[e1], int(before[-1])


def sizes(s0: IntArray, s1: IntArray, count: int) -> IntArray:
    """How many pieces each section holds."""
    change = np.zeros(count + 1, np.int64)
    np.add.at(change, s0, 1)
    np.add.at(change, s1, -1)
    return np.cumsum(change[:-1])


def members(s0: IntArray, s1: IntArray, count: int) -> list[list[int]]:
    """Each section's pieces, in order of their first section (then index)."""
    out: list[list[int]] = [[] for _ in range(count)]
    for q in np.argsort(s0, kind="stable"):
        for s in range(int(s0[q]), int(s1[q])):
            out[s].append(int(q))
    return out


def piece_pairs(s0: IntArray, s1: IntArray) -> int:
    """How many pairs of pieces share a section.

    The search's overlap lists hold twice that, less the pairs of one
    buffer's own pieces; a piece meets the pieces that start in its sections.
    """
    first = np.sort(s0)
    return int((np.searchsorted(first, s1, "left") - np.searchsorted(first, s0, "left")
                - 1).sum())
