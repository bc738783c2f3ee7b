"""parplan instances and plans from JSON: every bad field named, round trips, ``-m``
settings, and the checker's violations (evaluate.py)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from optsched.errors import InputError, InstanceError
from optsched.problems.parplan import catalog, generate
from optsched.problems.parplan.evaluate import evaluate
from optsched.problems.parplan.instance import (
    DEFAULT_BATCHES,
    ParplanInstance,
    from_dict,
    with_settings,
)
from optsched.problems.parplan.solution import from_dict as plan_from_dict

BASE: dict[str, Any] = {
    "name": "base", "model": dict(generate.TINY),
    "cluster": {"nodes": [{"gpu": "L40S", "count": 4}]},
    "workload": {"prompt_tokens": 512, "output_tokens": 128}}
"""The 6-layer TINY model (8 heads, 2 KV heads) on 4 L40S in one node."""

KNOWN_MODELS = ", ".join(sorted(catalog.known_models()))


def _with(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    change(data)
    return data


def _error(data: dict[str, Any]) -> InstanceError:
    with pytest.raises(InstanceError) as info:
        from_dict(data)
    return info.value


def test_base_reads() -> None:
    """The base instance: defaults for what it leaves out."""
    inst = from_dict(BASE)
    assert (inst.name, inst.model.name, inst.model_ref) == ("base", "tiny", None)
    assert [(p.gpu.name, p.count, p.gpus_per_node, p.gpu_ref) for p in inst.pools] == [
        ("L40S-48GB", 4, 4, "L40S")]
    assert (inst.weights, inst.kv, inst.batch_sizes) == ("bf16", "bf16", DEFAULT_BATCHES)
    assert (inst.tpot_ms, inst.ttft_ms, inst.gpus) == (None, None, 4)
    assert inst.pools[0].intra_GBps == 32.0  # the L40S link (PCIe)
    assert (inst.pools[0].inter_GBps, inst.pools[0].inter_latency_us) == (50.0, 5.0)


BAD: list[tuple[str, Callable[[dict[str, Any]], object], str, str]] = [
    # model
    ("unknown model", lambda d: d.__setitem__("model", "llama-2"), "model",
     f"unknown model 'llama-2'; known: {KNOWN_MODELS}"),
    ("model of a wrong type", lambda d: d.__setitem__("model", 7), "model",
     "must be a model name or a config object, got an integer"),
    ("inline model without vocab_size", lambda d: d["model"].pop("vocab_size"),
     "model.vocab_size", "is missing (needed for the embedding and the LM head)"),
    ("inline model without hidden_size", lambda d: d["model"].pop("hidden_size"),
     "model.hidden_size", "is missing"),
    ("zero hidden size", lambda d: d["model"].__setitem__("hidden_size", 0),
     "model.hidden_size", "must be an integer >= 1, got 0"),
    ("negative layer count", lambda d: d["model"].__setitem__("num_hidden_layers", -6),
     "model.num_hidden_layers", "must be an integer >= 1, got -6"),
    ("KV heads not dividing the heads", lambda d: d["model"].__setitem__(
        "num_key_value_heads", 3), "model.num_key_value_heads",
     "must divide num_attention_heads (8), got 3"),
    ("unknown model key", lambda d: d["model"].__setitem__("colour", 1), "model.colour",
     "is not a known key"),
    # cluster
    ("unknown GPU", lambda d: d["cluster"]["nodes"][0].__setitem__("gpu", "V100"),
     "cluster.nodes[0].gpu", "unknown GPU 'V100'; known: A100-SXM-40GB (A100-40GB), "
     "A100-SXM-80GB (A100), B200-180GB (B200), H100-SXM-80GB (H100)"),
    ("unknown GPU in the second group", lambda d: d["cluster"]["nodes"].append(
        {"gpu": "TPU", "count": 4}), "cluster.nodes[1].gpu", "unknown GPU 'TPU'"),
    ("inline GPU without memory", lambda d: d["cluster"]["nodes"][0].__setitem__(
        "gpu", {"name": "X", "bf16_tflops": 1, "hbm_TBps": 1}), "cluster.nodes[0].gpu.memory_gib",
     "is missing"),
    ("inline GPU of zero memory", lambda d: d["cluster"]["nodes"][0].__setitem__(
        "gpu", {"name": "X", "bf16_tflops": 1, "memory_gib": 0, "hbm_TBps": 1}),
     "cluster.nodes[0].gpu.memory_gib", "must be > 0, got 0"),
    ("no node groups", lambda d: d["cluster"].__setitem__("nodes", []), "cluster.nodes",
     "without GPUs"),
    ("zero GPUs", lambda d: d["cluster"]["nodes"][0].__setitem__("count", 0),
     "cluster.nodes[0].count", "must be in [1, 65536], got 0"),
    ("count not whole nodes", lambda d: d["cluster"]["nodes"][0].__setitem__(
        "gpus_per_node", 3), "cluster.nodes[0].gpus_per_node",
     "3 does not divide the 4 GPUs of the group"),
    ("a GPU type twice (by alias)", lambda d: d["cluster"]["nodes"].append(
        {"gpu": "L40S-48GB", "count": 4}), "cluster.nodes[1].gpu",
     "L40S-48GB is also cluster.nodes[0]: one group per GPU type"),
    ("zero network bandwidth", lambda d: d["cluster"].__setitem__("inter_node_GBps", 0),
     "cluster.inter_node_GBps", "must be > 0, got 0"),
    ("negative latency", lambda d: d["cluster"]["nodes"][0].__setitem__(
        "inter_node_latency_us", -1), "cluster.nodes[0].inter_node_latency_us",
     "must be >= 0, got -1"),
    ("unknown node key", lambda d: d["cluster"]["nodes"][0].__setitem__("colour", 1),
     "cluster.nodes[0].colour", "is not a known key"),
    # precision
    ("bad weight precision", lambda d: d.__setitem__("precision", {"weights": "int4"}),
     "precision.weights", "must be one of bf16, fp16, fp8, got 'int4'"),
    ("bad KV precision", lambda d: d.__setitem__("precision", {"kv": "fp32"}), "precision.kv",
     "must be one of bf16, fp16, fp8, got 'fp32'"),
    # workload
    ("zero prompt", lambda d: d["workload"].__setitem__("prompt_tokens", 0),
     "workload.prompt_tokens", "must be in [1, 4194304], got 0"),
    ("negative output", lambda d: d["workload"].__setitem__("output_tokens", -3),
     "workload.output_tokens", "must be in [1, 4194304], got -3"),
    ("fractional prompt", lambda d: d["workload"].__setitem__("prompt_tokens", 51.5),
     "workload.prompt_tokens", "must be an integer, got 51.5"),
    ("no batch sizes", lambda d: d["workload"].__setitem__("batch_sizes", []),
     "workload.batch_sizes", "must be a list of 1 to 64 integers"),
    ("fractional batch size", lambda d: d["workload"].__setitem__("batch_sizes", [1, 2.5]),
     "workload.batch_sizes[1]", "must be an integer, got 2.5"),
    ("zero batch size", lambda d: d["workload"].__setitem__("batch_sizes", [0, 4]),
     "workload.batch_sizes[0]", "must be in [1, 65536], got 0"),
    ("unknown workload key", lambda d: d["workload"].__setitem__("rate", 1), "workload.rate",
     "is not a known key (allowed: batch_sizes, output_tokens, prompt_tokens)"),
    # SLOs and objective
    ("zero TPOT", lambda d: d.__setitem__("slo", {"tpot_ms": 0}), "slo.tpot_ms",
     "must be > 0, got 0"),
    ("negative TTFT", lambda d: d.__setitem__("slo", {"ttft_ms": -5}), "slo.ttft_ms",
     "must be > 0, got -5"),
    ("SLO as text", lambda d: d.__setitem__("slo", {"tpot_ms": "50"}), "slo.tpot_ms",
     "must be a number"),
    ("unknown SLO", lambda d: d.__setitem__("slo", {"p99_ms": 5}), "slo.p99_ms",
     "is not a known key"),
    ("other objective", lambda d: d.__setitem__("objective", "min_cost"), "objective",
     "must be \"max_throughput\", got 'min_cost'"),
    # search
    ("TP not dividing the heads", lambda d: d.__setitem__("search", {"tp": [3]}),
     "search.tp[0]", "3 does not divide the 8 attention heads of tiny"),
    ("empty TP list", lambda d: d.__setitem__("search", {"tp": []}), "search.tp",
     "must be a non-empty list of integers"),
    ("zero stages", lambda d: d.__setitem__("search", {"max_stages": 0}),
     "search.max_stages", "must be in [1, 16], got 0"),
    ("flag as text", lambda d: d.__setitem__("search", {"mixed_pipelines": "yes"}),
     "search.mixed_pipelines", "must be true or false, got 'yes'"),
    ("unknown search key", lambda d: d.__setitem__("search", {"pp": [2]}), "search.pp",
     "is not a known key"),
    # cost
    ("eff_hbm above 1", lambda d: d.__setitem__("cost", {"eff_hbm": 1.5}), "cost.eff_hbm",
     "must be in (0, 1], got 1.5"),
    ("zero eff_compute", lambda d: d.__setitem__("cost", {"eff_compute": 0}),
     "cost.eff_compute", "must be > 0, got 0"),
    ("gpu_mem_util above 1", lambda d: d.__setitem__("cost", {"gpu_mem_util": 1.01}),
     "cost.gpu_mem_util", "must be in (0, 1]"),
    ("negative overhead", lambda d: d.__setitem__("cost", {"overhead_ms": -1}),
     "cost.overhead_ms", "must be >= 0, got -1"),
    ("zero block", lambda d: d.__setitem__("cost", {"kv_block_tokens": 0}),
     "cost.kv_block_tokens", "must be in [1, 4096], got 0"),
    ("unknown cost key", lambda d: d.__setitem__("cost", {"eff_nic": 0.5}), "cost.eff_nic",
     "is not a known key"),
    # top level
    ("unknown key", lambda d: d.__setitem__("colour", 3), "colour", "is not a known key"),
    ("missing workload", lambda d: d.pop("workload"), "workload", "is missing"),
]


@pytest.mark.parametrize(("change", "field", "words"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_input_names_the_field(change: Callable[[dict[str, Any]], object], field: str,
                                   words: str) -> None:
    """Each bad field raises InstanceError on exactly that field (with its index), with a
    one-line message that says what is wrong."""
    error = _error(_with(change))
    assert error.field == field, str(error)
    assert words in error.problem, str(error)
    assert "\n" not in str(error) and str(error).startswith(f"{field}: ")


def test_unknown_model_lists_every_known_one() -> None:
    """The message lists the table's names: each of them is in it."""
    error = _error(_with(lambda d: d.__setitem__("model", "gpt-5")))
    for name in catalog.known_models():
        assert name in error.problem


