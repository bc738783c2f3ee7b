"""A parplan instance: a model, a cluster of GPU pools, a workload, latency SLOs.

The JSON form is ``docs/formats.md``'s (format 1) with the documented
extensions: ``gpus_per_node`` and the network of each node group, the batch
sizes to consider, the plan space (``search``) and cost-model overrides
(``cost``). Models and GPUs are named from the shipped tables
(:mod:`.catalog`) or written out inline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from optsched.errors import InstanceError
from optsched.fields import excerpt, is_int, require_keys, require_str, type_name
from optsched.problems.parplan import catalog, hfconfig
from optsched.problems.parplan.spec import CostParams, GpuSpec, ModelSpec, changed

BYTES = {"bf16": 2, "fp16": 2, "fp8": 1}
"""Bytes per element of each precision the cost model knows."""
DEFAULT_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
"""Decode batch sizes considered by default (vLLM's ``max_num_seqs`` defaults to 256)."""
MAX_GPUS = 1 << 16
MAX_TOKENS = 1 << 22
MAX_STAGES = 16
DEFAULT_INTER_GBPS, DEFAULT_INTER_LATENCY_US = 50.0, 5.0
"""An NDR-400 InfiniBand NIC per GPU: 50 GB/s per direction, about 5 us."""


@dataclass(frozen=True)
class Pool:
    """``count`` GPUs of one model in nodes of ``gpus_per_node``.

    Bandwidths are per direction: ``intra_GBps`` between two GPUs of a node,
    ``inter_GBps`` (with ``inter_latency_us``) from a GPU to another node.
    """

    gpu: GpuSpec
    count: int
    gpus_per_node: int
    intra_GBps: float  # noqa: N815 - the unit is part of the name
    inter_GBps: float  # noqa: N815
    inter_latency_us: float
    gpu_ref: str | None = None
    """The table name the file gave, or None for an inline GPU."""

    @property
    def nodes(self) -> int:
        """The number of nodes."""
        return self.count // self.gpus_per_node

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the node group."""
        return {"gpu": self.gpu_ref if self.gpu_ref is not None else self.gpu.to_dict(),
                "count": self.count, "gpus_per_node": self.gpus_per_node,
                "intra_node_GBps": self.intra_GBps, "inter_node_GBps": self.inter_GBps,
                "inter_node_latency_us": self.inter_latency_us}


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


def _number(value: object, where: str, low: float = 0.0, strict: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value):
        raise InstanceError(where, f"must be a number, got {excerpt(value)}")
    if value < low or (strict and value == low):
        raise InstanceError(where, f"must be {'>' if strict else '>='} {low:g}, "
                                   f"got {excerpt(value)}")
    return float(value)


def _int(value: object, where: str, low: int = 1, high: int = MAX_TOKENS) -> int:
    if not is_int(value):
        raise InstanceError(where, f"must be an integer, got {excerpt(value)}")
    number: int = int(value)  # type: ignore[call-overload]
    if not low <= number <= high:
        raise InstanceError(where, f"must be in [{low}, {high}], got {number}")
    return number


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


_GPU_KEYS = ("name", "bf16_tflops", "memory_gib", "hbm_TBps")


def _gpu(value: object, where: str) -> tuple[GpuSpec, str | None]:
    if isinstance(value, str):
        return catalog.gpu(value, field=where), value
    obj = require_keys(value, where, _GPU_KEYS, ("fp8_tflops", "link_GBps", "source"))
    name = require_str(obj["name"], f"{where}.name")
    numbers = {k: _number(obj[k], f"{where}.{k}") for k in _GPU_KEYS[1:]}
    extra = {k: _number(obj[k], f"{where}.{k}", strict=False)
             for k in ("fp8_tflops", "link_GBps") if k in obj}
    return GpuSpec(name=name, source=str(obj.get("source", "inline")),
                   **numbers, **extra), None  # type: ignore[arg-type]


def _pool(obj: object, i: int, inter: float, latency: float) -> Pool:
    where = f"cluster.nodes[{i}]"
    node = require_keys(obj, where, ("gpu", "count"),
                        ("gpus_per_node", "intra_node_GBps", "inter_node_GBps",
                         "inter_node_latency_us"))
    gpu, ref = _gpu(node["gpu"], f"{where}.gpu")
    count = _int(node["count"], f"{where}.count", 1, MAX_GPUS)
    per_node = _int(node.get("gpus_per_node", min(count, 8)), f"{where}.gpus_per_node", 1,
                    MAX_GPUS)
    if count % per_node:
        raise InstanceError(f"{where}.gpus_per_node", f"{per_node} does not divide the "
                                                      f"{count} GPUs of the group")
    intra = _number(node.get("intra_node_GBps", gpu.link_GBps or 32.0),
                    f"{where}.intra_node_GBps")
    return Pool(gpu, count, per_node, intra,
                _number(node.get("inter_node_GBps", inter), f"{where}.inter_node_GBps"),
                _number(node.get("inter_node_latency_us", latency),
                        f"{where}.inter_node_latency_us", strict=False), ref)


def _cluster(value: object) -> tuple[Pool, ...]:
    obj = require_keys(value, "cluster", ("nodes",), ("inter_node_GBps", "inter_node_latency_us"))
    nodes = obj["nodes"]
    if not isinstance(nodes, list) or not nodes:
        raise InstanceError("cluster.nodes", "must be a non-empty list of node groups (a "
                                             "cluster without GPUs has no plan)")
    inter = _number(obj.get("inter_node_GBps", DEFAULT_INTER_GBPS), "cluster.inter_node_GBps")
    latency = _number(obj.get("inter_node_latency_us", DEFAULT_INTER_LATENCY_US),
                      "cluster.inter_node_latency_us", strict=False)
    pools = tuple(_pool(n, i, inter, latency) for i, n in enumerate(nodes))
    seen: dict[str, int] = {}
    for i, p in enumerate(pools):
        names = {p.gpu.name.casefold(), (p.gpu_ref or p.gpu.name).casefold()}
        for name in names & seen.keys():
            raise InstanceError(f"cluster.nodes[{i}].gpu", f"{p.gpu.name} is also "
                                f"cluster.nodes[{seen[name]}]: one group per GPU type")
        seen.update(dict.fromkeys(names, i))
    if sum(p.count for p in pools) > MAX_GPUS:
        raise InstanceError("cluster.nodes", f"more than {MAX_GPUS} GPUs")
    return pools


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
    sizes = sorted({_int(v, f"workload.batch_sizes[{i}]", 1, 1 << 16)
                    for i, v in enumerate(value)})
    return tuple(sizes)


def _search(value: object) -> Search:
    obj = require_keys(value, "search", (), [f.name for f in fields(Search)])
    out: dict[str, Any] = {}
    if "tp" in obj:
        tp = obj["tp"]
        if not isinstance(tp, list) or not tp:
            raise InstanceError("search.tp", "must be a non-empty list of integers")
        out["tp"] = tuple(sorted({_int(v, f"search.tp[{i}]", 1, 1024)
                                  for i, v in enumerate(tp)}))
    for key in ("max_stages", "max_mixed_stages"):
        if key in obj:
            out[key] = _int(obj[key], f"search.{key}", 1, MAX_STAGES)
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
            out[key] = _int(got, "cost.kv_block_tokens", 1, 1 << 12)
            continue
        number = _number(got, f"cost.{key}", strict=key in (*_UNIT, "alpha_us"))
        if key in _UNIT and number > 1:
            raise InstanceError(f"cost.{key}", f"must be in (0, 1], got {excerpt(got)}")
        out[key] = number
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
        name=name, model=model, model_ref=ref, pools=_cluster(obj["cluster"]),
        prompt_tokens=_int(work["prompt_tokens"], "workload.prompt_tokens"),
        output_tokens=_int(work["output_tokens"], "workload.output_tokens"),
        weights=weights, kv=kv,
        batch_sizes=_batches(work["batch_sizes"]) if "batch_sizes" in work
        else DEFAULT_BATCHES,
        tpot_ms=_number(slo["tpot_ms"], "slo.tpot_ms") if "tpot_ms" in slo else None,
        ttft_ms=_number(slo["ttft_ms"], "slo.ttft_ms") if "ttft_ms" in slo else None,
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
