"""``scale-fit``: best fit by priority over arrays, valid and as the hand calculation says."""

from __future__ import annotations

import pytest

from optsched.problems.pods.evaluate import evaluate, placed_by_priority
from optsched.problems.pods.generate import scenario
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.samples import instance, node, pod
from optsched.problems.pods.scale import scale_fit


def three_pods() -> PodsInstance:
    """Nodes a (4 cpu) and b (2 cpu), same memory; p1 and p2 (2 cpu, priority 10), p3 (3
    cpu, priority 1): 6 pairs."""
    return instance([node("a", cpu="4"), node("b", cpu="2")],
                    [pod("p1", "2", priority=10), pod("p2", "2", priority=10),
                     pod("p3", "3", priority=1)])


def test_best_fit_by_priority_then_size() -> None:
    """On :func:`three_pods`: p1 leaves a with 2 cpu or b with 0: b (the best fit); p2 then
    a; p3 fits neither (a has 2 left): placed [2, 0] by priority (10, 1)."""
    inst = three_pods()
    solution = scale_fit(inst)
    assert dict(solution.assignment) == {"p1": "b", "p2": "a", "p3": None}
    assert placed_by_priority(inst, solution) == [2, 0]


def test_alike_pods_in_a_row_fill_the_best_fit_then_move_on() -> None:
    """Nodes a (5 cpu) and b (3 cpu); four alike 1-cpu pods p0-p3: each goes where it
    leaves the least room, b (2, 1, 0 left) three times, then a (b is full). With an
    anti-affinity key (one per node) the same four take b, then a, and two stay pending."""
    nodes = [node("a", cpu="5"), node("b", cpu="3")]
    inst = instance(nodes, [pod(f"p{i}", "1") for i in range(4)])
    assert dict(scale_fit(inst).assignment) == {"p0": "b", "p1": "b", "p2": "b", "p3": "a"}
    keyed = instance(nodes, [pod(f"p{i}", "1", anti_affinity="web") for i in range(4)])
    assert dict(scale_fit(keyed).assignment) == {"p0": "b", "p1": "a", "p2": None,
                                                 "p3": None}


def test_a_placement_changes_its_node_for_every_kind() -> None:
    """Nodes a (4 cpu) and b (5 cpu); p1 (2 cpu) then p2 (3 cpu), one priority. p1 leaves
    2 on a or 3 on b: a. p2 would have left 1 on a before, but a now has 2 free: it does
    not fit there any more, and takes b (2 left)."""
    inst = instance([node("a", cpu="4"), node("b", cpu="5")],
                    [pod("p1", "2"), pod("p2", "3")])
    assert dict(scale_fit(inst).assignment) == {"p1": "a", "p2": "b"}


@pytest.mark.parametrize("seed", range(4))
def test_the_rooms_kept_or_computed_per_pod_place_alike(monkeypatch: pytest.MonkeyPatch,
                                                          seed: int) -> None:
    """With no kind kept (``MAX_KINDS`` 0) every pod's row is computed when it is placed;
    the placements are the same as with the table, on generated scenarios."""
    from optsched.problems.pods import scale

    inst = scenario(nodes=8, pods_per_node=6, priorities=3, load=1.05, seed=seed, k=0)
    kept = dict(scale_fit(inst).assignment)
    monkeypatch.setattr(scale, "MAX_KINDS", 0)
    assert dict(scale_fit(inst).assignment) == kept
    assert sum(node is not None for node in kept.values()) > 0


def test_running_pods_stay_and_filters_hold() -> None:
    """old runs on a (3 of 4 cpu); new (2 cpu) does not fit a and b is cordoned: pending."""
    inst = instance([node("a", cpu="4"), node("b", cpu="4", unschedulable=True)],
                    [pod("old", "3", node="a"), pod("new", "2")])
    assert dict(scale_fit(inst).assignment) == {"old": "a", "new": None}


@pytest.mark.parametrize("seed", range(6))
def test_always_valid_on_generated_clusters(seed: int) -> None:
    """The checker finds no violation on generated scenarios (running pods, priorities)."""
    inst = scenario(nodes=8, pods_per_node=6, priorities=3, load=1.05, seed=seed, k=0)
    assert not evaluate(inst, scale_fit(inst)).violations


