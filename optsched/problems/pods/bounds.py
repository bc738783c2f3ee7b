"""Lower bounds for pods: pods that no node can ever take."""

from __future__ import annotations

from collections.abc import Callable

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


def placeable_test(instance: PodsInstance) -> Callable[[PodGroup], bool]:
    """:func:`placeable` for many groups: answered once per requests and node filters.

    Groups with the same requests, selector, required affinity and tolerations
    are placeable alike (150,000 pods of an Alibaba snapshot have a few hundred
    such specs), so each spec is tried on the nodes once.
    """
    seen: dict[tuple[object, ...], bool] = {}

    def test(group: PodGroup) -> bool:
        if group.node is not None:
            return True
        # unsorted items: a spec written in another key order is only tried again
        key = (tuple(group.requests.items()), tuple(group.node_selector.items()),
               group.node_affinity, group.tolerations)
        if key not in seen:
            seen[key] = placeable(instance, group)
        return seen[key]

    return test


def lower_bound(instance: PodsInstance) -> int:
    """Every never-placeable pod stays pending in every solution: its weight is certain."""
    levels, _, _ = instance.weights
    weight = dict(zip(instance.priorities, levels, strict=True))
    return sum(weight[g.priority] * g.replicas for g in instance.never_placeable)
