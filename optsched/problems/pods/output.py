"""What an operator applies and reads: manifests and the comparison with kube-scheduler."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from optsched.errors import InputError
from optsched.fields import excerpt, require_keys, require_str
from optsched.problems.pods.evaluate import placed_by_priority
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.solution import PodsSolution, make
from optsched.reading import parse_yaml_all

RANDOM_RUNS = 5
"""Seeded runs of the default scheduler with random ties whose median ``compare`` reports."""


def _verdict(ours: list[int], theirs: list[int]) -> str:
    return "better" if ours > theirs else "equal" if ours == theirs else "worse"


def compare(instance: PodsInstance, solution: PodsSolution) -> dict[str, Any]:
    """Placed pods by priority (highest first) of ``solution`` and of kube-scheduler.

    ``vs_<baseline>`` compares the vectors lexicographically against three
    runs of the default scheduler (ties broken by node name): ``default``,
    all pending pods in one priority queue; ``default_preempt``, the same
    with DefaultPreemption (it matters only for running pods); and
    ``arrival_preempt``, pods arriving one at a time in instance order with
    DefaultPreemption, so a late high-priority pod preempts earlier ones.
    ``default_random`` is ``default`` with ties broken at random as
    kube-scheduler does: the median vector (lexicographically) of
    :data:`RANDOM_RUNS` runs with seeds 0, 1, ...; breaking ties by node name
    is a systematic bias on identical nodes. ``kube_version`` names the
    scores simulated (kube-scheduler 1.24 to 1.35; ``-o version=1.36`` on the
    ``default`` solvers simulates 1.36).
    """
    from optsched.problems.pods.scheduler.simulation import VERSIONS, schedule

    ours = placed_by_priority(instance, solution)
    out: dict[str, Any] = {"priorities": list(instance.priorities), "placed_by_priority": ours,
                           "kube_version": VERSIONS[0]}
    for key, preemption, order in (("default", False, "priority"),
                                   ("default_preempt", True, "priority"),
                                   ("arrival_preempt", True, "arrival")):
        placed = schedule(instance, preemption=preemption, order=order)
        theirs = placed_by_priority(instance, placed)
        out[key] = theirs
        out[f"vs_{key}"] = _verdict(ours, theirs)
    runs = sorted(placed_by_priority(instance, schedule(instance, seed=seed))
                  for seed in range(RANDOM_RUNS))
    out["default_random"] = runs[len(runs) // 2]
    out["vs_default_random"] = _verdict(ours, runs[len(runs) // 2])
    return out


def headline(metrics: Mapping[str, Any]) -> str:
    """Placed pods of each priority, evictions and moves, for the command line."""
    levels = ", ".join(f"priority {p}: {k}/{n}" for p, k, n in zip(
        metrics["priorities"], metrics["placed_by_priority"], metrics["pods_by_priority"],
        strict=True))
    return (f"placed {metrics['placed']} of {metrics['placed'] + metrics['pending']} "
            f"({levels}), {metrics['evicted']} evicted, {metrics['moved']} moved")


TARGET = "optsched.io/target-node"
"""Annotation on a moved pod's Eviction naming the node its replacement should go to."""


def manifests(instance: PodsInstance, solution: PodsSolution) -> str:
    """A YAML stream that applies the solution: Evictions first, then Bindings.

    Every evicted or moved pod gets a ``policy/v1`` Eviction (POST it to the
    pod's ``eviction`` subresource; it respects PodDisruptionBudgets). A moved
    pod's Eviction carries the annotation :data:`TARGET` with its new node:
    the pod is deleted, so its controller's replacement (a new name) must be
    steered there, e.g. as the nominated node or by node affinity. Every
    pending pod that gets a node gets a ``v1`` Binding (POST it to the pod's
    ``binding`` subresource). Names with a ``namespace/`` prefix keep it as
    the object's namespace.
    """
    docs: list[dict[str, Any]] = []
    for pod in solution.evicted:
        docs.append({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": _meta(pod)})
    for pod in solution.moved:
        meta = {**_meta(pod), "annotations": {TARGET: solution.assignment[pod]}}
        docs.append({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": meta})
    running = {p for g in instance.groups if g.node is not None for p in g.pod_names}
    for pod, node in solution.assignment.items():
        if node is not None and pod not in running:
            docs.append({"apiVersion": "v1", "kind": "Binding", "metadata": _meta(pod),
                         "target": {"apiVersion": "v1", "kind": "Node", "name": node}})
    import yaml  # here: not every start writes YAML

    return yaml.safe_dump_all(docs, sort_keys=False) if docs else ""


def _meta(pod: str) -> dict[str, str]:
    namespace, _, name = pod.rpartition("/")
    return {"name": name, "namespace": namespace or "default"}


def read_manifests(instance: PodsInstance, text: str) -> PodsSolution:
    """The solution that :func:`manifests` wrote.

    The cluster as it is, then its Evictions (a moved pod's to its
    :data:`TARGET` node) and its Bindings applied.
    """
    docs = parse_yaml_all(text, "manifests")
    assignment: dict[str, str | None] = {p: g.node for g in instance.groups
                                         for p in g.pod_names}
    for i, doc in enumerate(docs):
        where = f"manifests[{i}]"
        kind = doc.get("kind") if isinstance(doc, dict) else None
        if kind not in ("Eviction", "Binding"):
            raise InputError(f"{where}.kind", f"must be Eviction or Binding, got {excerpt(kind)}")
        meta = require_keys(doc.get("metadata"), f"{where}.metadata", ("name",),
                            ("namespace", "annotations"), InputError)
        name = require_str(meta["name"], f"{where}.metadata.name", InputError)
        namespace = meta.get("namespace", "default")
        pod = name if namespace == "default" and name in assignment else f"{namespace}/{name}"
        if pod not in assignment:
            raise InputError(f"{where}.metadata", f"names pod {excerpt(pod)}, which the instance "
                                                  "does not have")
        if kind == "Eviction":
            target = (meta.get("annotations") or {}).get(TARGET)
            assignment[pod] = None if target is None else require_str(
                target, f"{where}.metadata.annotations", InputError)
        else:
            node = require_keys(doc.get("target"), f"{where}.target", ("name",),
                                ("apiVersion", "kind"), InputError)["name"]
            assignment[pod] = require_str(node, f"{where}.target.name", InputError)
    return make(instance, assignment)
