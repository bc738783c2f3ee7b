"""The cluster of a parplan instance: GPU pools in nodes, and their reader.

A node group of the JSON is a :class:`Pool`: ``count`` GPUs of one type
(named from the table or written out) in nodes of ``gpus_per_node``, with
the links inside a node and the NIC to other nodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from optsched.errors import InstanceError
from optsched.fields import excerpt, is_int, require_keys, require_str
from optsched.problems.parplan import catalog
from optsched.problems.parplan.spec import GpuSpec

MAX_GPUS = 1 << 16
MAX_TOKENS = 1 << 22
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


def number(value: object, where: str, low: float = 0.0, strict: bool = True) -> float:
    """``value`` as a finite number above ``low`` (or at least ``low`` unless ``strict``)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value):
        raise InstanceError(where, f"must be a number, got {excerpt(value)}")
    if value < low or (strict and value == low):
        raise InstanceError(where, f"must be {'>' if strict else '>='} {low:g}, "
                                   f"got {excerpt(value)}")
    return float(value)


def integer(value: object, where: str, low: int = 1, high: int = MAX_TOKENS) -> int:
    """``value`` as an integer in ``[low, high]``."""
    if not is_int(value):
        raise InstanceError(where, f"must be an integer, got {excerpt(value)}")
    out: int = int(value)  # type: ignore[call-overload]
    if not low <= out <= high:
        raise InstanceError(where, f"must be in [{low}, {high}], got {out}")
    return out


_GPU_KEYS = ("name", "bf16_tflops", "memory_gib", "hbm_TBps")


def _gpu(value: object, where: str) -> tuple[GpuSpec, str | None]:
    if isinstance(value, str):
        return catalog.gpu(value, field=where), value
    obj = require_keys(value, where, _GPU_KEYS, ("fp8_tflops", "link_GBps", "source"))
    name = require_str(obj["name"], f"{where}.name")
    numbers = {k: number(obj[k], f"{where}.{k}") for k in _GPU_KEYS[1:]}
    extra = {k: number(obj[k], f"{where}.{k}", strict=False)
             for k in ("fp8_tflops", "link_GBps") if k in obj}
    return GpuSpec(name=name, source=str(obj.get("source", "inline")),
                   **numbers, **extra), None  # type: ignore[arg-type]


def _pool(obj: object, i: int, inter: float, latency: float) -> Pool:
    where = f"cluster.nodes[{i}]"
    node = require_keys(obj, where, ("gpu", "count"),
                        ("gpus_per_node", "intra_node_GBps", "inter_node_GBps",
                         "inter_node_latency_us"))
    gpu, ref = _gpu(node["gpu"], f"{where}.gpu")
    count = integer(node["count"], f"{where}.count", 1, MAX_GPUS)
    per_node = integer(node.get("gpus_per_node", min(count, 8)), f"{where}.gpus_per_node", 1,
                    MAX_GPUS)
    if count % per_node:
        raise InstanceError(f"{where}.gpus_per_node", f"{per_node} does not divide the "
                                                      f"{count} GPUs of the group")
    intra = number(node.get("intra_node_GBps", gpu.link_GBps or 32.0),
                    f"{where}.intra_node_GBps")
    return Pool(gpu, count, per_node, intra,
                number(node.get("inter_node_GBps", inter), f"{where}.inter_node_GBps"),
                number(node.get("inter_node_latency_us", latency),
                        f"{where}.inter_node_latency_us", strict=False), ref)


def read_cluster(value: object) -> tuple[Pool, ...]:
    """The pools of a ``cluster`` object: one node group per GPU type, at least one."""
    obj = require_keys(value, "cluster", ("nodes",), ("inter_node_GBps", "inter_node_latency_us"))
    nodes = obj["nodes"]
    if not isinstance(nodes, list) or not nodes:
        raise InstanceError("cluster.nodes", "must be a non-empty list of node groups (a "
                                             "cluster without GPUs has no plan)")
    inter = number(obj.get("inter_node_GBps", DEFAULT_INTER_GBPS), "cluster.inter_node_GBps")
    latency = number(obj.get("inter_node_latency_us", DEFAULT_INTER_LATENCY_US),
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
