"""Greedy placements and the pods solver table: hand-traced rules, feasibility, best-greedy."""

from __future__ import annotations

import itertools

import pytest

from optsched import SolveParams, solve
from optsched.deadline import OutOfTimeError
from optsched.errors import InputError
from optsched.problems.pods import greedy
from optsched.problems.pods.evaluate import evaluate, placed_by_priority
from optsched.problems.pods.generate import scenario
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.samples import fragmented, instance, node, pod, running
from optsched.problems.pods.solution import PodsSolution, as_it_is
from optsched.problems.pods.solvers import GREEDY, best_greedy

from ...deadlines import Looks


def objective(inst: PodsInstance, solution: PodsSolution) -> int:
    """The objective, after asserting that the checker accepts the solution."""
    ev = evaluate(inst, solution)
    assert ev.violations == () and ev.objective is not None
    return int(ev.objective)


def three_sizes() -> PodsInstance:
    """n1 has 4 cpu, n2 6 cpu (4Gi each); s, m, l ask 1, 2, 3 cpu (1Mi), same priority."""
    return instance([node("n1", "4"), node("n2", "6")],
                    [pod("s", "1"), pod("m", "2"), pod("l", "3")])


def test_best_fit_decreasing_by_hand() -> None:
    """Sizes are cpu shares of the 10 cpu: l 0.3, m 0.2, s 0.1, so the order is l, m, s.

    Room = free cpu / 10 + free memory / 8Gi + free pod slots / 220: n1 0.4 + 0.5 + 0.5 =
    1.4, n2 0.6 + 0.5 + 0.5 = 1.6; l goes to the tighter n1 (1 cpu left). m fits only n2.
    s: n1 room 0.1 + 0.4999 + 0.4955 = 1.095 < n2 0.4 + ... = 1.395: n1.
    First fit in instance order instead: s, m on n1 (3 cpu), l on n2. Worst fit: l to n2
    (1.6), m to n1 (1.4 > 1.295), s to n2 (1.295 > 1.195).
    """
    inst = three_sizes()
    bfd = greedy.best_fit_decreasing(inst)
    assert dict(bfd.assignment) == {"s": "n1", "m": "n2", "l": "n1"}
    assert dict(greedy.first_fit(inst).assignment) == {"s": "n1", "m": "n1", "l": "n2"}
    assert dict(greedy.worst_fit(inst).assignment) == {"s": "n2", "m": "n1", "l": "n2"}
    for rule in (greedy.best_fit_decreasing, greedy.first_fit, greedy.worst_fit):
        assert objective(inst, rule(inst)) == 0


def test_levels_place_small_pods_first_when_the_level_does_not_fit() -> None:
    """Two 4-cpu nodes, pods of 2, 2, 3, 3 cpu at one priority.

    Larger first: 3 -> n1, 3 -> n2, then no 2 fits (1 cpu free each): 2 placed. Smaller
    first: 2 -> n1, 2 -> n1 (tighter), 3 -> n2: 3 placed, which the level rule keeps.
    Worst fit spreads the two 2s over both nodes either way: 2 placed.
    """
    inst = instance([node("n1"), node("n2")],
                    [pod("a", "2"), pod("b", "2"), pod("c", "3"), pod("d", "3")])
    assert placed_by_priority(inst, greedy.best_fit_decreasing(inst)) == [2]
    levels = greedy.best_fit_levels(inst)
    assert dict(levels.assignment) == {"a": "n1", "b": "n1", "c": "n2", "d": None}
    assert placed_by_priority(inst, greedy.worst_fit_levels(inst)) == [2]


def test_fragmented_example() -> None:
    """``fragmented`` (see its docstring): first fit reaches (3, 1), objective 2.

    Best fit decreasing at priority 10: three -> n1 (first of equal rooms), two -> n2 (n1
    has 1 cpu), two-b -> n2, one -> n1: all four, then low fits nowhere: (4, 0), the
    optimum, objective 1.
    """
    inst = fragmented()
    assert objective(inst, greedy.first_fit(inst)) == 2
    assert objective(inst, greedy.best_fit_decreasing(inst)) == 1
    assert objective(inst, greedy.best_fit_levels(inst)) == 1


