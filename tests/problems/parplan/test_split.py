"""The exact layer split (split.py) and the columns (templates.py) against brute force.

Brute force: for a template (pools of the stages, TP, EP, batch) every composition of the
L layers into the p stages (``itertools.combinations`` of the p - 1 cut points), each
priced by ``cost.replica``; those that do not fit or break an SLO are dropped (with the
tolerance ``1 + 1e-12`` of split.py and the checker), and the best throughput is kept.
``split.best`` must reach it (relative 1e-9), and return None exactly when nothing is left.

Memory is made to bind with small ``gpu_mem_util`` values, and the stage times to matter
with a small framework overhead (0.2 ms).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from optsched.deadline import Deadline
from optsched.problems.parplan import cost, generate, master, split, templates
from optsched.problems.parplan.instance import ParplanInstance, from_dict

DENSE: dict[str, Any] = {**generate.TINY, "name": "dense8", "num_hidden_layers": 8,
                         "vocab_size": 8000}
"""TINY with 8 layers and a small vocabulary (a layer 15.2 M parameters, embedding 8.2 M)."""
MOE: dict[str, Any] = {**DENSE, "name": "moe7", "num_hidden_layers": 7, "experts": 8,
                       "top_k": 2, "moe_intermediate_size": 512, "shared_experts": 1,
                       "first_dense": 1}
"""7 layers: a dense first one, then 8 experts (top 2, one shared): layers of unequal cost."""
MLA: dict[str, Any] = {**DENSE, "name": "mla6", "num_hidden_layers": 6,
                       "num_key_value_heads": 8, "q_lora_rank": 256, "kv_lora_rank": 128,
                       "qk_rope_head_dim": 32, "qk_nope_head_dim": 64, "v_head_dim": 64}
"""6 layers of latent attention (the KV cache is not split by TP)."""

COMPUTE = {"name": "Compute-80GB", "bf16_tflops": 1000, "memory_gib": 80, "hbm_TBps": 0.5}
BANDWIDTH = {"name": "Bandwidth-80GB", "bf16_tflops": 20, "memory_gib": 80, "hbm_TBps": 5}
"""Two made-up GPUs: prefill (compute) is fast on the first, decode (bandwidth) on the
second, so that the TTFT and the throughput pull a mixed pipeline's split apart."""
FAST_SMALL = {"name": "Fast-8GB", "bf16_tflops": 989, "memory_gib": 8, "hbm_TBps": 3.35}
"""A fast GPU with little memory: time wants its layers, memory refuses them."""

CLUSTERS: dict[str, list[dict[str, Any]]] = {
    "l40s": [{"gpu": "L40S", "count": 4}],
    "h100+l40s": [{"gpu": "H100", "count": 2}, {"gpu": "L40S", "count": 2}],
    "compute+bandwidth": [{"gpu": COMPUTE, "count": 2}, {"gpu": BANDWIDTH, "count": 2}],
    "fast-small+l40s": [{"gpu": FAST_SMALL, "count": 2}, {"gpu": "L40S", "count": 2}],
}


COSTS: dict[str, Any] = {"eff_compute": 0.7, "eff_hbm": 0.8, "overhead_ms": 0.2,
                         "ttft_overhead_ms": 19.0, "reserve_gib": 0.0, "alpha_us": 10.0,
                         "kv_block_tokens": 16}
"""Every constant written out (the defaults may move), the overhead small."""


def make(model: dict[str, Any], cluster: str, util: float, prompt: int = 512,
         output: int = 128, **fields: Any) -> ParplanInstance:
    """An instance of ``model`` on a named cluster, batches 1 to 256, overhead 0.2 ms."""
    return from_dict({"name": "split", "model": model,
                      "cluster": {"nodes": CLUSTERS[cluster]},
                      "workload": {"prompt_tokens": prompt, "output_tokens": output,
                                   "batch_sizes": [1, 4, 16, 64, 256]},
                      "cost": {**COSTS, "gpu_mem_util": util}, **fields})


def bounds_of(cuts: tuple[int, ...], layers: int) -> tuple[int, ...]:
    return (0, *cuts, layers)


