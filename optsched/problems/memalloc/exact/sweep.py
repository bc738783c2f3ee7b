"""The structure the exact search reads: sections, memberships, overlaps and spans.

The sections (:mod:`..cliques`) are all the search must check: two pieces
that overlap in time share one (MiniMalloc's sweep, Moffitt 2023, keeps every
cross-section; the maximal ones suffice).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optsched.compiled import IntArray
from optsched.problems.memalloc.cliques import sections
from optsched.problems.memalloc.exact import kernel


@dataclass(frozen=True)
class Sweep:
    """The search's view of ``n`` buffers (local indices ``0..n-1``).

    ``bs_*`` lists each buffer's sections (CSR by buffer: section, the top of
    its live bytes there relative to its offset, their height); ``sec_*`` each
    section's buffers; ``ov_*`` each buffer's overlapping buffers with the
    effective size: ``c`` above ``b`` needs ``offset[c] >= offset[b] + eff``.
    ``span_lo``/``span_hi`` is the range of sections from a buffer's first to
    its last (gaps included), which decides when the rest splits apart.
    """

    size: IntArray
    alignment: IntArray
    pinned: IntArray
    lower: IntArray
    upper: IntArray
    bs_ptr: IntArray
    bs_sec: IntArray
    bs_top: IntArray
    bs_h: IntArray
    sec_ptr: IntArray
    sec_buf: IntArray
    ov_ptr: IntArray
    ov_buf: IntArray
    ov_eff: IntArray
    span_lo: IntArray
    span_hi: IntArray

    @property
    def n(self) -> int:
        """The number of buffers."""
        return len(self.size)

    @property
    def sections(self) -> int:
        """The number of sections."""
        return len(self.sec_ptr) - 1

    @property
    def edges(self) -> int:
        """The number of overlapping pairs."""
        return len(self.ov_buf) // 2


def sweep(size: IntArray, alignment: IntArray, pinned: IntArray, lower: IntArray,
          upper: IntArray, piece_start: IntArray, t0: IntArray, t1: IntArray, w0: IntArray,
          w1: IntArray) -> Sweep:
    """Build the :class:`Sweep` of buffers given by their pieces (``piece_start`` CSR)."""
    n = len(size)
    s0, s1, count = sections(t0, t1)
    piece_buffer = np.repeat(np.arange(n, dtype=np.int64), np.diff(piece_start))
    counts = np.bincount(piece_buffer, weights=s1 - s0, minlength=n).astype(np.int64)
    bs_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=bs_ptr[1:])
    bs_sec, bs_top, bs_h = kernel.memberships(bs_ptr, piece_start, s0, s1, w0, w1)
    sec_ptr, sec_buf = kernel.by_section(bs_ptr, bs_sec, count)
    ov_ptr, ov_buf, ov_eff = kernel.overlaps(n, piece_start, s0, s1, w0, w1)
    has = np.diff(piece_start) > 0
    span_lo = np.where(has, s0[np.minimum(piece_start[:-1], len(s0) - 1)], 0)
    span_hi = np.where(has, s1[np.maximum(piece_start[1:] - 1, 0)], 0)
    return Sweep(size, alignment, pinned, lower, upper, bs_ptr, bs_sec, bs_top, bs_h, sec_ptr,
                 sec_buf, ov_ptr, ov_buf, ov_eff, span_lo.astype(np.int64),
                 span_hi.astype(np.int64))
