"""The driver of the compiled search: state, heuristics, node-limited restarts."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optsched.compiled import IntArray
from optsched.problems.memalloc.exact import kernel
from optsched.problems.memalloc.exact.sweep import Sweep

LETTERS = {"A": kernel.KEY_AREA, "C": kernel.KEY_SECTIONS, "L": kernel.KEY_LOWER,
           "O": kernel.KEY_OVERLAPS, "T": kernel.KEY_TOTAL, "U": kernel.KEY_UPPER,
           "W": kernel.KEY_WIDTH, "Z": kernel.KEY_SIZE}
"""MiniMalloc's preordering letters: area, sections, lower, overlaps, total, upper, width,
size (each descending)."""
DEFAULT_HEURISTICS = ("WAT", "TAW", "TWA")
"""MiniMalloc's default round robin."""
FLAGS = ("canonical", "dominance", "hatless", "unallocated_floor", "monotonic", "inference",
         "decompose", "buffer_check")


@dataclass
class Search:
    """One sweep's search state, reused by every decision on it."""

    sweep: Sweep
    flags: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(FLAGS, True))
    nodes: int = 0
    backtracks: int = 0

    def __post_init__(self) -> None:
        g = self.sweep
        self.g = (g.size, g.alignment, g.pinned, g.lower, g.upper, g.bs_ptr, g.bs_sec, g.bs_top,
                  g.bs_h, g.sec_ptr, g.sec_buf, g.ov_ptr, g.ov_buf, g.ov_eff, g.span_lo,
                  g.span_hi)
        n, sections = g.n, g.sections
        self.st = (np.full(n, -1, np.int64), np.zeros(n, np.int64),
                   np.zeros(sections, np.int64), np.zeros(sections, np.int64),
                   np.zeros(max(sections - 1, 1), np.int64), np.full(n, -1, np.int64),
                   np.zeros(8, np.int64), np.full(max(sections, 1), -1, np.int64),
                   np.zeros(max(sections, 1), np.int64))
        self.opts = np.array([int(self.flags[f]) for f in FLAGS], np.int64)

    def decide(self, capacity: int, heuristic: str, limit: int, stop: IntArray) -> int:
        """One node-limited run; FOUND leaves the offsets in :meth:`offsets`."""
        codes = np.array([LETTERS[c] for c in heuristic], np.int64)
        status = kernel.run(self.g, self.st, self.opts, codes, capacity, limit, stop)
        ctx = self.st[kernel.CTX]
        self.nodes += int(min(ctx[kernel.NODES], limit))
        self.backtracks += int(ctx[kernel.BACKTRACKS])
        return int(status)

    def offsets(self) -> IntArray:
        """The offsets of the last FOUND (a buffer live nowhere: its pin or 0)."""
        sol = self.st[kernel.SOL].copy()
        idle = sol < 0
        sol[idle] = np.maximum(self.sweep.pinned[idle], 0)
        return sol
