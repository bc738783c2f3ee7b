"""The independent checker of a plan: its rules, and the cost model's price of it.

The objective is minus the plan's output tokens per second (optsched
minimises). The metrics carry each replica group's predictions (TPOT, TTFT,
tokens/s, memory per GPU of each stage) and what binds it: ``limit`` (what
stops the next batch size: memory, TPOT, or the end of ``batch_sizes``) and
``bottleneck`` (what sets the cycle: a stage, the framework overhead, or the
pipeline's latency).
"""

from __future__ import annotations

from typing import Any

from optsched.family import Evaluation
from optsched.problems.parplan import cost
from optsched.problems.parplan.instance import ParplanInstance
from optsched.problems.parplan.solution import ParplanSolution, ReplicaPlan
from optsched.problems.parplan.templates import ep_choices, tp_sizes

TOLERANCE = 1e-9


def _rules(inst: ParplanInstance, i: int, r: ReplicaPlan) -> list[str]:
    where = f"replicas[{i}]"
    out = []
    layers = inst.model.num_hidden_layers
    expect = 0
    for s, st in enumerate(r.stages):
        k = inst.pool(st.gpu)
        if k is None:
            out.append(f"{where}.stages[{s}].gpu: {st.gpu} is not in the cluster")
        elif st.tp not in tp_sizes(inst, k):
            out.append(f"{where}.stages[{s}].tp: {st.tp} is not a TP size the model and "
                       f"{st.gpu} nodes allow ({tp_sizes(inst, k)})")
        if st.tp != r.tp:
            out.append(f"{where}.stages[{s}].tp: {st.tp} differs from stage 0's {r.tp} "
                       "(one TP size per engine)")
        if st.layers[0] != expect or st.layers[1] <= st.layers[0]:
            out.append(f"{where}.stages[{s}].layers: {list(st.layers)} must start at {expect} "
                       "and hold at least one layer")
        expect = st.layers[1]
    if expect != layers:
        out.append(f"{where}: the stages end at layer {expect}, not {layers}")
    if r.ep and True not in ep_choices(inst, r.tp):
        out.append(f"{where}.ep: expert parallelism needs a MoE model whose experts divide "
                   f"over TP {r.tp}, and search.expert_parallel true")
    return out


def price(inst: ParplanInstance, r: ReplicaPlan) -> cost.ReplicaCost:
    """The cost model's prediction for one replica of a (rule-abiding) group."""
    stages = [(inst.pool(s.gpu) or 0, s.layers[0], s.layers[1]) for s in r.stages]
    return cost.replica(inst, stages, r.tp, r.ep, r.batch)


def _limits(inst: ParplanInstance, r: ReplicaPlan, c: cost.ReplicaCost) -> dict[str, Any]:
    larger = [b for b in inst.batch_sizes if b > r.batch]
    if not larger:
        limit = f"batch cap ({r.batch}, the largest batch size)"
    else:
        nxt = price(inst, ReplicaPlan(r.count, larger[0], r.stages, r.ep))
        if not nxt.fits:
            worst = min(range(len(r.stages)), key=lambda s: nxt.free_blocks[s])
            limit = (f"memory (KV cache of stage {worst}, {r.stages[worst].gpu}, at batch "
                     f"{larger[0]} with this split)")
        elif inst.tpot_ms is not None and nxt.tpot_s > inst.tpot_ms * 1e-3:
            limit = f"TPOT ({nxt.tpot_s * 1e3:.1f} ms at batch {larger[0]})"
        else:
            limit = "none (a larger batch would be better)"
    overhead = inst.cost.overhead_ms * 1e-3
    p, top = len(c.stage_s), max(c.stage_s)
    s = c.stage_s.index(top)
    if p > 1 and p * max(overhead, top) >= overhead + sum(c.stage_s) + sum(c.hop_s):
        bottleneck = "framework overhead" if overhead >= top else _stage(inst, r, s)
    elif p > 1:
        bottleneck = f"pipeline latency (the stages' sum; largest {_stage(inst, r, s)})"
    else:
        bottleneck = _stage(inst, r, 0)
    return {"limit": limit, "bottleneck": bottleneck}


def _stage(inst: ParplanInstance, r: ReplicaPlan, s: int) -> str:
    """``stage 1 (H100-SXM-80GB): HBM 12.1 ms, compute 1.3 ms, collectives 2.9 ms``.

    The three are summed over the stage's layers; the layer times are
    ``max(HBM, compute) + collectives``, so the largest two say what binds.
    """
    st = r.stages[s]
    pool = inst.pools[inst.pool(st.gpu) or 0]
    parts = cost.decode_parts(inst, pool, r.tp, r.ep, r.batch, st.layers[0], st.layers[1])
    named = ", ".join(f"{name} {1e3 * value:.3g} ms" for name, value in
                      zip(("HBM", "compute", "collectives"), parts, strict=True) if value)
    return f"stage {s} ({st.gpu}): {named}"


def evaluate(inst: ParplanInstance, sol: ParplanSolution) -> Evaluation:
    """Check the plan's rules and GPU counts, price every replica, check memory and SLOs."""
    violations: list[str] = []
    if not sol.replicas:
        violations.append("replicas: a plan needs at least one replica")
    used = [0] * len(inst.pools)
    groups: list[dict[str, Any]] = []
    total = 0.0
    for i, r in enumerate(sol.replicas):
        broken = _rules(inst, i, r)
        violations += broken
        for st in r.stages:
            k = inst.pool(st.gpu)
            if k is not None:
                used[k] += st.tp * r.count
        if broken:
            continue
        c = price(inst, r)
        where = f"replicas[{i}]"
        if not c.fits:
            violations.append(f"{where}: out of memory (KV blocks per stage {list(c.free_blocks)}"
                              f", {c.blocks_needed} needed)")
        if inst.tpot_ms is not None and c.tpot_s > inst.tpot_ms * 1e-3 * (1 + TOLERANCE):
            violations.append(f"{where}: TPOT {c.tpot_s * 1e3:.3f} ms exceeds the SLO "
                              f"{inst.tpot_ms} ms")
        if inst.ttft_ms is not None and c.ttft_s > inst.ttft_ms * 1e-3 * (1 + TOLERANCE):
            violations.append(f"{where}: TTFT {c.ttft_s * 1e3:.3f} ms exceeds the SLO "
                              f"{inst.ttft_ms} ms")
        total += r.count * c.throughput
        groups.append({"count": r.count, "tpot_ms": c.tpot_s * 1e3, "ttft_ms": c.ttft_s * 1e3,
                       "tokens_per_s": c.throughput,
                       "stage_ms": [t * 1e3 for t in c.stage_s],
                       "weights_gib": [w / cost.GIB for w in c.weights],
                       "kv_blocks": list(c.free_blocks), "kv_blocks_needed": c.blocks_needed,
                       **_limits(inst, r, c)})
    for k, p in enumerate(inst.pools):
        if used[k] > p.count:
            violations.append(f"cluster.nodes[{k}]: the plan uses {used[k]} {p.gpu.name} GPUs "
                              f"of {p.count}")
    metrics: dict[str, Any] = {
        "tokens_per_s": total, "gpus_used": {p.gpu.name: used[k]
                                             for k, p in enumerate(inst.pools)},
        "replicas": groups}
    if groups:
        metrics["binding"] = groups[0]["limit"]
    return Evaluation(-total, tuple(violations), metrics)
