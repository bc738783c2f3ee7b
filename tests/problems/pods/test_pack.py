"""Drop-and-pack (``counts/pack.py``): the master's proposals, the annealing, the limits."""

from __future__ import annotations

import time

import numpy as np
from hypothesis import given, settings

from optsched import SolveParams, StopRequest, solve
from optsched.deadline import Deadline
from optsched.problems.pods import samples as ex
from optsched.problems.pods.counts import pack
from optsched.problems.pods.counts.master import Master
from optsched.problems.pods.counts.objective import value
from optsched.problems.pods.counts.structure import Counts, build_counts
from optsched.problems.pods.counts.symmetry import decode, hint_counts
from optsched.problems.pods.evaluate import evaluate
from optsched.problems.pods.greedy import first_fit
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.solution import PodsSolution, make

from .oracle import brute_force, instances


def _first_fit(instance: PodsInstance) -> tuple[Counts, np.ndarray]:
    counts = build_counts(instance)
    x = hint_counts(counts, first_fit(instance), "none")
    assert x is not None
    return counts, x


def perfect_fit() -> PodsInstance:
    """Two 10-cpu nodes and pods of 4, 4, 3, 3, 3, 3 cpu (one priority): 20 cpu for 20.

    First fit in arrival order puts 4 + 4 on n1 (8 cpu) and 3 + 3 + 3 on n2 (9), so the
    last 3 stays pending: objective 1. Only 4 + 3 + 3 on each node places all six:
    objective 0.
    """
    sizes = ("4", "4", "3", "3", "3", "3")
    return ex.instance([ex.node("n1", "10"), ex.node("n2", "10")],
                       [ex.pod(f"p{i}", s) for i, s in enumerate(sizes)], name="perfect-fit")


def test_packs_a_perfect_fit_that_first_fit_misses() -> None:
    """:func:`perfect_fit`: from first fit's objective 1 the master proposes every pod
    placed (20 cpu fit the summed 20), and annealing finds 4 + 3 + 3 twice: 0."""
    instance = perfect_fit()
    counts, x = _first_fit(instance)
    assert value(counts, x) == 1
    found = pack.Packer(counts, seed=0).improve(x, Deadline(5.0))
    assert value(counts, found) == 0
    checked = evaluate(instance, decode(counts, found))
    assert not checked.violations and checked.objective == 0


def test_mends_fragmented() -> None:
    """``fragmented`` (see its docstring): first fit 2, optimum 1 (the four priority-10
    pods fill both nodes, ``low`` pending); the master's best proposal is that one."""
    counts, x = _first_fit(ex.fragmented())
    assert value(counts, x) == 2
    assert value(counts, pack.Packer(counts, seed=0).improve(x, Deadline(5.0))) == 1


def test_the_master_leaves_the_cheapest_pods_pending() -> None:
    """One 10-cpu node; ``high`` (6 cpu, priority 10), ``a`` (5 cpu) and ``b`` (4 cpu,
    priority 1). Weights: the low level 1, the high level 1 * (2 + 1) = 3. All three
    need 15 cpu. high + b = 10 fits (objective 1, ``a`` pending); high + a = 11 does
    not; a + b = 9 leaves ``high`` pending (3). So the best proposal below first fit's
    is high and b placed, objective 1."""
    instance = ex.instance([ex.node("n1", "10")],
                           [ex.pod("a", "5", 1), ex.pod("high", "6", 10), ex.pod("b", "4", 1)])
    counts = build_counts(instance)
    proposal = Master(counts).propose(4, Deadline(5.0), None)
    assert proposal is not None
    target, level = proposal
    assert level == 1
    assert {k.pods[0]: int(n) for k, n in zip(counts.classes, target, strict=True)} == {
        "a": 0, "high": 1, "b": 1}


def test_the_master_proposes_within_its_limit_on_a_grid_knapsack() -> None:
    """The grid's scenario at 32 nodes, 8 pods per node, one priority, load 1.05 (seed 7,
    #0): 256 pods in 98 classes, best-greedy leaves 15 pending. The master's model is a
    knapsack over the summed cpu and memory: its optimum leaves 8 pending (the count
    model's bound), so with best-greedy's 15 as incumbent it proposes 8. CP-SAT's presolve
    solved that knapsack by dynamic programming in 0.35 s and then returned no solution
    under the master's 0.5 s limit: the master proposed nothing and the grid scenario
    stayed at 14 after 1 s (it is 8, proven, without the presolve)."""
    from optsched.problems.pods.generate import scenario

    counts = build_counts(scenario(32, 8, 1, 1.05, seed=7, k=0))
    proposal = Master(counts).propose(15, Deadline(0.5), None)
    assert proposal is not None and proposal[1] == 8
    assert int(proposal[0].sum()) == 256 - 8


