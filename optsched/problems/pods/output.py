"""What an operator applies and reads: manifests and the comparison with kube-scheduler."""

from __future__ import annotations

from typing import Any

import yaml

from optsched.problems.pods.evaluate import placed_by_priority
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.solution import PodsSolution


def _verdict(ours: list[int], theirs: list[int]) -> str:
    return "better" if ours > theirs else "equal" if ours == theirs else "worse"


def compare(instance: PodsInstance, solution: PodsSolution) -> dict[str, Any]:
    """Placed pods by priority (highest first) of ``solution`` and of kube-scheduler.

    ``vs_default`` and ``vs_default_preempt`` compare the vectors
    lexicographically against the default scheduler without and with
    DefaultPreemption (ties broken by node name).
    """
    from optsched.problems.pods.default_scheduler import schedule

    ours = placed_by_priority(instance, solution)
    out: dict[str, Any] = {"priorities": list(instance.priorities), "placed_by_priority": ours}
    for key, preemption in (("default", False), ("default_preempt", True)):
        theirs = placed_by_priority(instance, schedule(instance, preemption=preemption))
        out[key] = theirs
        out[f"vs_{key}"] = _verdict(ours, theirs)
    return out


def manifests(instance: PodsInstance, solution: PodsSolution) -> str:
    """A YAML stream that applies the solution: evictions first, then bindings.

    A moved pod is evicted from its node and bound to the new one; a pending
    pod is bound. Pods whose node does not change get nothing. Names with a
    ``namespace/`` prefix keep it as the object's namespace.
    """
    docs: list[dict[str, Any]] = []
    for pod in [*solution.evicted, *solution.moved]:
        docs.append({"apiVersion": "policy/v1", "kind": "Eviction",
                     "metadata": _meta(pod)})
    running = {p: g.node for g in instance.groups for p in g.pod_names}
    for pod, node in solution.assignment.items():
        if node is not None and running.get(pod) != node:
            docs.append({"apiVersion": "v1", "kind": "Binding", "metadata": _meta(pod),
                         "target": {"apiVersion": "v1", "kind": "Node", "name": node}})
    return yaml.safe_dump_all(docs, sort_keys=False) if docs else ""


def _meta(pod: str) -> dict[str, str]:
    namespace, _, name = pod.rpartition("/")
    return {"name": name, "namespace": namespace or "default"}
