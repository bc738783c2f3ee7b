"""parplan-exact against the independent brute force of ``benchmarks/parplan/independent.py``.

The brute force re-implements the documented cost model and plan space without the
family's pricing code, enumerates every layer composition of every replica shape and
mixes the best per GPU-usage vector exhaustively; on small seeded instances its
optimum must be parplan-exact's, and the infeasible instances must agree.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

import optsched
from optsched.problems.parplan.instance import ParplanInstance, from_dict
from optsched.result import Status

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "parplan" / "independent.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("parplan_independent", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


ind = _load()
SEEDS = (2, 5, 7, 8, 10, 12, 15, 32, 35, 36, 43, 45, 51, 52, 56, 58)
"""Seeds of ``random_instance`` (plus 1000) whose optima use two-pool pipelines, TP 2 and 4,
MoE and MLA models, and which include infeasible instances; 5 and 8 are bettered by
two-pool pipelines deeper than ``max_stages`` (see the last test)."""


def _instance(seed: int) -> ParplanInstance:
    return from_dict(ind.random_instance(random.Random(1000 + seed), f"ind-{seed}",
                                         max_layers=8))


@pytest.mark.parametrize("seed", SEEDS)
def test_brute_force_equals_exact(seed: int) -> None:
    inst = _instance(seed)
    bf = ind.brute_force(inst)
    result = optsched.solve(inst, solver="parplan-exact")
    if bf.tokens_per_s is None:
        assert result.status is Status.INFEASIBLE, result
        assert result.objective is None
        return
    assert result.objective is not None, result
    assert -result.objective == pytest.approx(bf.tokens_per_s, rel=1e-6)
    assert result.solution is not None
    mine, problems = ind.reprice(inst, result.solution.to_dict())
    assert not problems
    assert mine == pytest.approx(bf.tokens_per_s, rel=1e-6)


def test_the_seeds_cover_the_plan_space() -> None:
    """Infeasible instances, two-pool pipelines and TP above 1 among the optima above."""
    infeasible = mixed = tp = 0
    for seed in SEEDS:
        bf = ind.brute_force(_instance(seed))
        infeasible += bf.tokens_per_s is None
        mixed += any(len({g for g, _, _ in col.replica.stages}) > 1 for col, _ in bf.plan)
        tp += any(col.replica.tp > 1 for col, _ in bf.plan)
    assert infeasible >= 2
    assert mixed >= 3
    assert tp >= 5


@pytest.mark.parametrize("seed", [5, 8])
def test_max_stages_caps_two_pool_pipelines(seed: int) -> None:
    """parplan-exact bounds a two-pool pipeline by min(max_mixed_stages, max_stages).

    With max_stages 1 these instances are bettered by two-stage two-pool pipelines,
    which the bound by max_mixed_stages alone would allow.
    """
    inst = _instance(seed)
    assert inst.search.max_stages == 1
    capped = ind.brute_force(inst).tokens_per_s
    uncapped = ind.brute_force(inst, cap_mixed=False).tokens_per_s
    assert capped is not None and uncapped is not None
    assert uncapped > capped * (1 + 1e-3)
    result = optsched.solve(inst, solver="parplan-exact")
    assert result.objective is not None
    assert -result.objective == pytest.approx(capped, rel=1e-6)


def test_pricing_by_hand() -> None:
    """One replica priced from the formulas by hand (no fits: A100, one stage, TP 1)."""
    obj = {"family": "parplan", "format": 1, "name": "hand",
           "model": {"name": "m", "hidden_size": 512, "intermediate_size": 1024,
                     "num_hidden_layers": 2, "num_attention_heads": 8,
                     "num_key_value_heads": 2, "head_dim": 64, "vocab_size": 1000},
           "cluster": {"nodes": [{"gpu": "A100", "count": 2, "gpus_per_node": 2}]},
           "workload": {"prompt_tokens": 100, "output_tokens": 50, "batch_sizes": [4]}}
    inst = from_dict(obj)
    rep = ind.Replica(1, 4, False, ((0, 0, 2),))
    got = ind.price(inst, rep)
    h, hbm, flops = 512, 2.039e12 * 0.8, 312e12 * 0.7
    params = 2 * h * 8 * 64 + 2 * h * 2 * 64 + 3 * h * 1024
    q = 4 * 100 / 50
    n, c = 4 + q, 4 * (100 + 25) + q * 50
    kv = 2 * 64 * 2 * 2
    lay = max((params * 2 + c * kv) / hbm, (2 * n * params + 2 * 8 * 128 * c) / flops)
    head = max(1000 * h * 2 / hbm, 2 * 4 * 1000 * h / flops)
    cycle = 5.2e-3 + 2 * lay + head
    assert got.feasible
    assert got.tpot_s == pytest.approx(cycle, rel=1e-12)
    assert got.tokens_per_s == pytest.approx(4 / cycle, rel=1e-12)
