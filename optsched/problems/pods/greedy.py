"""Greedy placements: first fit, best and worst fit, and a best-fit repacking.

Best and worst fit take larger pods first, or go level by level (smaller
pods first where that places more); the repacking also moves the running
pods that may change. Every rule places pods one at a time, highest priority first, on nodes that
pass the static filters (:meth:`PodGroup.can_start_on`; a running pod may
also stay where it runs), the free amounts and the anti-affinity keys, so
its solution always passes the checker. Given a deadline, a rule stops placing
once it has passed: the pods it has not reached stay pending (running pods
where they run), which is still a valid placement; should it pass before the
rule's view of the cluster is made, :class:`~optsched.deadline.OutOfTimeError`.
Sizes and leftovers are normalised by the cluster's total allocatable of
each resource, so that millicores, bytes and GPUs add up.
"""

from __future__ import annotations

from collections.abc import Callable

from optsched.deadline import Deadline, while_time
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.objects import PodGroup
from optsched.problems.pods.solution import PodsSolution, make
from optsched.problems.pods.state import Cluster


def first_fit(instance: PodsInstance, deadline: Deadline | None = None) -> PodsSolution:
    """Running pods stay; pending pods, highest priority first, go to the first node that fits."""
    cluster = Cluster(instance, deadline=deadline)
    for group, pod in while_time(cluster.pending(), deadline):
        j = next((j for j in range(len(instance.nodes)) if cluster.fits(group, j)), None)
        if j is not None:
            cluster.place(group, pod, j)
    return make(instance, cluster.assignment)


def capacity(instance: PodsInstance) -> list[int]:
    """The cluster's total allocatable of each resource (``instance.resources`` order)."""
    return [sum(n.allocatable.get(r, 0) for n in instance.nodes) for r in instance.resources]


def size(cluster: Cluster, group: PodGroup, total: list[int]) -> float:
    """A pod's dominant share: its largest request as a fraction of the cluster's total."""
    return max((a / total[r] for r, a in cluster.needs[group.name] if total[r]), default=0.0)


def leftover(cluster: Cluster, group: PodGroup, j: int, total: list[int]) -> float:
    """What node ``j`` would keep free after one more pod of ``group``, normalised and summed."""
    need = cluster.need[group.name]
    return sum((f - n) / t for f, n, t in zip(cluster.free[j], need, total, strict=True) if t)


def room(cluster: Cluster, j: int, inverse: list[float]) -> float:
    """Node ``j``'s free amounts, normalised and summed (``inverse``: 1 / total, or 0).

    It differs from :func:`leftover` by the pod's own normalised size, the
    same on every node, so both rank the nodes alike.
    """
    return sum(f * w for f, w in zip(cluster.free[j], inverse, strict=True))


def larger_first(cluster: Cluster, total: list[int]) -> list[tuple[PodGroup, str]]:
    """The pending pods by priority, then larger first (:func:`size`), then instance order."""
    order = {g.name: i for i, g in enumerate(cluster.instance.groups)}
    return sorted(cluster.pending(), key=lambda gp: (-gp[0].priority,
                                                     -size(cluster, gp[0], total),
                                                     order[gp[0].name]))


def _decreasing(instance: PodsInstance, choose: Callable[[list[float]], float],
                deadline: Deadline | None) -> PodsSolution:
    """Pending pods by priority, then larger first, each to the node ``choose`` picks."""
    cluster = Cluster(instance, deadline=deadline)
    total = capacity(instance)
    _place(cluster, larger_first(cluster, total), choose, total, deadline)
    return make(instance, cluster.assignment)


