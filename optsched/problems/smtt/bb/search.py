"""Drive the compiled ``smtt-bb`` search: slices of work, growing tables, the optimal order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optsched.compiled import IntArray
from optsched.problems.smtt.bb import kernel as kn
from optsched.problems.smtt.bb.memo import Memo, slots_for

FIRST_SLOTS = 1 << 14
"""Slots of a fresh memo table; it grows as it fills, up to the memory cap."""
BUDGET = 50_000
"""Subproblems expanded between two calls of ``stop``."""
TIME_LIMIT, MEMORY_LIMIT = "time limit or stop request", "memory limit of the job-set tables"


@dataclass
class Outcome:
    """The optimum and an optimal order (EDD indices), or None for both when stopped."""

    value: int | None
    sequence: list[int] | None
    stats: dict[str, Any] = field(default_factory=dict)


class Search:
    """The state of one search over jobs given in EDD order.

    Parameters
    ----------
    p, d
        Processing times (>= 1) and due dates, int64, sorted by ``(d, p)``.
    memo_bytes
        Memory cap of the memo table (beyond it, entries are evicted).
    set_bytes
        Memory cap of the job-set tables, which grow with the distinct sets
        searched (far fewer than the subproblems); the search stops rather
        than exceed it.
    prune
        Skip positions that lower bounds show cannot beat the best one found.
    """

    def __init__(self, p: IntArray, d: IntArray, memo_bytes: int, set_bytes: int,
                 prune: bool) -> None:
        n = int(p.shape[0])
        if n >= kn.MAX_JOBS:
            raise ValueError(f"smtt-bb handles fewer than {kn.MAX_JOBS} jobs")
        self.n, self.p, self.d, self.set_bytes, self.prune = n, p, d, set_bytes, prune
        self.by_rank = np.lexsort((np.arange(n), p)).astype(np.int64)
        self.rank = np.empty(n, dtype=np.int64)
        self.rank[self.by_rank] = np.arange(n, dtype=np.int64)
        self.memo = Memo(FIRST_SLOTS, slots_for(memo_bytes))
        self.registry = np.full((1024, 2), -1, dtype=np.int64)
        self.sets = np.zeros((256, kn.SET_COLUMNS), dtype=np.int64)
        self.positions = np.zeros((4 * n + 256, kn.POS_COLUMNS), dtype=np.int64)
        self.counts = np.zeros(2, dtype=np.int64)
        self.frames = np.zeros((n + 2, kn.FIELDS), dtype=np.int64)
        self.ctl = np.zeros(5, dtype=np.int64)
        self.slices = 0
        self.stopped: str | None = None
        self.root = int(kn.register(p, d, self.rank, self.by_rank, self.registry, self.sets,
                                    self.counts, 0, n - 1, n))  # the first tables hold it

    def value(self, sid: int, t: int, stop: Callable[[], bool], capped: bool = True
              ) -> int | None:
        """The optimum of set ``sid`` from time ``t``; None once ``stop()`` or the cap says so."""
        known = int(kn.known_value(self.sets, sid, t))
        if known >= 0:
            return known
        ctl = self.ctl
        ctl[kn.SP] = kn.push(self.frames, 0, sid, t)
        while True:
            if stop():
                self.stopped = TIME_LIMIT
                return None
            kn.search(self.p, self.d, self.rank, self.by_rank, self.registry, self.sets,
                      self.positions, self.counts, self.memo.table, self.frames, ctl, BUDGET,
                      self.memo.grow_at, self.prune)
            self.slices += 1
            self.memo.used = int(ctl[kn.STORED])
            status = ctl[kn.STATUS]
            if status == kn.DONE:
                return int(ctl[kn.RET])
            if status == kn.BROKEN:
                raise AssertionError("smtt-bb: a subproblem has no position to search")
            self.memo.maybe_grow()
            ctl[kn.STORED] = self.memo.used
            if status == kn.GROW and not self._grow_sets(capped):
                self.stopped = MEMORY_LIMIT
                return None

    def sequence(self, sid: int, t: int) -> list[int]:
        """An optimal order (EDD indices) of set ``sid`` from ``t``, read from the memo.

        A subproblem whose entry was evicted is searched again.
        """
        out: list[int] = []
        todo: list[tuple[bool, int, int]] = [(False, sid, t)]  # (is a job, id, start)
        while todo:
            is_job, sid, t = todo.pop()
            if is_job or sid == kn.NO_JOBS:
                out.extend([sid] if is_job else [])
                continue
            row = self.sets[sid]
            if t <= row[kn.EDD_UNTIL] or t >= row[kn.SPT_FROM]:
                out.extend(self._members(row, by_spt=t > row[kn.EDD_UNTIL]))
                continue
            slot = int(kn.lookup(self.memo.table, sid, t))
            if slot < 0:
                self.value(sid, t, lambda: False, capped=False)
                slot = int(kn.lookup(self.memo.table, sid, t))
            pos = self.positions[int(self.memo.table[slot, kn.INFO] >> kn.SIZE_BITS)]
            todo.append((False, int(pos[kn.RIGHT]), t + int(pos[kn.SPAN])))
            todo.append((True, int(row[kn.K]), 0))
            todo.append((False, int(pos[kn.LEFT]), t))
        return out

    def _members(self, row: IntArray, by_spt: bool) -> list[int]:
        """The set's jobs in EDD order, or in SPT order."""
        first, last, k = int(row[kn.FIRST]), int(row[kn.LAST]), int(row[kn.K])
        jobs = np.arange(first, last + 1)
        jobs = jobs[self.rank[jobs] <= self.rank[k]]
        if by_spt:
            jobs = jobs[np.argsort(self.rank[jobs])]
        return [int(x) for x in jobs]

    def _grow_sets(self, capped: bool) -> bool:
        """Double every (nearly) full set table; False if that would pass the cap."""
        nsets, npos = int(self.counts[kn.NSETS]), int(self.counts[kn.NPOS])
        grow = (nsets + 1 >= self.sets.shape[0], npos + self.n >= self.positions.shape[0],
                2 * (nsets + 1) >= self.registry.shape[0])
        arrays = (self.sets, self.positions, self.registry)
        after = sum(a.nbytes * (2 if g else 1) for a, g in zip(arrays, grow, strict=True))
        if capped and after > self.set_bytes:
            return False
        if grow[0]:
            self.sets = np.concatenate([self.sets, np.zeros_like(self.sets)])
        if grow[1]:
            self.positions = np.concatenate([self.positions, np.zeros_like(self.positions)])
        if grow[2]:
            bigger = np.full((2 * self.registry.shape[0], 2), -1, dtype=np.int64)
            kn.rehash_registry(self.registry, bigger)
            self.registry = bigger
        return True

    def stats(self) -> dict[str, Any]:
        """Counters for ``Result.stats``."""
        nsets = int(self.counts[kn.NSETS])
        set_bytes = self.sets.nbytes + self.positions.nbytes + self.registry.nbytes
        return {"expanded": int(self.ctl[kn.EXPANDED]), "memo_entries": self.memo.used,
                "memo_mb": round(self.memo.nbytes / 2**20, 1), "job_sets": nsets,
                "searched_sets": int((self.sets[:nsets, kn.POS_START] >= 0).sum()),
                "positions": int(self.counts[kn.NPOS]), "sets_mb": round(set_bytes / 2**20, 1),
                "slices": self.slices, "stopped": self.stopped}


def solve_edd(p: IntArray, d: IntArray, memo_bytes: int, set_bytes: int, prune: bool,
              stop: Callable[[], bool]) -> Outcome:
    """Solve the jobs ``p, d`` (EDD order, see :class:`Search`).

    ``stop`` is asked between slices of work; True abandons the search.
    """
    search = Search(p, d, memo_bytes, set_bytes, prune)
    value = search.value(search.root, 0, stop)
    if value is None:
        return Outcome(None, None, search.stats())
    return Outcome(value, search.sequence(search.root, 0), search.stats())
