"""The ``parplan-draft`` generator: a format-1 instance from the shared data's v0 drafts.

``optsched generate parplan-draft --path ../shared/data/parplan/instances/X.json``
reads an ``optsched.parplan.instance/v0`` serving draft and writes it in format 1:

- ``model.ref`` ``models.json#<name>`` names a model of the project's table;
- ``cluster.ref`` ``clusters.json#<name>`` is read from ``--clusters`` (default:
  ``clusters.json`` beside the draft's folder); a node group's ``count`` is nodes
  there and GPUs here, and its ``inter`` network gives the NIC's bandwidth and
  latency (``models/gpus.json``'s networks);
- the workload's mean prompt and output lengths become the two lengths; a
  ``steady_state_decode`` draft (a fixed context, no lengths) becomes a prompt of
  that context and an output of ``--output-tokens``, its micro-batch choices the
  batch sizes;
- an SLO's percentile or maximum becomes the limit on the model's steady-state
  TPOT or TTFT (the model has no distribution of requests);
- ``search_space.tp`` becomes ``search.tp``; the draft's ``cost_model`` is not
  carried over (the project's calibrated constants apply), nor its ``reference``.

Training drafts and trace files the draft only names are refused with the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from optsched.errors import InstanceError
from optsched.family import GeneratorParam
from optsched.fields import excerpt, require_int, require_keys
from optsched.problems.parplan import catalog
from optsched.problems.parplan.instance import ParplanInstance, from_dict
from optsched.reading import parse_json, read_text

SCHEMA = "optsched.parplan.instance/v0"
PARAMS = (
    GeneratorParam("path", str, "", "a v0 draft instance (../shared/data/parplan/instances)"),
    GeneratorParam("clusters", str, "", "the drafts' clusters.json (default: beside the "
                                        "draft's folder)"),
    GeneratorParam("output_tokens", int, 256, "output length of a steady-state decode draft",
                   low=1, high=1 << 20),
)


def size(values: Mapping[str, Any]) -> int:
    """One instance per draft."""
    return 1


def _read(path: Path) -> Mapping[str, Any]:
    obj = parse_json(read_text(path, InstanceError), str(path), InstanceError)
    if not isinstance(obj, Mapping):
        raise InstanceError(str(path), "must hold a JSON object")
    return obj


def _ref(value: object, where: str, table: str) -> str:
    obj = require_keys(value, where, ("ref",))
    ref = obj["ref"]
    if not isinstance(ref, str) or not ref.startswith(f"{table}#"):
        raise InstanceError(f"{where}.ref", f"must be \"{table}#<name>\", got {excerpt(ref)}")
    return ref.split("#", 1)[1]


def _limit(value: object, where: str) -> float | None:
    if value is None:
        return None
    obj = require_keys(value, where, (), ("p50", "p90", "p95", "p99", "max", "mean"))
    for key in ("max", "p99", "p95", "p90", "p50", "mean"):
        if key in obj:
            return float(obj[key])
    raise InstanceError(where, "gives no percentile, mean or maximum")


def _nodes(draft: Mapping[str, Any], clusters: Path) -> list[dict[str, Any]]:
    cluster = draft.get("cluster", {})
    if isinstance(cluster, Mapping) and "ref" in cluster:
        name = _ref(cluster, "cluster", "clusters.json")
        table = _read(clusters).get("clusters", {})
        if not isinstance(table, Mapping) or name not in table:
            raise InstanceError("cluster.ref", f"{name} is not in {clusters}")
        cluster = table[name]
    groups = require_keys(cluster, "cluster", ("nodes",), ("inter_group_gbps_per_dir", "note"))
    networks = catalog.networks()
    out = []
    for i, node in enumerate(groups["nodes"]):
        where = f"cluster.nodes[{i}]"
        node = require_keys(node, where, ("gpu", "count", "gpus_per_node"),
                            ("intra", "inter", "tp_groups_allowed"))
        nodes = require_int(node["count"], f"{where}.count", 1)
        per = require_int(node["gpus_per_node"], f"{where}.gpus_per_node", 1)
        group: dict[str, Any] = {"gpu": node["gpu"], "count": nodes * per, "gpus_per_node": per}
        if node.get("inter") in networks:
            group["inter_node_GBps"], group["inter_node_latency_us"] = networks[node["inter"]]
        out.append(group)
    return out


def _mean(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value < 2**22:
        raise InstanceError(where, f"must be a number of tokens, got {excerpt(value)}")
    return round(value)


def _object(value: object, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InstanceError(where, "must be a JSON object")
    return dict(value)


def _lengths(work: Mapping[str, Any], output: int) -> tuple[Any, Any, list[int] | None]:
    kind = work.get("kind")
    if kind == "steady_state_decode":
        return work.get("context_tokens"), output, work.get("decode_microbatch_choices")
    if kind in ("trace_summary", "synthetic"):
        prompt = require_keys(work.get("prompt_tokens"), "workload.prompt_tokens", ("mean",),
                              ("p50", "p99", "max", "dist"))
        out = require_keys(work.get("output_tokens"), "workload.output_tokens", ("mean",),
                           ("p50", "p99", "max", "dist"))
        return (_mean(prompt["mean"], "workload.prompt_tokens.mean"),
                _mean(out["mean"], "workload.output_tokens.mean"), None)
    raise InstanceError("workload.kind", f"{excerpt(kind)} gives no prompt and output lengths "
                                         "(a trace the draft only names); write format 1")


def from_draft(path: str = "", clusters: str = "", output_tokens: int = 256
               ) -> list[ParplanInstance]:
    """The format-1 instance of the v0 draft at ``path``."""
    if not path:
        raise InstanceError("path", "is missing: the draft to read")
    draft = _read(Path(path))
    if draft.get("schema") != SCHEMA:
        raise InstanceError("schema", f"must be {SCHEMA!r}, got {excerpt(draft.get('schema'))}")
    if draft.get("mode") != "serve":
        raise InstanceError("mode", f"{excerpt(draft.get('mode'))}: parplan plans serving only")
    table = Path(clusters) if clusters else Path(path).resolve().parent.parent / "clusters.json"
    prompt, output, batches = _lengths(_object(draft.get("workload"), "workload"), output_tokens)
    slo = _object(draft.get("slo"), "slo")
    limits = {k: _limit(slo.get(k), f"slo.{k}") for k in ("tpot_ms", "ttft_ms")}
    precision = _object(draft.get("precision"), "precision")
    weights = "fp8" if str(precision.get("weights", "bf16")).startswith("fp8") else "bf16"
    obj: dict[str, Any] = {
        "name": str(draft.get("id", Path(path).stem)),
        "model": _ref(draft.get("model"), "model", "models.json"),
        "precision": {"weights": weights, "kv": "fp8" if precision.get("kv") == "fp8" else "bf16"},
        "cluster": {"nodes": _nodes(draft, table)},
        "workload": {"prompt_tokens": prompt, "output_tokens": output},
        "slo": {k: v for k, v in limits.items() if v is not None}}
    if batches:
        obj["workload"]["batch_sizes"] = batches
    tp = _object(draft.get("search_space"), "search_space").get("tp")
    if isinstance(tp, list):
        obj["search"] = {"tp": tp}
    return [from_dict(obj)]
