"""A brute-force oracle for tiny memalloc instances: every canonical placement, tried."""

from __future__ import annotations

from itertools import permutations

from optsched.problems.memalloc.instance import MemallocInstance
from optsched.problems.memalloc.overlap import first_collision


def brute_force(instance: MemallocInstance) -> int:
    """The smallest peak, by placing the buffers in every order, each as low as it fits.

    Every packing can be pushed down (each buffer to the lowest aligned
    offset above the buffers it meets below it) without raising the peak,
    and that packing is reached by placing its buffers bottom-up lowest-fit;
    so the best over all orders is optimal. Pinned buffers keep their pins.
    Only for a handful of buffers (n! orders).
    """
    buffers = instance.buffers
    best = None
    for order in permutations(range(len(buffers))):
        offsets = [-1] * len(buffers)
        for i, b in enumerate(buffers):
            if b.offset is not None:
                offsets[i] = b.offset
        for i in order:
            b = buffers[i]
            if b.offset is not None:
                continue
            o = 0
            while True:
                offsets[i] = o
                placed = [j for j in range(len(buffers)) if offsets[j] >= 0]
                hit = first_collision([buffers[j] for j in placed], [offsets[j] for j in placed])
                if hit is None:
                    break
                o += b.alignment
        value = max(o + b.size for o, b in zip(offsets, buffers, strict=True))
        best = value if best is None else min(best, value)
    assert best is not None
    return best
