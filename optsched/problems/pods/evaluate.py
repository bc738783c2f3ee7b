"""The independent checker and cost model of pods.

It shares with the solvers only the instance's own matching rules (node
selector, affinity, taints); capacity, anti-affinity, the evictions and moves
and the lexicographic objective are recomputed here from the assignment.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from optsched.family import Evaluation
from optsched.fields import excerpt
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.quantity import format_amount
from optsched.problems.pods.solution import PodsSolution


def violations(instance: PodsInstance, solution: PodsSolution) -> list[str]:
    """List every constraint the assignment breaks (empty when feasible)."""
    return _check(instance, solution)[0]


def _check(instance: PodsInstance, solution: PodsSolution
           ) -> tuple[list[str], list[str], list[str]]:
    """The constraints the assignment breaks, and the running pods it evicts and moves."""
    found: list[str] = []
    nodes = {n.name: n for n in instance.nodes}
    pods = {pod: g for g in instance.groups for pod in g.pod_names}
    assignment = solution.assignment
    found += [f"pod {p} is not in the instance" for p in assignment if p not in pods]
    found += [f"pod {p} has no entry in the assignment" for p in pods if p not in assignment]
    load: dict[str, dict[str, int]] = {}
    keys: dict[tuple[str, str], list[str]] = defaultdict(list)
    for pod, group in pods.items():
        node = assignment.get(pod)
        if node is None:
            if group.node is not None and (group.protected or not instance.allow_evictions):
                found.append(f"pod {pod} runs on {group.node} and may not be evicted")
            continue
        if node not in nodes:
            found.append(f"pod {pod} is assigned to unknown node {excerpt(node)}")
            continue
        if node != group.node:
            if group.node is not None and (group.protected or not instance.allow_moves):
                found.append(f"pod {pod} runs on {group.node} and may not move")
            if not group.can_start_on(nodes[node]):
                found.append(f"pod {pod} may not be placed on {node} (unschedulable, "
                             "selector, affinity or taint)")
        used = load.get(node)
        if used is None:
            used = load[node] = {}
        for resource, amount in instance.requests(group).items():
            used[resource] = used.get(resource, 0) + amount
        if group.anti_affinity is not None:
            keys[(node, group.anti_affinity)].append(pod)
    for name, used in load.items():
        for resource, need in used.items():
            have = nodes[name].allocatable.get(resource, 0)
            if need > have:
                found.append(f"node {name} is over capacity on {resource}: "
                             f"{format_amount(resource, need)} > {format_amount(resource, have)}")
    for (node, key), members in keys.items():
        if len(members) > 1:
            found.append(f"pods {', '.join(members[:3])} share node {node} despite "
                         f"anti-affinity {excerpt(key)}")
    evicted, moved = changes(instance, solution)
    if sorted(solution.evicted) != sorted(evicted):
        found.append(f"the evicted list {sorted(solution.evicted)[:5]} differs from the "
                     f"assignment's {evicted[:5]}")
    if sorted(solution.moved) != sorted(moved):
        found.append(f"the moved list {sorted(solution.moved)[:5]} differs from the "
                     f"assignment's {moved[:5]}")
    return found, evicted, moved


def changes(instance: PodsInstance, solution: PodsSolution) -> tuple[list[str], list[str]]:
    """The running pods the assignment evicts and the ones it moves (sorted names)."""
    evicted: list[str] = []
    moved: list[str] = []
    for group in instance.groups:
        if group.node is None:
            continue
        for pod in group.pod_names:
            node = solution.assignment.get(pod)
            if node is None:
                evicted.append(pod)
            elif node != group.node:
                moved.append(pod)
    return sorted(evicted), sorted(moved)


def placed_by_priority(instance: PodsInstance, solution: PodsSolution) -> list[int]:
    """Placed pods per priority level, highest priority first."""
    assignment = solution.assignment
    placed: Counter[int] = Counter()
    for g in instance.groups:
        placed[g.priority] += sum(1 for pod in g.pod_names if assignment.get(pod) is not None)
    return [placed[p] for p in instance.priorities]


def evaluate(instance: PodsInstance, solution: PodsSolution) -> Evaluation:
    """Check the solution and price it.

    The objective is ``sum_l W_l * unplaced_l + W_e * evictions + moves``
    with the mixed-radix weights of :attr:`PodsInstance.weights`: lower is
    lexicographically better on (placed pods by priority, evictions, moves).
    The metrics name the pods no node could take even when empty
    (``never_placeable``): they are pending in every solution.
    """
    found, evicted, moved = _check(instance, solution)
    if found:
        return Evaluation(objective=None, violations=tuple(found))
    placed = placed_by_priority(instance, solution)
    totals: Counter[int] = Counter()
    for g in instance.groups:
        totals[g.priority] += len(g.pod_names)
    unplaced = [totals[p] - k for p, k in zip(instance.priorities, placed, strict=True)]
    levels, evict, move = instance.weights
    objective = (sum(w * u for w, u in zip(levels, unplaced, strict=True))
                 + evict * len(evicted) + move * len(moved))
    never = [pod for g in instance.never_placeable for pod in g.pod_names]
    metrics = {"placed_by_priority": placed, "priorities": list(instance.priorities),
               "pods_by_priority": [totals[p] for p in instance.priorities],
               "placed": sum(placed), "pending": sum(unplaced), "evicted": len(evicted),
               "moved": len(moved), "never_placeable": never}
    return Evaluation(objective=objective, metrics=metrics)