def test_repack_moves_low_priority_running_pods() -> None:
    """``running`` (see its docstring): big (4 cpu, priority 100) is placed first on the empty
    n1; fill keeps its own node n2; old no longer fits on n1 and n2 has 1 cpu free: evicted.
    Objective 9 * 1 + 3 * 1 = 12, the optimum; the rules that keep running pods give 27.
    """
    inst = running()
    packed = greedy.repack(inst)
    assert dict(packed.assignment) == {"old": None, "fill": "n2", "big": "n1"}
    assert objective(inst, packed) == 12
    assert objective(inst, greedy.best_fit_decreasing(inst)) == 27
    fixed = instance([node("n1"), node("n2")],
                     [pod("old", "2", 1, node="n1"), pod("fill", "3", 1, node="n2"),
                      pod("big", "4", 100)], allow_evictions=False)
    assert objective(fixed, greedy.repack(fixed)) == objective(fixed, greedy.first_fit(fixed))


def test_repack_moves_when_allowed() -> None:
    """a, b (2 cpu, priority 1) run on n1, n2 (4 cpu); c (3 cpu, priority 10) is pending.

    c first, on n1 (equal rooms, first node); b stays on n2; a does not fit n1 any more and
    moves to n2 (2 cpu left): all placed with one move. Without moves a is evicted.
    """
    pods = [pod("a", "2", 1, node="n1"), pod("b", "2", 1, node="n2"), pod("c", "3", 10)]
    inst = instance([node("n1"), node("n2")], pods)
    packed = greedy.repack(inst)
    assert dict(packed.assignment) == {"a": "n2", "b": "n2", "c": "n1"}
    assert packed.moved == ("a",) and objective(inst, packed) == 1
    stay = instance([node("n1"), node("n2")], pods, allow_moves=False)
    assert greedy.repack(stay).evicted == ("a",)


def mixed(k: int) -> PodsInstance:
    """A paper-grid scenario (5 nodes, 4 pods per node, 3 priorities, load 1.05, seed 11,
    number ``k``) with every fourth group anti-affine and a protected running pod."""
    base = scenario(5, 4, 3, 1.05, 11, k)
    groups = []
    for i, g in enumerate(base.groups):
        item = g.to_dict()
        item.pop("priority_class")
        item["priority"] = g.priority
        if i % 4 == 1:
            item["anti_affinity"] = True
        groups.append(item)
    groups.append({"name": "kept", "requests": {"cpu": "100m"}, "node": "node-00",
                   "protected": True, "priority": 0})
    return instance([n.to_dict() for n in base.nodes], groups)


def test_every_rule_is_feasible_and_best_greedy_beats_the_defaults() -> None:
    """Paper-grid scenarios with some running, protected and anti-affine pods: every rule
    passes the checker, and best-greedy's objective is at most each rule's.
    """
    for k in range(5):
        inst = mixed(k)
        values = {name: objective(inst, rule(inst)) for name, (rule, _) in GREEDY.items()}
        solution, value, name = best_greedy(inst)
        assert value == objective(inst, solution) == min(values.values()) == values[name]
        assert all(value <= values[b] for b in ("default", "default-preempt", "arrival-preempt"))


def test_best_greedy_reports_each_improvement() -> None:
    """With a listener on its deadline, best-greedy offers each rule's placement that
    beats every earlier one, in order, the last being its answer: a caller that stops
    waiting keeps the best so far."""
    from optsched.deadline import Deadline, StopRequest

    heard: list[int] = []
    inst = fragmented()
    deadline = Deadline(30.0, StopRequest(), lambda solution, value, bound: heard.append(
        objective(inst, solution)))
    _, value, _ = best_greedy(inst, deadline)
    assert heard and heard[-1] == value
    assert all(a > b for a, b in itertools.pairwise(heard))