def test_an_excluded_proposal_is_not_made_again() -> None:
    """:func:`perfect_fit` with its only objective-0 proposal (all six placed) excluded:
    the next leaves one pod pending (objective 1), and the one that frees the most cpu,
    a 4-cpu pod; with first fit's 1 as the incumbent there is none left."""
    counts = build_counts(perfect_fit())
    master = Master(counts)
    first = master.propose(2, Deadline(5.0), None)
    assert first is not None and first[1] == 0
    master.exclude(first[0])
    second = master.propose(2, Deadline(5.0), None)
    assert second is not None and second[1] == 1
    left = {k.need[0]: int(n) for k, n in zip(counts.classes, second[0], strict=True)}
    assert left == {4000: 1, 3000: 4}
    assert master.propose(1, Deadline(5.0), None) is None


def test_a_pending_pod_of_equal_weight_takes_a_placed_ones_place() -> None:
    """Two 10-cpu nodes, pods of 6, 6, 6 and 4 cpu (one priority). The target places the
    three 6s (the 4 pending): 18 cpu for 20, but no node takes two 6s, so it cannot be
    packed as it is. Every pod has the same weight, so the annealing may swap a 6 with
    the pending 4: 6 + 4 and 6 pack, one 6 pending, the same objective 1."""
    sizes = ("6", "6", "6", "4")
    instance = ex.instance([ex.node("n1", "10"), ex.node("n2", "10")],
                           [ex.pod(f"p{i}", s) for i, s in enumerate(sizes)])
    counts = build_counts(instance)
    cpu = {k.need[0]: c for c, k in enumerate(counts.classes)}
    target = np.zeros(len(counts.classes), dtype=np.int64)
    target[cpu[6000]] = 3
    x = np.zeros(len(counts.pair_class), dtype=np.int64)
    found, packed = pack.Packer(counts, seed=0)._pack(x, target, Deadline(5.0), 1)
    assert packed
    placed = np.bincount(counts.pair_class, weights=found, minlength=len(counts.classes))
    assert (placed[cpu[6000]], placed[cpu[4000]]) == (2, 1)
    checked = evaluate(instance, decode(counts, found))
    assert not checked.violations and checked.objective == 1


def test_no_pod_is_left_pending_for_one_of_another_weight() -> None:
    """The same four pods with the 4-cpu pod at priority 10: swapping a 6 for it would
    change the objective, so the three 6s cannot be packed and the search says so."""
    pods = [ex.pod(f"p{i}", "6") for i in range(3)] + [ex.pod("high", "4", 10)]
    instance = ex.instance([ex.node("n1", "10"), ex.node("n2", "10")], pods)
    counts = build_counts(instance)
    target = np.array([3 if k.need[0] == 6000 else 0 for k in counts.classes])
    x = np.zeros(len(counts.pair_class), dtype=np.int64)
    _, packed = pack.Packer(counts, seed=0)._pack(x, target, Deadline(0.3), 1)
    assert not packed


def test_anti_affinity_holds() -> None:
    """Three 1-cpu pods of one anti-affinity key on two 4-cpu nodes: at most one per
    node, so one stays pending (objective 1) although the cpu would take all three."""
    pods = [ex.pod(f"w{i}", "1", anti_affinity="web") for i in range(3)]
    instance = ex.instance([ex.node("n1"), ex.node("n2")], pods)
    counts = build_counts(instance)
    x = np.zeros(len(counts.pair_class), dtype=np.int64)
    assert pack.usable(counts)
    found = pack.Packer(counts, seed=0).improve(x, Deadline(5.0))
    checked = evaluate(instance, decode(counts, found))
    assert not checked.violations and checked.objective == 1


@settings(max_examples=30, deadline=None, derandomize=True)
@given(instances())
def test_never_worse_and_never_invalid(instance: PodsInstance) -> None:
    """Running, protected and pending pods, taints, selectors, anti-affinity: from first
    fit, what the search returns passes the checker, is no worse than first fit, and no
    better than the brute-force optimum."""
    counts, x = _first_fit(instance)
    found = (pack.Packer(counts, seed=0).improve(x, Deadline(0.5))
             if pack.usable(counts) else x)  # unusable: no pairs
    checked = evaluate(instance, decode(counts, found))
    assert not checked.violations and checked.objective is not None
    optimum, _ = brute_force(instance)
    assert optimum <= value(counts, found) == checked.objective <= value(counts, x)


def test_no_time_or_a_stop_returns_the_start_at_once() -> None:
    """With no time left, or its stop set, the search gives back its start."""
    counts, x = _first_fit(perfect_fit())
    stop = StopRequest()
    stop.set()
    for deadline in (Deadline(0.0), Deadline(10.0, stop)):
        started = time.perf_counter()
        assert pack.Packer(counts, seed=0).improve(x, deadline) is x
        assert time.perf_counter() - started < 0.5


