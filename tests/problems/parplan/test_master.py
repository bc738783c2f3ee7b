"""The integer master (master.py), the exact plan (exact.py) and its bounds and baselines.

The master is checked against brute force over every integer mix of 2 to 4 made-up
columns on capacities up to 16; ``exact.plan`` against ``baselines.enumerate_all`` (the
same plan space when mixing and uneven splits are off) and against every baseline rule on
tiny instances; infeasible instances against ``exact.explain``.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

import optsched
from optsched.deadline import Deadline
from optsched.params import SolveParams
from optsched.problems.parplan import baselines, bounds, exact, generate, master
from optsched.problems.parplan.evaluate import evaluate
from optsched.problems.parplan.instance import ParplanInstance, from_dict
from optsched.problems.parplan.solution import ParplanSolution
from optsched.problems.parplan.split import Template, even
from optsched.result import Status

Column = tuple[tuple[int, ...], Template]


def column(use: tuple[int, ...], rate: float, tag: int = 0) -> Column:
    """A made-up column: ``use`` GPUs per pool, ``rate`` tokens/s (``tag`` tells them
    apart)."""
    return use, Template(pools=(0,), bounds=(0, 1), tp=1, ep=False, batch=1 + tag,
                         tpot_s=0.01, ttft_s=0.1, throughput=rate)


def brute(columns: list[Column], capacity: tuple[int, ...]) -> float:
    """The best total over every integer mix within ``capacity``."""
    ranges = [range(min((c // u for c, u in zip(capacity, use, strict=True) if u),
                        default=0) + 1) for use, _ in columns]
    best = 0.0
    for counts in itertools.product(*ranges):
        if all(sum(n * use[k] for n, (use, _) in zip(counts, columns, strict=True)) <= cap
               for k, cap in enumerate(capacity)):
            best = max(best, sum(n * t.throughput for n, (_, t) in zip(counts, columns,
                                                                        strict=True)))
    return best


def check_mix(mix: master.Mix, capacity: tuple[int, ...],
              columns: list[Column]) -> None:
    """The mix uses columns given, within the capacity, and its total is its throughput."""
    chosen = {id(t): use for use, t in columns}
    used = [0] * len(capacity)
    for t, n in mix.counts:
        assert n > 0 and id(t) in chosen
        for k, u in enumerate(chosen[id(t)]):
            used[k] += n * u
    assert all(u <= c for u, c in zip(used, capacity, strict=True)), (used, capacity)
    assert mix.throughput == pytest.approx(sum(t.throughput * n for t, n in mix.counts))


# -- the master ------------------------------------------------------------------------------


def test_greedy_is_not_optimal_on_a_knapsack() -> None:
    """One pool of 10 GPUs; A takes 6 GPUs for 66 tokens/s (11 per GPU), B 5 for 50 (10 per
    GPU). Greedy by tokens per GPU: A once (4 GPUs left, B does not fit) = 66. The optimum:
    B twice = 100 (A + B needs 11 GPUs)."""
    cols = [column((6,), 66.0), column((5,), 50.0, 1)]
    greedy = master.greedy(cols, (10,))
    assert greedy.throughput == 66.0 and [n for _, n in greedy.counts] == [1]
    assert not greedy.optimal and greedy.bound == float("inf")
    best = master.solve(cols, (10,), Deadline(None))
    assert best.throughput == pytest.approx(100.0)
    assert [(t.throughput, n) for t, n in best.counts] == [(50.0, 2)]
    assert best.optimal and best.bound >= 100.0 - 1e-9
    assert brute(cols, (10,)) == 100.0


def test_greedy_is_not_optimal_on_two_pools() -> None:
    """Pools of 4 and 4 GPUs; X takes (3, 1) for 40 tokens/s (10 per GPU), Y (2, 2) for 38
    (9.5 per GPU). Greedy: X once, (1, 3) left, Y needs 2 of the first pool: 40. The
    optimum: Y twice = 76 (X + Y needs 5 of the first pool)."""
    cols = [column((3, 1), 40.0), column((2, 2), 38.0, 1)]
    assert master.greedy(cols, (4, 4)).throughput == 40.0
    best = master.solve(cols, (4, 4), Deadline(None))
    assert best.throughput == pytest.approx(76.0) and best.optimal
    assert brute(cols, (4, 4)) == 76.0


def test_greedy_fills_with_the_next_column() -> None:
    """One pool of 7: A (4 GPUs, 48/s: 12 per GPU), B (1 GPU, 10/s). Greedy: A once, B
    three times = 78, which is optimal (A + 3 B); the master agrees."""
    cols = [column((1,), 10.0, 1), column((4,), 48.0)]
    greedy = master.greedy(cols, (7,))
    assert [(t.throughput, n) for t, n in greedy.counts] == [(48.0, 1), (10.0, 3)]
    assert greedy.throughput == 78.0
    assert master.solve(cols, (7,), Deadline(None)).throughput == pytest.approx(78.0)


def test_no_columns() -> None:
    """Without a column the plan is empty, optimal with bound 0."""
    mix = master.solve([], (8,), Deadline(None))
    assert (mix.counts, mix.throughput, mix.bound, mix.optimal) == ((), 0.0, 0.0, True)


@pytest.mark.parametrize("seed", range(40))
def test_master_against_brute_force(seed: int) -> None:
    """Random 1- or 2-pool capacities up to 16 GPUs, 2 to 4 columns using 0 to 6 GPUs per
    pool: master.solve reaches brute force's optimum (bound above it, marked optimal);
    greedy is feasible and never above it."""
    rng = random.Random(seed)
    pools = rng.choice([1, 2])
    capacity = tuple(rng.randint(1, 16) for _ in range(pools))
    cols = []
    for j in range(rng.randint(2, 4)):
        use = tuple(rng.randint(0, 6) for _ in range(pools))
        if not any(use):
            use = (1, *use[1:])
        if any(u > c for u, c in zip(use, capacity, strict=True)):
            use = tuple(min(u, c) for u, c in zip(use, capacity, strict=True))
        cols.append(column(use, round(rng.uniform(1.0, 100.0), 3), j))
    want = brute(cols, capacity)
    mix = master.solve(cols, capacity, Deadline(None))
    check_mix(mix, capacity, cols)
    assert mix.throughput == pytest.approx(want, rel=1e-9), (capacity, cols)
    assert mix.optimal and mix.bound >= mix.throughput * (1 - 1e-9)
    greedy = master.greedy(cols, capacity)
    check_mix(greedy, capacity, cols)
    assert greedy.throughput <= want * (1 + 1e-12)


# -- exact plans on tiny instances -----------------------------------------------------------

DENSE: dict[str, Any] = {**generate.TINY, "name": "dense8", "num_hidden_layers": 8,
                         "vocab_size": 8000}
MOE: dict[str, Any] = {**DENSE, "name": "moe7", "num_hidden_layers": 7, "experts": 8,
                       "top_k": 2, "moe_intermediate_size": 512, "shared_experts": 1,
                       "first_dense": 1}
FAST_SMALL = {"name": "Fast-8GB", "bf16_tflops": 989, "memory_gib": 8, "hbm_TBps": 3.35}
COSTS: dict[str, Any] = {"eff_compute": 0.7, "eff_hbm": 0.8, "overhead_ms": 0.2,
                         "ttft_overhead_ms": 19.0, "reserve_gib": 0.0, "alpha_us": 10.0,
                         "kv_block_tokens": 16}


def make(name: str, model: Any, nodes: list[dict[str, Any]], util: float,
         **fields: Any) -> ParplanInstance:
    """A tiny instance: P 512, O 128, batches 1 to 64, small memory and overhead."""
    return from_dict({"name": name, "model": model, "cluster": {"nodes": nodes},
                      "workload": {"prompt_tokens": 512, "output_tokens": 128,
                                   "batch_sizes": [1, 4, 16, 64]},
                      "cost": {**COSTS, "gpu_mem_util": util}, **fields})


def tiny_instances() -> list[ParplanInstance]:
    return [*generate.samples(),
            make("moe-h100-l40s", MOE, [{"gpu": "H100", "count": 2},
                                        {"gpu": "L40S", "count": 4}], 0.01),
            make("fast-small-l40s", DENSE, [{"gpu": FAST_SMALL, "count": 4},
                                            {"gpu": "L40S", "count": 2}], 0.02),
            make("l40s-8", DENSE, [{"gpu": "L40S", "count": 8}], 0.006,
                 search={"max_stages": 4}),
            make("moe-a100-tpot", MOE, [{"gpu": "A100", "count": 4}], 0.004,
                 slo={"tpot_ms": 1.0})]


def tokens(inst: ParplanInstance, plan: ParplanSolution) -> float:
    """The checker's tokens/s of a plan without violations."""
    ev = evaluate(inst, plan)
    assert not ev.violations, ev.violations
    assert ev.objective is not None
    return -float(ev.objective)