def test_unknown_gpu_lists_every_known_one() -> None:
    error = _error(_with(lambda d: d["cluster"]["nodes"][0].__setitem__("gpu", "V100")))
    for name in catalog.known_gpus():
        assert name in error.problem


def test_kv_head_rule() -> None:
    """A 12-head model with 4 KV heads (hidden 768): TP 6 divides the heads, but 4 and 6 do
    not divide one another (vLLM refuses it); TP 4 and TP 2 are fine."""
    model = {**generate.TINY, "hidden_size": 768, "num_attention_heads": 12,
             "num_key_value_heads": 4}
    error = _error(_with(lambda d: d.update(model=model, search={"tp": [2, 6]})))
    assert error.field == "search.tp[1]"
    assert error.problem == "6 and the 4 KV heads of tiny do not divide one another"
    assert from_dict(_with(lambda d: d.update(model=model, search={"tp": [2, 4]}))
                     ).search.tp == (2, 4)


def test_tp_index_is_the_files() -> None:
    """search.tp = [8, 3] for 8 heads: 3 (index 1 in the file) does not divide them; the
    message must name search.tp[1]."""
    error = _error(_with(lambda d: d.__setitem__("search", {"tp": [8, 3]})))
    assert error.field == "search.tp[1]", str(error)


# -- round trips and settings ----------------------------------------------------------------

