"""``memalloc-bb``: MiniMalloc's exact search, with probes for the smallest peak.

The search (:func:`.kernel.run`) decides one capacity: it finds offsets
whose peak fits or proves that none exist (Moffitt, "MiniMalloc: A
Lightweight Memory Allocator for Hardware-Accelerated Machine Learning",
ASPLOS 2023). Like MiniMalloc it restarts with a doubling node limit,
taking its preorderings in turn; here the runs of one round go to the
solve's worker threads, and the first of the round (in a fixed order) that
succeeds is the answer, so that the outcome does not depend on timing.

For the smallest peak (``mode=min-peak``) each round probes the proven
bound (a fit there is optimal), a capacity between it and the best peak
found, and one byte below that peak (a fit improves it; a proof that
nothing fits raises the bound). The best greedy solution (the hint) is
the first upper bound.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from optsched.compiled import IntArray
from optsched.deadline import Deadline
from optsched.errors import NotSupportedError
from optsched.options import Option, OptionSet
from optsched.params import SolveParams
from optsched.problems.memalloc.bounds import lower_bound
from optsched.problems.memalloc.cliques import piece_pairs, sections
from optsched.problems.memalloc.exact import kernel
from optsched.problems.memalloc.exact.search import DEFAULT_HEURISTICS, LETTERS, Search
from optsched.problems.memalloc.exact.sweep import Sweep, sweep
from optsched.problems.memalloc.greedy.allocators import naive, peak
from optsched.problems.memalloc.instance import MemallocInstance
from optsched.problems.memalloc.solution import MemallocSolution, make
from optsched.result import Result, Status

PROBE_SHARE = 2
"""A round's probes (halfway up, and just below the incumbent) each get this fraction
(1 / PROBE_SHARE) of the node limit."""


MAX_SEARCH_PAIRS = 25_000_000
"""Most pairs of pieces live together that the exact search takes (its overlap lists hold
two 8-byte entries per pair and direction: 800 MB at this limit)."""
def supports(instance: MemallocInstance) -> None:
    """Refuse an instance whose overlap lists would pass :data:`MAX_SEARCH_PAIRS`."""
    a = instance.arrays
    s0, s1, _ = sections(a.piece_t0, a.piece_t1)
    pairs = piece_pairs(s0, s1)
    if pairs > MAX_SEARCH_PAIRS:
        raise NotSupportedError("buffers", f"the exact search takes at most {MAX_SEARCH_PAIRS} "
                                           f"pairs of pieces live together ({pairs} here): use "
                                           "memalloc-lns")


def _check_heuristics(key: str, value: object) -> str | None:
    if key != "heuristics" or not isinstance(value, list):
        return None
    for item in value:
        if not item or any(c not in LETTERS for c in item):
            return (f"{item!r} is not a preordering: letters of {''.join(LETTERS)} (area, "
                    "sections, lower, overlaps, total, upper, width, size)")
    return None if value else "needs at least one preordering"


OPTIONS = OptionSet((
    Option("mode", str, None, "decide: offsets within the capacity; min-peak: the smallest "
                              "peak (within the capacity, if any). Unset: decide when the "
                              "instance has a capacity; without one always min-peak",
           ("decide", "min-peak")),
    Option("heuristics", list, list(DEFAULT_HEURISTICS),
           "preorderings, tried in turn with a doubling node limit: MiniMalloc's letters "
           "(A area, C sections, L lower, O overlaps, T total, U upper, W width, Z size; "
           "each descending)"),
), library_check=_check_heuristics)


@dataclass
class _Task:
    heuristic: str
    capacity: int
    limit: int
    status: int = kernel.ABORTED
    offsets: IntArray | None = None


class _Flags:
    """One stop cell per run, all set when the solve must stop."""

    def __init__(self) -> None:
        self.cells: list[IntArray] = []
        self.stopped = False
        self._lock = threading.Lock()

    def new(self) -> IntArray:
        with self._lock:
            cell = np.full(1, int(self.stopped), np.int64)
            self.cells.append(cell)
        return cell

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            for cell in self.cells:
                cell[0] = 1


def run(instance: MemallocInstance, params: SolveParams, deadline: Deadline) -> Result:
    """Decide the capacity, or find the smallest peak, within the deadline."""
    a = instance.arrays
    bound = lower_bound(instance)
    capacity = instance.capacity
    mode = params.options.get("mode") or ("decide" if capacity is not None else "min-peak")
    stats: dict[str, object] = {"mode": mode}
    if capacity is not None and capacity < bound:
        return Result(status=Status.INFEASIBLE, solver="", bound=bound,
                      stats={**stats, "why": f"the lower bound {bound} is above the capacity"})
    if capacity is None:
        mode = "min-peak"  # nothing to decide
    best: IntArray | None = None
    hint = params.hint
    if isinstance(hint, MemallocSolution):
        best = np.array(hint.in_order(instance), np.int64)
    elif capacity is None:
        best = naive(instance)  # no hint (it ran out of time): no reuse is a start
    if best is not None and capacity is not None and peak(instance, best) > capacity:
        best = None
    complete = not a.windowed  # canonical search is complete without windows
    structure = sweep(a.size, a.alignment, a.pinned, a.lower, a.upper, a.piece_start,
                      a.piece_t0, a.piece_t1, a.piece_w0, a.piece_w1)
    heuristics = tuple(params.options.get("heuristics") or DEFAULT_HEURISTICS)
    runner = _Runner(structure, params.threads, deadline, complete)
    lo = bound
    try:
        if mode == "decide" and best is None:
            assert capacity is not None  # min-peak without one
            found, proven = runner.decide(capacity, heuristics)
            if found is not None:
                best = found
            elif proven and complete:
                return Result(status=Status.INFEASIBLE, solver="", bound=capacity + 1,
                              stats={**stats, **runner.stats()})
        elif mode == "min-peak":
            if best is None and capacity is not None:
                best, proven = runner.decide(capacity, heuristics)
                if best is None and proven and complete:
                    return Result(status=Status.INFEASIBLE, solver="", bound=capacity + 1,
                                  stats={**stats, **runner.stats()})
            if best is not None:
                best, lo = runner.minimise(best, lo, heuristics, complete)
    finally:
        runner.close()
    stats.update(runner.stats())
    if best is None:
        return Result(status=Status.NO_SOLUTION, solver="", bound=lo, stats=stats)
    value = peak(instance, best)
    status = Status.OPTIMAL if value <= lo else Status.FEASIBLE
    return Result(status=status, solver="", solution=make(instance, best), objective=value,
                  bound=min(lo, value), stats=stats)


class _Runner:
    """Rounds of node-limited runs over the worker threads, each with its own search state."""

    def __init__(self, structure: Sweep, workers: int, deadline: Deadline,
                 complete: bool) -> None:
        self.structure = structure
        self.complete = complete
        self.searches = [Search(structure) for _ in range(workers)]
        self.free = list(self.searches)
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(workers) if workers > 1 else None
        self.flags = _Flags()
        self.deadline = deadline
        self.rounds = 0
        self.probes = 0
        left = deadline.remaining()
        self.timer = None if left is None else threading.Timer(left, self.flags.stop)
        if self.timer is not None:
            self.timer.daemon = True
            self.timer.start()
        self.hook = deadline.on_stop(self.flags.stop)
        self.hook.__enter__()

    def close(self) -> None:
        self.flags.stop()
        if self.timer is not None:
            self.timer.cancel()
        self.hook.__exit__(None, None, None)
        if self.pool is not None:
            self.pool.shutdown(wait=True)

    def stats(self) -> dict[str, object]:
        return {"nodes": sum(s.nodes for s in self.searches),
                "backtracks": sum(s.backtracks for s in self.searches),
                "rounds": self.rounds, "runs": self.probes}

    def _one(self, task: _Task, cell: IntArray) -> None:
        with self.lock:
            search = self.free.pop()
        try:
            task.status = search.decide(task.capacity, task.heuristic, task.limit, cell)
            if task.status == kernel.FOUND:
                task.offsets = search.offsets()
        finally:
            with self.lock:
                self.free.append(search)

    def round(self, tasks: Sequence[_Task], floor: int | None = None) -> None:
        """Run ``tasks``; a fit stops the tasks after it that probe no lower capacity.

        A fit whose peak is at ``floor`` (a proven bound) is optimal and stops them all.
        """
        self.rounds += 1
        self.probes += len(tasks)
        cells = [self.flags.new() for _ in tasks]
        size = self.structure.size

        def one(k: int) -> None:
            if cells[k][0]:
                return
            self._one(tasks[k], cells[k])
            offsets = tasks[k].offsets
            if tasks[k].status == kernel.FOUND:
                optimal = (floor is not None and offsets is not None
                           and int((offsets + size).max()) <= floor)
                for j in range(len(tasks)):
                    if optimal or (j > k and tasks[j].capacity >= tasks[k].capacity):
                        cells[j][0] = 1

        if self.pool is None:
            for k in range(len(tasks)):
                one(k)
        else:
            list(self.pool.map(one, range(len(tasks))))

    def decide(self, capacity: int, heuristics: tuple[str, ...]) -> tuple[IntArray | None, bool]:
        """Offsets within ``capacity`` (or None) and whether none exist was proven.

        A fit of any run of a round wins (the first in the round's order); a
        run that ends without one proves infeasibility only when the search is
        complete (no windows).
        """
        limit = 2 * max(self.structure.n, 32)
        while not self.flags.stopped:
            tasks = [_Task(h, capacity, limit) for h in heuristics]
            self.round(tasks)
            for task in tasks:
                if task.status == kernel.FOUND:
                    return task.offsets, False
            if any(task.status == kernel.NOT_FOUND for task in tasks):
                if self.complete:
                    return None, True
                if all(task.status == kernel.NOT_FOUND for task in tasks):
                    return None, False  # with windows no proof, and the same runs would fail
            limit *= 2
        return None, False

    def minimise(self, best: IntArray, lo: int, heuristics: tuple[str, ...], complete: bool
                 ) -> tuple[IntArray, int]:
        """The best offsets found and the proven bound.

        Each round probes ``lo``, a middle and one below the incumbent, with a
        node limit that doubles. The middle is halfway from ``lo`` to the
        incumbent, or from the last middle that no run decided: a capacity
        too hard at this limit is not retried before the ones above it. A
        fit counts only where no earlier run of the round fitted a capacity
        as low (those it stops, so a late finish must not change the answer).
        A round whose runs all ended without gain ends the search (with
        windows a run may fail without a proof; it would fail again).
        """
        size = self.structure.size
        top = int((best + size).max())
        limit = 2 * max(self.structure.n, 32)
        hard = lo  # the last middle probe that no run decided: the next middle is above it
        while lo < top and not self.flags.stopped:
            tasks = [_Task(h, lo, limit) for h in heuristics]
            if hard >= top:  # the incumbent fell below it: halfway from lo again
                hard = lo
            mid = (max(lo, hard) + top - 1) // 2
            for probe in sorted({mid, top - 1} - {lo}):
                tasks += [_Task(h, probe, max(limit // PROBE_SHARE, 1)) for h in heuristics]
            self.round(tasks, lo)
            fits: list[int] = []
            progress, finished = False, True
            for task in tasks:
                if task.status == kernel.FOUND and task.offsets is not None:
                    value = int((task.offsets + size).max())
                    if value > lo and any(c <= task.capacity for c in fits):
                        continue  # stopped by an earlier fit when it ran late: ignored
                    fits.append(task.capacity)
                    if value < top:
                        best, top, progress = task.offsets, value, True
                elif task.status == kernel.NOT_FOUND:
                    if complete and task.capacity >= lo:
                        lo, progress = task.capacity + 1, True
                else:
                    finished = False
            if mid > lo and all(t.status == kernel.ABORTED for t in tasks if t.capacity == mid):
                hard = mid
            if finished and not progress:
                break  # the same runs would end the same way
            limit *= 2
        return best, min(lo, top)


def load() -> None:
    """Load the search's kernels (numba) with runs on the family's samples."""
    from optsched.problems.memalloc.generate import samples

    for instance in samples():  # each decided at its naive peak, then minimised
        start = naive(instance)
        decided = MemallocInstance(instance.buffers, peak(instance, start), "load")
        run(decided, SolveParams(workers=1), Deadline(None))
        run(instance, SolveParams(workers=1, hint=make(instance, start),
                                  options={"mode": "min-peak"}), Deadline(None))