@pytest.mark.parametrize("inst", tiny_instances(), ids=lambda i: i.name)
def test_exact_without_mix_or_uneven_is_enumerate(inst: ParplanInstance) -> None:
    """mix=False, uneven=False is the plan space of baselines.enumerate_all (identical
    one-type replicas per pool, even splits): the same tokens/s."""
    plan, mix, cols = exact.plan(inst, Deadline(None), uneven=False, mix=False)
    assert cols.complete
    enum = tokens(inst, baselines.enumerate_all(inst, Deadline(None)))
    assert tokens(inst, plan) == pytest.approx(enum, rel=1e-9)
    assert mix.throughput == pytest.approx(enum, rel=1e-9)
    for r in plan.replicas:  # one type, even split
        assert len({s.gpu for s in r.stages}) == 1
        ends = [s.layers[0] for s in r.stages] + [r.stages[-1].layers[1]]
        assert ends == even(inst.model.num_hidden_layers, len(r.stages))


@pytest.mark.parametrize("inst", tiny_instances(), ids=lambda i: i.name)
def test_exact_beats_every_baseline(inst: ParplanInstance) -> None:
    """The exact plan is valid, its tokens/s is the master's, at least every baseline's
    (the three rules, enumerate, and itself without mixing or uneven splits), and at most
    both the master's bound and the cheap bound of bounds.py."""
    plan, mix, cols = exact.plan(inst, Deadline(None))
    assert cols.complete and mix.optimal
    value = tokens(inst, plan)
    assert value == pytest.approx(mix.throughput, rel=1e-9)
    assert mix.bound >= value * (1 - 1e-9)
    assert -bounds.lower_bound(inst) >= value * (1 - 1e-9)
    others = [baselines.rule(inst, r) for r in (baselines.vllm, baselines.max_pp,
                                                 baselines.min_tp)]
    others.append(baselines.enumerate_all(inst, Deadline(None)))
    others.append(exact.plan(inst, Deadline(None), uneven=False, mix=False)[0])
    for other in others:
        if other.replicas:
            assert tokens(inst, other) <= value * (1 + 1e-9)


