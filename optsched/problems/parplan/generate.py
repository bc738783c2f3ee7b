"""Seeded parplan instances, and the family's tiny samples.

A homogeneous instance puts ``gpus`` GPUs of one type in nodes of 8; a
heterogeneous one draws ``types`` GPU types from the table and splits the
GPUs over them in whole nodes (L40S nodes hold 4, the others 8). Prompt and
output lengths are log-uniform in [128, 4096] and [64, 1024] unless given;
the SLOs are the parameters'.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from optsched.errors import InputError
from optsched.family import Generator, GeneratorParam
from optsched.problems.parplan import catalog, hfconfig
from optsched.problems.parplan.instance import ParplanInstance, from_dict

NODE = {"L40S-48GB": 4}
"""GPUs per node of the generated clusters (8 unless listed)."""
MAX_INSTANCES = 10_000

PARAMS = (
    GeneratorParam("model", str, "llama-3-70b", "a model of the table, \"any\" (one per "
                   "instance, by the seed), or the path of a Hugging Face config.json"),
    GeneratorParam("cluster", str, "homogeneous", "homogeneous or heterogeneous"),
    GeneratorParam("gpu", str, "H100", "the GPU of a homogeneous cluster"),
    GeneratorParam("gpus", int, 8, "GPUs in the cluster (whole nodes)", low=1, high=4096),
    GeneratorParam("types", int, 3, "GPU types of a heterogeneous cluster", low=2, high=7),
    GeneratorParam("tpot_ms", float, 50.0, "TPOT limit in ms (0: none)", low=0, high=1e6),
    GeneratorParam("ttft_ms", float, 2000.0, "TTFT limit in ms (0: none)", low=0, high=1e7),
    GeneratorParam("prompt_tokens", int, 0, "prompt length (0: drawn)", low=0, high=1 << 20),
    GeneratorParam("output_tokens", int, 0, "output length (0: drawn)", low=0, high=1 << 20),
    GeneratorParam("count", int, 1, "instances", low=1, high=MAX_INSTANCES),
    GeneratorParam("seed", int, 0, "random seed", low=0, high=2**63 - 1),
)


def _lengths(rng: np.random.Generator, prompt: int, output: int) -> tuple[int, int]:
    p = prompt or round(math.exp(rng.uniform(math.log(128), math.log(4096))))
    o = output or round(math.exp(rng.uniform(math.log(64), math.log(1024))))
    return p, o


def _nodes(rng: np.random.Generator, kind: str, gpu: str, gpus: int, types: int
           ) -> list[dict[str, Any]]:
    if kind == "homogeneous":
        name = catalog.gpu(gpu, field="gpu").name
        per = min(NODE.get(name, 8), gpus)
        if gpus % per:
            raise InputError("gpus", f"must be whole nodes of {per} {name} GPUs, got {gpus}")
        return [{"gpu": name, "count": gpus, "gpus_per_node": per}]
    if kind != "heterogeneous":
        raise InputError("cluster", f"must be homogeneous or heterogeneous, got {kind!r}")
    names = sorted(catalog.known_gpus())
    if types > len(names):
        raise InputError("types", f"the table has {len(names)} GPU types, got {types}")
    chosen = [names[i] for i in rng.choice(len(names), types, replace=False)]
    unit = [NODE.get(n, 8) for n in chosen]
    if gpus < sum(unit):
        raise InputError("gpus", f"{types} types need at least {sum(unit)} GPUs, got {gpus}")
    shares = rng.dirichlet(np.ones(types))
    nodes = [1] * types
    left = gpus - sum(unit)
    for i in np.argsort(-shares):
        extra = min(int(shares[i] * (gpus - sum(unit))) // unit[i], left // unit[i])
        nodes[i] += extra
        left -= extra * unit[i]
    for i in np.argsort(-shares):  # whatever rounding left, in whole nodes
        nodes[i] += left // unit[i]
        left -= (left // unit[i]) * unit[i]
    return [{"gpu": n, "count": k * u, "gpus_per_node": u}
            for n, k, u in zip(chosen, nodes, unit, strict=True)]


def generate(model: str = "llama-3-70b", cluster: str = "homogeneous", gpu: str = "H100",
             gpus: int = 8, types: int = 3, tpot_ms: float = 50.0, ttft_ms: float = 2000.0,
             prompt_tokens: int = 0, output_tokens: int = 0, count: int = 1, seed: int = 0
             ) -> list[ParplanInstance]:
    """``count`` instances; the parameters are checked first (:data:`GENERATOR`)."""
    GENERATOR.check(dict(locals()))
    models = sorted(catalog.known_models())
    config = hfconfig.read_file(Path(model)).to_dict() if model.endswith(".json") else None
    out = []
    for k in range(count):
        rng = np.random.default_rng([seed, k])
        if config is not None:
            name = str(config["name"])
        elif model == "any":
            name = models[int(rng.integers(len(models)))]
        else:
            name = catalog.model(model, field="model").name
        p, o = _lengths(rng, prompt_tokens, output_tokens)
        slo = {key: v for key, v in (("tpot_ms", tpot_ms), ("ttft_ms", ttft_ms)) if v > 0}
        shape = f"{gpu}x{gpus}" if cluster == "homogeneous" else f"het{types}x{gpus}"
        out.append(from_dict({
            "name": f"{name}-{shape}-s{seed}-{k}", "model": config or name,
            "cluster": {"nodes": _nodes(rng, cluster, gpu, gpus, types)},
            "workload": {"prompt_tokens": p, "output_tokens": o}, "slo": slo}))
    return out


GENERATOR: Generator[ParplanInstance] = Generator(
    generate, PARAMS, "homogeneous or heterogeneous GPU clusters for a table model",
    MAX_INSTANCES, lambda v: int(v["count"]))

TINY = {"name": "tiny", "hidden_size": 1024, "intermediate_size": 4096,
        "num_hidden_layers": 6, "num_attention_heads": 8, "num_key_value_heads": 2,
        "head_dim": 128, "vocab_size": 32000}
"""A 6-layer model of about 0.1 B parameters, small enough for every solver's tests."""


def samples() -> list[ParplanInstance]:
    """Tiny instances that every solver solves in well under a second.

    - ``tiny-l40s``: the 6-layer model on 4 L40S in one node; memory
      capped (``gpu_mem_util`` 0.05) so that TP and batch trade off.
    - ``tiny-mixed``: the same on 2 H100 and 2 L40S (two pools), TPOT 10 ms.
    """
    base = {"model": TINY, "workload": {"prompt_tokens": 512, "output_tokens": 128,
                                        "batch_sizes": [1, 4, 16, 64]},
            "cost": {"gpu_mem_util": 0.05, "reserve_gib": 0.5}}
    return [
        from_dict({**base, "name": "tiny-l40s",
                   "cluster": {"nodes": [{"gpu": "L40S", "count": 4}]}}),
        from_dict({**base, "name": "tiny-mixed", "slo": {"tpot_ms": 10},
                   "search": {"max_stages": 3},
                   "cluster": {"nodes": [{"gpu": "H100", "count": 2},
                                         {"gpu": "L40S", "count": 2}]}}),
    ]
