"""``move-to-fit``: best fit level by level, then room for pods left pending by moving others.

The other greedy rules never move a running pod to make room, so a pending pod
that fits only once another pod moves (two nodes half full, one pod the size of
a node) stays pending, and with little time (the plugin's short timeouts) the
answer is no better than the cluster as it is. This rule starts from
:func:`.greedy.best_fit_levels` and, for each pod still pending (highest
priority first, larger first), looks for a node where moving at most
:data:`MAX_MOVED` of its pods to other nodes (best fit) frees enough room.
Placing a pod outranks any number of moves in the objective, so every repair
improves it. Protected pods never move; pods placed by the rule itself move at
no cost. The work is capped (:data:`BUDGET` nodes looked at), so the rule stays
fast on large clusters, where it repairs what it can within the cap.
"""

from __future__ import annotations

from optsched.deadline import Deadline, OutOfTimeError, while_time
from optsched.problems.pods.greedy import best_fit_levels, capacity, larger_first, room
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.objects import PodGroup
from optsched.problems.pods.solution import PodsSolution, make
from optsched.problems.pods.state import Cluster

MAX_MOVED = 3
"""Most pods moved off one node to make room for one pending pod."""
NODES_TRIED = 8
"""Nodes tried per pending pod: those it lacks the least room on."""
BUDGET = 5_000_000
"""Most nodes looked at, over the run, when finding where a moved pod fits."""


def move_to_fit(instance: PodsInstance, deadline: Deadline | None = None) -> PodsSolution:
    """Best fit level by level, then pods left pending placed by moving at most 3 others.

    Once ``deadline`` passes, the pods not yet reached stay as they are.
    """
    start = best_fit_levels(instance, deadline)
    if not instance.allow_moves or (deadline is not None and deadline.expired()):
        return start
    try:
        cluster = Cluster(instance, running=False, deadline=deadline)
    except OutOfTimeError:
        return start
    group_of = {pod: g for g in instance.groups for pod in g.pod_names}
    for pod, node in start.assignment.items():
        if node is not None:
            cluster.place(group_of[pod], pod, cluster.index[node])
    total = capacity(instance)
    inverse = [1 / t if t else 0.0 for t in total]
    pending = larger_first(cluster, total)
    on: dict[int, set[str]] = {}  # node -> its pods
    for pod, node in cluster.assignment.items():
        if node is not None:
            on.setdefault(cluster.index[node], set()).add(pod)
    budget = [BUDGET]
    failed: set[str] = set()  # groups whose pod found no room: the next ones will not
    for group, pod in while_time(pending, deadline):
        if group.name in failed or budget[0] <= 0:
            continue
        trial = _make_room(cluster, group, group_of, on, inverse, budget)
        if trial is None:
            failed.add(group.name)
            continue
        cluster, j, moved = trial
        for p, m in moved:
            on[j].discard(p)
            on.setdefault(m, set()).add(p)
        cluster.place(group, pod, j)
        on.setdefault(j, set()).add(pod)
    return make(instance, cluster.assignment)


def _make_room(cluster: Cluster, group: PodGroup, group_of: dict[str, PodGroup],
               on: dict[int, set[str]], inverse: list[float], budget: list[int]
               ) -> tuple[Cluster, int, list[tuple[str, int]]] | None:
    """A copy of ``cluster`` with room for one pod of ``group`` on a node, or None.

    Returns ``(copy, node, [(pod moved, its new node), ...])``.
    """
    allowed = cluster.allowed(group)
    key = group.anti_affinity
    need = cluster.need[group.name]
    nodes = [j for j in range(len(cluster.free)) if allowed[j]
             and (key is None or not cluster.keys[j][key])]
    if not nodes:
        return None
    short = {j: sum(max(0, a - f) * w for a, f, w in
                    zip(need, cluster.free[j], inverse, strict=True)) for j in nodes}
    for j in sorted(nodes, key=lambda n: (short[n], n))[:NODES_TRIED]:
        trial = cluster.copy()
        movable = sorted((p for p in on.get(j, ()) if not group_of[p].protected),
                         key=lambda p: (group_of[p].node is not None,  # free moves first
                                        -sum(a * w for a, w in zip(
                                            cluster.need[group_of[p].name], inverse,
                                            strict=True)), p))
        moved: list[tuple[str, int]] = []
        for p in movable:
            if trial.fits_now(group, j) or len(moved) == MAX_MOVED or budget[0] <= 0:
                break
            other = group_of[p]
            trial.remove(other, p)
            budget[0] -= len(trial.free)
            targets = [m for m in trial.feasible(other) if m != j]
            if not targets:
                trial.place(other, p, j)  # it stays
                continue
            rest = [room(trial, m, inverse) for m in targets]
            target = targets[rest.index(min(rest))]
            trial.place(other, p, target)
            moved.append((p, target))
        if trial.fits_now(group, j):
            return trial, j, moved
    return None
