"""What moe shows and writes: the headline, the trivial placement, the runtimes' JSON, a plot."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from optsched.errors import InputError
from optsched.problems.moe.evaluate import parts
from optsched.problems.moe.instance import MoeInstance
from optsched.problems.moe.layout import contiguous
from optsched.problems.moe.solution import MoeSolution, from_dict, make
from optsched.reading import parse_json

MAX_EXPORT = 1 << 26
"""Largest exported text read back (bytes)."""


def headline(metrics: Mapping[str, Any]) -> str:
    """``time 3268.2 us (compute 1693, comm 1575), imbalance 1.02, cross-GPU 44315``."""
    if metrics.get("goal") == "load":
        bound = metrics.get("token_bound", 0)
        return (f"load {metrics.get('load', 0):.6g} tokens (bound {bound:.6g}), imbalance "
                f"{metrics.get('imbalance', 0):.4g}")
    return (f"time {metrics.get('time', 0):.6g} us (compute {metrics.get('compute_us', 0):.6g}, "
            f"comm {metrics.get('comm_us', 0):.6g}), imbalance {metrics.get('imbalance', 0):.4g}"
            f", cross-GPU {metrics.get('cross_gpu', 0):.6g}, inter-node copies "
            f"{metrics.get('internode_copies', 0):.6g}")


def trivial(instance: MoeInstance) -> MoeSolution:
    """The contiguous placement (the runtimes' default; the answer of last resort)."""
    return make(contiguous(instance))


def logical_maps(instance: MoeInstance, phy2log: np.ndarray) -> tuple[list[Any], list[Any]]:
    """Per layer, vLLM's ``logical_to_physical_map`` and ``logical_replica_count``.

    Each expert's slots in ascending order, padded with -1 to the most
    replicas of any expert.
    """
    counts = np.stack([np.bincount(row, minlength=instance.experts) for row in phy2log])
    width = int(counts.max())
    out = np.full((instance.layers, instance.experts, width), -1, np.int64)
    for layer, row in enumerate(phy2log):
        for e in range(instance.experts):
            slots = np.flatnonzero(row == e)
            out[layer, e, :len(slots)] = slots
    return out.tolist(), counts.tolist()


def export(instance: MoeInstance, solution: MoeSolution) -> str:
    """The placement as the runtimes take it, with per-GPU and per-GPU-pair traffic tables.

    ``physical_to_logical_map`` is what SGLang's ``--init-expert-location``
    reads as is (prepend rows for dense layers: SGLang counts every layer).
    """
    p = parts(instance, solution.phy2log)
    c = instance.cluster
    to_map, counts = logical_maps(instance, solution.phy2log)
    gpus = [{"gpu": g, "node": g // c.gpus_per_node,
             "tokens": float(p.tokens[:, g].sum()),
             "heaviest_layer_tokens": float(p.tokens[:, g].max()),
             "experts": int(p.experts[:, g].sum()),
             "sent_tokens": float(p.traffic[g].sum()), "received_tokens": float(
                 p.traffic[:, g].sum())} for g in range(c.gpus)]
    doc = {"physical_to_logical_map": solution.phy2log.tolist(),
           "logical_to_physical_map": to_map, "logical_replica_count": counts,
           "gpus": gpus, "traffic_tokens": np.round(p.traffic, 3).tolist(),
           "traffic_bytes": np.round(p.traffic * instance.model.token_bytes).tolist()}
    return json.dumps(doc) + "\n"


def read_export(instance: MoeInstance, text: str) -> MoeSolution:
    """The placement of an exported file (``validate INSTANCE EXPORTED``)."""
    if len(text) > MAX_EXPORT:
        raise InputError("export", f"is larger than {MAX_EXPORT} bytes")
    doc = parse_json(text, "export")
    if not isinstance(doc, dict) or "physical_to_logical_map" not in doc:
        raise InputError("export", "must be an object with physical_to_logical_map")
    return from_dict({"phy2log": doc["physical_to_logical_map"]})


def plot(instance: MoeInstance, solution: MoeSolution, path: Path) -> None:
    """A heat map of tokens per GPU and layer, matplotlib imported only now."""
    from optsched.plotting import pyplot

    plt = pyplot("plot")
    p = parts(instance, solution.phy2log)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.25 * instance.cluster.gpus + 3), 5.5))
    image = ax.imshow(p.tokens, aspect="auto", cmap="viridis", interpolation="nearest")
    for n in range(1, instance.cluster.nodes):
        ax.axvline(n * instance.cluster.gpus_per_node - 0.5, color="white", linewidth=1)
    if instance.cluster.gpus <= 32:
        ax.set_xticks(range(instance.cluster.gpus))
    ax.set_xlabel("GPU (white lines: node boundaries)")
    ax.set_ylabel("MoE layer")
    ax.set_title(f"{instance.name or 'moe'}: tokens per GPU and layer")
    fig.colorbar(image, ax=ax, label="tokens")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
