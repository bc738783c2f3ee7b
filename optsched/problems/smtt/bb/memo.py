"""The bounded memo of ``smtt-bb``: a set-associative hash table that grows to a cap.

The search stores the optimal value (and the position that reached it) of
every subproblem it solves, keyed by ``(job set id, start time)``. The table
never exceeds its cap: once there, a full bucket evicts its smallest
subproblem, the cheapest to solve again. Eviction loses work, never
correctness, because an entry is only ever read back as the exact value it
was stored with.
"""

from __future__ import annotations

import numpy as np

from optsched.compiled import IntArray
from optsched.problems.smtt.bb import kernel as kn
from optsched.problems.smtt.bb.kernel import BUCKET

SLOT_BYTES = 4 * 8
GROWTH = 4
"""Factor by which a table more than half full grows (until its cap)."""


class Memo:
    """The table (one row per slot, see ``bb_kernel``) and how many slots are used.

    Parameters
    ----------
    slots
        Initial number of slots (a power of two, at least one bucket).
    max_slots
        The cap: the table grows by :data:`GROWTH` while more than half full,
        up to this many slots (a power of two).
    """

    def __init__(self, slots: int, max_slots: int) -> None:
        self.max_slots = max(BUCKET, max_slots)
        self.slots = max(BUCKET, min(slots, self.max_slots))
        self.table = empty(self.slots)
        self.used = 0

    @property
    def nbytes(self) -> int:
        """Memory held by the table."""
        return int(self.table.nbytes)

    @property
    def grow_at(self) -> int:
        """The entry count at which the table should grow (never, once at its cap)."""
        return self.slots // 2 + 1 if self.slots < self.max_slots else 1 << 62

    def maybe_grow(self) -> None:
        """Grow the table when it is more than half full and below its cap."""
        while 2 * self.used > self.slots and self.slots < self.max_slots:
            self.slots = min(GROWTH * self.slots, self.max_slots)
            self.table, self.used = rehash(self.table, self.slots)


def empty(slots: int) -> IntArray:
    """A table of ``slots`` empty (all-zero) slots.

    Written out in order rather than left to ``calloc``: touching fresh
    memory sequentially costs far less than the random first touches of
    hashing would.
    """
    table = np.empty((slots, 4), dtype=np.int64)
    table.fill(0)
    return table


def rehash(old: IntArray, slots: int) -> tuple[IntArray, int]:
    """The entries of ``old`` in a new table of ``slots`` slots, and how many fit.

    Compiled, one entry at a time, as :func:`bb_kernel.store` files them (a full
    bucket drops its smallest set; rare, as the new table is at most an eighth full).
    """
    table = empty(slots)
    return table, int(kn.reinsert(old, table))


def slots_for(max_bytes: int) -> int:
    """The largest power-of-two slot count (at least one bucket) within ``max_bytes``."""
    slots = BUCKET
    while 2 * slots * SLOT_BYTES <= max_bytes:
        slots *= 2
    return slots
