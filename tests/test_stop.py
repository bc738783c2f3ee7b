"""A solve owns its stop request and its threads: stopping one leaves the others alone."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from optsched import SolveParams, StopRequest, ThreadBudget, solve
from optsched.compiled import jit
from optsched.problems.pods.generate import generate
from optsched.result import Result

HARD = [generate(nodes=32, pods_per_node=8, priorities=pr, load=1.05, count=2, seed=1,
                 failing=True)[1] for pr in (1, 4, 1)]
"""Scenarios of the paper's grid (at 32 nodes, 8 pods per node, load 1.05, seed 1, the
second failing one) that no backend proves within the limits below: ``cpsat`` and
``pods-lns`` at 6 s (one worker, seeds 0 and 1) end one pod above the bound, 9 against
8 with one priority, 10 against 9 with four. (The scenarios with 4 pods per node used
here before are proven since drop-and-pack recombines its nodes.)"""


def _in_thread(results: dict[str, Any], key: str, *args: Any, **kwargs: Any
               ) -> threading.Thread:
    def work() -> None:
        started = time.perf_counter()
        result: Result = solve(*args, **kwargs)
        results[key] = (result, time.perf_counter() - started)

    thread = threading.Thread(target=work)
    thread.start()
    return thread


@pytest.mark.parametrize("solver", ["cpsat", "highs", "cbc", "best-greedy", "pods-lns"])
def test_stopping_one_solve_leaves_the_other(solver: str) -> None:
    """Solve A (limit 60 s) is stopped after 1 s while B (limit 4 s) runs beside it.

    A ends soon after the stop with a verified solution; B is not disturbed and
    runs to its own limit (best-greedy ends on its own, long before); a third
    solve C after both, with no stop of its own, is not stopped either.
    """
    results: dict[str, Any] = {}
    stop = StopRequest()
    a = _in_thread(results, "a", HARD[0], solver, SolveParams(time_limit=60, workers=1),
                   stop=stop)
    b = _in_thread(results, "b", HARD[1], solver, SolveParams(time_limit=4, workers=1))
    time.sleep(1.0)
    stop.set()
    stopped_at = time.perf_counter()
    a.join(timeout=30)
    assert not a.is_alive()
    assert time.perf_counter() - stopped_at < 10
    b.join(timeout=60)
    result_a, _ = results["a"]
    result_b, took_b = results["b"]
    assert result_a.verified and result_b.verified
    if solver != "best-greedy":
        assert took_b > 3.0  # B used its own 4 s: A's stop did not reach it
    result_c = solve(HARD[2], solver, SolveParams(time_limit=2, workers=1))
    assert result_c.verified
    if solver != "best-greedy":
        assert result_c.solve_s + result_c.build_s > 0.5


def test_a_stop_before_the_solve_ends_it_at_once() -> None:
    """A request set before the solve: the exact solver returns at once, the hint stays."""
    stop = StopRequest()
    stop.set()
    started = time.perf_counter()
    result = solve(HARD[0], "cpsat", SolveParams(time_limit=60, workers=1), stop=stop)
    assert time.perf_counter() - started < 10
    assert result.verified and result.objective is not None


def test_thread_budget_shares_the_cores() -> None:
    """A budget of 3 cores: a solve naming no workers leases the 3 free ones; one started
    beside it leases what is left, at least 1; named workers are leased as named."""
    budget = ThreadBudget(3)
    with budget.lease(None) as first:
        assert first == 3 and budget.in_use == 3
        with budget.lease(None) as second, budget.lease(2) as third:
            assert (second, third) == (1, 2) and budget.in_use == 6
    assert budget.in_use == 0
    result = solve(HARD[0], "best-greedy", SolveParams(), threads=budget)
    assert result.stats["workers"] == 3


def test_compiled_kernels_release_the_interpreter_lock() -> None:
    """``jit`` compiles without the GIL, so solves in other threads run meanwhile."""
    def twice(x: int) -> int:
        return 2 * x

    compiled: Any = jit(twice)
    assert compiled(4) == 8 and compiled.compiled.targetoptions["nogil"] is True