def test_mixing_pays_on_two_pools() -> None:
    """MoE on 2 H100 + 4 L40S with little memory: the exact plan (here a pipeline over both
    types) makes strictly more than the best identical one-type replicas per pool."""
    inst = tiny_instances()[2]
    plan, mix, _ = exact.plan(inst, Deadline(None))
    _, flat, _ = exact.plan(inst, Deadline(None), uneven=False, mix=False)
    assert mix.throughput > flat.throughput * 1.01
    assert any(len({s.gpu for s in r.stages}) > 1 for r in plan.replicas)


# -- infeasible instances --------------------------------------------------------------------


def test_tpot_below_the_overhead() -> None:
    """Overhead 5 ms per iteration, TPOT limit 4 ms: every replica's cycle is at least
    o = 5 ms, so no plan; explain names the TPOT; the solver says infeasible."""
    base = generate.samples()[0]
    inst = from_dict({**base.to_dict(), "slo": {"tpot_ms": 4.0},
                      "cost": {**base.cost.to_dict(), "overhead_ms": 5.0}})
    plan, mix, cols = exact.plan(inst, Deadline(None))
    assert plan.replicas == () and mix.throughput == 0.0 and cols.complete
    why = exact.explain(inst)
    assert why.startswith("TPOT: "), why
    assert "4.0 ms" in why
    result = optsched.solve(inst, solver="parplan-exact")
    assert result.status is Status.INFEASIBLE and result.objective is None
    assert result.stats["binding"] == why


