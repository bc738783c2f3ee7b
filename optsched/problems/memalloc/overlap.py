"""Collisions of placed buffers: a sweep over time with the live pieces ordered by address.

The checker's own code (and the instance's check of pinned buffers), shared
with no solver. A buffer is cut into pieces, time spans with the bytes live
in them: its lifetime outside the gaps holds all ``size`` bytes, a gap with a
window holds the window. Two pieces of different buffers collide when their
time spans and their address ranges overlap.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from optsched.problems.memalloc.instance import Buffer

Piece = tuple[int, int, int, int]
"""``(first step, end step, first byte, end byte)``: half-open in time and in bytes."""


def pieces(b: Buffer) -> Iterator[Piece]:
    """The live pieces of ``b``, in time order, bytes relative to its offset."""
    t = b.lower
    for gap in sorted(b.gaps, key=lambda g: g.lower):
        if gap.lower > t:
            yield t, gap.lower, 0, b.size
        if gap.window is not None:
            yield gap.lower, gap.upper, gap.window[0], gap.window[1]
        t = gap.upper
    if t < b.upper:
        yield t, b.upper, 0, b.size


def collisions(buffers: Sequence[Buffer], offsets: Sequence[int],
               most: int = 1) -> list[tuple[int, int, int]]:
    """Up to ``most`` colliding pairs ``(i, j, step)``: positions in ``buffers``, the step.

    The sweep keeps the live pieces that collided with nothing, ordered by
    address; they never overlap, so a new piece can only collide with its
    neighbours in that order. A piece that collides is reported and left out.
    """
    events: list[tuple[int, int, int, int, int, int]] = []  # step, 0 end / 1 start, lo, hi,
    for i, (b, offset) in enumerate(zip(buffers, offsets, strict=True)):  # buffer, piece
        for t0, t1, w0, w1 in pieces(b):
            k = len(events)
            events.append((t0, 1, offset + w0, offset + w1, i, k))
            events.append((t1, 0, offset + w0, offset + w1, i, k))
    events.sort()
    starts: list[int] = []  # the live pieces' first bytes, ascending
    live: list[tuple[int, int, int]] = []  # (lo, hi, buffer), in the same order
    left_out: set[int] = set()
    found: list[tuple[int, int, int]] = []
    for step, kind, lo, hi, i, k in events:
        if kind == 0:
            if k in left_out:
                left_out.discard(k)
                continue
            at = bisect_left(starts, lo)
            del starts[at], live[at]
            continue
        at = bisect_right(starts, lo)
        other = None
        if at > 0 and live[at - 1][1] > lo:
            other = live[at - 1][2]
        elif at < len(live) and live[at][0] < hi:
            other = live[at][2]
        if other is None:
            starts.insert(at, lo)
            live.insert(at, (lo, hi, i))
            continue
        found.append((min(i, other), max(i, other), step))
        left_out.add(k)
        if len(found) >= most:
            break
    return found


def first_collision(buffers: Sequence[Buffer], offsets: Sequence[int]) -> tuple[int, int] | None:
    """Two colliding buffers (positions in ``buffers``), or None."""
    hit = collisions(buffers, offsets)
    return (hit[0][0], hit[0][1]) if hit else None
