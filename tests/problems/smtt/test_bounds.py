"""Lower bounds: hand-computed values, and never above the brute-force optimum."""

from __future__ import annotations

from hypothesis import given, settings

from optsched import SmttInstance
from optsched.problems.smtt import bounds

from .oracle import brute_force, instances

EXAMPLE = SmttInstance((3, 5, 2), (4, 6, 3), (1, 2, 1))


def test_hand_computed_bounds() -> None:
    """p=(3,5,2), d=(4,6,3), w=(1,2,1), optimum 8.

    Own lateness: max(0, 3-4) + 2 max(0, 5-6) + max(0, 2-3) = 0.
    Sorted pairing: SPT completions 2, 5, 10 against due dates 3, 4, 6:
    0 + 1 + 4 = 5, times w_min = 1: 5.
    WSPT (ratios 3, 2.5, 2: order 2, 1, 0, C = 2, 7, 10): sum w C = 2 + 14 + 10 = 26,
    sum w d = 4 + 12 + 3 = 19, bound 7.
    """
    assert bounds.own_lateness_bound(EXAMPLE) == 0
    assert bounds.sorted_pairing_bound(EXAMPLE) == 5
    assert bounds.weighted_completion_bound(EXAMPLE) == 7
    assert bounds.lower_bound(EXAMPLE) == 7


@settings(max_examples=150, deadline=None)
@given(instances())
def test_bounds_never_exceed_the_optimum(instance: SmttInstance) -> None:
    """Every bound is at most the optimum found by enumerating all sequences."""
    optimum, _ = brute_force(instance)
    for bound in (bounds.own_lateness_bound, bounds.sorted_pairing_bound,
                  bounds.weighted_completion_bound, bounds.lower_bound):
        assert 0 <= bound(instance) <= optimum, bound.__name__
