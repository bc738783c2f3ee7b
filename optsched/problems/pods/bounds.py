"""Lower bounds for pods: pods that no node can ever take."""

from __future__ import annotations

from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.objects import PodGroup


def fits_empty(instance: PodsInstance, group: PodGroup) -> list[int]:
    """Indices of the nodes that could take one pod of ``group`` if they were empty.

    A running pod's own node always counts (the pod may stay).
    """
    out = []
    for j, node in enumerate(instance.nodes):
        if node.name == group.node or (group.can_start_on(node) and all(
                need <= node.allocatable.get(r, 0)
                for r, need in instance.requests(group).items())):
            out.append(j)
    return out


def never_placeable(instance: PodsInstance) -> list[str]:
    """Names of the pods that fit no node even when it is empty."""
    return [pod for g in instance.groups if not fits_empty(instance, g) for pod in g.pod_names]


def lower_bound(instance: PodsInstance) -> int:
    """Every never-placeable pod stays pending in every solution: its weight is certain."""
    levels, _, _ = instance.weights
    weight = dict(zip(instance.priorities, levels, strict=True))
    return sum(weight[g.priority] * g.replicas for g in instance.groups
               if not fits_empty(instance, g))
