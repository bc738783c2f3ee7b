"""What parplan shows and writes: the headline, the launch commands, the plot."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from optsched.errors import InputError
from optsched.fields import require_keys
from optsched.problems.parplan import catalog
from optsched.problems.parplan.evaluate import price
from optsched.problems.parplan.instance import ParplanInstance
from optsched.problems.parplan.solution import ParplanSolution, ReplicaPlan, from_dict
from optsched.reading import parse_json

MAX_EXPORT = 1 << 24
"""Largest exported text read back (bytes)."""


def headline(metrics: Mapping[str, Any]) -> str:
    """``5314 tokens/s, worst TPOT 48.18 ms, 1 replica group(s), binding: TPOT (...)``."""
    groups = metrics.get("replicas", [])
    tpot = max((g["tpot_ms"] for g in groups), default=0.0)
    return (f"{metrics.get('tokens_per_s', 0):.6g} tokens/s, worst TPOT {tpot:.4g} ms, "
            f"{len(groups)} replica group(s), binding: {metrics.get('binding', '-')}")


def _model_path(inst: ParplanInstance) -> str:
    if inst.model_ref is not None:
        return catalog.hf_repo(inst.model_ref) or inst.model_ref
    return inst.model.name


def commands(inst: ParplanInstance, r: ReplicaPlan) -> dict[str, Any]:
    """One replica's ``vllm serve`` and ``sglang.launch_server`` lines and their environment.

    A pipeline's split goes in ``VLLM_PP_LAYER_PARTITION`` /
    ``SGLANG_PP_LAYER_PARTITION`` (layers per stage, in stage order). vLLM's
    ``--max-num-seqs`` is ``b``, the micro-batch: V0's pipeline engine has a
    scheduler per micro-batch; an engine with one scheduler for all micro-batches
    needs ``p b`` (SGLang's ``--max-running-requests`` is that).
    """
    counts = [s.layers[1] - s.layers[0] for s in r.stages]
    p, model = len(r.stages), shlex.quote(_model_path(inst))
    util = f"{inst.cost.gpu_mem_util:g}"
    quant = " --quantization fp8" if inst.weights == "fp8" else ""
    kv = " --kv-cache-dtype fp8" if inst.kv == "fp8" else ""
    vllm = (f"vllm serve {model} --tensor-parallel-size {r.tp} --pipeline-parallel-size {p} "
            f"--max-num-seqs {r.batch} --gpu-memory-utilization {util}{quant}{kv}"
            + (" --enable-expert-parallel" if r.ep else ""))
    sglang = (f"python -m sglang.launch_server --model-path {model} --tp-size {r.tp} "
              f"--pp-size {p} --max-running-requests {r.batch * p} "
              f"--mem-fraction-static {util}{quant}{kv}" + (f" --ep-size {r.tp}" if r.ep else ""))
    env = {}
    if p > 1:
        env = {"VLLM_PP_LAYER_PARTITION": ",".join(map(str, counts)),
               "SGLANG_PP_LAYER_PARTITION": ",".join(map(str, counts))}
    return {"env": env, "vllm": vllm, "sglang": sglang,
            "placement": [f"stage {i}: {r.tp} x {s.gpu}, layers [{s.layers[0]}, {s.layers[1]})"
                          for i, s in enumerate(r.stages)]}


def export(inst: ParplanInstance, sol: ParplanSolution) -> str:
    """The plan with, per replica group, its launch commands and predicted latencies.

    Each of a group's ``count`` replicas is one engine (one server); a load
    balancer spreads requests over them. Stages on different GPU types need
    a placement that puts each stage's TP group on its type (one node per
    stage, e.g. ``--nnodes``/``--node-rank`` or a Ray placement group).
    """
    groups = []
    for r in sol.replicas:
        c = price(inst, r)
        groups.append({**r.to_dict(), "launch": commands(inst, r),
                       "predicted": {"tpot_ms": round(c.tpot_s * 1e3, 3),
                                     "ttft_ms": round(c.ttft_s * 1e3, 3),
                                     "tokens_per_s": round(c.throughput, 3)}})
    return json.dumps({"instance": inst.name, "replicas": groups}, indent=1) + "\n"


def read_export(inst: ParplanInstance, text: str) -> ParplanSolution:
    """Read :func:`export`'s JSON back into a plan (the launch lines are ignored)."""
    if len(text) > MAX_EXPORT:
        raise InputError("export", f"is larger than {MAX_EXPORT} bytes")
    obj = parse_json(text, "export")
    obj = require_keys(obj, "export", ("replicas",), ("instance",), InputError)
    if not isinstance(obj["replicas"], list):
        raise InputError("export.replicas", "must be a list")
    replicas = [{k: v for k, v in r.items() if k not in ("launch", "predicted")}
                if isinstance(r, Mapping) else r for r in obj["replicas"]]
    return from_dict({"replicas": replicas})


def plot(inst: ParplanInstance, sol: ParplanSolution, path: Path) -> None:
    """Tokens per second per GPU against TPOT of every priced template; the plan's marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from optsched.deadline import Deadline
    from optsched.problems.parplan.templates import frontier

    fig, ax = plt.subplots(figsize=(7, 4.5))
    points = frontier(inst, Deadline(10.0))
    for label, rows in points.items():
        ax.scatter([r[0] for r in rows], [r[1] for r in rows], s=12, label=label, alpha=0.7)
    for r in sol.replicas:
        c = price(inst, r)
        ax.scatter([c.tpot_s * 1e3], [c.throughput / (r.tp * len(r.stages))], marker="*",
                   s=160, color="black")
    if inst.tpot_ms is not None:
        ax.axvline(inst.tpot_ms, color="grey", linestyle="--", label="TPOT SLO")
    ax.set_xlabel("TPOT (ms)")
    ax.set_ylabel("tokens/s per GPU")
    ax.set_title(f"{inst.name}: templates (dots) and the plan (stars)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def compare(inst: ParplanInstance, sol: ParplanSolution) -> dict[str, Any]:
    """Tokens/s of the plan and of each rule, and ``vs_<rule>``: better, equal or worse.

    The rules are :mod:`.baselines`' (vLLM's, max-PP, min-TP); a rule that finds
    no plan counts as 0 tokens/s.
    """
    from optsched.problems.parplan import baselines
    from optsched.problems.parplan.evaluate import evaluate

    ours = -(evaluate(inst, sol).objective or 0.0)
    out: dict[str, Any] = {"tokens_per_s": ours}
    for name, shapes in (("vllm", baselines.vllm), ("max_pp", baselines.max_pp),
                         ("min_tp", baselines.min_tp)):
        plan = baselines.rule(inst, shapes)
        theirs = -(evaluate(inst, plan).objective or 0.0) if plan.replicas else 0.0
        out[f"{name}_tokens_per_s"] = theirs
        close = abs(ours - theirs) <= 1e-9 * max(1.0, abs(ours))
        out[f"vs_{name}"] = "equal" if close else "better" if ours > theirs else "worse"
    return out