def brute(inst: ParplanInstance, pools: tuple[int, ...], tp: int, ep: bool, batch: int,
          only: tuple[int, ...] | None = None) -> tuple[float, tuple[int, ...]] | None:
    """The best (throughput, bounds) over every composition (or over ``only``), or None."""
    layers, found = inst.model.num_hidden_layers, None
    options = [only] if only is not None else [
        bounds_of(c, layers) for c in itertools.combinations(range(1, layers), len(pools) - 1)]
    for bounds in options:
        r = cost.replica(inst, [(k, a, b) for k, a, b in zip(pools, bounds, bounds[1:],
                                                             strict=False)], tp, ep, batch)
        if not r.fits:
            continue
        if inst.tpot_ms is not None and r.tpot_s > inst.tpot_ms * 1e-3 * (1 + 1e-12):
            continue
        if inst.ttft_ms is not None and r.ttft_s > inst.ttft_ms * 1e-3 * (1 + 1e-12):
            continue
        if found is None or r.throughput > found[0]:
            found = (r.throughput, bounds)
    return found


def sequences(inst: ParplanInstance, most: int) -> Iterator[tuple[int, ...]]:
    """Every pool sequence of at most ``most`` stages: one pool, or two contiguous runs."""
    n = len(inst.pools)
    for k in range(n):
        for p in range(1, most + 1):
            yield (k,) * p
    for a, b in itertools.permutations(range(n), 2):
        for first in range(1, most):
            for second in range(1, most - first + 1):
                yield (a,) * first + (b,) * second


def templates_of(inst: ParplanInstance, most: int = 4
                 ) -> Iterator[tuple[tuple[int, ...], int, bool, int]]:
    """Every (pools, tp, ep, batch) that the cluster can hold."""
    for pools in sequences(inst, most):
        sizes = set.intersection(*(set(templates.tp_sizes(inst, k)) for k in set(pools)))
        for tp in sorted(sizes):
            if any(pools.count(k) * tp > inst.pools[k].count for k in set(pools)):
                continue
            for ep in templates.ep_choices(inst, tp):
                for batch in inst.batch_sizes:
                    yield pools, tp, ep, batch


def check_against_brute(inst: ParplanInstance) -> dict[str, int]:
    """split.best == brute force on every template; counts of what was seen."""
    seen = {"found": 0, "none": 0, "uneven": 0}
    for pools, tp, ep, batch in templates_of(inst):
        want = brute(inst, pools, tp, ep, batch)
        got = split.best(inst, pools, tp, ep, batch)
        where = (pools, tp, ep, batch)
        if want is None:
            assert got is None, where
            seen["none"] += 1
            continue
        assert got is not None, (where, want)
        assert got.throughput == pytest.approx(want[0], rel=1e-9), (where, want, got)
        assert (got.pools, got.tp, got.ep, got.batch) == (pools, tp, ep, batch)
        assert got.bounds[0] == 0 and got.bounds[-1] == inst.model.num_hidden_layers
        assert all(a < b for a, b in itertools.pairwise(got.bounds))
        r = cost.replica(inst, got.stages, tp, ep, batch)  # the template is what it says
        assert (r.throughput, r.tpot_s, r.ttft_s) == (got.throughput, got.tpot_s, got.ttft_s)
        seen["found"] += 1
        if len(pools) > 1 and got.bounds != tuple(split.even(inst.model.num_hidden_layers,
                                                             len(pools))):
            seen["uneven"] += 1
    return seen


CASES: list[tuple[str, str, float, dict[str, Any]]] = [
    ("dense", "l40s", 0.006, {}),
    ("dense", "l40s", 0.02, {}),
    ("dense", "h100+l40s", 0.01, {}),
    ("dense", "h100+l40s", 0.05, {"slo": {"tpot_ms": 0.5}}),
    ("moe", "l40s", 0.01, {}),
    ("moe", "h100+l40s", 0.01, {}),
    ("moe", "h100+l40s", 0.05, {"slo": {"tpot_ms": 0.6, "ttft_ms": 25}}),
    ("mla", "l40s", 0.006, {}),
    ("mla", "h100+l40s", 0.006, {}),
    ("dense", "compute+bandwidth", 0.05, {"slo": {"ttft_ms": 25}, "output": 512}),
    ("dense", "compute+bandwidth", 0.05, {"slo": {"ttft_ms": 26, "tpot_ms": 1},
                                          "output": 512}),
    ("dense", "fast-small+l40s", 0.02, {}),
]
MODELS = {"dense": DENSE, "moe": MOE, "mla": MLA}


