"""Constructive rules: hand-traced sequences and properties against the oracle."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings

from optsched import SmttInstance
from optsched.problems.smtt.heuristics import rules as h
from optsched.problems.smtt.heuristics.rules import RULES

from ...deadlines import Looks
from .oracle import brute_force, instances

A = SmttInstance((4, 2, 6, 3), (5, 6, 8, 4))
"""p = (4, 2, 6, 3), d = (5, 6, 8, 4); the optimum is 11 (e.g. 3,1,0,2)."""

B = SmttInstance((3, 5, 2), (4, 6, 3), (1, 2, 1))


@pytest.mark.parametrize(("rule", "expected", "value"), [
    (h.edd, [3, 0, 1, 2], 12),
    (h.spt, [1, 3, 0, 2], 12),
    (h.mdd, [3, 1, 0, 2], 11),
    (h.eddc, [3, 1, 0, 2], 11),
    (h.psk, [3, 0, 1, 2], 12),
    (h.wilkerson_irwin, [3, 1, 0, 2], 11),
    (h.mddc, [3, 1, 0, 2], 11),
])
def test_rules_on_hand_traced_instance(rule: Callable[[SmttInstance], list[int]],
                                       expected: list[int], value: int) -> None:
    """Instance A, p = (4, 2, 6, 3), d = (5, 6, 8, 4).

    EDD 3,0,1,2: C = 3,7,9,15, T = 0+2+3+7 = 12. SPT 1,3,0,2: C = 2,5,9,15,
    T = 0+1+4+7 = 12. MDD: t=0 max(p,d) = 5,6,8,4 -> 3; t=3: 7,6,9 -> 1; t=5:
    9,11 -> 0; then 2: C = 3,5,9,15, T = 0+0+4+7 = 11.
    EDDC from SPT 1,3,0,2: job 3 (d 4) passes job 1 (d 6, finishes 2+3 = 5 <= 6):
    3,1,0,2; job 0 cannot pass job 1 (5+4 = 9 > 6); job 2 is due last: 11.
    PSK from SPT 1,3,0,2 at t=0: active 1 is early, job 3 has d 4 < 6 and becomes
    active (early), so 3 is scheduled; t=3: active 1 early, job 0 (d 5 < 6)
    becomes active and is tardy (3+4 > 5), scheduled; t=7: 1 is tardy; then 2:
    3,0,1,2 = 12.
    WI from EDD 3,0,1,2: 0 after 3 (0 + max(3,4) <= max(4,5), EDD keeps 3 first);
    1 after 0 at s=3: 3 + max(4,2) = 7 > max(5,6), so the shorter 1 goes first;
    against 3 at s=0: 0 + 3 <= 6, EDD keeps 3 first; 2 after 0 at s=5:
    11 > 8 and p 6 > 4, stays: 3,1,0,2 = 11.
    MDDC at t=0 (max p 6, mean p 3.75): j3 has r = 0.5, 4 * 1.2 + 3/3.75 = 5.6,
    the smallest (j1 7.13, j0 7.61, j2 13.6); t=3: j1 6 * 1.047 + 2/7 = 6.57 <
    j0 9.19; t=5: j0 10.9 < j2 14.9: 3,1,0,2 = 11.
    """
    seq = rule(A)
    assert (seq, h.cost(A, seq)) == (expected, value)
    assert brute_force(A)[0] == 11


def test_weighted_rules_on_hand_traced_instance() -> None:
    """Instance B, p = (3,5,2), d = (4,6,3), w = (1,2,1).

    WSPT: p/w = 3, 2.5, 2 -> 2,1,0: C = 2,7,10, wT = 0 + 2*1 + 6 = 8.
    WMDD: t=0, max(p, d-t)/w = 4, 3, 3 -> tie, lowest index 1; t=5: 3, 2 -> 2;
    then 0: C = 5,7,10, wT = 0 + 4 + 6 = 10.
    """
    assert (h.wspt(B), h.cost(B, h.wspt(B))) == ([2, 1, 0], 8)
    assert (h.wmdd(B), h.cost(B, h.wmdd(B))) == ([1, 2, 0], 10)


@settings(max_examples=150, deadline=None)
@given(instances(max_n=7))
def test_every_rule_gives_a_permutation_no_better_than_optimum(instance: SmttInstance) -> None:
    optimum = brute_force(instance)[0]
    for rule, _ in RULES.values():
        seq = rule(instance)
        assert sorted(seq) == list(range(instance.n))
        assert h.cost(instance, seq) >= optimum


@settings(max_examples=150, deadline=None)
@given(instances(max_n=8, weighted=False))
def test_eddc_never_worsens_its_spt_start(instance: SmttInstance) -> None:
    assert h.cost(instance, h.eddc(instance)) <= h.cost(instance, h.spt(instance))


@settings(max_examples=100, deadline=None)
@given(instances(max_n=7, weighted=False))
def test_spt_psk_and_wi_are_optimal_on_agreeable_instances(instance: SmttInstance) -> None:
    """When SPT and EDD agree (p_i < p_j implies d_i <= d_j), SPT is optimal."""
    p, d = instance.processing_times, instance.due_dates
    agreeable = SmttInstance(tuple(sorted(p)), tuple(sorted(d)))
    optimum = brute_force(agreeable)[0]
    for rule in (h.spt, h.psk, h.wilkerson_irwin, h.edd):
        assert h.cost(agreeable, rule(agreeable)) == optimum


def test_mdd_cut_short_by_hand() -> None:
    """A at t = 0: MDD's priorities max(t + p_j, d_j) are 5, 6, 8, 4, so job 3 goes first.
    The deadline passes at the second look: jobs 0, 1, 2 follow in EDD order (d 5, 6, 8).
    Completions 3, 7, 9, 15 against d 4, 5, 6, 8: tardiness 0 + 2 + 3 + 7 = 12 (the full
    rule reaches the optimum 11)."""
    cut = h.mdd(A, deadline=Looks(1))
    assert cut == [3, 0, 1, 2] and h.cost(A, cut) == 12


@pytest.mark.parametrize("name", sorted(RULES))
@settings(max_examples=20, deadline=None)
@given(instance=instances())
def test_every_rule_cut_short_gives_a_permutation(name: str, instance: SmttInstance) -> None:
    """Stopped before it starts or after a few looks, each rule still orders every job."""
    rule = RULES[name][0]
    for looks in (0, 2, 5):
        assert sorted(rule(instance, deadline=Looks(looks))) == list(range(instance.n))


@pytest.mark.parametrize("name", [*sorted(RULES), "best-rule"])
def test_rule_solvers_through_solve(name: str) -> None:
    """Each rule as a solver: on A with time to spare its verified cost is its own (best-rule:
    the least, 11); with a limit that passes at once it still answers a verified
    sequence, marked stopped when the rule was cut short."""
    from optsched import SolveParams, solve

    full = solve(A, name, SolveParams(time_limit=60))
    expected = (min(h.cost(A, rule(A)) for rule, _ in RULES.values()) if name == "best-rule"
                else h.cost(A, RULES[name][0](A)))
    assert full.objective == expected and "stopped" not in full.stats
    cut = solve(A, name, SolveParams(time_limit=1e-9))
    assert cut.objective is not None and cut.objective >= 11
