"""A parplan instance: a model, a cluster of GPU pools, a workload, latency SLOs.

The JSON form is ``docs/formats.md``'s (format 1) with the documented
extensions: ``gpus_per_node`` and the network of each node group, the batch
sizes to consider, the plan space (``search``) and cost-model overrides
(``cost``). Models and GPUs are named from the shipped tables
(:mod:`.catalog`) or written out inline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from optsched.errors import InstanceError
from optsched.fields import excerpt, require_keys, require_str, type_name
from optsched.problems.parplan import catalog, hfconfig
from optsched.problems.parplan.cluster import Pool, integer, number, read_cluster
from optsched.problems.parplan.spec import CostParams, ModelSpec, changed

BYTES = {"bf16": 2, "fp16": 2, "fp8": 1}
"""Bytes per element of each precision the cost model knows."""
DEFAULT_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
"""Decode batch sizes considered by default (vLLM's ``max_num_seqs`` defaults to 256)."""
MAX_STAGES = 16


@dataclass(frozen=True)
class Search:
    """The plan space: TP sizes, pipeline depth, expert parallelism, mixed pipelines."""

    tp: tuple[int, ...] | None = None
    """Allowed tensor-parallel sizes (None: every power of two the model and nodes allow)."""
    max_stages: int = 8
    expert_parallel: bool = True
    mixed_pipelines: bool = True
    """Whether a pipeline may run on two GPU types (each type's stages contiguous)."""
    max_mixed_stages: int = 4

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the values that differ from the defaults."""
        out = changed(self)
        if "tp" in out:
            out["tp"] = list(out["tp"])
        return out


@dataclass(frozen=True)
class ParplanInstance:
    """A model to serve on a cluster under TPOT and TTFT limits, for most tokens per second."""

    name: str
    model: ModelSpec
    pools: tuple[Pool, ...]
    prompt_tokens: int
    output_tokens: int
    weights: str = "bf16"
    kv: str = "bf16"
    batch_sizes: tuple[int, ...] = DEFAULT_BATCHES
    tpot_ms: float | None = None
    ttft_ms: float | None = None
    search: Search = field(default_factory=Search)
    cost: CostParams = field(default_factory=CostParams)
    model_ref: str | None = None

    @property
    def weight_bytes(self) -> int:
        """Bytes per weight."""
        return BYTES[self.weights]

    @property
    def kv_bytes(self) -> int:
        """Bytes per KV-cache element."""
        return BYTES[self.kv]

    @property
    def gpus(self) -> int:
        """GPUs in the cluster."""
        return sum(p.count for p in self.pools)

    def pool(self, gpu: str) -> int | None:
        """The index of the pool of GPU ``gpu`` (its name or the file's, case ignored), or None."""
        wanted = gpu.casefold()
        for i, p in enumerate(self.pools):
            if wanted in (p.gpu.name.casefold(), (p.gpu_ref or "").casefold()):
                return i
        return None

    def to_dict(self) -> dict[str, Any]:
        """The JSON fields (without ``family`` and ``format``)."""
        out: dict[str, Any] = {
            "name": self.name,
            "model": self.model_ref if self.model_ref is not None else self.model.to_dict(),
            "precision": {"weights": self.weights, "kv": self.kv},
            "cluster": {"nodes": [p.to_dict() for p in self.pools]},
            "workload": {"prompt_tokens": self.prompt_tokens,
                         "output_tokens": self.output_tokens},
            "slo": {k: v for k, v in (("tpot_ms", self.tpot_ms), ("ttft_ms", self.ttft_ms))
                    if v is not None},
            "objective": "max_throughput",
        }
        if self.batch_sizes != DEFAULT_BATCHES:
            out["workload"]["batch_sizes"] = list(self.batch_sizes)
        if self.search.to_dict():
            out["search"] = self.search.to_dict()
        if self.cost.to_dict():
            out["cost"] = self.cost.to_dict()
        return out


def _model(value: object) -> tuple[ModelSpec, str | None]:
    if isinstance(value, str):
        return catalog.model(value, field="model"), value
    if isinstance(value, Mapping):
        name = value.get("name", "custom")
        if not isinstance(name, str):
            raise InstanceError("model.name", f"must be a string, got {type_name(name)}")
        return hfconfig.from_config(value, name, where="model"), None
    raise InstanceError("model", f"must be a model name or a config object, got "
                                 f"{type_name(value)}")


def _precision(value: object) -> tuple[str, str]:
    obj = require_keys(value, "precision", (), ("weights", "kv"))
    out = []
    for key in ("weights", "kv"):
        got = obj.get(key, "bf16")
        if got not in BYTES:
            raise InstanceError(f"precision.{key}", f"must be one of {', '.join(BYTES)}, "
                                                    f"got {excerpt(got)}")
        out.append(str(got))
    return out[0], out[1]


def _batches(value: object) -> tuple[int, ...]:
    if not isinstance(value, list) or not value or len(value) > 64:
        raise InstanceError("workload.batch_sizes", "must be a list of 1 to 64 integers")
    sizes = sorted({integer(v, f"workload.batch_sizes[{i}]", 1, 1 << 16)
                    for i, v in enumerate(value)})
    return tuple(sizes)


def _search(value: object) -> Search:
    obj = require_keys(value, "search", (), [f.name for f in fields(Search)])
    out: dict[str, Any] = {}
    if "tp" in obj:
        tp = obj["tp"]
        if not isinstance(tp, list) or not tp:
            raise InstanceError("search.tp", "must be a non-empty list of integers")
        out["tp"] = tuple(sorted({integer(v, f"search.tp[{i}]", 1, 1024)
                                  for i, v in enumerate(tp)}))
    for key in ("max_stages", "max_mixed_stages"):
        if key in obj:
            out[key] = integer(obj[key], f"search.{key}", 1, MAX_STAGES)
    for key in ("expert_parallel", "mixed_pipelines"):
        if key in obj:
            if not isinstance(obj[key], bool):
                raise InstanceError(f"search.{key}", f"must be true or false, got "
                                                     f"{excerpt(obj[key])}")
            out[key] = obj[key]
    return Search(**out)


_UNIT = ("eff_compute", "eff_hbm", "gpu_mem_util")


def _cost(value: object) -> CostParams:
    obj = require_keys(value, "cost", (), [f.name for f in fields(CostParams)])
    out: dict[str, Any] = {}
    for key, got in obj.items():
        if key == "kv_block_tokens":
            out[key] = integer(got, "cost.kv_block_tokens", 1, 1 << 12)
            continue
        value = number(got, f"cost.{key}", strict=key in (*_UNIT, "alpha_us"))
        if key in _UNIT and value > 1:
            raise InstanceError(f"cost.{key}", f"must be in (0, 1], got {excerpt(got)}")
        out[key] = value
    return CostParams(**out)


def from_dict(obj: Mapping[str, Any]) -> ParplanInstance:
    """Read and validate an instance's JSON object (``family``/``format`` already checked)."""
    require_keys(obj, "", ("name", "model", "cluster", "workload"),
                 ("family", "format", "precision", "slo", "objective", "search", "cost"))
    name = require_str(obj["name"], "name")
    model, ref = _model(obj["model"])
    weights, kv = _precision(obj.get("precision", {}))
    work = require_keys(obj["workload"], "workload", ("prompt_tokens", "output_tokens"),
                        ("batch_sizes",))
    slo = require_keys(obj.get("slo", {}), "slo", (), ("tpot_ms", "ttft_ms"))
    objective = obj.get("objective", "max_throughput")
    if objective != "max_throughput":
        raise InstanceError("objective", f"must be \"max_throughput\", got {excerpt(objective)}")
    search = _search(obj.get("search", {}))
    for i, tp in enumerate(obj.get("search", {}).get("tp") or ()):
        problem = tp_problem(model, tp)
        if problem:
            raise InstanceError(f"search.tp[{i}]", problem)
    return ParplanInstance(
        name=name, model=model, model_ref=ref, pools=read_cluster(obj["cluster"]),
        prompt_tokens=integer(work["prompt_tokens"], "workload.prompt_tokens"),
        output_tokens=integer(work["output_tokens"], "workload.output_tokens"),
        weights=weights, kv=kv,
        batch_sizes=_batches(work["batch_sizes"]) if "batch_sizes" in work
        else DEFAULT_BATCHES,
        tpot_ms=number(slo["tpot_ms"], "slo.tpot_ms") if "tpot_ms" in slo else None,
        ttft_ms=number(slo["ttft_ms"], "slo.ttft_ms") if "ttft_ms" in slo else None,
        search=search, cost=_cost(obj.get("cost", {})))


def tp_problem(model: ModelSpec, tp: int) -> str:
    """Why vLLM refuses tensor-parallel size ``tp`` for ``model`` ("" when it does not).

    The attention heads must divide over the ranks, and the KV heads must
    either divide over them or be replicated a whole number of times.
    """
    heads, kv = model.num_attention_heads, model.num_key_value_heads
    if heads % tp:
        return f"{tp} does not divide the {heads} attention heads of {model.name}"
    if not model.is_mla and kv % tp and tp % kv:
        return f"{tp} and the {kv} KV heads of {model.name} do not divide one another"
    return ""


def with_settings(instance: ParplanInstance, values: Mapping[str, Any]) -> ParplanInstance:
    """The instance with ``-m`` settings (SLOs, plan-space limits) applied."""
    changes: dict[str, Any] = {}
    search: dict[str, Any] = {}
    for key, value in values.items():
        if key in ("tpot_ms", "ttft_ms"):
            changes[key] = None if value == 0 else value
        elif key in ("max_stages", "mixed_pipelines", "expert_parallel"):
            search[key] = value
    if search:
        changes["search"] = replace(instance.search, **search)
    return replace(instance, **changes)
