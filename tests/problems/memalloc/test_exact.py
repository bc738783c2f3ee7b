"""Every exact solver proves the optimum of hand-solved and brute-forced tiny instances."""

from __future__ import annotations

import numpy as np
import pytest

from optsched import SolveParams, Status, solve
from optsched.problems.memalloc.bounds import lower_bound
from optsched.problems.memalloc.generate import generate, samples
from optsched.problems.memalloc.instance import Buffer, Gap, MemallocInstance

from .oracle import brute_force

FAST = SolveParams(time_limit=20, workers=1)
SAMPLES = dict(zip(("readme", "gaps", "aligned", "packed"), samples(), strict=True))


def _tiny(seed: int) -> MemallocInstance:
    """Five or six buffers over 6 steps, sizes 1..5, alignment 1 or 2 (no windows)."""
    rng = np.random.default_rng(seed)
    buffers = []
    for j in range(int(rng.integers(5, 7))):
        lower = int(rng.integers(0, 5))
        upper = int(rng.integers(lower + 1, 7))
        buffers.append(Buffer(f"b{j}", lower, upper, int(rng.integers(1, 6)),
                              int(rng.choice([1, 2]))))
    return MemallocInstance(tuple(buffers), None, f"tiny-{seed}")


@pytest.mark.parametrize("name", ["readme", "gaps", "aligned", "packed"])
def test_samples(solver: str, name: str) -> None:
    """readme: b1, b3, b5 (4 bytes each) live at step 0, so 12 is the bound and fits.
    gaps: a (8) and c (4) at step 0 give 12; b (8) lives in a's gap, at a's offset.
    aligned: p pinned at [0, 5); q (4 bytes, alignment 4) meets it, so q >= 8: 12.
    packed: 8 guillotine pieces of a 6 x 16 rectangle: the live peak 16 is reached.
    """
    expected = {"readme": 12, "gaps": 12, "aligned": 12, "packed": 16}[name]
    result = solve(SAMPLES[name], solver, FAST)
    assert result.status is Status.OPTIMAL, result.stats
    assert result.objective == expected and result.bound == expected
    assert result.verified


@pytest.mark.parametrize("seed", range(6))
def test_brute_force(seed: int) -> None:
    """memalloc-bb's proven optimum equals the best over all placement orders."""
    instance = _tiny(seed)
    result = solve(instance, "memalloc-bb", FAST)
    assert result.status is Status.OPTIMAL
    assert result.objective == brute_force(instance)


def test_decision_below_the_optimum_is_infeasible() -> None:
    """aligned: the bound is 9 (bytes live), the optimum 12; capacity 10 has no packing.

    q (4 bytes, alignment 4) meets p pinned at [0, 5): q's aligned offsets at
    or above 5 start at 8, and below p there is no room, so q ends at 12 > 10.
    """
    instance = MemallocInstance(SAMPLES["aligned"].buffers, 10, "aligned-10")
    assert lower_bound(instance) == 9
    result = solve(instance, "memalloc-bb", FAST)
    assert result.status is Status.INFEASIBLE and result.solution is None
    assert "why" not in result.stats  # proven by the search, not by the bound


def test_capacity_below_the_bound_is_infeasible_at_once() -> None:
    """readme with capacity 11: 12 bytes are live at step 0."""
    instance = MemallocInstance(SAMPLES["readme"].buffers, 11, "readme-11")
    result = solve(instance, "memalloc-bb", SolveParams(time_limit=5))
    assert result.status is Status.INFEASIBLE
    assert result.stats["why"] == "the lower bound 12 is above the capacity"


def test_decide_and_min_peak() -> None:
    """A packed 16 x 30-step rectangle of 12 pieces, capacity 20.

    decide stops at any packing within 20; min-peak (within 20) goes on to
    the live peak 16, which the guillotine packing reaches.
    """
    (packed,) = generate(buffers=12, steps=30, capacity=16, seed=5)
    instance = MemallocInstance(packed.buffers, 20, "packed-20")
    decided = solve(instance, "memalloc-bb", FAST)
    assert decided.status.has_solution and decided.objective is not None
    assert decided.objective <= 20 and decided.stats["mode"] == "decide"
    best = solve(instance, "memalloc-bb", SolveParams(time_limit=20, options={"mode": "min-peak"}))
    assert best.status is Status.OPTIMAL and best.objective == 16


def test_same_answer_with_two_workers() -> None:
    """Rounds take the first success in a fixed order: offsets repeat across runs."""
    (instance,) = generate(buffers=40, steps=50, capacity=256, seed=11, drop=0.1)
    params = SolveParams(time_limit=20, workers=2)
    first = solve(instance, "memalloc-bb", params)
    second = solve(instance, "memalloc-bb", params)
    assert first.status is Status.OPTIMAL
    assert first.solution == second.solution


def test_windows_let_buffers_swap_sides(solver: str) -> None:
    """A (6 bytes, [1,4)) keeps [4, 6) live in its gap 1..2 and [0, 2) in 3..4; B (2 bytes)
    has a gap at 2..3. B fits under A's window at step 1 and above it at step 3: peak 6
    (the live peak). A model with one order per pair of buffers would claim 8.

    No solver may claim an optimum above 6; memalloc-bb's search is not complete
    with windows, so it may stop at 8 but must not call it optimal.
    """
    instance = MemallocInstance((
        Buffer("A", 1, 4, 6, gaps=(Gap(1, 2, (4, 6)), Gap(3, 4, (0, 2)))),
        Buffer("B", 1, 4, 2, gaps=(Gap(2, 3),))), None, "swap")
    result = solve(instance, solver, FAST)
    assert result.verified and result.objective is not None
    if result.status is Status.OPTIMAL:
        assert result.objective == 6
    else:
        assert result.bound == 6
