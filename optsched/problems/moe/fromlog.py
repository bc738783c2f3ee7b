"""The ``moe-recorder`` generator: an instance from a runtime's routing log (real data).

``optsched generate moe-recorder --path DUMP --preset deepseek-v3 --nodes 4
--gpus-per-node 8 --redundant 1`` reads the log with :func:`.recorder.read_routing`
(SGLang's expert-distribution dumps, vLLM's ``routed_experts``, JSON, NumPy) and
takes the layers and experts from it, the rest of the model from the preset or
the parameters, the cluster and cost from the parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from optsched.errors import InputError
from optsched.family import GeneratorParam
from optsched.problems.moe import generate, presets
from optsched.problems.moe.instance import Cluster, Cost, MoeInstance, MoeModel
from optsched.problems.moe.recorder import read_routing

_SHARED = ("preset", "top_k", "expert_bytes", "token_bytes", "groups", "nodes",
           "gpus_per_node", "slots_per_gpu", "redundant", "intra_node_GBps", "inter_node_GBps",
           "us_per_token", "us_per_expert")
PARAMS = (
    GeneratorParam("path", str, "", "the routing log: an SGLang expert-distribution dump (.pt),"
                                    " vLLM routed_experts or logical_count (.json, .npy, .npz)"),
    *(p for p in generate.PARAMS if p.name in _SHARED),
    GeneratorParam("keep_dense", bool, False, "keep all-zero layers (dense layers in "
                                              "DeepSeek-style dumps are dropped)", is_flag=True),
    GeneratorParam("previous", bool, False, "keep the log's physical-to-logical map as the "
                                            "placement to re-plan from", is_flag=True),
)


def size(values: Mapping[str, Any]) -> int:
    """One instance (the log's size is bounded by the reader's own limits)."""
    return 1


def from_log(**values: Any) -> list[MoeInstance]:
    """The instance of the log at ``path``; a bad parameter or file raises naming it."""
    v = {p.name: p.default for p in PARAMS} | values
    if not v["path"]:
        raise InputError("path", "is required: the routing log to read")
    routing = read_routing(Path(v["path"]), drop_empty_layers=not v["keep_dense"])
    layers, experts = routing.load.shape
    preset = presets.get(v["preset"]) if v["preset"] else None
    model = {key: int(v[key]) or (getattr(preset, key) if preset else generate.DEFAULTS[key])
             for key in ("top_k", "expert_bytes", "token_bytes", "groups")}
    gpus = v["nodes"] * v["gpus_per_node"]
    slots = (v["slots_per_gpu"] or -(-experts // gpus)) + v["redundant"]
    previous = None
    if v["previous"]:
        if routing.previous is None:
            raise InputError("previous", "the log carries no physical-to-logical map")
        if routing.previous.shape[1] != gpus * slots:
            raise InputError("slots_per_gpu", f"the log's map has {routing.previous.shape[1]} "
                                              f"slots per layer, the cluster {gpus * slots}")
        previous = np.array(routing.previous, np.int64)
    name = f"moe-log-{Path(v['path']).stem}"
    return [MoeInstance(
        model=MoeModel(layers, experts, **model),
        cluster=Cluster(v["nodes"], v["gpus_per_node"], slots, float(v["intra_node_GBps"]),
                        float(v["inter_node_GBps"])),
        load=np.array(routing.load, np.int64),
        cost=Cost(float(v["us_per_token"]), float(v["us_per_expert"])),
        transitions=np.array(routing.transitions, np.int64).reshape(-1, 4),
        coactivation=np.array(routing.coactivation, np.int64).reshape(-1, 4),
        previous=previous, name=name)]
