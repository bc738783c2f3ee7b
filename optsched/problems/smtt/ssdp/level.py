"""The states of one ``smtt-ssdp`` relaxation level, in arrays that grow on demand."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optsched.compiled import FloatArray, IntArray
from optsched.problems.smtt.ssdp import graph as gr


@dataclass
class Level:
    """The states of one relaxation; ``memory`` lists the memorised jobs by bit."""

    memory: list[int]
    nodes: IntArray
    values: FloatArray
    head: IntArray
    table: IntArray
    ctl: IntArray = field(default_factory=lambda: np.zeros(3, dtype=np.int64))

    @classmethod
    def empty(cls, horizon: int, n: int, memory: list[int], states: int) -> Level:
        """A level holding only the source, with room for ``states`` states."""
        level = cls(memory, np.zeros((states, gr.COLUMNS), dtype=np.int64),
                    np.zeros((states, 2)), np.full(horizon + 1, -1, dtype=np.int64),
                    np.full(2 * states, -1, dtype=np.int64))
        gr.start(level.nodes, level.values, level.head, level.table, level.ctl, n)
        return level

    @property
    def count(self) -> int:
        """The states generated."""
        return int(self.ctl[gr.COUNT])

    @property
    def nbytes(self) -> int:
        """Memory held by the level's arrays."""
        return self.nodes.nbytes + self.values.nbytes + self.table.nbytes

    def grow(self) -> None:
        """Double the room for states and rebuild the hash table."""
        count, size = self.count, 2 * self.nodes.shape[0]
        nodes = np.zeros((size, gr.COLUMNS), dtype=np.int64)
        values = np.zeros((size, 2))
        nodes[:count], values[:count] = self.nodes[:count], self.values[:count]
        self.nodes, self.values = nodes, values
        self.table = np.full(2 * size, -1, dtype=np.int64)
        gr.rehash(self.nodes, count, self.table)

    def bits(self, n: int) -> IntArray:
        """Per job of ``n``, its bit in the masks (its place in ``memory``), or -1."""
        out = np.full(n, -1, dtype=np.int64)
        out[self.memory] = np.arange(len(self.memory))
        return out

    def masks(self) -> tuple[int, int]:
        """The bits of all memorised jobs, as two signed 64-bit words."""
        words = [0, 0]
        for b in range(len(self.memory)):
            words[b // 64] |= 1 << (b % 64)
        low, high = (x - (1 << 64) if x >= 1 << 63 else x for x in words)
        return low, high