FULL: dict[str, Any] = {
    "name": "full", "model": "Llama-3-70B",
    "precision": {"weights": "fp8", "kv": "fp16"},
    "cluster": {"nodes": [{"gpu": "H100", "count": 16, "inter_node_GBps": 25},
                          {"gpu": "a100", "count": 8, "gpus_per_node": 4,
                           "intra_node_GBps": 200, "inter_node_latency_us": 0}],
                "inter_node_latency_us": 7},
    "workload": {"prompt_tokens": 1000, "output_tokens": 250, "batch_sizes": [64, 1, 8, 8]},
    "slo": {"tpot_ms": 40, "ttft_ms": 1500}, "objective": "max_throughput",
    "search": {"tp": [8, 4], "max_stages": 3, "expert_parallel": False,
               "mixed_pipelines": False, "max_mixed_stages": 2},
    "cost": {"eff_hbm": 0.7, "overhead_ms": 0, "kv_block_tokens": 32, "reserve_gib": 1}}
"""Every optional field, named model and GPUs (an alias, lower case)."""

INLINE: dict[str, Any] = {
    "name": "inline",
    "model": {"name": "moe", "hidden_size": 512, "intermediate_size": 1024,
              "num_hidden_layers": 4, "num_attention_heads": 8, "num_key_value_heads": 4,
              "vocab_size": 1000, "tie_word_embeddings": True, "experts": 4, "top_k": 2,
              "moe_intermediate_size": 256, "first_dense": 1, "shared_experts": 1},
    "cluster": {"nodes": [{"gpu": {"name": "Toy", "bf16_tflops": 10, "memory_gib": 2,
                                   "hbm_TBps": 0.5, "fp8_tflops": 20, "link_GBps": 0},
                           "count": 2}]},
    "workload": {"prompt_tokens": 8, "output_tokens": 4}}
