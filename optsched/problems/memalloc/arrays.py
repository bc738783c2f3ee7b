"""The instance as integer arrays: what every solver of the family reads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from optsched.problems.memalloc.instance import MemallocInstance

Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Arrays:
    """Buffers and their live pieces as ``int64`` arrays.

    A piece is a time span ``[t0, t1)`` of one buffer with the bytes
    ``[w0, w1)`` (relative to its offset) live in it: the lifetime outside the
    gaps holds all the bytes, a gap with a window holds the window. Pieces of
    buffer ``b`` are ``piece_start[b]:piece_start[b + 1]``, in time order.
    """

    lower: Ints
    upper: Ints
    size: Ints
    alignment: Ints
    pinned: Ints
    """The pinned offset, or -1."""
    piece_start: Ints
    piece_buffer: Ints
    piece_t0: Ints
    piece_t1: Ints
    piece_w0: Ints
    piece_w1: Ints

    @property
    def n(self) -> int:
        """The number of buffers."""
        return len(self.size)

    @property
    def piece_height(self) -> Ints:
        """Bytes live in each piece."""
        return self.piece_w1 - self.piece_w0

    @property
    def windowed(self) -> bool:
        """True when some gap keeps a window of its buffer live."""
        return bool(np.any(self.piece_w1 - self.piece_w0 != self.size[self.piece_buffer]))


def build(instance: MemallocInstance) -> Arrays:
    """The arrays of ``instance``."""
    bs = instance.buffers
    n = len(bs)
    lower = np.fromiter((b.lower for b in bs), np.int64, n)
    upper = np.fromiter((b.upper for b in bs), np.int64, n)
    size = np.fromiter((b.size for b in bs), np.int64, n)
    alignment = np.fromiter((b.alignment for b in bs), np.int64, n)
    pinned = np.fromiter((-1 if b.offset is None else b.offset for b in bs), np.int64, n)
    rows: list[tuple[int, int, int, int, int]] = []
    counts = np.ones(n, np.int64)
    if any(b.gaps for b in bs):
        for i, b in enumerate(bs):
            mine = list(_pieces(i, b.lower, b.upper, b.size,
                                sorted((g.lower, g.upper, g.window) for g in b.gaps)))
            counts[i] = len(mine)
            rows += mine
        table = np.array(rows, np.int64).reshape(-1, 5)
        buf, t0, t1, w0, w1 = (np.ascontiguousarray(table[:, k]) for k in range(5))
    else:
        buf, t0, t1, w0, w1 = np.arange(n, dtype=np.int64), lower, upper, np.zeros(
            n, np.int64), size
    start = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=start[1:])
    return Arrays(lower, upper, size, alignment, pinned, start, buf, t0, t1, w0, w1)


def _pieces(i: int, lower: int, upper: int, size: int,
            gaps: list[tuple[int, int, tuple[int, int] | None]]
            ) -> list[tuple[int, int, int, int, int]]:
    out = []
    t = lower
    for g0, g1, window in gaps:
        if g0 > t:
            out.append((i, t, g0, 0, size))
        if window is not None:
            out.append((i, g0, g1, window[0], window[1]))
        t = g1
    if t < upper:
        out.append((i, t, upper, 0, size))
    return out
