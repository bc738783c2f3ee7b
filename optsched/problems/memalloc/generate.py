"""Seeded memalloc generators: packed rectangles (decision) and compiler-like traces (min-peak).

``generate`` cuts a ``steps x capacity`` rectangle into ``buffers``
rectangles by random guillotine cuts, as MiniMalloc's challenging instances
are made: with ``capacity`` the instance is feasible with no slack at all
(each step's live bytes fill the capacity), minus what ``drop`` removes.
``trace`` imitates a compiler's tensor lifetimes: each operator makes one
output read by the next few operators, with a few buffers (weights) live
throughout; no capacity.
"""

from __future__ import annotations

import numpy as np

from optsched.family import GeneratorParam
from optsched.problems.memalloc.instance import Buffer, Gap, MemallocInstance

PARAMS = (
    GeneratorParam("buffers", int, 20, "number of buffers (rectangles cut; each cut weighs "
                                       "every piece, so 10,000 take about 10 s)", low=1,
                   high=10_000),
    GeneratorParam("steps", int, 64, "program steps (the rectangle's width)", low=1,
                   high=1 << 40),
    GeneratorParam("capacity", int, 1024, "bytes (the rectangle's height)", low=1,
                   high=1 << 50),
    GeneratorParam("drop", float, 0.0, "share of the rectangles left out (slack)", low=0,
                   high=0.9),
    GeneratorParam("decision", bool, False, "keep the capacity in the instance (else: "
                                            "minimise the peak)", is_flag=True),
    GeneratorParam("count", int, 1, "number of instances", low=1, high=100_000),
    GeneratorParam("seed", int, 0, "random seed; instance k uses the seed sequence (seed, k)",
                   low=0, high=2**63 - 1),
)
TRACE_PARAMS = (
    GeneratorParam("buffers", int, 200, "number of buffers", low=1, high=1_000_000),
    GeneratorParam("weights", float, 0.05, "share of buffers live throughout", low=0, high=1),
    GeneratorParam("reach", int, 4, "an output is read by up to this many next operators",
                   low=1, high=1_000_000),
    GeneratorParam("max_size", int, 1 << 20, "largest buffer in bytes (log-uniform from 1)",
                   low=1, high=1 << 50),
    GeneratorParam("count", int, 1, "number of instances", low=1, high=100_000),
    GeneratorParam("seed", int, 0, "random seed; instance k uses the seed sequence (seed, k)",
                   low=0, high=2**63 - 1),
)
MAX_BUFFERS = 10_000_000
"""Most buffers of all instances one call generates."""


def generate(buffers: int = 20, steps: int = 64, capacity: int = 1024, drop: float = 0.0,
             decision: bool = False, count: int = 1, seed: int = 0) -> list[MemallocInstance]:
    """Guillotine-cut instances; instance ``k`` depends only on ``(seed, k)``.

    A rectangle is cut across time or across bytes at a random point (the
    longer side, relative to the whole, more often) until there are
    ``buffers`` pieces or none can be cut; each piece is a buffer. Packed
    at the heights they were cut from, the pieces fill the rectangle: the
    peak and the live peak both equal ``capacity`` (``drop == 0``).
    """
    out = []
    for k in range(count):
        rng = np.random.default_rng([seed, k])
        pieces = [(0, steps, 0, capacity)]  # lower, upper, bottom, top
        while len(pieces) < buffers:
            sides = [(p[1] - p[0]) / steps + (p[3] - p[2]) / capacity for p in pieces]
            cuttable = [i for i, p in enumerate(pieces) if p[1] - p[0] > 1 or p[3] - p[2] > 1]
            if not cuttable:
                break
            weights = np.array([sides[i] for i in cuttable])
            i = cuttable[int(rng.choice(len(cuttable), p=weights / weights.sum()))]
            lo, hi, bottom, top = pieces.pop(i)
            across_time = hi - lo > 1 and (top - bottom <= 1 or rng.random() < (
                (hi - lo) / steps) / ((hi - lo) / steps + (top - bottom) / capacity))
            if across_time:
                cut = int(rng.integers(lo + 1, hi))
                pieces += [(lo, cut, bottom, top), (cut, hi, bottom, top)]
            else:
                cut = int(rng.integers(bottom + 1, top))
                pieces += [(lo, hi, bottom, cut), (lo, hi, cut, top)]
        kept = [p for p in pieces if rng.random() >= drop] or pieces[:1]
        order = rng.permutation(len(kept))
        made = tuple(Buffer(str(j), kept[i][0], kept[i][1], kept[i][3] - kept[i][2])
                     for j, i in enumerate(order))
        out.append(MemallocInstance(made, capacity if decision else None,
                                    f"packed-{buffers}-s{seed}-{k}"))
    return out


def trace(buffers: int = 200, weights: float = 0.05, reach: int = 4, max_size: int = 1 << 20,
          count: int = 1, seed: int = 0) -> list[MemallocInstance]:
    """Compiler-like traces: operator ``j`` outputs buffer ``j``, read until ``j + r``.

    ``r`` is drawn from 1..reach; sizes are log-uniform in 1..max_size; a
    ``weights`` share of the buffers is live from the first step to the last.
    """
    out = []
    for k in range(count):
        rng = np.random.default_rng([seed, k])
        sizes = np.exp(rng.uniform(0, np.log(max_size), buffers)).astype(np.int64).clip(1)
        reads = rng.integers(1, reach + 1, buffers)
        whole = rng.random(buffers) < weights
        end = buffers + reach
        made = tuple(Buffer(f"t{j}", 0 if whole[j] else j, end if whole[j] else j + int(reads[j]),
                            int(sizes[j])) for j in range(buffers))
        out.append(MemallocInstance(made, None, f"trace-{buffers}-s{seed}-{k}"))
    return out


def samples() -> list[MemallocInstance]:
    """Tiny instances every solver of the family solves within seconds.

    Without a capacity (the smallest peak), so that every allocator answers.

    - ``readme``: MiniMalloc's README example (there with capacity 12): b1
      [0,3), b3 [0,9) and b5 [0,21) are live at step 0 (4 bytes each: 12), so
      12 is optimal.
    - ``gaps``: a (0..10, 8 bytes, gap 3..6) and b (3..6, 8 bytes) share no
      step; c (0..10, 4 bytes) meets both: the live peak is 12 (a and c at
      step 0) and a, b at 0 with c at 8 reach it.
    - ``aligned``: p pinned at 0 (5 bytes), q (4 bytes, alignment 4) live
      with it: q cannot start below 8 (5 rounded up to a multiple of 4),
      so the peak is 12 although only 9 bytes are ever live.
    - ``packed``: 8 guillotine-cut rectangles (seed 3) filling 6 steps x 16
      bytes: optimal peak 16.
    """
    readme = MemallocInstance((Buffer("b1", 0, 3, 4), Buffer("b2", 3, 9, 4),
                               Buffer("b3", 0, 9, 4), Buffer("b4", 9, 21, 4),
                               Buffer("b5", 0, 21, 4)), None, "readme")
    gaps = MemallocInstance((Buffer("a", 0, 10, 8, gaps=(Gap(3, 6),)), Buffer("b", 3, 6, 8),
                             Buffer("c", 0, 10, 4)), None, "gaps")
    aligned = MemallocInstance((Buffer("p", 0, 4, 5, offset=0), Buffer("q", 2, 6, 4, 4)),
                               None, "aligned")
    (packed,) = generate(buffers=8, steps=6, capacity=16, seed=3)
    return [readme, gaps, aligned, packed]
