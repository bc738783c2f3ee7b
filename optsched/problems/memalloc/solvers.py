"""The table of memalloc's own solvers: the compilers' allocators, best-of-k, exact search."""

from __future__ import annotations

from collections.abc import Callable

from optsched.backends.native import found, stopped
from optsched.compiled import LOADING, IntArray
from optsched.deadline import Deadline
from optsched.errors import NotSupportedError
from optsched.family import Kind, NativeRun, NativeSolver
from optsched.params import SolveParams
from optsched.problems.memalloc import lns, portfolio, race
from optsched.problems.memalloc.bounds import lower_bound
from optsched.problems.memalloc.exact import solver as exact
from optsched.problems.memalloc.greedy.allocators import ALLOCATORS, peak
from optsched.problems.memalloc.instance import MemallocInstance
from optsched.problems.memalloc.solution import make
from optsched.result import Result, Status

STOPPED = "the buffers it had not reached go above the others, one after another"
"""What an allocator cut short by its deadline did with the rest (``native.stopped``)."""
MAX_EXACT_BUFFERS = 4000
"""Most buffers ``auto`` gives the exact search; larger instances go to the LNS (the
search's structure grows with the overlapping pairs, tens of millions on such traces)."""


def answer(instance: MemallocInstance, offsets: IntArray, **stats: object) -> Result:
    """A heuristic's result: its offsets, or no solution when they overflow the capacity.

    A capacity below the lower bound is proven infeasible by the bound itself.
    """
    value = peak(instance, offsets)
    capacity = instance.capacity
    if capacity is not None and value > capacity:
        bound = lower_bound(instance)
        if capacity < bound:
            return Result(status=Status.INFEASIBLE, solver="", bound=bound,
                          stats={**stats, "why": f"the lower bound {bound} is above the "
                                                 "capacity"})
        return Result(status=Status.NO_SOLUTION, solver="", bound=bound,
                      stats={**stats, "peak": value, "why": "the peak is above the capacity"})
    return found(make(instance, offsets), value, **stats)


def _gated(kernels: str, load: Callable[[], None], run: NativeRun[MemallocInstance]
           ) -> NativeRun[MemallocInstance]:
    """``run`` once ``kernels`` are loaded; no solution (and the bound) while they load."""
    def gated(instance: MemallocInstance, params: SolveParams, deadline: Deadline) -> Result:
        if LOADING.ready(kernels, load, deadline):
            return run(instance, params, deadline)
        return Result(status=Status.NO_SOLUTION, solver="", bound=lower_bound(instance),
                      stats={"kernels": "still loading when the limit came"})

    return gated


def _greedy(run: NativeRun[MemallocInstance]) -> NativeRun[MemallocInstance]:
    return _gated("memalloc-greedy", portfolio.load, run)


def _search(run: NativeRun[MemallocInstance]) -> NativeRun[MemallocInstance]:
    return _gated("memalloc-bb", exact.load, run)


def _allocator(name: str) -> NativeRun[MemallocInstance]:
    allocate = ALLOCATORS[name][0]

    def run(instance: MemallocInstance, params: SolveParams, deadline: Deadline) -> Result:
        offsets = allocate(instance, deadline=deadline)
        return answer(instance, offsets, **stopped(deadline, STOPPED))

    return _greedy(run)


def _best_of_k(instance: MemallocInstance, params: SolveParams, deadline: Deadline) -> Result:
    offsets, name, tried = portfolio.best(instance, deadline)
    return answer(instance, offsets, order=name, tried=tried)


def table() -> dict[str, NativeSolver[MemallocInstance]]:
    """Name -> solver, for the family's entry."""
    out = {name: NativeSolver(_allocator(name), Kind.HEURISTIC, summary)
           for name, (_, summary) in ALLOCATORS.items()}
    out["best-of-k"] = NativeSolver(_greedy(_best_of_k), Kind.HEURISTIC,
                                    "the best of the allocators above and best fit in five "
                                    "orders (size, duration, area, start, conflicts)")
    out["memalloc-bb"] = NativeSolver(_search(exact.run), Kind.EXACT,
                                      "MiniMalloc's canonical search (Moffitt 2023): decide "
                                      "the capacity or probe for the smallest peak",
                                      exact.OPTIONS, exact.supports)
    out["memalloc-race"] = NativeSolver(_search(race.run), Kind.EXACT,
                                        "memalloc-bb and CP-SAT side by side on the workers "
                                        "(CP-SAT on one); the first proof ends both",
                                        exact.OPTIONS, exact.supports)
    out["memalloc-lns"] = NativeSolver(_greedy(lns.run), Kind.HEURISTIC,
                                       "greedy, then the exact search on the band under "
                                       "the peak (for large traces)", lns.OPTIONS)
    return out


def choose(instance: MemallocInstance, params: SolveParams) -> tuple[str, str]:
    """memalloc-lns above 4000 buffers, memalloc-race to decide a capacity, else memalloc-bb.

    The line above is what ``optsched families`` shows; the limit is
    :data:`MAX_EXACT_BUFFERS`.
    """
    if instance.n > MAX_EXACT_BUFFERS:
        return "memalloc-lns", (f"{instance.n} buffers: greedy, then the exact search on "
                                "the band under the peak")
    try:
        exact.supports(instance)
    except NotSupportedError:
        return "memalloc-lns", "too many pieces live together for the exact search"
    if instance.capacity is not None and params.options.get("mode") in (None, "decide"):
        return "memalloc-race", ("a capacity to decide: the exact search and CP-SAT side by "
                                 "side")
    return "memalloc-bb", "the exact search starts from the best greedy solution"


def warm() -> None:
    """Load the greedy and exact kernels (for the benchmark's fork server)."""
    portfolio.load()
    exact.load()
