"""The moe cost model (evaluate.py) against hand calculations on tiny instances.

Conventions of every docstring below: ``a`` = us_per_token, ``b`` = us_per_expert,
``G`` GPUs in ``N`` nodes, ``k`` = top_k; the communication time is
``token_bytes / (G * 1000) * (intra / intra_GBps + inter / inter_GBps)`` with
``intra = 2 copies_gpu (G - 1) / G + (cross_gpu - cross_node)`` and
``inter = 2 copies_node (N - 1) / N + cross_node``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from optsched.problems.moe.costs import comm_time, migration_time
from optsched.problems.moe.evaluate import evaluate, parts
from optsched.problems.moe.instance import MoeInstance, from_dict
from optsched.problems.moe.output import export
from optsched.problems.moe.solution import make


def tiny(load: list[list[int]], *, nodes: int, gpus_per_node: int, slots: int, top_k: int = 1,
         token_bytes: int = 1000, intra: float = 10.0, inter: float = 5.0, a: float = 1.0,
         b: float = 0.0, **fields: Any) -> MoeInstance:
    """An instance from its loads and cluster (expert_bytes 1000 unless given)."""
    data: dict[str, Any] = {
        "model": {"layers": len(load), "experts": len(load[0]), "top_k": top_k,
                  "expert_bytes": fields.pop("expert_bytes", 1000), "token_bytes": token_bytes},
        "cluster": {"nodes": nodes, "gpus_per_node": gpus_per_node, "slots_per_gpu": slots,
                    "intra_node_GBps": intra, "inter_node_GBps": inter},
        "load": load, "cost": {"us_per_token": a, "us_per_expert": b,
                               "migration_weight": fields.pop("migration_weight", 0.0)},
        **fields}
    return from_dict(data)


def replicas(**fields: Any) -> MoeInstance:
    """1 layer, experts with loads 60, 20, 10, top-1, on 1 node x 2 GPUs x 2 slots (one
    spare slot); a = 0.5, b = 3; token_bytes 2000, NVLink 4 GB/s."""
    return tiny([[60, 20, 10]], nodes=1, gpus_per_node=2, slots=2, token_bytes=2000,
                intra=4.0, a=0.5, b=3.0, **fields)


def test_replicas_split_their_tokens() -> None:
    """Placement [0, 1 | 0, 2]: expert 0 has 2 replicas of 60 / 2 = 30 tokens.

    GPU 0 = 30 + 20 = 50 tokens, 2 experts: compute 0.5 * 50 + 3 * 2 = 31 us.
    GPU 1 = 30 + 10 = 40 tokens, 2 experts: compute 0.5 * 40 + 3 * 2 = 26 us.
    Top-1 without co-activation: every routed token is one copy, 90 (>= the floor
    90 / 1). One node: intra = 2 * 90 * 1 / 2 = 90, inter = 0. Scale
    2000 / (2 * 1000) = 1: comm = 90 / 4 = 22.5 us. time = 31 + 22.5 = 53.5;
    load = 50.
    """
    instance = replicas()
    p = parts(instance, np.array([[0, 1, 0, 2]]))
    assert p.tokens.tolist() == [[50.0, 40.0]]
    assert p.experts.tolist() == [[2, 2]]
    assert p.compute.tolist() == [[31.0, 26.0]]
    assert p.copies_gpu.tolist() == [90.0] and p.copies_node.tolist() == [90.0]
    ev = evaluate(instance, make([[0, 1, 0, 2]]))
    assert ev.feasible and ev.objective == pytest.approx(53.5)
    m = ev.metrics
    assert (m["load"], m["compute_us"]) == (50.0, 31.0)
    assert m["comm_us"] == pytest.approx(22.5) and m["migration_us"] == 0.0
    assert (m["cross_gpu"], m["cross_node"], m["dispatch_gpu_copies"]) == (0.0, 0.0, 90.0)
    assert m["internode_copies"] == 0.0  # one node: (N - 1) / N = 0
    load = evaluate(tiny([[60, 20, 10]], nodes=1, gpus_per_node=2, slots=2, token_bytes=2000,
                         intra=4.0, a=0.5, b=3.0, objective="load"), make([[0, 1, 0, 2]]))
    assert load.objective == 50.0 and load.metrics["time"] == pytest.approx(53.5)


def test_two_replicas_on_one_gpu_are_one_expert() -> None:
    """Placement [0, 0 | 1, 2]: both replicas of expert 0 on GPU 0, which serves all 60
    of its tokens and runs 1 distinct expert: 0.5 * 60 + 3 = 33 us; GPU 1: 20 + 10 = 30
    tokens, 2 experts: 15 + 6 = 21 us. time = 33 + 22.5 (comm as above) = 55.5; load 60.
    """
    instance = replicas()
    p = parts(instance, np.array([[0, 0, 1, 2]]))
    assert p.tokens.tolist() == [[60.0, 30.0]] and p.experts.tolist() == [[1, 2]]
    assert p.compute.tolist() == [[33.0, 21.0]]
    ev = evaluate(instance, make([[0, 0, 1, 2]]))
    assert ev.objective == pytest.approx(55.5) and ev.metrics["load"] == 60.0


def _two_nodes(**fields: Any) -> MoeInstance:
    """2 layers of 2 experts, top-2, 2 nodes x 1 GPU x 1 slot; 10 tokens per layer, each
    choosing both experts (load 10, 10; co-activation (0, 1) = 10 in both layers).
    Transitions, all k^2 = 4 pairs of each token: 0->0: 6, 0->1: 4, 1->0: 3, 1->1: 7.
    a = 1, b = 0, token_bytes 1000, NVLink 10 GB/s, network 5 GB/s."""
    return tiny([[10, 10], [10, 10]], nodes=2, gpus_per_node=1, slots=1, top_k=2,
                transitions=[[0, 0, 0, 6], [0, 0, 1, 4], [0, 1, 0, 3], [0, 1, 1, 7]],
                coactivation=[[0, 0, 1, 10], [1, 0, 1, 10]], **fields)


def test_transitions_are_divided_by_top_k() -> None:
    """Layer 0 [0 | 1], layer 1 [0 | 1]: the pairs 0->1 (4) and 1->0 (3) change GPU, and
    node: 7 pairs / k = 3.5 crossings of each kind. Layer 1 [1 | 0]: now 0->0 (6) and
    1->1 (7) change: 13 / 2 = 6.5.

    Dispatch: experts 0 and 1 never share a GPU (or node), so m_e = 0: 10 + 10 = 20 copies
    per layer (>= the floor 20 / 2 = 10), 40 over both layers, for GPUs and nodes.
    Scale 1000 / (2 * 1000) = 0.5.
    First: intra = 2 * 40 * 1/2 + (3.5 - 3.5) = 40, inter = 2 * 40 * 1/2 + 3.5 = 43.5,
    comm = 0.5 * (40 / 10 + 43.5 / 5) = 0.5 * (4 + 8.7) = 6.35.
    Second: inter = 40 + 6.5 = 46.5: comm = 0.5 * (4 + 9.3) = 6.65.
    Compute: 10 tokens on each GPU per layer: 10 + 10 = 20 us. time = 26.35 and 26.65.
    """
    instance = _two_nodes()
    first = evaluate(instance, make([[0, 1], [0, 1]]))
    second = evaluate(instance, make([[0, 1], [1, 0]]))
    assert (first.metrics["cross_gpu"], first.metrics["cross_node"]) == (3.5, 3.5)
    assert (second.metrics["cross_gpu"], second.metrics["cross_node"]) == (6.5, 6.5)
    assert first.metrics["dispatch_gpu_copies"] == 40.0
    assert first.metrics["internode_copies"] == 20.0  # 40 node copies x (N - 1) / N
    assert first.metrics["compute_us"] == 20.0
    assert first.metrics["comm_us"] == pytest.approx(6.35)
    assert second.metrics["comm_us"] == pytest.approx(6.65)
    assert first.objective == pytest.approx(26.35)
    assert second.objective == pytest.approx(26.65)


def _ring(**fields: Any) -> MoeInstance:
    """2 layers of 4 experts, top-1, 10 tokens each; 2 nodes x 2 GPUs x 1 slot (GPU g on
    node g // 2); transitions e -> e + 1 (mod 4), 10 each; a = 1, b = 0,
    token_bytes 4000 (scale 4000 / (4 * 1000) = 1), NVLink 10, network 5."""
    return tiny([[10] * 4, [10] * 4], nodes=2, gpus_per_node=2, slots=1, token_bytes=4000,
                transitions=[[0, 0, 1, 10], [0, 1, 2, 10], [0, 2, 3, 10], [0, 3, 0, 10]],
                **fields)


def test_cross_gpu_and_cross_node() -> None:
    """Identity in both layers (expert g on GPU g): 0->1 is GPU 0->1 (same node), 1->2 GPU
    1->2 (other node), 2->3 same node, 3->0 other node: cross_gpu = 40, cross_node = 20.
    Layer 1 as [1, 0, 3, 2] (expert 1 on GPU 0, 0 on 1, 3 on 2, 2 on 3): 0->1 and 2->3
    stay, 1->2 is GPU 1->3 and 3->0 GPU 2->1, both across nodes: 20 and 20.

    Copies: 40 per layer, 80 (GPU and node). G = 4, N = 2:
    identity: intra = 2 * 80 * 3/4 + (40 - 20) = 140, inter = 2 * 80 * 1/2 + 20 = 100:
    comm = 140 / 10 + 100 / 5 = 34; swapped: intra = 120 + 0: comm = 12 + 20 = 32.
    Compute 10 + 10 = 20: time 54 and 52.
    """
    instance = _ring()
    same = parts(instance, np.array([[0, 1, 2, 3], [0, 1, 2, 3]]))
    assert (same.cross_gpu.tolist(), same.cross_node.tolist()) == ([40.0], [20.0])
    other = parts(instance, np.array([[0, 1, 2, 3], [1, 0, 3, 2]]))
    assert (other.cross_gpu.tolist(), other.cross_node.tolist()) == ([20.0], [20.0])
    assert same.copies_gpu.tolist() == [40.0, 40.0] == same.copies_node.tolist()
    first = evaluate(instance, make([[0, 1, 2, 3], [0, 1, 2, 3]]))
    second = evaluate(instance, make([[0, 1, 2, 3], [1, 0, 3, 2]]))
    assert first.metrics["comm_us"] == pytest.approx(34.0)
    assert second.metrics["comm_us"] == pytest.approx(32.0)
    assert first.objective == pytest.approx(54.0)
    assert second.objective == pytest.approx(52.0)
    best = evaluate(instance, make([[0, 1, 2, 3], [1, 2, 3, 0]]))
    assert best.metrics["cross_gpu"] == 0.0 and best.objective == pytest.approx(48.0)


def test_comm_time_formula() -> None:
    """costs.comm_time on the ring's cluster (G = 4, N = 2, 4000 B tokens, 10 / 5 GB/s):
    copies 100 / 60, crossings 30 / 10: intra = 2 * 100 * 3/4 + 20 = 170, inter =
    2 * 60 * 1/2 + 10 = 70; 4000 B / (4 * 1000) = 1 us per copy and GB/s:
    170 / 10 + 70 / 5 = 31 us. Bytes in microseconds: B / (G * GBps * 1000) per link kind.
    Migration: weight 0.5, 8000 bytes over NVLink: 0.5 * 8000 / (4 * 10 * 1000) = 0.1 us.
    """
    instance = _ring(migration_weight=0.5)
    assert comm_time(instance, 100.0, 60.0, 30.0, 10.0) == pytest.approx(31.0)
    assert comm_time(instance, 0.0, 0.0, 0.0, 0.0) == 0.0
    assert migration_time(instance, 8000.0) == pytest.approx(0.1)


def test_traffic_table() -> None:
    """The ring's identity placement, per GPU pair over both layers:
    dispatch: each GPU receives 10 copies a layer (no co-activation), 20 in all, a
    quarter from each GPU (5), and the combine sends them back (5 more): 10 each way;
    transitions add 10 on 0->1, 1->2, 2->3 and 3->0. The export adds it up per GPU
    (sent = received = 20 + 10 + 10 = 40) and in bytes (x 4000).
    """
    instance = _ring()
    phy = [[0, 1, 2, 3], [0, 1, 2, 3]]
    assert parts(instance, np.array(phy)).traffic.tolist() == [
        [0, 20, 10, 10], [10, 0, 20, 10], [10, 10, 0, 20], [20, 10, 10, 0]]
    doc = json.loads(export(instance, make(phy)))
    assert doc["physical_to_logical_map"] == phy
    assert doc["logical_to_physical_map"] == [[[0], [1], [2], [3]]] * 2
    assert doc["logical_replica_count"] == [[1, 1, 1, 1]] * 2
    assert [(g["gpu"], g["node"], g["tokens"], g["sent_tokens"], g["received_tokens"])
            for g in doc["gpus"]] == [(g, g // 2, 20.0, 40.0, 40.0) for g in range(4)]
    assert doc["traffic_bytes"][0] == [0, 80000, 40000, 40000]


def test_export_of_replicas() -> None:
    """[0, 1 | 0, 2] with loads 60, 20, 10: expert 0 in slots 0 and 2, 1 in slot 1, 2 in
    slot 3 (vLLM's map: slots ascending, -1 padded to 2); GPU 0 has 30 + 20 = 50 tokens,
    GPU 1 30 + 10 = 40. Dispatch (top-1, no co-activation): GPU g receives its tokens,
    half of them from each GPU: 0 -> 1 carries 40 / 2 + 50 / 2 (combine) = 45 tokens, as
    does 1 -> 0."""
    doc = json.loads(export(replicas(), make([[0, 1, 0, 2]])))
    assert doc["logical_to_physical_map"] == [[[0, 2], [1, -1], [3, -1]]]
    assert doc["logical_replica_count"] == [[2, 1, 1]]
    assert [(g["tokens"], g["experts"]) for g in doc["gpus"]] == [(50.0, 2), (40.0, 2)]
    assert doc["traffic_tokens"] == [[0, 45.0], [45.0, 0]]
    assert doc["traffic_bytes"] == [[0, 90000.0], [90000.0, 0]]


def test_copies_follow_coactivation() -> None:
    """1 layer, loads 10, 10, 5, 5, top-2: 10 tokens chose {0, 1}, 5 chose {2, 3}
    (co-activation (0, 1) = 10, (2, 3) = 5); 1 node x 2 GPUs x 2 slots.
    [0, 1 | 2, 3]: each pair on one GPU, m = 1 for every expert:
    10/2 + 10/2 + 5/2 + 5/2 = 15 copies, one per token (the floor 30 / 2 = 15).
    [0, 2 | 1, 3]: pairs split, m = 0: 10 + 10 + 5 + 5 = 30 copies, two per token.
    On a single node every pair shares the node: 15 node copies either way.
    """
    instance = tiny([[10, 10, 5, 5]], nodes=1, gpus_per_node=2, slots=2, top_k=2,
                    coactivation=[[0, 0, 1, 10], [0, 2, 3, 5]])
    together = parts(instance, np.array([[0, 1, 2, 3]]))
    apart = parts(instance, np.array([[0, 2, 1, 3]]))
    assert (together.copies_gpu.tolist(), together.copies_node.tolist()) == ([15.0], [15.0])
    assert (apart.copies_gpu.tolist(), apart.copies_node.tolist()) == ([30.0], [15.0])


def test_copies_with_replicas() -> None:
    """Loads 10, 10, top-2, 10 tokens chose both (co-activation 10); 1 node x 2 GPUs x
    2 slots, [0, 1 | 0, 1]: each expert half on each GPU, same(0, 1) = 1/2 * 1/2 +
    1/2 * 1/2 = 1/2, m_e = 10 * 1/2 / 10 = 0.5: copies = 2 * 10 / 1.5 = 13.33 (above the
    floor 20 / 2 = 10). Tokens: 5 + 5 = 10 per GPU.
    """
    instance = tiny([[10, 10]], nodes=1, gpus_per_node=2, slots=2, top_k=2,
                    coactivation=[[0, 0, 1, 10]])
    p = parts(instance, np.array([[0, 1, 0, 1]]))
    assert p.copies_gpu.tolist() == [pytest.approx(40 / 3)]
    assert p.tokens.tolist() == [[10.0, 10.0]] and p.experts.tolist() == [[2, 2]]


def test_copies_floor() -> None:
    """Top-1, loads 10 and 10 (20 tokens), but co-activation claims 10 tokens chose both
    (counts a real top-1 router cannot give). On one GPU of 2 slots m = 1 each: the
    estimate 10/2 + 10/2 = 10 is below the 20 tokens, each of which sends a copy: the
    floor routed / k = 20 / 1 holds. Split over 2 GPUs: m = 0, 20 anyway.
    """
    one = tiny([[10, 10]], nodes=1, gpus_per_node=1, slots=2, coactivation=[[0, 0, 1, 10]])
    assert parts(one, np.array([[0, 1]])).copies_gpu.tolist() == [20.0]
    two = tiny([[10, 10]], nodes=1, gpus_per_node=2, slots=1, coactivation=[[0, 0, 1, 10]])
    assert parts(two, np.array([[0, 1]])).copies_gpu.tolist() == [20.0]


def _planned(max_moved: float | None, weight: float = 0.0) -> MoeInstance:
    """The replicas instance with previous [0, 1 | 0, 2] (GPU 0 held {0, 1}, GPU 1 {0, 2}),
    expert_bytes 1000."""
    return replicas(previous=[[0, 1, 0, 2]], max_moved=max_moved, migration_weight=weight)


def test_moved_copies() -> None:
    """Against previous [0, 1 | 0, 2]:
    [0, 1 | 0, 2] moves nothing; [0, 1 | 2, 2] nothing either (GPU 1 held 2 already:
    a second copy of a present expert is free); [0, 2 | 0, 1]: 2 is new on GPU 0 and 1
    on GPU 1: 2 moved, 2 / (1 layer x 4 slots) = 0.5 of the slots, 2000 bytes.
    With migration weight 1: 2000 / (2 GPUs * 4 GB/s * 1000) = 0.25 us more time.
    """
    instance = _planned(None, weight=1.0)
    assert evaluate(instance, make([[0, 1, 0, 2]])).metrics["moved"] == 0
    assert evaluate(instance, make([[0, 1, 2, 2]])).metrics["moved"] == 0
    ev = evaluate(instance, make([[0, 2, 0, 1]]))
    m = ev.metrics
    assert (m["moved"], m["moved_share"], m["moved_bytes"]) == (2, 0.5, 2000)
    assert m["migration_us"] == pytest.approx(0.25)
    # [0, 2 | 0, 1] has the tokens of [0, 1 | 0, 2] mirrored: 50 / 40, compute 31, comm 22.5
    assert ev.objective == pytest.approx(31 + 22.5 + 0.25)
    assert ev.feasible


def test_max_moved_violation() -> None:
    """2 moved copies are 0.5 of the slots: above max_moved 0.25, within 0.5."""
    over = evaluate(_planned(0.25), make([[0, 2, 0, 1]]))
    assert over.violations == ("2 expert copies moved (0.5 of the slots), above max_moved "
                               "0.25",)
    assert over.objective is not None  # still priced
    assert evaluate(_planned(0.5), make([[0, 2, 0, 1]])).feasible
    assert evaluate(_planned(0.0), make([[0, 1, 0, 2]])).feasible


def test_imbalance_cap() -> None:
    """Loads 60, 20, 10 on 2 GPUs of 2 slots: the token bound is the mean 90 / 2 = 45
    (the hot expert's 60 / 2 = 30 and the largest piece 30 plus the smallest piece
    10 / 2 = 5 are lower). [0, 1 | 0, 2] has 50 on GPU 0: 50 / 45 = 1.111 x the bound,
    above a cap of 1.1, within 1.12. (It is the optimum: pieces 30, 30, 20, 10 split
    best as 50 / 40.)
    """
    over = evaluate(replicas(imbalance=1.1), make([[0, 1, 0, 2]]))
    assert over.violations == ("layer 0: the heaviest GPU has 50 tokens, above 1.1 x the "
                               "bound 45 (1 layer(s) over)",)
    assert over.metrics["imbalance"] == pytest.approx(50 / 45)
    assert evaluate(replicas(imbalance=1.12), make([[0, 1, 0, 2]])).feasible
    assert evaluate(replicas(imbalance=50 / 45), make([[0, 1, 0, 2]])).feasible


@pytest.mark.parametrize(("phy", "violation"), [
    ([[0, 1, 0]], "phy2log must have 1 rows of 4 slots, got shape [1, 3]"),
    ([[0, 1, 0, 2], [0, 1, 0, 2]], "phy2log must have 1 rows of 4 slots, got shape [2, 4]"),
    ([[0, 1, 3, 2]], "phy2log[0][2] = 3 is not an expert of the layer (1 such slot(s))"),
    ([[0, -1, -1, 2]], "phy2log[0][1] = -1 is not an expert of the layer (2 such slot(s))"),
    ([[0, 1, 0, 1]], "layer 0: expert 2 has no slot (1 expert(s) missing)"),
    ([[0, 0, 0, 0]], "layer 0: expert 1 has no slot (2 expert(s) missing)"),
], ids=["short", "extra-row", "out-of-range", "negative", "missing", "two-missing"])
def test_invalid_placements(phy: list[list[int]], violation: str) -> None:
    """A placement that is not one of this instance: one violation naming the slot or
    the expert, and no objective."""
    ev = evaluate(replicas(), make(phy))
    assert ev.violations == (violation,) and ev.objective is None


def test_one_violation_per_layer_without_a_slot() -> None:
    """Two layers each missing an expert: both listed."""
    instance = _ring()
    ev = evaluate(instance, make([[0, 1, 2, 2], [3, 3, 0, 1]]))
    assert ev.violations == ("layer 0: expert 3 has no slot (1 expert(s) missing)",
                             "layer 1: expert 2 has no slot (1 expert(s) missing)")


def test_metrics_sanity() -> None:
    """Two layers on 1 node x 2 GPUs x 2 slots, top-1, a = 1, b = 0:
    layer 0 loads 60, 20, 10 placed [0, 1 | 0, 2]: GPUs 50 / 40, bound 45;
    layer 1 loads 40, 40, 40 placed [0, 1 | 2, 0]: GPUs 40 + 20 = 60 / 40 + 20 = 60,
    bound max(120 / 2 = 60, 40 / 2 = 20, largest piece 40 / 2 + 40 / 2 = 40) = 60.
    balancedness = (45 + 60) / (50 + 60) = 0.9545; imbalance = max(50/45, 60/60) = 1.111;
    token_bound = 105; load = 110; one redundant slot per layer.
    """
    instance = tiny([[60, 20, 10], [40, 40, 40]], nodes=1, gpus_per_node=2, slots=2)
    ev = evaluate(instance, make([[0, 1, 0, 2], [0, 1, 2, 0]]))
    m = ev.metrics
    assert m["load"] == 110.0 and m["token_bound"] == 105.0
    assert m["balancedness"] == pytest.approx(105 / 110)
    assert m["imbalance"] == pytest.approx(50 / 45)
    assert m["replicas"] == 1 and m["goal"] == "time"
    assert 0 < m["balancedness"] <= 1 <= m["imbalance"]
    assert ev.objective == m["time"]