@pytest.mark.parametrize(("model", "cluster", "util", "fields"), CASES,
                         ids=[f"{m}-{c}-{u}-{'+'.join(f.get('slo', {})) or 'noslo'}"
                              for m, c, u, f in CASES])
def test_best_equals_brute_force(model: str, cluster: str, util: float,
                                 fields: dict[str, Any]) -> None:
    """Every pipeline (pool sequence of 1 to 4 stages), TP, EP and batch of the instance:
    the exact split's throughput is brute force's, None exactly when brute force finds
    nothing. The cases must see both outcomes and splits other than the even one."""
    inst = make(MODELS[model], cluster, util, **fields)
    seen = check_against_brute(inst)
    assert seen["found"] > 0, seen
    if len(inst.pools) > 1:
        assert seen["uneven"] > 0, seen


def test_cases_make_memory_and_slos_bind() -> None:
    """The parametrised cases are not vacuous: at least one has no split at some batch."""
    inst = make(DENSE, "l40s", 0.006)
    assert brute(inst, (0,), 1, False, 256) is None  # 256 sequences: out of memory
    assert split.best(inst, (0,), 1, False, 256) is None
    assert split.best(inst, (0,), 1, False, 1) is not None


def test_ttft_binds_on_a_two_pool_pipeline() -> None:
    """Compute-80GB x2 then Bandwidth-80GB, TP 1, batch 16, P 512, O 512, TTFT limit 25 ms.

    Decode is faster on the Bandwidth GPU, the prefill on the Compute one. Without the
    limit the best split (by brute force) puts most layers on the Bandwidth stage, at a
    TTFT of 25.5 ms; with it, the second run must start later, and the throughput drops:
    both split.best and brute force find the same lower value, at a TTFT within 25 ms. A
    limit below every split's TTFT (1 ms) leaves nothing.
    """
    free = make(DENSE, "compute+bandwidth", 0.05, output=512)
    inst = replace(free, ttft_ms=25.0)
    pools = (0, 0, 1)
    loose = brute(free, pools, 1, False, 16)
    tight = brute(inst, pools, 1, False, 16)
    assert loose is not None and tight is not None and tight[0] < loose[0] * (1 - 1e-6)
    got = split.best(inst, pools, 1, False, 16)
    assert got is not None and got.ttft_s <= 25e-3
    assert got.throughput == pytest.approx(tight[0], rel=1e-9)
    unbound = split.best(free, pools, 1, False, 16)
    assert unbound is not None and unbound.throughput == pytest.approx(loose[0], rel=1e-9)
    assert split.best(replace(free, ttft_ms=1.0), pools, 1, False, 16) is None


def test_ttft_mask_with_different_nics() -> None:
    """H100 x2 (NIC 50 GB/s, 5 us) and L40S x2 with a slow NIC (0.5 GB/s, 50 us), DENSE,
    pipeline H100, H100, L40S at TP 1, batch 1.

    The prompt's hops (512 tokens of 1024 bf16 values = 1,048,576 bytes): H100 -> H100
    5 us + 1,048,576 / 50e9 = 25.97 us, H100 -> L40S 50 us + 1,048,576 / 0.5e9 = 2.147 ms.
    The TTFT limit is the smallest TTFT over all splits (cost.replica) plus 1 ms, so brute
    force finds splits. split._ttft_ok charges both hops at 2.147 ms, 2.121 ms more than
    cost.replica, above every split's slack of 1 ms: it finds none.
    """
    nodes = [{"gpu": "H100", "count": 2},
             {"gpu": "L40S", "count": 2, "inter_node_GBps": 0.5, "inter_node_latency_us": 50}]
    free = from_dict({"name": "nics", "model": DENSE, "cluster": {"nodes": nodes},
                      "workload": {"prompt_tokens": 512, "output_tokens": 128,
                                   "batch_sizes": [1]},
                      "cost": {**COSTS, "gpu_mem_util": 0.05}})
    pools = (0, 0, 1)
    hops = cost.hops(free, pools, 1, 512)
    assert hops == [pytest.approx(5e-6 + 1_048_576 / 50e9),
                    pytest.approx(50e-6 + 1_048_576 / 0.5e9)]
    fastest = min(cost.replica(free, [(k, a, b) for k, a, b in zip(
        pools, bounds_of(c, 8), bounds_of(c, 8)[1:], strict=False)], 1, False, 1).ttft_s
        for c in itertools.combinations(range(1, 8), 2))
    inst = replace(free, ttft_ms=(fastest + 1e-3) * 1e3)
    want = brute(inst, pools, 1, False, 1)
    assert want is not None
    got = split.best(inst, pools, 1, False, 1)
    assert got is not None and got.throughput == pytest.approx(want[0], rel=1e-9)