"""An inline MoE model and an inline GPU."""


@pytest.mark.parametrize("data", [BASE, FULL, INLINE], ids=["base", "every-field", "inline"])
def test_round_trip(data: dict[str, Any]) -> None:
    """from_dict(inst.to_dict()) == inst, and to_dict is stable."""
    inst = from_dict(data)
    again = from_dict(inst.to_dict())
    assert again == inst
    assert again.to_dict() == inst.to_dict()


def test_full_reads() -> None:
    """What FULL says, read: aliases resolved (names kept for the file), batch sizes sorted
    and de-duplicated, the cluster's latency a default of the groups that give none."""
    inst = from_dict(FULL)
    assert inst.model.name == "llama-3-70b" and inst.model_ref == "Llama-3-70B"
    assert [p.gpu.name for p in inst.pools] == ["H100-SXM-80GB", "A100-SXM-80GB"]
    assert [p.gpu_ref for p in inst.pools] == ["H100", "a100"]
    h100, a100 = inst.pools
    assert (h100.gpus_per_node, h100.inter_GBps, h100.inter_latency_us) == (8, 25.0, 7.0)
    assert (a100.gpus_per_node, a100.intra_GBps, a100.inter_latency_us) == (4, 200.0, 0.0)
    assert (a100.inter_GBps, h100.intra_GBps) == (50.0, 450.0)
    assert inst.batch_sizes == (1, 8, 64)
    assert (inst.weight_bytes, inst.kv_bytes) == (1, 2)
    assert inst.search.tp == (4, 8) and inst.search.max_stages == 3
    assert (inst.cost.eff_hbm, inst.cost.overhead_ms, inst.cost.kv_block_tokens) == (
        0.7, 0.0, 32)
    assert inst.pool("H100-SXM-80GB") == 0 and inst.pool("B200-180GB") is None