def test_the_exact_solvers_hint_has_the_time_of_the_first_rules() -> None:
    """A paper-grid scenario, 128 pods on 32 nodes (4,096 pairs), at 0.2 s.

    Scale-fit is expected to take 30 us x 128 + 0.002 us x 128 x 32 = 0.00385 s, which
    with the 1.5 margin is less than the hint's tenth. The first rules add 1.5 us x 4,096
    per rule, move-to-fit twice: 6 x 0.006144 = 0.03686 s, so 0.04071 s in all, and the
    hint has 1.5 x 0.04071 = 0.06107 s, a share of 0.3053. At 1 s the tenth covers that.
    """
    from optsched.problems.pods import FAMILY
    from optsched.solve import hint_share

    inst = scenario(32, 4, 1, 1.05, 1, 0)
    assert (inst.pod_count, len(inst.nodes)) == (128, 32)
    assert hint_share(FAMILY, inst, 0.2) == pytest.approx(0.3053, abs=5e-4)
    assert hint_share(FAMILY, inst, 1.0) == pytest.approx(0.1)


def test_scheduler_solvers_and_their_options() -> None:
    """The default solvers read order and random_ties; anything else is refused by name."""
    inst = instance([node("n1"), node("n2")],
                    [pod("a", "2", 1), pod("b", "2", 1), pod("c", "3", 10)])
    arrival = solve(inst, "default", SolveParams(options={"order": "arrival"}))
    assert isinstance(arrival.solution, PodsSolution) and arrival.stats["order"] == "arrival"
    assert placed_by_priority(inst, arrival.solution) == [0, 2]
    queue = solve(inst, "default", SolveParams(options={"random_ties": True}, seed=4))
    assert isinstance(queue.solution, PodsSolution) and queue.stats["random_ties"] is True
    assert placed_by_priority(inst, queue.solution) == [1, 2]
    preempt = solve(inst, "default-preempt", SolveParams(options={"order": "arrival"}))
    assert isinstance(preempt.solution, PodsSolution)
    assert placed_by_priority(inst, preempt.solution) == [1, 2]
    for options, field in (({"order": "fifo"}, "options.order"),
                           ({"random_ties": "yes"}, "options.random_ties"),
                           ({"seed": 1}, "options.seed")):
        with pytest.raises(InputError, match=field):
            solve(inst, "default", SolveParams(options=options))
    best = solve(inst, "best-greedy")
    assert best.solution is not None and best.objective == 0


def test_first_fit_cut_short_by_hand() -> None:
    """three_sizes: first fit takes s, m, l in instance order. Its view of the cluster
    looks at the deadline once per group (3 looks), the loop once before each pod: with
    4 looks s is placed (on n1, the first node) and the 5th look stops the loop, so m and
    l stay pending; with 2 the view is not made and the rule raises OutOfTimeError.
    """
    inst = three_sizes()
    cut = greedy.first_fit(inst, deadline=Looks(4))
    assert dict(cut.assignment) == {"s": "n1", "m": None, "l": None}
    assert objective(inst, cut) == 2
    with pytest.raises(OutOfTimeError):
        greedy.first_fit(inst, deadline=Looks(2))


@pytest.mark.parametrize("name", sorted(GREEDY))
def test_every_rule_stops_at_its_deadline_with_a_valid_placement(name: str) -> None:
    """Cut after any number of looks, each rule's placement passes the checker (or the
    rule raises OutOfTimeError before it begins, when the view is not made); with looks to
    spare it is the placement of the rule without a deadline."""
    rule = GREEDY[name][0]
    for k in range(2):
        inst = mixed(k)
        for looks in (0, 3, len(inst.groups) + 2, len(inst.groups) + 40, 10**6):
            try:
                cut = rule(inst, deadline=Looks(looks))
            except OutOfTimeError:
                assert looks <= len(inst.groups)
                continue
            objective(inst, cut)
        assert rule(inst, deadline=Looks(10**6)).assignment == rule(inst).assignment


@pytest.mark.parametrize("name", [*sorted(GREEDY), "best-greedy"])
def test_a_limit_that_passes_at_once_answers_the_cluster_as_it_is(name: str) -> None:
    """A limit of 1 ns passes before any rule begins: the answer is the cluster as it is
    (the running pods r and kept where they run, verified), and the result says the rule
    was stopped."""
    inst = instance([node("n1"), node("n2")],
                    [pod("r", "2", 1, node="n1"), pod("kept", "1", 5, node="n2",
                                                      protected=True),
                     pod("a", "2", 1), pod("b", "3", 10)])
    result = solve(inst, name, SolveParams(time_limit=1e-9))
    assert result.solution == as_it_is(inst) and result.stats["stopped"]