def test_auto_takes_the_greedy_rules_beyond_the_exact_size(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """3 pods on 2 nodes are 6 pairs: cpsat; with pods-lns from 6 pairs, pods-lns; with
    the exact limit at 5 still pods-lns (the model has 2 classes x 2 nodes = 4 pairs: p1
    and p2 share a spec), at 3 best-greedy, whose scale-fit places p1 and p2 (see the first
    test)."""
    from optsched import SolveParams, solve
    from optsched.problems.pods import solvers

    inst = three_pods()
    assert solve(inst, "auto", SolveParams(time_limit=5)).solver == "cpsat"
    monkeypatch.setattr(solvers, "MIN_LNS_PAIRS", 6)
    assert solve(inst, "auto", SolveParams(time_limit=5)).solver == "pods-lns"
    monkeypatch.setattr(solvers, "MAX_EXACT_PAIRS", 5)
    assert solvers.choose(inst, SolveParams(time_limit=5))[0] == "pods-lns"
    monkeypatch.setattr(solvers, "MAX_EXACT_PAIRS", 3)
    result = solve(inst, "auto", SolveParams(time_limit=5))
    assert result.solver == "best-greedy" and result.verified
    assert placed_by_priority(inst, result.solution) == [2, 0]  # type: ignore[arg-type]


def test_auto_leaves_pods_lns_when_its_model_would_take_half_the_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The same 6 pairs with pods-lns from 6 pairs and a build priced at 1 s per model pair:
    p1 and p2 share a spec, so the model has 2 classes x 2 nodes = 4 pairs, 4 s, more than
    half of a 6 s limit (3 s), and best-greedy has the time (the placement of the test
    above); at 8 s or more, or without a limit, pods-lns."""
    from optsched import SolveParams, solve
    from optsched.problems.pods import solvers

    inst = three_pods()
    assert solvers.model_pairs(inst) == 4
    monkeypatch.setattr(solvers, "MIN_LNS_PAIRS", 6)
    monkeypatch.setattr(solvers, "SECONDS_PER_PAIR", 1.0)
    result = solve(inst, "auto", SolveParams(time_limit=6))
    assert result.solver == "best-greedy" and result.verified
    assert placed_by_priority(inst, result.solution) == [2, 0]  # type: ignore[arg-type]
    assert solvers.choose(inst, SolveParams(time_limit=8))[0] == "pods-lns"
    assert solvers.choose(inst, SolveParams())[0] == "pods-lns"


def test_model_pairs_count_running_pods_and_pending_specs() -> None:
    """Running pods r1, r2 (one group of 2 on a) are a class each; pending p1 and p2 share
    a spec (1 cpu, priority 0), p3 has its own (2 cpu): (2 + 2) classes x 3 nodes = 12,
    where pods x nodes is 5 x 3 = 15."""
    from optsched.problems.pods.solvers import model_pairs

    inst = instance([node("a", cpu="8"), node("b", cpu="8"), node("c", cpu="8")],
                    [pod("r", "1", node="a", replicas=2), pod("p1", "1"), pod("p2", "1"),
                     pod("p3", "2")])
    assert model_pairs(inst) == 12


def test_auto_leaves_the_exact_solvers_when_their_hint_would_not_end(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """scale-fit priced at 2 s: with the hint's margin (1.5) 3 s, more than the most a
    hint may have (half) of a 4 s limit (2 s), so best-greedy has the whole time (an exact
    solver would start from a hint cut short); at 6 s (3 s) cpsat, the family's default.
    Priced at 0.5 s (0.75 s with the margin, within 2 s), cpsat at 4 s: while the hint had
    a tenth of the limit whatever it needed (0.4 s), that went to best-greedy."""
    from optsched import SolveParams, solve
    from optsched.problems.pods import scale, solvers

    inst = three_pods()
    monkeypatch.setattr(scale, "seconds", lambda instance: 2.0)
    result = solve(inst, "auto", SolveParams(time_limit=4))
    assert result.solver == "best-greedy" and result.verified
    assert placed_by_priority(inst, result.solution) == [2, 0]  # type: ignore[arg-type]
    assert solvers.choose(inst, SolveParams(time_limit=6))[0] == "cpsat"
    monkeypatch.setattr(scale, "seconds", lambda instance: 0.5)
    assert solvers.choose(inst, SolveParams(time_limit=4))[0] == "cpsat"


def test_its_time_is_counted_for_the_pending_pods() -> None:
    """scale-fit walks the nodes for pending pods only: 2 nodes, 3 running pods and 1
    pending give 2e-9 * 1 * 2 + 3e-5 * 4 = 1.20004e-4 s (not 2e-9 * 4 * 2 + ...)."""
    from optsched.problems.pods.scale import seconds

    inst = instance([node("a", cpu="4"), node("b", cpu="4")],
                    [pod("r1", "1", node="a"), pod("r2", "1", node="a"),
                     pod("r3", "1", node="b"), pod("new", "1")])
    assert seconds(inst) == pytest.approx(1.20004e-4, rel=1e-9)


def test_a_full_cluster_with_few_pending_pods_gets_scale_fit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With the other rules priced out of a 1 s deadline (1 s per pod and node) and
    scale-fit at 0.1 s per pending pod and node, 2 running pods and 1 pending on 2 nodes
    take 0.2 s: scale-fit runs and places ``new`` on b (a is full), where counting every
    pod (0.6 s) and every rule skipped left the cluster as it is, ``new`` pending."""
    from optsched.deadline import Deadline
    from optsched.problems.pods import scale, solvers

    monkeypatch.setattr(solvers, "SECONDS_PER_POD_NODE", 1.0)
    monkeypatch.setattr(scale, "SECONDS_PER_POD_NODE", 0.1)
    monkeypatch.setattr(scale, "SECONDS_PER_POD", 0.0)
    inst = instance([node("a", cpu="2"), node("b", cpu="4")],
                    [pod("r1", "2", node="a"), pod("r2", "1", node="b"), pod("new", "2")])
    solution, _, rule = solvers.best_greedy(inst, Deadline(0.5))
    assert rule == "scale-fit"
    assert dict(solution.assignment) == {"r1": "a", "r2": "b", "new": "b"}
