"""moe's lower bounds: hand-checked token bounds, and never above any valid placement."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optsched.problems.moe.bounds import (
    compute_bounds,
    fewest_copies,
    local_transitions,
    lower_bound,
    replica_counts,
    token_bounds,
)
from optsched.problems.moe.evaluate import evaluate, parts
from optsched.problems.moe.instance import MoeInstance, from_dict
from optsched.problems.moe.solution import make


def tiny(load: list[list[int]], nodes: int, gpus_per_node: int, slots: int, top_k: int = 1,
         token_bytes: int = 1000, **fields: Any) -> MoeInstance:
    """An instance of these loads and this cluster (10 / 5 GB/s, a = 1, b = 0)."""
    return from_dict({
        "model": {"layers": len(load), "experts": len(load[0]), "top_k": top_k,
                  "expert_bytes": 1000, "token_bytes": token_bytes},
        "cluster": {"nodes": nodes, "gpus_per_node": gpus_per_node, "slots_per_gpu": slots,
                    "intra_node_GBps": 10, "inter_node_GBps": 5},
        "load": load, "cost": {"us_per_token": 1.0, "us_per_expert": 0.0}, **fields})


@pytest.mark.parametrize(("load", "slots", "cap", "counts"), [
    ([6, 3, 1], 5, 5, [3, 1, 1]),  # 6 -> 2 copies (3 each); tie 3 vs 3: lower index, 0
    ([100, 40, 0, 0], 6, 2, [2, 2, 1, 1]),  # 100 stops at the cap 2, then 40 gets one
    ([100, 40, 0, 0], 6, 6, [3, 1, 1, 1]),  # no cap: 100 / 2 = 50 > 40, then 100 again
    ([90, 30], 6, 2, [3, 3]),  # both at the cap: the 2 slots left go anywhere
    ([5, 5, 5], 3, 3, [1, 1, 1]),  # no spare slot
])
def test_replica_counts(load: list[int], slots: int, cap: int, counts: list[int]) -> None:
    """D'Hondt: each spare slot to the expert with the most tokens per replica."""
    assert replica_counts(np.array(load, np.float64), slots, cap).tolist() == counts


def test_bound_is_the_mean() -> None:
    """Loads 10, 10, 10, 10 on 2 GPUs of 2 slots: W / G = 40 / 2 = 20 beats the largest
    expert (10) and the largest expert plus the smallest (10 + 10 = 20, equal)."""
    instance = tiny([[10, 10, 10, 10]], 1, 2, 2)
    assert token_bounds(instance).tolist() == [20.0]


def test_bound_of_a_hot_expert() -> None:
    """Loads 90, 3, 3 on 2 nodes x 2 GPUs x 1 slot (one spare): D'Hondt gives the spare
    slot to 90 (2 replicas, at most G = 4), and a GPU holds at least half of it: 45,
    above the mean 96 / 4 = 24. One slot per GPU: nothing to add. 45 is reached by
    [0, 0, 1, 2]-like placements, so it is also the optimum."""
    instance = tiny([[90, 3, 3]], 2, 2, 1)
    assert token_bounds(instance).tolist() == [45.0]
    assert evaluate(instance, make([[0, 1, 0, 2]])).metrics["load"] == 45.0


def test_hot_expert_with_several_replicas() -> None:
    """Loads 120, 3, 3 on 1 node x 5 GPUs x 1 slot (two spare slots): D'Hondt gives both
    to 120 (60, then 40 per replica; 3 replicas, fewer than G = 5), so some GPU holds a
    third of it: 40, above the mean 126 / 5 = 25.2; three GPUs of 40 reach it."""
    instance = tiny([[120, 3, 3]], 1, 5, 1)
    assert token_bounds(instance).tolist() == [40.0]
    assert evaluate(instance, make([[0, 0, 0, 1, 2]])).metrics["load"] == 40.0


def test_hot_expert_capped_at_the_gpus() -> None:
    """Loads 100, 40, 0, 0 on 1 node x 2 GPUs x 3 slots (two spare): D'Hondt capped at
    G = 2 gives 100 two replicas (more would not help: a GPU still holds half of it),
    then 40 one more: counts 2, 2, 1, 1, largest share 100 / 2 = 50. The mean
    140 / 2 = 70 is larger, and [0, 1, 2 | 0, 1, 3] reaches it."""
    assert replica_counts(np.array([100.0, 40, 0, 0]), 6, 2).tolist() == [2, 2, 1, 1]
    instance = tiny([[100, 40, 0, 0]], 1, 2, 3)
    assert token_bounds(instance).tolist() == [70.0]
    assert evaluate(instance, make([[0, 1, 2, 0, 1, 3]])).metrics["load"] == 70.0