def test_with_settings() -> None:
    """-m settings: SLOs (0 lifts one), plan-space limits; other keys are left alone."""
    inst = from_dict(FULL)
    changed = with_settings(inst, {"tpot_ms": 0, "ttft_ms": 800.0, "max_stages": 5,
                                   "mixed_pipelines": True, "expert_parallel": True})
    assert (changed.tpot_ms, changed.ttft_ms) == (None, 800.0)
    assert changed.search == replace(inst.search, max_stages=5, mixed_pipelines=True,
                                     expert_parallel=True)
    assert changed.search.tp == (4, 8) and changed.search.max_mixed_stages == 2
    assert replace(changed, tpot_ms=inst.tpot_ms, ttft_ms=inst.ttft_ms,
                   search=inst.search) == inst
    assert with_settings(inst, {}) == inst
    assert with_settings(inst, {"tpot_ms": 25.0}).tpot_ms == 25.0
    base = from_dict(BASE)
    assert with_settings(base, {"tpot_ms": 30.0, "ttft_ms": 0}) == replace(base, tpot_ms=30.0)


# -- plans: the reader -----------------------------------------------------------------------

H100, L40S = "H100-SXM-80GB", "L40S-48GB"


def stage(gpu: str = H100, tp: int = 1, layers: tuple[int, int] = (0, 6)) -> dict[str, Any]:
    return {"gpu": gpu, "tp": tp, "layers": list(layers)}


def group(*stages: dict[str, Any], count: int = 1, batch: int = 4,
          **more: Any) -> dict[str, Any]:
    return {"count": count, "batch": batch, "stages": list(stages) or [stage()], **more}


BAD_PLANS: list[tuple[str, object, str, str]] = [
    ("not an object", [], "solution", "must be a JSON object, got a list"),
    ("no replicas", {}, "solution.replicas", "is missing"),
    ("replicas not a list", {"replicas": 3}, "solution.replicas",
     "must be a list of at most 4096 replica groups"),
    ("unknown key", {"replicas": [], "plan": 1}, "solution.plan", "is not a known key"),
    ("zero count", {"replicas": [group(count=0)]}, "solution.replicas[0].count",
     "must be an integer in [1, 1048576], got 0"),
    ("zero batch", {"replicas": [group(), group(batch=0)]}, "solution.replicas[1].batch",
     "must be an integer in [1, 1048576], got 0"),
    ("no stages", {"replicas": [{"count": 1, "batch": 1, "stages": []}]},
     "solution.replicas[0].stages", "must be a list of 1 to 1024 stages"),
    ("ep not a flag", {"replicas": [group(ep=1)]}, "solution.replicas[0].ep",
     "must be true or false, got 1"),
    ("missing batch", {"replicas": [{"count": 1, "stages": [stage()]}]},
     "solution.replicas[0].batch", "is missing"),
    ("missing tp", {"replicas": [group({"gpu": H100, "layers": [0, 6]})]},
     "solution.replicas[0].stages[0].tp", "is missing"),
    ("fractional tp", {"replicas": [group(stage(), {"gpu": H100, "tp": 1.5,
                                                    "layers": [3, 6]})]},
     "solution.replicas[0].stages[1].tp", "must be an integer in [1, 65536], got 1.5"),
    ("gpu not a string", {"replicas": [group({"gpu": 5, "tp": 1, "layers": [0, 6]})]},
     "solution.replicas[0].stages[0].gpu", "must be a string, got an integer"),
    ("layers of one number", {"replicas": [group({"gpu": H100, "tp": 1, "layers": [0]})]},
     "solution.replicas[0].stages[0].layers", "must be [first, end], got [0]"),
    ("negative layer", {"replicas": [group({"gpu": H100, "tp": 1, "layers": [0, -1]})]},
     "solution.replicas[0].stages[0].layers[1]", "must be an integer in [0, 1048576], got -1"),
    ("unknown stage key", {"replicas": [group({**stage(), "pp": 2})]},
     "solution.replicas[0].stages[0].pp", "is not a known key (allowed: gpu, layers, tp)"),
]


