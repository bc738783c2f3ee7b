"""Local search: incremental costs agree with recomputation; results are local optima."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from optsched import SmttInstance
from optsched.problems.smtt.heuristics import local_search as ls
from optsched.problems.smtt.heuristics.rules import cost

from .oracle import brute_force, instances


def test_adjacent_interchange_hand_example() -> None:
    """p=(3,5,2), d=(4,6,3), w=(1,2,1), starting from 0,1,2 (cost 0 + 2*2 + 7 = 11).

    Pass 1: swapping 0,1 gives 1,0,2 (cost 11, no gain); swapping 1,2 gives 0,2,1
    (C = 3,5,10: 0 + 2 + 2*4 = 10, taken). Pass 2: 0,2 -> 2,0,1 (C = 2,5,10:
    0 + 1 + 8 = 9), then 0,1 -> 2,1,0 (C = 2,7,10: 0 + 2 + 6 = 8). Pass 3 finds
    nothing better, and 8 is the optimum.
    """
    inst = SmttInstance((3, 5, 2), (4, 6, 3), (1, 2, 1))
    seq, value = ls.adjacent_interchange(inst, [0, 1, 2])
    assert (seq, value) == ([2, 1, 0], 8)


@settings(max_examples=150, deadline=None)
@given(instances(max_n=9), st.randoms(use_true_random=False))
def test_reported_costs_are_true_costs(instance: SmttInstance, rnd: object) -> None:
    """Each search returns a permutation whose recomputed cost is the one it reports."""
    seq = list(range(instance.n))
    rnd.shuffle(seq)  # type: ignore[attr-defined]
    start = cost(instance, seq)
    for search in (ls.adjacent_interchange, ls.insertion, ls.vnd):
        found, value = search(instance, seq)
        assert sorted(found) == list(range(instance.n))
        assert value == cost(instance, found) <= start


@settings(max_examples=80, deadline=None)
@given(instances(max_n=7))
def test_insertion_result_has_no_improving_move(instance: SmttInstance) -> None:
    """No single job can be moved anywhere to lower the cost of insertion's result."""
    found, value = ls.insertion(instance, list(range(instance.n)))
    for a in range(instance.n):
        rest = found[:a] + found[a + 1:]
        for b in range(instance.n):
            assert cost(instance, [*rest[:b], found[a], *rest[b:]]) >= value


@settings(max_examples=60, deadline=None)
@given(instances(max_n=7))
def test_ils_is_no_worse_than_vnd_and_not_below_optimum(instance: SmttInstance) -> None:
    """ILS starts from VND's result and keeps the best: VND >= ILS >= optimum."""
    start = list(range(instance.n))
    _, vnd_cost = ls.vnd(instance, start)
    seq, ils_cost = ls.iterated_local_search(instance, start, iterations=20, seed=1)
    assert brute_force(instance)[0] <= ils_cost == cost(instance, seq) <= vnd_cost