def test_bound_of_the_largest_piece() -> None:
    """Loads 80 and six of 4 on 1 node x 4 GPUs x 2 slots (8 slots, one spare): the spare
    slot goes to 80, the largest piece is 40; its GPU has one more slot holding at least
    the smallest possible piece, 4 / (1 spare + 1) = 2: 42 (the mean is 104 / 4 = 26, the
    hot expert 80 / 2 = 40). The best placement reaches 40 + 4 = 44."""
    instance = tiny([[80, 4, 4, 4, 4, 4, 4]], 1, 4, 2)
    assert token_bounds(instance).tolist() == [42.0]
    assert evaluate(instance, make([[0, 1, 0, 2, 3, 4, 5, 6]])).metrics["load"] == 44.0


@pytest.mark.parametrize(("load", "slots", "bound"), [
    ([50, 20, 5, 5], 2, 55.0),  # 50 plus the smallest other, 5 (mean 40)
    ([50, 9, 8, 7, 2, 1], 3, 53.0),  # 50 plus the two smallest, 1 + 2 (mean 38.5)
])
def test_bound_without_redundant_slots(load: list[int], slots: int, bound: float) -> None:
    """No spare slot on 2 GPUs: the GPU of the largest expert holds S - 1 other experts,
    at least the S - 1 smallest: [50, 20, 5, 5] with S = 2 gives 50 + 5 = 55;
    [50, 9, 8, 7, 2, 1] with S = 3 gives 50 + 1 + 2 = 53. Both are reached: the largest
    expert with the smallest ones."""
    instance = tiny([load], 1, 2, slots)
    assert token_bounds(instance).tolist() == [bound]
    order = np.argsort(load)  # smallest first
    mine = [int(order[-1]), *order[:slots - 1].tolist()]
    rest = [e for e in range(len(load)) if e not in mine]
    assert evaluate(instance, make([mine + rest])).metrics["load"] == bound


def test_one_gpu_carries_everything() -> None:
    """One GPU: its tokens are all the tokens of the layer, W."""
    instance = tiny([[3, 4, 5], [1, 0, 0]], 1, 1, 4)
    assert token_bounds(instance).tolist() == [12.0, 1.0]


def test_lower_bound_of_the_load_objective() -> None:
    """Under ``load`` the bound is the sum of the layers' token bounds. 3 experts on 2 GPUs
    of 2 slots (one spare). Layer 0 (10, 10, 10): the mean 15, or the largest piece 10
    plus the smallest possible piece 10 / 2 = 5: 15. Layer 1 (30, 6, 0): the mean 18
    beats the hot expert 30 / 2 = 15 and the largest piece 15 plus 0 / 2. Total 33."""
    instance = tiny([[10, 10, 10], [30, 6, 0]], 1, 2, 2, objective="load")
    assert token_bounds(instance).tolist() == [15.0, 18.0]
    assert lower_bound(instance) == 33.0


def test_lower_bound_of_the_time_objective() -> None:
    """2 layers of 4 experts (10 tokens each), top-1, 2 nodes x 2 GPUs x 1 slot,
    transitions e -> e + 1 mod 4 (10 each), 4000 B tokens, NVLink 10, network 5.

    Compute: max(mean 40 / 4 = 10, token bound 10) = 10 per layer: 20.
    Transitions: each expert has one successor, which fits on its GPU (capacity 1): all
    40 may stay, so no crossing is forced. Copies: 40 per layer (top-1), 80 in all.
    comm = 4000 / (4 * 1000) * (2 * 80 * 3/4 / 10 + 2 * 80 * 1/2 / 5) = 12 + 16 = 28.
    Bound 48, which layer 1 = [1, 2, 3, 0] (each successor on its GPU) reaches.
    """
    instance = tiny([[10] * 4, [10] * 4], 2, 2, 1, token_bytes=4000,
                    transitions=[[0, 0, 1, 10], [0, 1, 2, 10], [0, 2, 3, 10], [0, 3, 0, 10]])
    assert compute_bounds(instance).tolist() == [10.0, 10.0]
    assert local_transitions(instance, 1) == 40.0
    assert fewest_copies(instance, 1) == 80.0
    assert lower_bound(instance) == pytest.approx(48.0)
    best = evaluate(instance, make([[0, 1, 2, 3], [1, 2, 3, 0]]))
    assert best.objective == pytest.approx(48.0)