def test_model_fits_no_pipeline() -> None:
    """Llama-3-70B (141 GB of bf16 weights) on one L40S (48 GB): no pipeline holds the
    weights: no plan, explain names the memory."""
    inst = from_dict({"name": "too-big", "model": "llama-3-70b",
                      "cluster": {"nodes": [{"gpu": "L40S", "count": 1}]},
                      "workload": {"prompt_tokens": 512, "output_tokens": 128}})
    plan, mix, cols = exact.plan(inst, Deadline(None))
    assert plan.replicas == () and mix.throughput == 0.0 and cols.complete
    why = exact.explain(inst)
    assert why.startswith("memory: the weights (131.4 GiB)"), why


def test_kv_cache_fits_no_pipeline() -> None:
    """DENSE on one L40S: weights 8*30,408,704 + 2*16,384,000 = 276,037,632 bytes; one
    sequence's KV 1024*8*640 = 5,242,880 bytes. Usable memory 278e6 bytes holds the
    weights but not one sequence: explain names the KV cache."""
    util = 278e6 / (48 * 2**30)
    inst = make("kv", DENSE, [{"gpu": "L40S", "count": 1}], util)
    plan, _, _ = exact.plan(inst, Deadline(None))
    assert plan.replicas == ()
    why = exact.explain(inst)
    assert why.startswith("memory: no pipeline holds the KV cache of 1 sequence(s) of 640 "
                          "tokens"), why


def test_ttft_below_every_prefill() -> None:
    """A TTFT limit of 1 ms, below the 19 ms TTFT overhead alone: explain names the TTFT."""
    inst = make("ttft", DENSE, [{"gpu": "L40S", "count": 2}], 0.05, slo={"ttft_ms": 1.0})
    plan, _, _ = exact.plan(inst, Deadline(None))
    assert plan.replicas == ()
    assert exact.explain(inst).startswith("TTFT: "), exact.explain(inst)


def test_explain_when_search_tp_fits_no_node() -> None:
    """TINY (0.3 GiB of weights) on 4 L40S in one node with search.tp = [8]: no TP size is
    allowed (8 > 4 GPUs per node), so no plan; the weights would fit one GPU, so the
    reason given must not be memory."""
    inst = from_dict({"name": "tp8", "model": generate.TINY,
                      "cluster": {"nodes": [{"gpu": "L40S", "count": 4}]},
                      "workload": {"prompt_tokens": 512, "output_tokens": 128},
                      "search": {"tp": [8]}})
    assert exact.plan(inst, Deadline(None))[0].replicas == ()
    assert not exact.explain(inst).startswith("memory"), exact.explain(inst)


def test_an_empty_restricted_space_proves_nothing() -> None:
    """Llama-3-70B (141 GB of weights) on one H100 and one A100: no one-type pipeline holds
    it (each GPU has 0.9 x 80 GiB - 2 GiB = 70.7 GB), but a pipeline over both does. With
    ``mix=false`` the restricted space is empty: that is no solution, not infeasibility,
    and ``solve()`` answers with the hint or nothing, never ``infeasible``."""
    inst = from_dict({"name": "two", "model": "llama-3-70b", "cluster": {"nodes": [
        {"gpu": "H100", "count": 1}, {"gpu": "A100", "count": 1}]},
        "workload": {"prompt_tokens": 128, "output_tokens": 128}, "slo": {"tpot_ms": 200}})
    full = optsched.solve(inst, "parplan-exact")
    assert full.status is Status.OPTIMAL and full.objective is not None
    restricted = optsched.solve(inst, "parplan-exact", SolveParams(options={"mix": False}))
    assert restricted.status is not Status.INFEASIBLE
