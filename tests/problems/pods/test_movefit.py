"""``move-to-fit``: room for a pending pod made by moving other pods (hand-traced)."""

from __future__ import annotations

from optsched.problems.pods.evaluate import evaluate
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.movefit import move_to_fit
from optsched.problems.pods.samples import instance, node, pod


def halves(protected: bool = False, moves: bool = True) -> PodsInstance:
    """n1 and n2 have 4 cpu; a (2 cpu) runs on n1, b (2 cpu) on n2; c (4 cpu) is pending,
    all priority 1. c fits only on an empty node, and every greedy rule that keeps
    running pods in place leaves it pending."""
    return instance([node("n1"), node("n2")],
                    [pod("a", "2", 1, node="n1", protected=protected),
                     pod("b", "2", 1, node="n2", protected=protected), pod("c", "4", 1)],
                    allow_moves=moves)


def test_a_move_makes_room() -> None:
    """c lacks 2 cpu on either node (same shortage: n1 first). a moves to n2 (2 cpu free:
    it fits) and c takes n1: every pod placed, one move. Weights: moves 1, evictions
    2 + 1 = 3 (two movable pods), level 1 3 * 3 = 9: objective 1 (the move) against 9
    for c pending (best fit alone)."""
    inst = halves()
    solution = move_to_fit(inst)
    assert dict(solution.assignment) == {"a": "n2", "b": "n2", "c": "n1"}
    assert solution.moved == ("a",)
    ev = evaluate(inst, solution)
    assert ev.violations == () and ev.objective == 1


def test_protected_pods_do_not_move() -> None:
    """a and b protected: nothing may move, so c stays pending."""
    inst = halves(protected=True)
    solution = move_to_fit(inst)
    assert solution.assignment["c"] is None and solution.moved == ()
    assert evaluate(inst, solution).violations == ()


def test_without_moves_it_is_best_fit_by_level() -> None:
    """With moves not allowed the rule is best fit level by level: c stays pending."""
    inst = halves(moves=False)
    solution = move_to_fit(inst)
    assert solution.assignment["c"] is None and solution.moved == ()