def test_local_transitions_take_the_largest() -> None:
    """Expert 0 of layer 0 goes to 1 (10), 2 (7) and 3 (5); expert 1 to 1 (4). With
    capacity 1, expert 0 keeps its largest, 10, and expert 1 its 4: 14 out; into
    expert 1 come 10 and 4, of which one stays (10), into 2 and 3 one each: 22 in.
    The smaller, 14, bounds the transitions that stay on a GPU. Capacity 2: 17 + 4 = 21
    out, 14 + 7 + 5 = 26 in: 21."""
    instance = tiny([[10, 10, 10, 10], [10, 10, 10, 10]], 1, 2, 2,
                    transitions=[[0, 0, 1, 10], [0, 0, 2, 7], [0, 0, 3, 5], [0, 1, 1, 4]])
    assert local_transitions(instance, 1) == 14.0
    assert local_transitions(instance, 2) == 21.0


def test_fewest_copies() -> None:
    """Loads 10, 10, 5, 5, top-2, co-activation (0, 1) = 10, (2, 3) = 5, (0, 2) = 2.
    Capacity 1 (one slot per GPU): no mates, 30 copies. Capacity 2: each expert keeps its
    largest pair: m_0 = 10 / 10, m_1 = 10 / 10, m_2 = 5 / 5, m_3 = 5 / 5: 5 + 5 + 2.5 +
    2.5 = 15, the floor 30 / 2 = 15."""
    instance = tiny([[10, 10, 5, 5]], 1, 2, 2, top_k=2,
                    coactivation=[[0, 0, 1, 10], [0, 2, 3, 5], [0, 0, 2, 2]])
    assert fewest_copies(instance, 1) == 30.0
    assert fewest_copies(instance, 2) == 15.0


# --------------------------------------------------------------------------- property


@st.composite
def placed(draw: st.DrawFn) -> tuple[MoeInstance, np.ndarray]:
    """A tiny random instance (1-2 layers, 2-5 experts, 1-2 nodes of 1-2 GPUs, up to two
    spare slots per GPU, sparse transitions and co-activation) and a random valid
    placement of it."""
    layers = draw(st.integers(1, 2))
    nodes, per_node = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    gpus = nodes * per_node
    experts = draw(st.integers(2, 5))
    slots = -(-experts // gpus) + draw(st.integers(0, 2))
    top_k = draw(st.integers(1, min(3, experts)))
    load = [[draw(st.integers(0, 40)) for _ in range(experts)] for _ in range(layers)]
    pairs = st.tuples(st.integers(0, experts - 1), st.integers(0, experts - 1),
                      st.integers(0, 30))
    transitions = {}
    for layer in range(layers - 1):
        for e, f, n in draw(st.lists(pairs, max_size=6)):
            transitions[layer, e, f] = n
    coactivation = {}
    for layer in range(layers):
        for e, f, n in draw(st.lists(pairs, max_size=6)):
            if e != f:
                coactivation[layer, min(e, f), max(e, f)] = n
    instance = from_dict({
        "model": {"layers": layers, "experts": experts, "top_k": top_k,
                  "expert_bytes": 1000, "token_bytes": draw(st.sampled_from([512, 7168]))},
        "cluster": {"nodes": nodes, "gpus_per_node": per_node, "slots_per_gpu": slots,
                    "intra_node_GBps": draw(st.sampled_from([45.0, 155.0])),
                    "inter_node_GBps": draw(st.sampled_from([25.0, 45.0, 200.0]))},
        "load": load,
        "transitions": [[*key, n] for key, n in transitions.items()],
        "coactivation": [[*key, n] for key, n in coactivation.items()],
        "cost": {"us_per_token": draw(st.sampled_from([0.0, 0.2, 1.0])),
                 "us_per_expert": draw(st.sampled_from([0.0, 13.0]))}})
    rows = []
    for _ in range(layers):
        extra = draw(st.lists(st.integers(0, experts - 1), min_size=gpus * slots - experts,
                              max_size=gpus * slots - experts))
        rows.append(draw(st.permutations([*range(experts), *extra])))
    return instance, np.array(rows, np.int64)


@settings(max_examples=50, deadline=None)
@given(placed())
def test_bounds_never_exceed_a_placement(case: tuple[MoeInstance, np.ndarray]) -> None:
    """For both objectives, lower_bound <= the checker's objective of any valid placement;
    per layer, the token bound <= the heaviest GPU's tokens, and the compute bound <= the
    heaviest GPU's compute."""
    instance, phy = case
    p = parts(instance, phy)
    tolerance = 1e-9
    assert (token_bounds(instance) <= p.tokens.max(axis=1) * (1 + tolerance)).all()
    assert (compute_bounds(instance) <= p.compute.max(axis=1) * (1 + tolerance) + 1e-9).all()
    for goal in ("time", "load"):
        chosen = replace(instance, objective=goal)
        ev = evaluate(chosen, make(phy))
        assert ev.feasible and ev.objective is not None
        assert lower_bound(chosen) <= ev.objective * (1 + tolerance) + 1e-9, goal