def test_cpsat_proves_the_packed_hint() -> None:
    """cpsat with first fit's hint on :func:`perfect_fit`: drop-and-pack improves it to
    0 before CP-SAT starts (``pack_objective``), which is the optimum; with ``pack=0``
    the statistic is absent."""
    instance = perfect_fit()
    params = SolveParams(time_limit=5, workers=1, seed=0, hint=first_fit(instance))
    result = solve(instance, "cpsat", params)
    assert result.verified and result.objective == 0
    assert result.stats["pack_objective"] == 0
    off = solve(instance, "cpsat", SolveParams(time_limit=5, workers=1, seed=0,
                                                hint=first_fit(instance), model={"pack": 0}))
    assert off.objective == 0 and "pack_objective" not in off.stats


def test_nothing_to_propose_means_no_annealing() -> None:
    """:func:`perfect_fit` from its optimum (4 + 3 + 3 on each node, objective 0): the
    master has no placed vector below 0, so the search neither loads its kernel nor
    anneals, and gives back its start."""
    instance = perfect_fit()
    counts = build_counts(instance)
    x = hint_counts(counts, ex_solution(instance), "none")
    assert x is not None and value(counts, x) == 0
    packer = pack.Packer(counts, seed=0)
    assert packer.improve(x, Deadline(5.0)) is x and packer.moves == 0


def ex_solution(instance: PodsInstance) -> PodsSolution:
    """4 + 3 + 3 on each node of :func:`perfect_fit`."""
    return make(instance, {"p0": "n1", "p2": "n1", "p3": "n1",
                           "p1": "n2", "p4": "n2", "p5": "n2"})


def test_the_packed_hint_survives_when_cp_sat_finds_nothing() -> None:
    """:func:`perfect_fit` from first fit (objective 1): the build packs it to 0; CP-SAT
    then gets no time (its stop is set) and finds nothing, and the result is still the
    packed solution (0), not nothing (which would leave only first fit's 1)."""
    from optsched.backends import cpsat
    from optsched.problems.pods.counts import cp

    instance = perfect_fit()
    params = SolveParams(workers=1, seed=0, hint=first_fit(instance))
    form = cp.build(instance, params, Deadline(5.0))
    assert form.stats["pack_objective"] == 0
    stop = StopRequest()
    stop.set()
    result = cpsat.run(form, "cpsat", params, Deadline(5.0, stop))
    assert isinstance(result.solution, PodsSolution) and result.objective == 0
    assert evaluate(instance, result.solution).objective == 0
    assert "known" in result.stats


def test_a_bad_share_is_refused_by_name() -> None:
    """``-m pack`` and ``pods-lns -o pack`` are shares in [0, 1]; the MILP form has none."""
    import pytest

    from optsched import InputError

    instance = perfect_fit()
    for solver, params, field in (("cpsat", SolveParams(model={"pack": 2}), "model.pack"),
                                  ("pods-lns", SolveParams(options={"pack": -0.1}),
                                   "options.pack"),
                                  ("highs", SolveParams(model={"pack": 0.5}), "model.pack")):
        with pytest.raises(InputError, match=field):
            solve(instance, solver, params)


def test_no_cp_sat_once_the_build_used_the_time() -> None:
    """The same build, then a deadline already passed: CP-SAT is not even loaded (on a
    model of 155,000 pairs loading took 0.2 s past the limit), and the packed solution (0)
    is the answer."""
    from optsched.backends import cpsat
    from optsched.problems.pods.counts import cp

    instance = perfect_fit()
    params = SolveParams(workers=1, seed=0, hint=first_fit(instance))
    form = cp.build(instance, params, Deadline(5.0))
    result = cpsat.run(form, "cpsat", params, Deadline(0.0))
    assert result.objective == 0 and "solver_wall_s" not in result.stats
    assert "limit passed" in result.stats["known"]


def test_the_ladder_of_proposals() -> None:
    """Incumbent 115, highest failure 105 (Alibaba snapshot 0's LP bound and a plan
    found): before any failure, and every fourth attempt, the best the master allows
    (None); odd attempts halfway, 105 + (115 - 105) // 2 = 110; the others one better
    than the incumbent, 114. With the failure at 114, halfway would be 114 + max(1, 0) =
    115, the incumbent itself, which nothing beats: the rung is 114 instead (the old
    rule proposed only the best from there on)."""
    assert pack.floor(1, None, 115) is None
    assert pack.floor(4, 105, 115) is None
    assert pack.floor(1, 105, 115) == 110
    assert pack.floor(2, 105, 115) == 114
    assert pack.floor(3, 114, 115) == 114


def test_lanes_share_their_best() -> None:
    """Two lanes on :func:`perfect_fit` from first fit (1): the optimum 0, verified; the
    shared best keeps the lower of two offers and tells the listener once per gain."""
    instance = perfect_fit()
    counts, x = _first_fit(instance)
    found = pack.Packer(counts, seed=0).improve(x, Deadline(5.0), lanes=2)
    checked = evaluate(instance, decode(counts, found))
    assert not checked.violations and checked.objective == 0
    heard: list[object] = []
    best = pack._Best(counts, x, Deadline(5.0, found=lambda _s, v, _b: heard.append(v)))
    best.offer(found)
    best.offer(x)
    assert best.get()[1] == 0 and best.get()[0] is found and heard == [0]