def test_tpot_binds() -> None:
    """Dense on H100 + L40S, pipeline H100 then L40S, TP 1, batch 64. Without a TPOT limit
    the best split has TPOT t*. At a limit of exactly t* it is found again (same
    throughput); at t* (1 - 1e-6) neither split.best nor brute force finds any split (the
    split minimises the cycle, so nothing is faster). One stage: the same."""
    free = make(DENSE, "h100+l40s", 0.05)
    for pools in ((0, 1), (1, 1), (1,)):
        best = split.best(free, pools, 1, False, 64)
        assert best is not None
        at = replace(free, tpot_ms=best.tpot_s * 1e3)
        again = split.best(at, pools, 1, False, 64)
        assert again is not None and again.throughput == pytest.approx(best.throughput)
        below = replace(free, tpot_ms=best.tpot_s * 1e3 * (1 - 1e-6))
        assert brute(below, pools, 1, False, 64) is None
        assert split.best(below, pools, 1, False, 64) is None


def test_memory_forces_an_uneven_split() -> None:
    """Fast-8GB then L40S, TP 1, batch 16, gpu_mem_util 0.02 (Fast: 0.16 GiB =
    171,798,691 bytes; L40S 0.96 GiB).

    With memory to spare (util 1) the fast stage takes 7 of the 8 layers. Here a layer is
    30,408,704 bytes of weights plus the KV cache of 2 micro-batches of 16 sequences of
    640 tokens, 32*640*1024 = 20,971,520 bytes: the fast stage (with the 16,384,000-byte
    embedding) holds 3 layers, 16,384,000 + 3*51,380,224 = 170,524,672 bytes, not 4
    (221,904,896). Brute force and split.best agree on the lower throughput, with the
    split [0, 3, 8) (not the even one, [0, 4, 8), which does not fit).
    """
    inst = make(DENSE, "fast-small+l40s", 0.02)
    free = replace(inst, cost=replace(inst.cost, gpu_mem_util=1.0))
    loose = split.best(free, (0, 1), 1, False, 16)
    assert loose is not None and loose.bounds == (0, 7, 8)
    want = brute(inst, (0, 1), 1, False, 16)
    got = split.best(inst, (0, 1), 1, False, 16)
    assert want is not None and got is not None
    assert got.throughput == pytest.approx(want[0], rel=1e-9)
    assert got.throughput < loose.throughput * (1 - 1e-6)
    assert got.bounds == want[1] == (0, 3, 8) != tuple(split.even(8, 2))
    r = cost.replica(inst, got.stages, 1, False, 16)
    assert r.fits and r.free_blocks[0] < 2 * r.blocks_needed
    assert not cost.replica(inst, [(0, 0, 4), (1, 4, 8)], 1, False, 16).fits


@pytest.mark.parametrize(("model", "cluster", "util", "fields"), CASES[::2],
                         ids=[f"{m}-{c}-{u}" for m, c, u, _ in CASES[::2]])
