"""Dynasearch: the best set of independent moves, reported costs, optima, deadlines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optsched import SmttInstance, SolveParams, solve
from optsched.deadline import Deadline, StopRequest
from optsched.errors import InputError
from optsched.problems.smtt.formats import read_orlib
from optsched.problems.smtt.generate import generate
from optsched.problems.smtt.heuristics import dynasearch as ds
from optsched.problems.smtt.heuristics.rules import cost
from optsched.problems.smtt.solvers import DYNASEARCH_KICKS

from .oracle import brute_force, instances


def _pass(instance: SmttInstance, sequence: list[int]) -> tuple[int, list[int]]:
    """One dynasearch move: (cost change, new sequence)."""
    seq = np.array(sequence, dtype=np.int64)
    work = np.zeros((ds.ROWS, instance.n + 1), dtype=np.int64)
    p, d, w = instance.arrays
    return ds.dyna_pass(seq, p, d, w, work, False), seq.tolist()


def _segment_moves(segment: list[int]) -> Iterator[list[int]]:
    """A segment of two or more jobs after a swap, EBSR or EFSR of its two ends."""
    a, *mid, b = segment
    yield [b, *mid, a]  # swap
    yield [b, a, *mid]  # EBSR: the last job moves to the front
    yield [*mid, b, a]  # EFSR: the first job moves to the back


def _neighbours(seq: list[int]) -> Iterator[list[int]]:
    """Every sequence one dynasearch move away: moves on non-overlapping segments."""
    if not seq:
        yield []
        return
    for tail in _neighbours(seq[1:]):
        yield [seq[0], *tail]
    for end in range(2, len(seq) + 1):
        for head in _segment_moves(seq[:end]):
            for tail in _neighbours(seq[end:]):
                yield head + tail


def test_hand_example_two_independent_swaps() -> None:
    """p=(4,2,6,3), d=(5,6,8,4), unweighted, from 1,3,2,0.

    Start: C = 2,5,11,15, T = 0 + 1 + 3 + 10 = 14. Swapping the first two jobs
    (3,1: C = 3,5, T = 0 + 0) gains 1; swapping the last two (0,2: C = 9,15,
    T = 4 + 7 = 11 instead of 3 + 10 = 13) gains 2. The segments do not
    overlap, so one dynasearch move makes both: 3,1,0,2 with C = 3,5,9,15 and
    T = 0 + 0 + 4 + 7 = 11, which the brute-force oracle confirms is optimal;
    the next pass finds nothing.
    """
    inst = SmttInstance((4, 2, 6, 3), (5, 6, 8, 4))
    assert _pass(inst, [1, 3, 2, 0]) == (-3, [3, 1, 0, 2])
    assert _pass(inst, [3, 1, 0, 2]) == (0, [3, 1, 0, 2])
    assert brute_force(inst) == (11, (3, 1, 0, 2))
    assert ds.iterated_dynasearch(inst, [1, 3, 2, 0], kicks=0)[:2] == ([3, 1, 0, 2], 11)


@settings(max_examples=120, deadline=None)
@given(instances(max_n=6), st.randoms(use_true_random=False))
def test_pass_finds_the_best_set_of_independent_moves(instance: SmttInstance,
                                                      rnd: object) -> None:
    """The change of one pass is the best over all neighbours, enumerated from scratch."""
    seq = list(range(instance.n))
    rnd.shuffle(seq)  # type: ignore[attr-defined]
    best = min(cost(instance, nb) for nb in _neighbours(seq))
    delta, moved = _pass(instance, seq)
    assert sorted(moved) == list(range(instance.n))
    assert cost(instance, moved) == cost(instance, seq) + delta == min(best, cost(instance, seq))


@settings(max_examples=120, deadline=None)
@given(instances(max_n=7), st.randoms(use_true_random=False), st.integers(0, 3))
def test_reported_cost_is_true_and_never_below_optimum(instance: SmttInstance, rnd: object,
                                                       seed: int) -> None:
    """Descent and iterated search return permutations priced right, between optimum and start."""
    seq = list(range(instance.n))
    rnd.shuffle(seq)  # type: ignore[attr-defined]
    optimum = brute_force(instance)[0]
    local, local_cost, _ = ds.iterated_dynasearch(instance, seq, kicks=0)
    found, value, counts = ds.iterated_dynasearch(instance, seq, kicks=30, seed=seed)
    assert sorted(found) == sorted(local) == list(range(instance.n))
    assert optimum <= value == cost(instance, found) <= local_cost == cost(instance, local)
    assert local_cost <= cost(instance, seq)
    assert counts["kicks"] >= 0 and counts["passes"] >= 1


@settings(max_examples=60, deadline=None)
@given(instances(max_n=7))
def test_descent_ends_in_a_local_optimum(instance: SmttInstance) -> None:
    """No single swap or insertion improves the result of a plain descent."""
    found, value, _ = ds.iterated_dynasearch(instance, list(range(instance.n)), kicks=0)
    for a in range(instance.n):
        for b in range(instance.n):
            swapped = list(found)
            swapped[a], swapped[b] = swapped[b], swapped[a]
            rest = found[:a] + found[a + 1:]
            moved = [*rest[:b], found[a], *rest[b:]]
            assert cost(instance, swapped) >= value and cost(instance, moved) >= value


def test_huge_numbers_stay_exact() -> None:
    """Processing times near 2^44 and weights of 2^20: bounds saturate, prices stay exact.

    ``max p * sum w`` is about 2^65, so the pruning bounds' products of a shift
    and a sum of weights could overflow 64 bits and saturate instead; the
    optimum (brute force) is still found and priced right.
    """
    big = 1 << 44
    p = (big, big + 1, 3, 5, 7)
    total = sum(p)
    inst = SmttInstance(p, (0, 0, total - 2, total - 3, total - 9), (1, 1, 1 << 20, 1 << 20, 2))
    found, value, _ = ds.iterated_dynasearch(inst, [2, 3, 4, 0, 1], kicks=50)
    assert value == cost(inst, found) == brute_force(inst)[0]
    assert ds._times(big, 1 << 21, True) == ds.HUGE and ds._times(big, 3, True) == 3 * big


def test_same_seed_same_run() -> None:
    """Without a deadline a run depends only on its seed."""
    inst = generate(n=40, tf=0.8, rdd=0.4, weighted=True, seed=5)[0]
    start = list(range(inst.n))
    runs = [ds.iterated_dynasearch(inst, start, kicks=25, seed=7) for _ in range(2)]
    assert runs[0] == runs[1]


def test_expired_deadline_and_stop_request_return_at_once() -> None:
    """A deadline already passed, or a stop request, ends the search after one slice.

    The first slice is a single dynasearch pass, so no kick is made and the
    result is the start sequence improved by one pass.
    """
    inst = generate(n=200, tf=0.6, rdd=0.6, seed=2)[0]
    start = list(range(inst.n))
    found, value, counts = ds.iterated_dynasearch(inst, start, Deadline(0.0), kicks=10**6)
    assert counts == {"kicks": 0, "passes": 1}
    assert value == cost(inst, found) < cost(inst, start)
    stop = StopRequest()
    stop.set()
    assert ds.iterated_dynasearch(inst, start, Deadline(None, stop), kicks=10**6)[2] == counts


def test_solver_through_solve() -> None:
    """Registered as ``dynasearch``: verified, seeded by the best rule, option ``kicks``."""
    inst = generate(n=25, tf=0.6, rdd=0.4, weighted=True, seed=4)[0]
    result = solve(inst, "dynasearch", SolveParams(time_limit=5, workers=1, seed=1,
                                                   options={"kicks": 20}))
    assert result.verified and result.objective is not None
    assert result.objective <= result.stats["start_objective"]
    assert {"start", "kicks", "passes"} <= set(result.stats)
    with pytest.raises(InputError, match="options.swaps"):
        solve(inst, "dynasearch", SolveParams(workers=1, options={"swaps": 3}))
    assert DYNASEARCH_KICKS == ds.KICKS


@pytest.mark.data
def test_wt40_optima(data_dir: Path) -> None:
    """Instances 1, 32, 63, 94, 125 of wt40 (weighted; TF = RDD = 0.2 .. 1.0): the optimum."""
    instances = read_orlib(data_dir / "smtt" / "orlib" / "wt40.txt")[::31]
    for inst in instances:
        result = solve(inst, "dynasearch", SolveParams(workers=1))
        assert inst.reference is not None and result.objective == inst.reference.value