def _by_level(instance: PodsInstance, choose: Callable[[list[float]], float],
              deadline: Deadline | None) -> PodsSolution:
    """Level by level, larger pods first, or smaller first when that places more of the level.

    The objective counts pods: within the level that does not fit entirely,
    small pods first place more of them.
    """
    cluster = Cluster(instance, deadline=deadline)
    total = capacity(instance)
    order = {g.name: i for i, g in enumerate(instance.groups)}
    levels: dict[int, list[tuple[PodGroup, str]]] = {}
    for group, pod in cluster.pending():
        levels.setdefault(group.priority, []).append((group, pod))
    sizes = {g.name: size(cluster, g, total) for g in instance.groups}
    for pods in levels.values():
        larger = sorted(pods, key=lambda gp: (-sizes[gp[0].name], order[gp[0].name]))
        smaller = sorted(pods, key=lambda gp: (sizes[gp[0].name], order[gp[0].name]))
        tries: list[tuple[int, int, Cluster]] = []
        for preference, ranked in ((1, larger), (0, smaller)):
            trial = cluster.copy()
            placed = _place(trial, ranked, choose, total, deadline)
            tries.append((placed, preference, trial))
            if placed == len(pods) or (deadline is not None and deadline.expired()):
                break
        cluster = max(tries, key=lambda t: t[:2])[2]
    return make(instance, cluster.assignment)


def _place(cluster: Cluster, pods: list[tuple[PodGroup, str]],
           choose: Callable[[list[float]], float], total: list[int],
           deadline: Deadline | None = None) -> int:
    """Place ``pods`` in turn, each on the node ``choose`` picks by leftover; return how many."""
    inverse = [1 / t if t else 0.0 for t in total]
    placed = 0
    for group, pod in while_time(pods, deadline):
        feasible = cluster.feasible(group)
        if feasible:
            rest = [room(cluster, j, inverse) for j in feasible]
            cluster.place(group, pod, feasible[rest.index(choose(rest))])
            placed += 1
    return placed


def best_fit_levels(instance: PodsInstance, deadline: Deadline | None = None) -> PodsSolution:
    """Best fit level by level: larger first, or smaller first where that places more."""
    return _by_level(instance, min, deadline)


def worst_fit_levels(instance: PodsInstance, deadline: Deadline | None = None) -> PodsSolution:
    """Worst fit (spreading) level by level: larger first, or smaller first where better."""
    return _by_level(instance, max, deadline)


def best_fit_decreasing(instance: PodsInstance, deadline: Deadline | None = None
                        ) -> PodsSolution:
    """Running pods stay; pending pods by priority, larger first, to the tightest node.

    The tightest node keeps the least normalised capacity free after the
    pod (:func:`leftover`); ties go to the first node.
    """
    return _decreasing(instance, min, deadline)


def worst_fit(instance: PodsInstance, deadline: Deadline | None = None) -> PodsSolution:
    """Like :func:`best_fit_decreasing`, but to the node left with the most room (spreading)."""
    return _decreasing(instance, max, deadline)


def repack(instance: PodsInstance, deadline: Deadline | None = None) -> PodsSolution:
    """Best-fit decreasing over the pending pods and the running pods that may change.

    Protected running pods, and all running pods when evictions are not
    allowed, stay where they are. The others are placed again with the
    pending pods: highest priority first, running pods first within a
    priority (each back on its own node when it still fits, else best fit
    elsewhere when moves are allowed, else evicted), then larger pods first.
    So higher-priority pods may take the room of lower-priority running ones.
    Once ``deadline`` passes, the running pods not yet reached go back to their
    own nodes where those still have room (else they are evicted).
    """
    cluster = Cluster(instance, running=False, deadline=deadline)
    total = capacity(instance)
    index = cluster.index
    movable: list[tuple[PodGroup, str, int]] = []
    for i, group in enumerate(instance.groups):
        for pod in group.pod_names:
            if group.node is not None and (group.protected or not instance.allow_evictions):
                cluster.place(group, pod, index[group.node])
            else:
                movable.append((group, pod, i))
    movable.sort(key=lambda gpi: (-gpi[0].priority, gpi[0].node is None,
                                  -size(cluster, gpi[0], total), gpi[2]))
    for k, (group, pod, _) in enumerate(movable):
        if deadline is not None and deadline.expired():
            for group, pod, _ in movable[k:]:
                if group.node is not None and cluster.fits_now(group, index[group.node]):
                    cluster.place(group, pod, index[group.node])
            break
        if group.node is not None:
            own = index[group.node]
            if cluster.fits_now(group, own):
                cluster.place(group, pod, own)
                continue
            if not instance.allow_moves:
                continue
        _place(cluster, [(group, pod)], min, total)
    return make(instance, cluster.assignment)
