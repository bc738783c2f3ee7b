"""The dominance precedences keep an optimum, and hints can be made to respect them."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from optsched import SmttInstance
from optsched.problems.smtt.dominance import (
    completion_windows,
    dominance_matrix,
    precedences,
    respect,
    tighten_windows,
)
from optsched.problems.smtt.heuristics.rules import cost

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


def test_windows_hand_example() -> None:
    """p=(1,2), d=(0,3), w=(1,5): neither job dominates, yet job 0 must come first.

    T = 3. Job 0 can end no later than L_0 = T = 3, and job 1 is due at 3:
    put after job 0 it is on time wherever job 0 ends, so the swap rule puts
    0 before 1 (0, 1 costs 1*1 + 0 = 1; 1, 0 costs 0 + 1*3 = 3). Hence
    E = (1, 1 + 2) = (1, 3) and L = (3 - 2, 3) = (1, 3).
    """
    p, d, w = (np.array(x, dtype=np.int64) for x in ((1, 2), (0, 3), (1, 5)))
    earliest, latest, before = completion_windows(p, d, w)
    assert earliest.tolist() == [1, 3] and latest.tolist() == [1, 3]
    assert before.tolist() == [[False, True], [False, False]]


@settings(max_examples=300, deadline=None)
@given(instances(max_n=6, weighted=True), st.booleans())
def test_lexicographically_first_optimum_fits_the_windows(instance: SmttInstance,
                                                          relabel: bool) -> None:
    """The smallest optimal sequence (by job index) obeys every window and precedence.

    ``itertools.permutations`` yields sequences in lexicographic order, so the
    first one of minimum cost is that sequence. Relabelling by ``(p, -w, d)``,
    as smtt-ssdp does, makes more pairs qualify.
    """
    p, d, w = (np.asarray(a, dtype=np.int64) for a in instance.arrays)
    if relabel:
        order = np.lexsort((np.arange(instance.n), d, -w, p))
        p, d, w = p[order], d[order], w[order]
    best: tuple[int, tuple[int, ...]] | None = None
    for seq in itertools.permutations(range(instance.n)):
        c = np.cumsum(p[list(seq)])
        value = int((w[list(seq)] * np.maximum(0, c - d[list(seq)])).sum())
        best = (value, seq) if best is None or value < best[0] else best
    assert best is not None
    first = list(best[1])
    end = np.empty(instance.n, dtype=np.int64)
    end[first] = np.cumsum(p[first])
    earliest, latest, before = completion_windows(p, d, w)
    assert ((earliest <= end) & (end <= latest)).all()
    position = np.argsort(first)
    for i, j in zip(*np.nonzero(before), strict=True):
        assert position[i] < position[j]


def test_narrower_windows_give_more_precedences() -> None:
    """p=(1,2), d=(0,2), w=(1,2): a pair only once job 0 is known to end at 1.

    T = 3. The orders 0, 1 (1*1 + 2*1 = 3) and 1, 0 (0 + 1*3 = 3) tie, so
    the lexicographically first optimum is 0, 1, ending job 0 at 1. From
    scratch no rule applies: w_0 < w_1, and job 1 is due at 2 < L_0 = 3.
    Given L_0 = 1, job 1 is on time after job 0 wherever it ends, so 0 comes
    first, and job 1 ends no sooner than 1 + 2 = 3.
    """
    p, d, w = (np.array(x, dtype=np.int64) for x in ((1, 2), (0, 2), (1, 2)))
    assert not completion_windows(p, d, w)[2].any()
    earliest, latest, before = tighten_windows(p, d, w, np.array([1, 2]), np.array([1, 3]),
                                               np.zeros((2, 2), dtype=np.bool_))
    assert before.tolist() == [[False, True], [False, False]]
    assert earliest.tolist() == [1, 3] and latest.tolist() == [1, 3]


@settings(max_examples=300, deadline=None)
@given(instances(max_n=6, weighted=True))
def test_exact_windows_give_precedences_the_first_optimum_obeys(instance: SmttInstance) -> None:
    """Given the first optimum's own completion times as windows, every pair inferred holds.

    These are the narrowest valid windows, so the rules fire most often here.
    """
    p, d, w = (np.asarray(a, dtype=np.int64) for a in instance.arrays)
    first = list(brute_force(instance)[1])
    end = np.empty(instance.n, dtype=np.int64)
    end[first] = np.cumsum(p[first])
    earliest, latest, before = tighten_windows(p, d, w, end.copy(), end.copy(),
                                               np.zeros((instance.n,) * 2, dtype=np.bool_))
    assert (earliest == end).all() and (latest == end).all()
    position = np.argsort(first)
    for i, j in zip(*np.nonzero(before), strict=True):
        assert position[i] < position[j]