def test_even_split(model: str, cluster: str, util: float, fields: dict[str, Any]) -> None:
    """``uneven=False``: vLLM's split, priced, when it fits and meets the SLOs; else None.
    Never better than the exact split."""
    inst = make(MODELS[model], cluster, util, **fields)
    layers = inst.model.num_hidden_layers
    for pools, tp, ep, batch in templates_of(inst):
        if len(pools) > layers:
            assert split.best(inst, pools, tp, ep, batch, uneven=False) is None
            continue
        even = tuple(split.even(layers, len(pools)))
        want = brute(inst, pools, tp, ep, batch, only=even)
        got = split.best(inst, pools, tp, ep, batch, uneven=False)
        if want is None:
            assert got is None, (pools, tp, ep, batch)
            continue
        assert got is not None and got.bounds == even
        assert got.throughput == pytest.approx(want[0], rel=1e-12)
        exact = split.best(inst, pools, tp, ep, batch)
        assert exact is not None and exact.throughput >= got.throughput * (1 - 1e-12)


def test_more_stages_than_layers() -> None:
    """A 6-layer model cannot have 7 stages (nor can its even split)."""
    inst = make(MLA, "l40s", 0.05, search={"max_stages": 8})
    big = replace(inst, pools=(replace(inst.pools[0], count=8, gpus_per_node=8),))
    assert split.best(big, (0,) * 7, 1, False, 1) is None
    assert split.best(big, (0,) * 7, 1, False, 1, uneven=False) is None
    assert split.best(big, (0,) * 6, 1, False, 1) is not None


@pytest.mark.parametrize(("layers", "stages", "counts"), [
    (80, 3, [27, 27, 26]),
    (80, 1, [80]),
    (80, 8, [10] * 8),
    (7, 4, [2, 2, 2, 1]),
    (10, 4, [2, 3, 3, 2]),
    (61, 4, [15, 15, 16, 15]),
    (6, 6, [1] * 6),
    (126, 5, [25, 25, 25, 26, 25]),
])
def test_even_is_vllms_rule(layers: int, stages: int, counts: list[int]) -> None:
    """vLLM's ``get_pp_indices``: L // p layers each, the remainder one each on the
    partitions -2, -3, ... By hand: 80/3 = 26 r 2 -> partitions -2 and -3 (0 and 1) get
    one: [27, 27, 26]. 7/4 = 1 r 3 -> -2, -3, -4: [2, 2, 2, 1]. 10/4 = 2 r 2 -> -2, -3:
    [2, 3, 3, 2]. 61/4 = 15 r 1 -> -2: [15, 15, 16, 15]. 126/5 = 25 r 1 -> -2:
    [25, 25, 25, 26, 25]. ``even`` returns the p + 1 boundaries."""
    bounds = split.even(layers, stages)
    assert bounds == [0, *itertools.accumulate(counts)]


# -- columns ---------------------------------------------------------------------------------


def plan_space(inst: ParplanInstance) -> Iterator[tuple[tuple[int, ...], int]]:
    """The documented plan space: one pool of at most max_stages stages, or two pools as
    two runs of at most max_mixed_stages stages in all; every stage TP t of both pools'
    allowed sizes, within the pools' GPU counts."""
    s = inst.search
    for pools in sequences(inst, max(s.max_stages, s.max_mixed_stages)):
        mixed = len(set(pools)) > 1
        if len(pools) > (s.max_mixed_stages if mixed else s.max_stages):
            continue
        if mixed and not s.mixed_pipelines:
            continue
        sizes = set.intersection(*(set(templates.tp_sizes(inst, k)) for k in set(pools)))
        for tp in sorted(sizes):
            if all(pools.count(k) * tp <= inst.pools[k].count for k in set(pools)):
                yield pools, tp


def column_instances() -> list[ParplanInstance]:
    tiny_mixed = generate.samples()[1]
    return [generate.samples()[0], tiny_mixed,
            replace(tiny_mixed, tpot_ms=None, ttft_ms=30.0),
            make(MOE, "h100+l40s", 0.01, search={"max_stages": 3, "max_mixed_stages": 3}),
            make(DENSE, "fast-small+l40s", 0.02, search={"max_stages": 2}),
            make(DENSE, "compute+bandwidth", 0.05, slo={"ttft_ms": 25})]


