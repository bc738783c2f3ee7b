"""Snapshot instances from the Alibaba GPU cluster trace v2023 ("openb").

The trace (Weng et al., "Beware of Fragmentation", USENIX ATC 2023) lists
1523 nodes and about 8000 pods; see the README beside the CSV files.

Snapshot ``k`` depends only on ``(seed, k)``:

1. **Pods pool**: a time ``t`` is the creation time of a pod drawn uniformly;
   the pods alive at ``t`` (``creation_time <= t < deletion_time``; at most a
   few dozen in this trace) come first in random order, then every other pod
   of the variant's list in random order.
2. **Nodes**: ``nodes`` distinct nodes drawn with probability proportional to
   their GPU count (CPU-only nodes are not drawn). The trace's pods are GPU
   workloads: its whole cluster has 0.76 GPU per pod, and uniform draws would
   give 0.4, about twice the capacity short. GPU-weighted nodes give 7 GPUs
   and 95 cores per node on average, so 10 pods per node request about 1.1
   times the capacity of the binding resource.
3. **Pods**: the first ``pods`` pods of the pool that fit at least one drawn
   node when it is empty (the others could never be placed).
4. **Load**: if no resource (cpu, memory, GPU milli) is requested at more than
   ``min_load`` times the drawn nodes' capacity, steps 2-3 are redrawn (at most
   :data:`REDRAWS` times). With ``min_load >= 1`` every scheduler leaves pods
   pending, because the binding resource is overbooked.
5. All pods are pending, in arrival order (``creation_time``, then name).
6. **Scale**: a snapshot larger than the trace (Kubernetes' limits are 5,000
   nodes and 150,000 pods) draws nodes with replacement when it asks for
   more than the trace's GPU nodes, and goes through the pods pool again
   when it is exhausted; copies are named ``<name>~<k>``.

Mapping: ``cpu_milli`` is cpu in millicores, ``memory_mib`` memory in MiB. QoS
classes are priority classes ``guaranteed`` (4) > ``latency-sensitive`` (LS,
3) > ``burstable`` (2) > ``best-effort`` (BE, 1). GPUs are two extended
resources: a node has ``nvidia.com/gpu: gpu`` and ``alibaba.com/gpu-milli:
1000 * gpu``; a pod of whole GPUs (``gpu_milli`` 1000) requests ``num_gpu`` of
each kind (times 1000 for the milli), a GPU-sharing pod (``gpu_milli`` < 1000)
only ``gpu_milli`` milli. This aggregate model is a relaxation: it does not pack
shares onto individual GPUs, so three pods of 600 milli fit a 2-GPU node here
though no GPU could take two of them. A ``gpu_spec`` ``A|B`` is the required
node affinity ``gpu-model In [A, B]`` against the node label ``gpu-model``.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from optsched.errors import InputError, InstanceError
from optsched.family import GeneratorParam
from optsched.fields import excerpt
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.objects import DEFAULT_MAX_PODS, Expression, Node, PodGroup

FOLDER = Path("pods") / "alibaba-gpu-v2023"
PREFIX = "alibaba_gpu_v2023_openb_"
NODE_FILE = f"{PREFIX}node_list_all_node.csv"
VARIANTS = ("default", "gpuspec33", "cpu050")
NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
POD_COLUMNS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "gpu_spec", "qos",
               "creation_time", "deletion_time")
QOS = {"Guaranteed": ("guaranteed", 4), "LS": ("latency-sensitive", 3),
       "Burstable": ("burstable", 2), "BE": ("best-effort", 1)}
GPU, GPU_MILLI, MODEL = "nvidia.com/gpu", "alibaba.com/gpu-milli", "gpu-model"
MIB = 2**20
REDRAWS = 100
PARAMS = (
    GeneratorParam("data", str, "", "the trace's directory, or a data directory holding "
                                    f"{FOLDER} (default: $OPTSCHED_DATA, else ../shared/data)"),
    GeneratorParam("variant", str, "default", f"pod list: {', '.join(VARIANTS)}"),
    GeneratorParam("nodes", int, 100, "nodes per snapshot", low=1, high=100_000),
    GeneratorParam("pods", int, 1000, "pods per snapshot", low=1, high=1_000_000),
    GeneratorParam("min_load", float, 1.0, "redraw until some resource is requested at more "
                                           "than this times capacity", low=0, high=100),
    GeneratorParam("count", int, 1, "number of snapshots", low=1, high=10_000),
    GeneratorParam("seed", int, 0, "random seed; snapshot k uses the seed sequence (seed, k)",
                   low=0, high=2**63 - 1),
)


def generate(data: str = "", variant: str = "default", nodes: int = 100, pods: int = 1000,
             min_load: float = 1.0, count: int = 1, seed: int = 0) -> list[PodsInstance]:
    """:func:`snapshots` with the generator interface (:data:`PARAMS`)."""
    return snapshots(locate(data), nodes=nodes, pods=pods, min_load=min_load, count=count,
                     seed=seed, variant=variant)


def locate(data: str | Path = "") -> Path:
    """The trace's directory: ``data`` itself or ``data/pods/alibaba-gpu-v2023``.

    An empty ``data`` means ``$OPTSCHED_DATA``, else ``shared/data`` beside the repository.
    """
    root = Path(data or os.environ.get("OPTSCHED_DATA")
                or Path(__file__).resolve().parents[3].parent / "shared" / "data")
    for path in (root, root / FOLDER):
        if (path / NODE_FILE).is_file():
            return path
    raise InputError("data", f"no Alibaba GPU trace v2023 at {root} (looked for {NODE_FILE} "
                             f"there and in {root / FOLDER})")


def snapshots(data_dir: Path, *, nodes: int = 100, pods: int = 1000, min_load: float = 1.0,
              count: int = 1, seed: int = 0, variant: str = "default") -> list[PodsInstance]:
    """``count`` snapshot instances (the recipe is in the module docstring)."""
    for field, value, low in (("nodes", nodes, 1), ("pods", pods, 1), ("count", count, 1),
                              ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InputError(field, f"must be an integer >= {low}, got {excerpt(value)}")
    if isinstance(min_load, bool) or not isinstance(min_load, int | float) or min_load < 0:
        raise InputError("min_load", f"must be a number >= 0, got {excerpt(min_load)}")
    if variant not in VARIANTS:
        raise InputError("variant", f"must be one of {', '.join(VARIANTS)}, "
                                    f"got {excerpt(variant)}")
    node_rows = _read(data_dir / NODE_FILE, NODE_COLUMNS)
    pod_rows = _read(data_dir / f"{PREFIX}pod_list_{variant}.csv", POD_COLUMNS)
    weights = np.array([int(r["gpu"]) for r in node_rows], dtype=float)
    scale = bool(nodes > np.count_nonzero(weights))  # more nodes than the trace: replacement
    all_nodes = [_node(r) for r in node_rows]
    all_pods = [_pod(r) for r in pod_rows]
    born = np.array([int(r["creation_time"]) for r in pod_rows])
    dies = np.array([int(r["deletion_time"]) for r in pod_rows])
    out = []
    for k in range(count):
        rng = np.random.default_rng([seed, k])
        t = born[rng.integers(len(born))]
        alive = (born <= t) & (t < dies)
        pool = np.concatenate([rng.permutation(np.flatnonzero(alive)),
                               rng.permutation(np.flatnonzero(~alive))])
        for _ in range(REDRAWS):
            chosen = rng.choice(len(all_nodes), nodes, replace=scale, p=weights / weights.sum())
            cluster = _copies([all_nodes[j] for j in sorted(chosen)])
            picked = _pick(cluster, all_pods, pool, pods)
            chosen_pods = _copies([all_pods[i % len(all_pods)] for i in picked])
            if len(picked) == pods and binding_load(cluster, chosen_pods) > min_load:
                break
        else:
            raise InputError("min_load", f"no draw of {nodes} nodes and {pods} pods requests "
                                         f"more than {min_load:g} times capacity (seed {seed}, "
                                         f"snapshot {k}): ask for more pods per node")
        arrival = sorted(range(len(picked)), key=lambda k: (
            born[picked[k] % len(all_pods)], picked[k] // len(all_pods), chosen_pods[k].name))
        out.append(PodsInstance(
            tuple(cluster), tuple(chosen_pods[k] for k in arrival),
            {name: value for name, value in QOS.values()},
            name=f"alibaba-{variant}-n{nodes}-p{pods}-s{seed}-{k}"))
    return out


def _pick(cluster: list[Node], pods: list[PodGroup], pool: np.ndarray, want: int) -> list[int]:
    """The first ``want`` pods of ``pool`` that fit some node of ``cluster`` when empty."""
    resources = ("cpu", "memory", GPU, GPU_MILLI)
    capacity = np.array([[n.allocatable.get(r, 0) for r in resources] for n in cluster])
    models = np.array([n.labels.get(MODEL, "") for n in cluster])
    placeable: list[int] = []
    for i in pool:  # the first ``want`` that fit, or all of them when the pool is short
        if _placeable(pods[int(i)], capacity, models, resources):
            placeable.append(int(i))
            if len(placeable) == want:
                return placeable
    # beyond the pool: its placeable pods again; copy r of pod i is ``i + r * len(pods)``
    return [placeable[k % len(placeable)] + len(pods) * (k // len(placeable))
            for k in range(want)] if placeable else []


def _placeable(pod: PodGroup, capacity: np.ndarray, models: np.ndarray,
               resources: tuple[str, ...]) -> bool:
    """True when ``pod`` fits some node when it is empty."""
    fits = np.all(capacity >= [pod.requests.get(r, 0) for r in resources], axis=1)
    if pod.node_affinity:
        fits &= np.isin(models, pod.node_affinity[0][0].values)
    return bool(fits.any())


def _copies(items: list[Any]) -> list[Any]:
    """``items`` with repeated names made unique (``name~1``, ``name~2``, ...)."""
    seen: dict[str, int] = {}
    out = []
    for item in items:
        k = seen.get(item.name, 0)
        seen[item.name] = k + 1
        out.append(item if k == 0 else replace(item, name=f"{item.name}~{k}"))
    return out


def binding_load(cluster: Sequence[Node], pods: Sequence[PodGroup]) -> float:
    """The largest ratio of ``pods``' requests to ``cluster``'s capacity (cpu, memory, GPU milli).

    Above 1, the binding resource is overbooked and some pod stays pending.
    """
    ratios = []
    for resource in ("cpu", "memory", GPU_MILLI):
        capacity = sum(n.allocatable.get(resource, 0) for n in cluster)
        if capacity:
            ratios.append(sum(p.requests.get(resource, 0) for p in pods) / capacity)
    return max(ratios)


def _node(row: dict[str, str]) -> Node:
    gpus = int(row["gpu"])
    allocatable = {"cpu": int(row["cpu_milli"]), "memory": int(row["memory_mib"]) * MIB,
                   "pods": DEFAULT_MAX_PODS}
    if gpus:
        allocatable |= {GPU: gpus, GPU_MILLI: 1000 * gpus}
    return Node(row["sn"], allocatable, {MODEL: row["model"]} if row["model"] else {})


def _pod(row: dict[str, str]) -> PodGroup:
    requests = {"cpu": int(row["cpu_milli"]), "memory": int(row["memory_mib"]) * MIB}
    gpus, share = int(row["num_gpu"]), int(row["gpu_milli"])
    if gpus and share:
        requests[GPU_MILLI] = gpus * share
        if share >= 1000:
            requests[GPU] = gpus
    klass, priority = QOS[row["qos"]]
    models = tuple(sorted({m for m in row["gpu_spec"].split("|") if m}))
    return PodGroup(row["name"], requests, priority, priority_class=klass,
                    node_affinity=((Expression(MODEL, "In", models),),) if models else ())


def _read(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows of a trace CSV, checked: named columns present, numbers where numbers go."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise InputError(str(path), f"cannot be read: {exc}") from None
    missing = [c for c in columns if rows and c not in rows[0]]
    if not rows or missing:
        raise InstanceError(str(path), f"is not a trace file: no rows or no column "
                                       f"{excerpt((missing or columns)[0])}")
    numbers = [c for c in columns if c.endswith(("_milli", "_mib", "_gpu", "_time", "gpu"))]
    for line, row in enumerate(rows, 2):
        for column in numbers:
            if not row[column].isascii() or not row[column].isdigit():
                raise InstanceError(f"{path} line {line}", f"{column}: {excerpt(row[column])} is "
                                                           "not a non-negative integer")
        if "qos" in row and row["qos"] not in QOS:
            raise InstanceError(f"{path} line {line}", f"qos: {excerpt(row['qos'])} is not one of "
                                                       f"{', '.join(QOS)}")
    return rows
