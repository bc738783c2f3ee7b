"""memalloc-lns: never worse than the greedy start, valid, and at the bound when reachable."""

from __future__ import annotations

from optsched import SolveParams, Status, solve
from optsched.deadline import Deadline
from optsched.problems.memalloc import portfolio
from optsched.problems.memalloc.bounds import lower_bound
from optsched.problems.memalloc.generate import generate, trace
from optsched.problems.memalloc.greedy.allocators import peak
from optsched.problems.memalloc.solvers import MAX_EXACT_BUFFERS, choose


def test_reaches_the_packed_optimum() -> None:
    """60 guillotine pieces of a 64-step x 512-byte rectangle: the optimum is the live peak
    512; a band window of 8 buffers doubles until the exact search closes the gap.
    """
    (instance,) = generate(buffers=60, steps=64, capacity=512, seed=7)
    result = solve(instance, "memalloc-lns", SolveParams(time_limit=30, workers=1,
                                                         options={"window": 8}))
    assert result.verified and result.status is Status.OPTIMAL
    assert result.objective == 512 == result.bound


def test_never_worse_than_best_of_k() -> None:
    """On a trace with weights, the result is valid and at most best-of-k's peak."""
    (instance,) = trace(buffers=400, seed=3)
    offsets, _, _ = portfolio.best(instance, Deadline(None))
    result = solve(instance, "memalloc-lns", SolveParams(time_limit=10, workers=1))
    assert result.verified and result.objective is not None and result.bound is not None
    assert lower_bound(instance) == result.bound <= result.objective <= peak(instance, offsets)


def test_auto_picks_it_for_large_instances() -> None:
    """Above MAX_EXACT_BUFFERS buffers auto takes the window search, below the exact one."""
    (small,) = trace(buffers=50)
    (large,) = trace(buffers=MAX_EXACT_BUFFERS + 1)
    assert choose(small, SolveParams())[0] == "memalloc-bb"
    assert choose(large, SolveParams())[0] == "memalloc-lns"