def one_type_mix(values: dict[tuple[int, ...], float], key: tuple[int, ...]) -> float:
    """The most tokens/s of one-type columns (``values``) within ``key[k]`` GPUs of each
    pool k: a small unbounded knapsack per pool."""
    total = 0.0
    for k, most in enumerate(key):
        items = [(use[k], v) for use, v in values.items() if use[k] == sum(use)]
        best = [0.0] * (most + 1)
        for g in range(1, most + 1):
            best[g] = max([best[g - 1]] + [best[g - u] + v for u, v in items if u <= g])
        total += best[most]
    return total


def by_brute_force(inst: ParplanInstance) -> dict[tuple[int, ...], split.Template]:
    """The best template (split.best) per usage vector over the whole plan space, checking
    on the way that the ceiling bounds every template priced."""
    want: dict[tuple[int, ...], split.Template] = {}
    for pools, tp in plan_space(inst):
        key = templates.usage(inst, pools, tp)
        for ep in templates.ep_choices(inst, tp):
            for batch in inst.batch_sizes:
                t = split.best(inst, pools, tp, ep, batch)
                if t is None:
                    continue
                assert templates.ceiling(inst, pools, tp, ep, batch) >= t.throughput * (
                    1 - 1e-12), (pools, tp, ep, batch)
                if key not in want or t.throughput > want[key].throughput:
                    want[key] = t
    return want


@pytest.mark.parametrize("inst", column_instances(), ids=lambda i: i.name + str(i.pools[0].count))
def test_columns_against_brute_force(inst: ParplanInstance) -> None:
    """templates.columns against split.best on every (pipeline, TP, EP, batch) of the plan
    space, best per usage vector (GPUs used per pool).

    One-type vectors: the same vectors and throughputs. A two-type vector may be left out
    (or kept with a lower template) only when one-type columns within the same GPUs make at
    least as much. So the integer master gets the same optimum from both column sets.
    Every column is a real template (cost.replica gives its numbers).
    """
    want = by_brute_force(inst)
    cols = templates.columns(inst, Deadline(None))
    assert cols.complete and cols.priced > 0
    pure = {k: t.throughput for k, t in want.items() if max(k) == sum(k)}
    assert {k: t.throughput for k, t in cols.best.items() if max(k) == sum(k)} == pytest.approx(
        pure, rel=1e-9)
    for key, t in cols.best.items():
        assert templates.usage(inst, t.pools, t.tp) == key
        assert t.throughput <= want[key].throughput * (1 + 1e-9), key
        r = cost.replica(inst, t.stages, t.tp, t.ep, t.batch)
        assert r.fits and r.throughput == t.throughput
    for key, t in want.items():
        kept = cols.best[key].throughput if key in cols.best else 0.0
        assert t.throughput <= max(kept, one_type_mix(pure, key)) * (1 + 1e-9), key
    capacity = tuple(p.count for p in inst.pools)
    full = master.solve(list(want.items()), capacity, Deadline(None))
    ours = master.solve(list(cols.best.items()), capacity, Deadline(None))
    assert ours.throughput == pytest.approx(full.throughput, rel=1e-9)


def test_columns_even_unmixed() -> None:
    """``uneven=False, mixed=False``: only one-pool pipelines, each at its even split."""
    inst = make(DENSE, "h100+l40s", 0.01)
    cols = templates.columns(inst, Deadline(None), uneven=False, mixed=False)
    assert cols.best
    for t in cols.best.values():
        assert len(set(t.pools)) == 1
        assert t.bounds == tuple(split.even(8, len(t.pools)))


def test_ceiling_grows_with_the_batch() -> None:
    """columns stops at the first batch whose ceiling is below the kept column: that needs
    the ceiling to grow with the batch (checked on every template of two instances)."""
    for inst in (make(MOE, "h100+l40s", 0.01), make(MLA, "compute+bandwidth", 0.05)):
        for pools in sequences(inst, 3):
            for tp in (1, 2):
                if any(pools.count(k) * tp > inst.pools[k].count for k in set(pools)):
                    continue
                for ep in templates.ep_choices(inst, tp):
                    values = [templates.ceiling(inst, pools, tp, ep, b)
                              for b in inst.batch_sizes]
                    assert values == sorted(values), (pools, tp, ep)
