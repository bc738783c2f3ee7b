"""The compilers' allocators: valid on awkward instances, and their orders on hand cases."""

from __future__ import annotations

import numpy as np
import pytest

from optsched.deadline import Deadline
from optsched.problems.memalloc import portfolio
from optsched.problems.memalloc.evaluate import evaluate
from optsched.problems.memalloc.generate import generate, samples, trace
from optsched.problems.memalloc.greedy.allocators import ALLOCATORS, peak
from optsched.problems.memalloc.instance import Buffer, MemallocInstance
from optsched.problems.memalloc.solution import make

from ...deadlines import stopped

CHAIN = MemallocInstance((Buffer("A", 0, 2, 4), Buffer("B", 1, 3, 2), Buffer("C", 2, 4, 4)))
"""A [0,2) 4 bytes, B [1,3) 2 bytes, C [2,4) 4 bytes: A and C never meet."""


@pytest.mark.parametrize("name", sorted(ALLOCATORS))
def test_valid_everywhere(name: str) -> None:
    """Pins, alignment, gaps and traces with weights: every offset set is a valid packing."""
    allocate = ALLOCATORS[name][0]
    for instance in [*samples(), *generate(buffers=30, seed=2, drop=0.2),
                     *trace(buffers=60, seed=4)]:
        ev = evaluate(instance, make(instance, allocate(instance)))
        assert ev.violations == (), (name, instance.name, ev.violations)


def test_naive_has_no_reuse() -> None:
    """Offsets 0, 4, 6 in file order: the peak is the total 10."""
    assert ALLOCATORS["naive"][0](CHAIN).tolist() == [0, 4, 6]


def test_size_order_best_fit() -> None:
    """Greedy by size: A (4) at 0; C (4) meets nothing placed, at 0; B meets both: at 4.

    The peak 6 equals the live peak (A + B at step 1), so it is optimal.
    """
    assert ALLOCATORS["greedy-by-size"][0](CHAIN).tolist() == [0, 4, 0]


def test_first_fit_by_start() -> None:
    """By start: A at 0, B above A at 4, C into the free [0, 4) under B."""
    assert ALLOCATORS["first-fit"][0](CHAIN).tolist() == [0, 4, 0]


def test_tflite_whole_program_first() -> None:
    """W lives over the whole program (2 bytes), so TFLite places it first, at 0,
    although the 6-byte X is larger; X then goes above it: offsets W 0, X 2.
    """
    instance = MemallocInstance((Buffer("X", 1, 2, 6), Buffer("W", 0, 3, 2)))
    assert ALLOCATORS["tflite-arena"][0](instance).tolist() == [2, 0]
    assert ALLOCATORS["greedy-by-size"][0](instance).tolist() == [0, 6]


def test_portfolio_is_the_best_of_its_members() -> None:
    """best-of-k's peak is the least over every candidate it runs."""
    (instance,) = trace(buffers=120, seed=9)
    offsets, name, tried = portfolio.best(instance, Deadline(None))
    members = portfolio.candidates(instance)
    assert tried == len(members)
    assert peak(instance, offsets) == min(peak(instance, how(instance)) for _, how in members)
    assert name in {n for n, _ in members}
    assert np.all(offsets >= 0)


def test_a_cut_short_allocator_stacks_what_it_did_not_reach() -> None:
    """P (4 bytes over [0,2)) is pinned at 8; A [0,2) 3 bytes aligned to 4, B [1,3) 2 bytes.

    Stopped before its first buffer, greedy by size places nothing itself: the pin holds
    (P at 8, top 12) and the others go above it in its order, A (3) then B (2): A at 12
    (a multiple of 4), B at 15. Greedy by breadth stacks in file order: the same here.
    Without a deadline greedy by size puts A at 0 (below the pin) and B at 3, in the
    gap between A and the pin.
    """
    instance = MemallocInstance((Buffer("P", 0, 2, 4, offset=8), Buffer("A", 0, 2, 3, 4),
                                 Buffer("B", 1, 3, 2)))
    for name in ("greedy-by-size", "greedy-by-breadth"):
        cut = ALLOCATORS[name][0](instance, deadline=stopped())
        assert cut.tolist() == [8, 12, 15], name
        assert evaluate(instance, make(instance, cut)).violations == ()
    assert ALLOCATORS["greedy-by-size"][0](instance).tolist() == [8, 0, 3]


@pytest.mark.parametrize("name", sorted(ALLOCATORS))
def test_every_allocator_stopped_at_once_is_valid(name: str) -> None:
    """With its stop requested before it starts, every allocator's offsets still pass the
    checker (pins, alignment, gaps), on the samples and a trace with weights."""
    allocate = ALLOCATORS[name][0]
    for instance in [*samples(), *trace(buffers=60, seed=4)]:
        ev = evaluate(instance, make(instance, allocate(instance, deadline=stopped())))
        assert ev.violations == (), (name, instance.name, ev.violations)
