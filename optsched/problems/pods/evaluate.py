"""The independent checker and cost model of pods.

It shares with the solvers only the instance's own matching rules (node
selector, affinity, taints); capacity, anti-affinity, the evictions and moves
and the lexicographic objective are recomputed here from the assignment.
"""

from __future__ import annotations

from collections import defaultdict

from optsched.family import Evaluation
from optsched.fields import excerpt
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.quantity import format_amount
from optsched.problems.pods.solution import PodsSolution


def violations(instance: PodsInstance, solution: PodsSolution) -> list[str]:
    """List every constraint the assignment breaks (empty when feasible)."""
    return _check(instance, solution)[0]


def _check(instance: PodsInstance, solution: PodsSolution
           ) -> tuple[list[str], list[str], list[str], list[int]]:
    """The constraints broken, the pods evicted and moved, and the pods placed by priority.

    The evicted and moved pods are sorted names; the placed are counted per priority
    level, highest first. One pass over the instance's pods, with a group's requests and
    node filters looked up once per group (the 5,000-node Alibaba snapshot: 0.46 s
    instead of 0.99 s in three passes).
    """
    found: list[str] = []
    nodes = {n.name: n for n in instance.nodes}
    assignment = solution.assignment
    load: dict[str, dict[str, int]] = {}
    keys: dict[tuple[str, str], list[str]] = defaultdict(list)
    evicted: list[str] = []
    moved: list[str] = []
    placed = dict.fromkeys(instance.priorities, 0)
    listed = 0  # the instance's pods that the assignment lists
    for group in instance.groups:
        home = group.node
        stays = group.protected or not instance.allow_evictions
        requests = instance.requests(group)
        fits: dict[str, bool] = {}  # whether a pod may start on a node, once per node
        for pod in group.pod_names:
            if pod not in assignment:
                found.append(f"pod {pod} has no entry in the assignment")
                continue
            listed += 1
            node = assignment[pod]
            if node is None:
                if home is not None:
                    evicted.append(pod)
                    if stays:
                        found.append(f"pod {pod} runs on {home} and may not be evicted")
                continue
            if node not in nodes:
                found.append(f"pod {pod} is assigned to unknown node {excerpt(node)}")
                continue
            placed[group.priority] += 1
            if node != home:
                if home is not None:
                    moved.append(pod)
                    if group.protected or not instance.allow_moves:
                        found.append(f"pod {pod} runs on {home} and may not move")
                fit = fits.get(node)
                if fit is None:
                    fit = fits[node] = group.can_start_on(nodes[node])
                if not fit:
                    found.append(f"pod {pod} may not be placed on {node} (unschedulable, "
                                 "selector, affinity or taint)")
            used = load.get(node)
            if used is None:
                used = load[node] = {}
            for resource, amount in requests.items():
                used[resource] = used.get(resource, 0) + amount
            if group.anti_affinity is not None:
                keys[(node, group.anti_affinity)].append(pod)
    if listed < len(assignment):
        pods = {pod for g in instance.groups for pod in g.pod_names}
        found += [f"pod {p} is not in the instance" for p in assignment if p not in pods]
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
    evicted.sort()
    moved.sort()
    if sorted(solution.evicted) != evicted:
        found.append(f"the evicted list {sorted(solution.evicted)[:5]} differs from the "
                     f"assignment's {evicted[:5]}")
    if sorted(solution.moved) != moved:
        found.append(f"the moved list {sorted(solution.moved)[:5]} differs from the "
                     f"assignment's {moved[:5]}")
    return found, evicted, moved, [placed[p] for p in instance.priorities]


def placed_by_priority(instance: PodsInstance, solution: PodsSolution) -> list[int]:
    """Placed pods per priority level, highest priority first."""
    assignment = solution.assignment
    placed = dict.fromkeys(instance.priorities, 0)
    for g in instance.groups:
        names = g.pod_names
        placed[g.priority] += len(names) - [assignment.get(p) for p in names].count(None)
    return [placed[p] for p in instance.priorities]


def evaluate(instance: PodsInstance, solution: PodsSolution) -> Evaluation:
    """Check the solution and price it.

    The objective is ``sum_l W_l * unplaced_l + W_e * evictions + moves``
    with the mixed-radix weights of :attr:`PodsInstance.weights`: lower is
    lexicographically better on (placed pods by priority, evictions, moves).
    The metrics name the pods no node could take even when empty
    (``never_placeable``): they are pending in every solution.
    """
    found, evicted, moved, placed = _check(instance, solution)
    if found:
        return Evaluation(objective=None, violations=tuple(found))
    totals = dict.fromkeys(instance.priorities, 0)
    for g in instance.groups:
        totals[g.priority] += g.replicas
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
