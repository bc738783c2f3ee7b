"""The search's structure: overlapping pairs and effective sizes, against a direct count."""

from __future__ import annotations

import numpy as np

from optsched.problems.memalloc.exact.sweep import sweep
from optsched.problems.memalloc.instance import Buffer, Gap, MemallocInstance
from optsched.problems.memalloc.overlap import pieces
from optsched.problems.memalloc.pairs import overlapping_pairs


def _random(seed: int) -> MemallocInstance:
    rng = np.random.default_rng(seed)
    buffers = []
    for j in range(14):
        lower = int(rng.integers(0, 16))
        upper = int(rng.integers(lower + 1, 20))
        size = int(rng.integers(3, 9))
        gaps: tuple[Gap, ...] = ()
        if upper - lower >= 4 and rng.random() < 0.5:
            g0 = int(rng.integers(lower + 1, upper - 2))
            window = (1, size - 1) if rng.random() < 0.5 else None
            gaps = (Gap(g0, g0 + 2, window),)
        buffers.append(Buffer(f"b{j}", lower, upper, size, gaps=gaps))
    return MemallocInstance(tuple(buffers))


def _expected(instance: MemallocInstance) -> dict[tuple[int, int], int]:
    """eff(b, c) = max over pieces p of b and q of c live at one step of top(p) - bottom(q)."""
    out: dict[tuple[int, int], int] = {}
    for i, b in enumerate(instance.buffers):
        for j, c in enumerate(instance.buffers):
            if i == j:
                continue
            for t0, t1, _, top in pieces(b):
                for u0, u1, bottom, _ in pieces(c):
                    if t0 < u1 and u0 < t1:
                        out[i, j] = max(out.get((i, j), -10**9), top - bottom)
    return out


def test_overlaps_match_a_direct_count() -> None:
    """Gaps with and without windows: every pair and its effective size, nothing more."""
    for seed in range(20):
        instance = _random(seed)
        a = instance.arrays
        sw = sweep(a.size, a.alignment, a.pinned, a.lower, a.upper, a.piece_start, a.piece_t0,
                   a.piece_t1, a.piece_w0, a.piece_w1)
        got = {(b, int(sw.ov_buf[e])): int(sw.ov_eff[e])
               for b in range(instance.n) for e in range(sw.ov_ptr[b], sw.ov_ptr[b + 1])}
        assert got == _expected(instance), seed
        assert sw.edges * 2 == len(got)


def test_sections_are_the_maximal_cliques() -> None:
    """a [0,4), b [2,6), c [5,8): cliques {a, b} at [2,4) and {b, c} at [5,6): 2 sections."""
    instance = MemallocInstance((Buffer("a", 0, 4, 1), Buffer("b", 2, 6, 1),
                                 Buffer("c", 5, 8, 1)))
    a = instance.arrays
    sw = sweep(a.size, a.alignment, a.pinned, a.lower, a.upper, a.piece_start, a.piece_t0,
               a.piece_t1, a.piece_w0, a.piece_w1)
    assert sw.sections == 2
    members = [sorted(sw.sec_buf[sw.sec_ptr[s]:sw.sec_ptr[s + 1]].tolist()) for s in range(2)]
    assert members == [[0, 1], [1, 2]]


def test_model_pairs_match_a_direct_count() -> None:
    """The MILP's pairs: for buffers i < j, the distinct (i's top - j's bottom, j's top -
    i's bottom) over their pieces live at a common step, and no other pair."""
    for seed in range(20):
        instance = _random(seed)
        expected: dict[tuple[int, int], set[tuple[int, int]]] = {}
        for i, b in enumerate(instance.buffers):
            for j, c in enumerate(instance.buffers[i + 1:], i + 1):
                for t0, t1, b0, b1 in pieces(b):
                    for u0, u1, c0, c1 in pieces(c):
                        if t0 < u1 and u0 < t1:
                            expected.setdefault((i, j), set()).add((b1 - c0, c1 - b0))
        got = {k: set(v) for k, v in overlapping_pairs(instance).items()}
        assert got == expected, seed