@pytest.mark.parametrize(("data", "field", "words"), [b[1:] for b in BAD_PLANS],
                         ids=[b[0] for b in BAD_PLANS])
def test_bad_plan_names_the_field(data: object, field: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        plan_from_dict(data)
    assert info.value.field == field, str(info.value)
    assert words in info.value.problem, str(info.value)


def test_plan_round_trip() -> None:
    data = {"replicas": [group(stage(layers=(0, 2)), stage(L40S, layers=(2, 6)), count=2,
                               batch=16), group(stage(tp=2), ep=True)]}
    plan = plan_from_dict(data)
    assert plan.to_dict() == data
    assert plan_from_dict(plan.to_dict()) == plan
    assert plan.replicas[0].tp == 1 and plan.replicas[1].ep


# -- plans: the checker ----------------------------------------------------------------------


def checked() -> ParplanInstance:
    """TINY (6 layers, dense) on 2 H100 and 2 L40S; TPOT 10 ms (tiny-mixed), an overhead of
    2 ms per iteration (so that two-stage pipelines can meet the TPOT limit)."""
    inst = generate.samples()[1]
    assert [p.gpu.name for p in inst.pools] == [H100, L40S] and inst.tpot_ms == 10
    return replace(inst, cost=replace(inst.cost, overhead_ms=2.0))


def violations(inst: ParplanInstance, *groups: dict[str, Any]) -> tuple[str, ...]:
    return evaluate(inst, plan_from_dict({"replicas": list(groups)})).violations


def test_valid_plan() -> None:
    """A pipeline over both types plus one H100 replica: no violation, GPUs counted."""
    inst = checked()
    ev = evaluate(inst, plan_from_dict({"replicas": [
        group(stage(layers=(0, 3)), stage(L40S, layers=(3, 6)), batch=16),
        group(stage(), batch=16)]}))
    assert ev.violations == ()
    assert ev.metrics["gpus_used"] == {H100: 2, L40S: 1}
    assert ev.objective is not None and ev.objective < 0
    assert ev.objective == pytest.approx(-sum(g["tokens_per_s"] * g["count"]
                                              for g in ev.metrics["replicas"]))


def test_stage_gpu_by_the_files_name() -> None:
    """A stage may name its GPU as the instance file does (``h100``), case ignored."""
    inst = checked()
    ev = evaluate(inst, plan_from_dict({"replicas": [
        group(stage("h100", layers=(0, 3)), stage("l40s-48GB", layers=(3, 6)), batch=16)]}))
    assert ev.violations == () and ev.metrics["gpus_used"] == {H100: 1, L40S: 1}


TOY = {"bf16_tflops": 100, "memory_gib": 80, "hbm_TBps": 1}


@pytest.mark.parametrize("nodes", [
    [{"gpu": "H100", "count": 2}, {"gpu": {"name": "h100", **TOY}, "count": 2}],
    [{"gpu": {"name": "Toy", **TOY}, "count": 2},
     {"gpu": {"name": "toy", **TOY, "bf16_tflops": 50}, "count": 2}],
], ids=["inline-named-like-an-alias", "names-differing-in-case"])
def test_gpu_names_are_unambiguous(nodes: list[dict[str, Any]]) -> None:
    """Either the reader refuses the second group, or a plan naming each group's GPU by
    its table name (as the solvers write it) is charged to that group: the exact plan, one
    replica per GPU, checks out."""
    data = _with(lambda d: d["cluster"].__setitem__("nodes", nodes))
    try:
        inst = from_dict(data)
    except InstanceError as error:
        assert error.field == "cluster.nodes[1].gpu", str(error)
        return
    plan = plan_from_dict({"replicas": [group(stage(p.gpu.name), count=2, batch=1)
                                        for p in inst.pools]})
    assert evaluate(inst, plan).violations == ()


def test_gpus_over_the_pool() -> None:
    """3 one-stage H100 replicas on 2 H100."""
    assert violations(checked(), group(count=3, batch=16)) == (
        "cluster.nodes[0]: the plan uses 3 H100-SXM-80GB GPUs of 2",)


def test_gpus_over_the_pool_across_groups() -> None:
    """A TP-2 L40S replica and a pipeline ending on an L40S: 3 L40S of 2."""
    assert violations(checked(), group(stage(L40S, tp=2)),
                      group(stage(layers=(0, 3)), stage(L40S, layers=(3, 6)))) == (
        "cluster.nodes[1]: the plan uses 3 L40S-48GB GPUs of 2",)


def test_non_contiguous_layers() -> None:
    """Stage 1 starts at 4, not 3 (layer 3 is nowhere); an empty stage; a short plan."""
    inst = checked()
    assert violations(inst, group(stage(layers=(0, 3)), stage(L40S, layers=(4, 6)))) == (
        "replicas[0].stages[1].layers: [4, 6] must start at 3 and hold at least one layer",)
    assert violations(inst, group(stage(layers=(0, 3)), stage(L40S, layers=(3, 3)),
                                  stage(L40S, layers=(3, 6))))[0].startswith(
        "replicas[0].stages[1].layers: [3, 3]")
    assert violations(inst, group(stage(layers=(0, 4)))) == (
        "replicas[0]: the stages end at layer 4, not 6",)


def test_mixed_tp_in_a_replica() -> None:
    assert violations(checked(), group(stage(layers=(0, 3)), stage(L40S, 2, (3, 6)))) == (
        "replicas[0].stages[1].tp: 2 differs from stage 0's 1 (one TP size per engine)",)


def test_tp_the_nodes_do_not_allow() -> None:
    """TP 4 on nodes of 2 GPUs."""
    assert violations(checked(), group(stage(tp=4)))[0].startswith(
        "replicas[0].stages[0].tp: 4 is not a TP size the model and H100-SXM-80GB nodes allow")


def test_unknown_gpu() -> None:
    assert violations(checked(), group(stage("V100"))) == (
        "replicas[0].stages[0].gpu: V100 is not in the cluster",)


def test_ep_on_a_dense_model() -> None:
    assert violations(checked(), group(stage(tp=2), ep=True)) == (
        "replicas[0].ep: expert parallelism needs a MoE model whose experts divide over TP 2, "
        "and search.expert_parallel true",)


def test_out_of_memory() -> None:
    """Batch 4096 on one H100 (gpu_mem_util 0.05): 4096*40 = 163,840 KV blocks needed."""
    found = violations(checked(), group(batch=4096))
    assert found[0].startswith("replicas[0]: out of memory (KV blocks per stage [")
    assert found[0].endswith(", 163840 needed)")


def test_tpot_over_the_slo() -> None:
    """Three stages at o = 5 ms: the cycle is at least 3 o = 15 ms > 10 ms."""
    inst = checked()
    inst = replace(inst, cost=replace(inst.cost, overhead_ms=5.0))
    found = violations(inst, group(stage(layers=(0, 2)), stage(layers=(2, 4)),
                                   stage(L40S, layers=(4, 6))))
    assert len(found) == 1 and found[0].startswith("replicas[0]: TPOT ")
    assert found[0].endswith(" ms exceeds the SLO 10.0 ms")
    tpot = float(found[0].split()[2])
    assert tpot >= 15.0


def test_ttft_over_the_slo() -> None:
    """A TTFT limit of 1 ms is below the TTFT overhead alone."""
    inst = replace(checked(), ttft_ms=1.0)
    found = violations(inst, group())
    assert len(found) == 1 and found[0].startswith("replicas[0]: TTFT ")
    assert found[0].endswith(" ms exceeds the SLO 1.0 ms")


def test_empty_plan() -> None:
    ev = evaluate(checked(), plan_from_dict({"replicas": []}))
    assert ev.violations == ("replicas: a plan needs at least one replica",)
    assert ev.objective == 0.0
