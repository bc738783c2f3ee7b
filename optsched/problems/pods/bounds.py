"""Lower bounds for pods: pods that no node can ever take."""

from __future__ import annotations

from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.objects import PodGroup


def placeable(instance: PodsInstance, group: PodGroup) -> bool:
    """Whether some node could take one pod of ``group`` if it were empty.

    A running pod can always stay on its own node.
    """
    if group.node is not None:
        return True
    need = instance.requests(group).items()
    return any(all(n <= node.allocatable.get(r, 0) for r, n in need)
               and group.can_start_on(node) for node in instance.nodes)


def lower_bound(instance: PodsInstance) -> int:
    """Every never-placeable pod stays pending in every solution: its weight is certain."""
    levels, _, _ = instance.weights
    weight = dict(zip(instance.priorities, levels, strict=True))
    return sum(weight[g.priority] * g.replicas for g in instance.groups
               if not placeable(instance, g))
