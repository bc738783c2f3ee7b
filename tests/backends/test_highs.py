"""The HiGHS backend: options from HiGHS' own table, its range checks, its thread pool."""

from __future__ import annotations

import pytest

from optsched import InputError, SmttInstance, SolveParams, Status, solve
from optsched.backends import highs
from optsched.problems.memalloc.generate import generate

EXAMPLE = SmttInstance((3, 5, 2), (4, 6, 3), (1, 2, 1), name="example")
"""Optimum 8 (order 2, 1, 0)."""


def test_options_come_from_highs() -> None:
    """Names, types and defaults of HiGHS; reserved and file options are not offered."""
    declared = highs.options()
    gap = declared.get("mip_rel_gap")
    assert gap is not None and gap.type is float and gap.default == pytest.approx(1e-4)
    assert declared.get("solution_file") is None and declared.get("write_model_file") is None
    assert declared.get("threads") is None and "threads" in declared.reserved


@pytest.mark.parametrize(("options", "words"), [
    ({"mip_heuristic_effort": 2.0}, "HiGHS rejects"),
    ({"threads": 2}, "--workers"),
    ({"presolve": 1}, "must be a string"),
    ({"mip_rel_gpa": 0.1}, "closest: mip_rel_gap"),
])
def test_bad_options_are_refused_by_name(options: dict[str, object], words: str) -> None:
    key = next(iter(options))
    with pytest.raises(InputError, match=words) as caught:
        solve(EXAMPLE, "highs", SolveParams(options=options))
    assert caught.value.field == f"options.{key}"


def test_good_options_reach_highs() -> None:
    """A shorter time_limit option and presolve off: the optimum 8 is still proven."""
    params = SolveParams(time_limit=30, workers=1,
                         options={"presolve": "off", "time_limit": 20.0})
    result = solve(EXAMPLE, "highs", params)
    assert result.objective == 8 and result.status.value == "optimal"


def test_a_solve_beside_another_joins_its_thread_pool() -> None:
    """HiGHS' pool is per process: resized only while no HiGHS solve runs."""
    pool = highs._Scheduler()
    with pool.use(1) as first, pool.use(2) as second:
        assert (first, second) == (1, 1)
    with pool.use(2) as alone:
        assert alone == 2


def test_an_interrupt_without_incumbent_is_no_solution() -> None:
    """PuLP reads HiGHS stopped at our deadline as a feasible incumbent even when HiGHS has
    none (its column values are then zeros); the backend must say no solution instead.

    120 guillotine pieces of a 65536-byte arena at capacity 65536: HiGHS finds no packing
    in a second (its LP bound is weak), so the zeros would overlap everywhere.
    """
    (instance,) = generate(buffers=120, steps=200, capacity=65536, decision=True, seed=2)
    result = solve(instance, "highs", SolveParams(time_limit=1, workers=1))
    assert result.status in (Status.NO_SOLUTION, Status.FEASIBLE, Status.OPTIMAL)
    assert result.solution is None or result.verified
