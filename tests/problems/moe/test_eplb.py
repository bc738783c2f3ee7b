"""EPLB in numpy: the README example, hand-checked ties, the std::sort port, bad arguments."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from optsched.errors import InputError
from optsched.problems.moe.eplb import (
    _introsort,
    _torch_sum,
    balanced_packing,
    descending_order,
    rebalance,
    replicate_experts,
)


@pytest.mark.data
def test_readme_example(data_dir: Path) -> None:
    """The README's 2 layers x 12 experts, 16 replicas, 4 groups, 2 nodes, 8 GPUs.

    The rest is the hand trace of the research note: layer 0 replicates logical 5 and 4 on
    node 0 and 10 and 1 on node 1, so logcnt has 2s there; expert 1's original lands in
    slot 15, after its replica in slot 13, so log2phy lists [15, 13] (creation rank, not
    slot order). Rows hold at most 8 items, so the stable tie rule gives the same map.
    With one node (always hierarchical) the groups only reorder ties: same as global.
    """
    path = data_dir / "moe" / "eplb_readme_example.json"
    if not path.is_file():
        pytest.skip(f"no {path}")
    ex = json.loads(path.read_text())
    args = (ex["weight"], ex["num_replicas"], ex["num_groups"], ex["num_nodes"], ex["num_gpus"])
    placement = rebalance(*args)
    assert placement.policy == "hierarchical"
    assert placement.phy2log.tolist() == ex["expected_phy2log"]
    assert placement.logcnt.tolist() == [[1, 2, 1, 1, 2, 2, 1, 1, 1, 1, 2, 1],
                                         [1, 2, 1, 1, 1, 2, 2, 1, 2, 1, 1, 1]]
    assert placement.log2phy.shape == (2, 12, 2)
    assert placement.log2phy[0, 1].tolist() == [15, 13]
    assert placement.log2phy[0, 0].tolist() == [12, -1]
    assert rebalance(*args, ties="stable").phy2log.tolist() == ex["expected_phy2log"]
    one_node = rebalance(ex["weight"], ex["num_replicas"], 4, 1, ex["num_gpus"])
    glob = rebalance(*args, policy="global")
    assert one_node.policy == "hierarchical" and glob.policy == "global"
    assert np.array_equal(one_node.phy2log, glob.phy2log)


def test_replicate_dhondt() -> None:
    """[6, 3, 1] to 5 slots: 6 is highest -> expert 0 (6/2 = 3); then 3 vs 3 tie -> the
    first, expert 0 again (6/3 = 2). Ranks count the copies: 0, 0, 0, 1, 2."""
    phy2log, rank, logcnt = replicate_experts([[6, 3, 1]], 5)
    assert phy2log.tolist() == [[0, 1, 2, 0, 0]]
    assert rank.tolist() == [[0, 0, 0, 1, 2]]
    assert logcnt.tolist() == [[3, 1, 1]]


def test_replicate_float32_tie() -> None:
    """Loads 6,000,001 and 10,000,002 get replicas 1, 0, 1, 1, 0, 1 (ratios 6e6 < 10e6,
    6e6 > 5e6, 3e6 < 5e6, 3e6 < 3.33e6, 3e6 > 2.5e6, 2e6 < 2.5e6), reaching counts 3
    and 5. Then 6000001/3 and 10000002/5 both round to 2000000.375 in float32, so the
    first (index 0) wins; in float64 2000000.33 < 2000000.4 would give it to index 1."""
    w = [[6_000_001, 10_000_002]]
    phy2log, _, logcnt = replicate_experts(w, 9)
    assert phy2log.tolist() == [[0, 1, 1, 0, 1, 1, 0, 1, 0]]
    assert logcnt.tolist() == [[4, 5]]
    assert np.float32(6_000_001) / np.float32(3) == np.float32(10_000_002) / np.float32(5)
    assert rebalance(w, 9, 1, 1, 1).logcnt.tolist() == [[4, 5]]


def test_balanced_packing_ties() -> None:
    """[2, 2, 1, 1] into 2 packs: item 0 -> pack 0 (both empty, lowest index), item 1 ->
    pack 1 (0 < 2), item 2 -> loads 2 and 2 tie -> pack 0, item 3 -> pack 1.
    [4, 3, 3, 2]: 4 -> p0, 3 (item 1, first of the tie) -> p1, 3 -> p1 (3 < 4), 2 -> p0."""
    pack, rank = balanced_packing([[2, 2, 1, 1], [4, 3, 3, 2]], 2)
    assert pack.tolist() == [[0, 1, 0, 1], [0, 1, 1, 0]]
    assert rank.tolist() == [[0, 0, 1, 1], [0, 0, 1, 1]]


def test_balanced_packing_one_per_pack_does_not_sort() -> None:
    """One item per pack: item i goes to pack i whatever the loads."""
    pack, rank = balanced_packing([[1, 5, 3]], 3)
    assert pack.tolist() == [[0, 1, 2]] and rank.tolist() == [[0, 0, 0]]


def test_log2phy_by_creation_rank() -> None:
    """Global policy (1 group, 2 nodes: 1 % 2 != 0), 4 slots on 2 GPUs.

    Layer 0 [10, 1]: both extra replicas go to expert 0 (10 > 1, 5 > 1): slots before
    packing [e0 r0, e1, e0 r1, e0 r2] with loads [10/3, 1, 10/3, 10/3]. LPT (ties in
    index order): r0 -> G0, r1 -> G1, r2 -> G0 (3.33 tie, lowest GPU), e1 -> G1. Final
    slots [e0 r0, e0 r2, e0 r1, e1]: log2phy of e0 is [0, 2, 1], not [0, 1, 2].
    Layer 1 [1, 1]: 1 vs 1 -> e0, then 0.5 vs 1 -> e1; all four loads 0.5 tie -> slots
    [e0, e0, e1, e1]; its rows are padded to the width 3 of layer 0.
    """
    placement = rebalance([[10, 1], [1, 1]], 4, 1, 2, 2)
    assert placement.policy == "global"
    assert placement.phy2log.tolist() == [[0, 0, 0, 1], [0, 0, 1, 1]]
    assert placement.logcnt.tolist() == [[3, 1], [2, 2]]
    assert placement.log2phy.tolist() == [[[0, 2, 1], [3, -1, -1]],
                                          [[0, 1, -1], [2, 3, -1]]]


def test_policy_switch() -> None:
    """[4, 3, 2, 1], 4 slots on 2 GPUs, no redundancy.

    Hierarchical (2 groups, 2 nodes): group {0, 1} -> node 0, {2, 3} -> node 1, one GPU
    each: [0, 1, 2, 3]. Global: LPT 4 -> G0, 3 -> G1, 2 -> G1 (3 < 4), 1 -> G0:
    [0, 3, 1, 2]. 1 group on 2 nodes picks global, as does forcing it.
    """
    w = [[4, 3, 2, 1]]
    assert rebalance(w, 4, 2, 2, 2).phy2log.tolist() == [[0, 1, 2, 3]]
    assert rebalance(w, 4, 1, 2, 2).phy2log.tolist() == [[0, 3, 1, 2]]
    assert rebalance(w, 4, 2, 2, 2, policy="global").phy2log.tolist() == [[0, 3, 1, 2]]
    with pytest.raises(InputError) as err:
        rebalance(w, 4, 1, 2, 2, policy="hierarchical")
    assert err.value.field == "num_groups"


def test_group_sums_in_torch_order() -> None:
    """Torch sums 16 float32 as 8 lanes (x[j] + x[8 + j]) then the lanes left to right:
    2^24 + (1 + 1) = 16777218 exactly, where left to right 2^24 + 1 rounds back to 2^24
    (twice). Below 8 items it adds left to right: 2^24 + 1 + 1 = 2^24."""
    x = np.zeros((1, 16), np.float32)
    x[0, 0], x[0, 1], x[0, 9] = 2.0**24, 1, 1
    assert _torch_sum(x).tolist() == [16777218.0]
    assert _torch_sum(np.array([[2.0**24, 1, 1]], np.float32)).tolist() == [16777216.0]


def _tie_heavy(rng: np.random.Generator, n: int) -> npt.NDArray[np.float32]:
    """Halves of 1..8 distinct integers: shuffled, ascending, descending or organ pipe."""
    kind = rng.integers(4)
    x = rng.integers(0, int(rng.integers(1, 9)), n) / 2
    if kind == 1:
        x = np.sort(x)
    elif kind == 2:
        x = np.sort(x)[::-1]
    elif kind == 3:
        x = np.concatenate([np.sort(x[: n // 2]), np.sort(x[n // 2:])[::-1]])
    return x.astype(np.float32)


def test_descending_order_is_a_sorting_permutation() -> None:
    rng = np.random.default_rng(1)
    for n in [*range(0, 40), 63, 64, 65, 200, 401]:
        x = _tie_heavy(rng, n)
        order = descending_order(x)
        assert sorted(order.tolist()) == list(range(n))
        assert np.all(np.diff(x[order]) <= 0)


def test_short_rows_are_stable() -> None:
    """std::sort insertion-sorts up to 16 items, which keeps ties in index order."""
    rng = np.random.default_rng(2)
    for _ in range(300):
        x = _tie_heavy(rng, int(rng.integers(0, 17)))
        stable = np.argsort(-x, kind="stable").tolist()
        assert _introsort(x.tolist()) == stable
        assert descending_order(x).tolist() == stable


CPP = r"""
#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>
int main() {
  int t;
  if (std::scanf("%d", &t) != 1) return 1;
  auto desc = [](const std::pair<float, long>& a, const std::pair<float, long>& b) {
    return a.first > b.first;
  };
  while (t-- > 0) {
    int n, heap;
    if (std::scanf("%d %d", &n, &heap) != 2) return 1;
    std::vector<std::pair<float, long>> v(n);
    for (int i = 0; i < n; ++i) {
      if (std::scanf("%f", &v[i].first) != 1) return 1;
      v[i].second = i;
    }
    if (heap) {
      std::make_heap(v.begin(), v.end(), desc);
      std::sort_heap(v.begin(), v.end(), desc);
    } else {
      std::sort(v.begin(), v.end(), desc);
    }
    for (const auto& p : v) std::printf("%ld ", p.second);
    std::printf("\n");
  }
  return 0;
}
"""


def test_introsort_matches_libstdcxx(tmp_path: Path) -> None:
    """The port equals g++'s std::sort (key_a > key_b) on 200 tie-heavy rows of 17..400
    items, and, with no depth left (its heapsort fallback, then a no-op insertion pass),
    std::make_heap + std::sort_heap on 40 more; most orders differ from the stable one."""
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("no g++")
    (tmp_path / "sort.cpp").write_text(CPP)
    subprocess.run([gxx, "-O1", "-o", str(tmp_path / "sort"), str(tmp_path / "sort.cpp")],
                   check=True, capture_output=True)
    rng = np.random.default_rng(3)
    rows = [(_tie_heavy(rng, int(rng.integers(17, 401))), i >= 200) for i in range(240)]
    lines = [str(len(rows))]
    lines += [f"{len(x)} {int(heap)} " + " ".join(f"{v:g}" for v in x) for x, heap in rows]
    out = subprocess.run([str(tmp_path / "sort")], input="\n".join(lines), text=True,
                         capture_output=True, check=True).stdout.splitlines()
    unstable = 0
    for (x, heap), line in zip(rows, out, strict=True):
        expected = [int(v) for v in line.split()]
        assert _introsort(x.tolist(), depth=0 if heap else None) == expected
        if not heap:
            assert descending_order(x).tolist() == expected
        unstable += expected != np.argsort(-x, kind="stable").tolist()
    assert unstable > 150


def _check_maps(placement: Any, reps: int, gpus: int) -> None:
    layers, experts = placement.logcnt.shape
    assert placement.phy2log.shape == (layers, reps)
    assert (placement.logcnt >= 1).all() and (placement.logcnt.sum(axis=1) == reps).all()
    for layer in range(layers):
        counts = np.bincount(placement.phy2log[layer], minlength=experts)
        assert np.array_equal(counts, placement.logcnt[layer])
        for e in range(experts):
            slots = placement.log2phy[layer, e]
            used = slots[: placement.logcnt[layer, e]]
            assert (slots[len(used):] == -1).all() and (placement.phy2log[layer, used] == e).all()
    assert placement.log2phy.shape[2] == placement.logcnt.max()


def test_deepseek_v3_scale_maps_are_consistent() -> None:
    """58 layers x 256 experts, 288 slots, 8 groups, 4 nodes, 32 GPUs; hierarchical keeps
    each group of 32 experts on one node (72 slots each); both policies give valid maps."""
    w = np.random.default_rng(4).integers(0, 50, (58, 256))
    hier = rebalance(w, 288, 8, 4, 32)
    assert hier.policy == "hierarchical"
    _check_maps(hier, 288, 32)
    node_of_group = hier.phy2log.reshape(58, 4, 72) // 32
    for layer in range(58):
        for node in range(4):
            groups = set(node_of_group[layer, node].tolist())
            assert len(groups) == 2
    glob = rebalance(w, 288, 8, 4, 32, policy="global")
    _check_maps(glob, 288, 32)


BAD: list[tuple[dict[str, Any], str]] = [
    ({"weight": [1, 2, 3]}, "weight"),
    ({"weight": [[1, 2], [3]]}, "weight"),
    ({"weight": [["a", "b"]]}, "weight"),
    ({"weight": np.zeros((0, 12))}, "weight"),
    ({"weight": [[1.0, float("nan")] + [1.0] * 10]}, "weight[0][1]"),
    ({"weight": [[1.0] * 11 + [float("inf")]]}, "weight[0][11]"),
    ({"weight": [[1] * 12, [-1] + [1] * 11]}, "weight[1][0]"),
    ({"weight": [[1e39] + [1.0] * 11]}, "weight[0][0]"),
    ({"num_groups": 8}, "num_groups"),
    ({"num_gpus": 3}, "num_gpus"),
    ({"num_replicas": 15}, "num_replicas"),
    ({"num_replicas": 8}, "num_replicas"),
    ({"num_replicas": 16.0}, "num_replicas"),
    ({"num_gpus": 0}, "num_gpus"),
    ({"num_nodes": True}, "num_nodes"),
    ({"policy": "nearest"}, "policy"),
    ({"ties": "random"}, "ties"),
]


@pytest.mark.parametrize(("change", "field"), BAD)
def test_bad_arguments_name_the_field(change: dict[str, Any], field: str) -> None:
    """Each change to a valid call (12 experts, 16 slots, 4 groups, 2 nodes, 8 GPUs)."""
    args: dict[str, Any] = {"weight": [[1] * 12], "num_replicas": 16, "num_groups": 4,
                            "num_nodes": 2, "num_gpus": 8}
    args.update(change)
    with pytest.raises(InputError) as err:
        rebalance(**args)
    assert err.value.field == field


def test_helpers_bad_arguments() -> None:
    unknown: Any = "x"
    calls: list[tuple[Callable[[], object], str]] = [
        (lambda: balanced_packing([[1, 2, 3]], 2), "num_packs"),
        (lambda: balanced_packing([[1, 2]], 2, ties=unknown), "ties"),
        (lambda: replicate_experts([[1, 2, 3]], 2), "num_phy"),
        (lambda: descending_order([[1.0]]), "keys"),
        (lambda: descending_order([1.0, float("nan")]), "keys"),
        (lambda: descending_order([1.0], ties=unknown), "ties")]
    for call, field in calls:
        with pytest.raises(InputError) as err:
            call()
        assert err.value.field == field
