"""The dominance precedences keep an optimum, and hints can be made to respect them."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from optsched import SmttInstance
from optsched.problems.smtt.dominance import dominance_matrix, precedences, respect
from optsched.problems.smtt.heuristics import cost

from .oracle import brute_force, instances


def test_hand_example() -> None:
    """Job 0 (p=2, d=3, w=2) dominates job 1 (p=3, d=5, w=1); job 2 (p=1, d=9) is incomparable.

    Identical jobs 3 and 4 are ordered by index.
    """
    inst = SmttInstance((2, 3, 1, 4, 4), (3, 5, 9, 7, 7), (2, 1, 1, 1, 1))
    pairs = set(precedences(inst))
    assert (0, 1) in pairs and (1, 0) not in pairs
    assert (3, 4) in pairs and (4, 3) not in pairs
    assert (0, 2) not in pairs and (2, 0) not in pairs


@settings(max_examples=120, deadline=None)
@given(instances(max_n=6))
def test_some_optimum_obeys_every_precedence(instance: SmttInstance) -> None:
    """The best sequence among those obeying all pairs equals the unrestricted optimum."""
    optimum, _ = brute_force(instance)
    pairs = precedences(instance)
    best = min(cost(instance, seq) for seq in itertools.permutations(range(instance.n))
               if all(seq.index(i) < seq.index(j) for i, j in pairs))
    assert best == optimum


@settings(max_examples=150, deadline=None)
@given(instances(max_n=8), st.randoms(use_true_random=False))
def test_respect_obeys_pairs_and_never_costs_more(instance: SmttInstance, rnd: object) -> None:
    """respect() of a random sequence obeys every pair, is a permutation, costs no more."""
    seq = list(range(instance.n))
    rnd.shuffle(seq)  # type: ignore[attr-defined]
    fixed = respect(instance, seq)
    assert sorted(fixed) == list(range(instance.n))
    dom = dominance_matrix(instance)
    position = {j: k for k, j in enumerate(fixed)}
    for i, j in itertools.combinations(range(instance.n), 2):
        if dom[i, j]:
            assert position[i] < position[j]
        if dom[j, i]:
            assert position[j] < position[i]
    assert cost(instance, fixed) <= cost(instance, seq)
