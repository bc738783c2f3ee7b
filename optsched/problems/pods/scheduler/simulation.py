"""kube-scheduler's default profile, simulated pod by pod: the baseline optsched must beat.

The simulation follows ``kubernetes/pkg/scheduler`` (v1.27-v1.34) plugin by plugin: queue,
filters, scores and host selection here, ``DefaultPreemption`` in
:mod:`optsched.problems.pods.scheduler.preemption`. The method, its sources and the
modelling choices: ``docs/methods/pods-kube-scheduler.md``.
"""

from __future__ import annotations

import heapq
import math

from optsched.deadline import Deadline
from optsched.fields import excerpt
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.scheduler import preemption as dp
from optsched.problems.pods.solution import PodsSolution, make
from optsched.problems.pods.state import Kube, Spec

MAX_NODE_SCORE = 100
HOSTNAME_SKEW, ZONE_SKEW = 3, 5
"""``systemDefaultConstraints``: hostname maxSkew 3, zone maxSkew 5, ScheduleAnyway."""
WEIGHT_FIT, WEIGHT_BALANCED, WEIGHT_SPREAD, WEIGHT_TAINT = 1, 1, 2, 3
"""Score plugin weights of the default profile (``getDefaultPlugins``)."""
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE = 5
ORDERS = ("priority", "arrival")
VERSIONS = ("1.34", "1.36")
"""kube-scheduler versions whose scores differ: BalancedAllocation changed in 1.36
(kubernetes/kubernetes#135573: it scores the balance a pod brings, no longer the balance
after it); 1.34 stands for 1.24 to 1.35."""


def num_feasible_nodes_to_find(nodes: int) -> int:
    """How many feasible nodes the filter scan looks for (``numFeasibleNodesToFind``).

    Below 100 nodes all; else ``nodes * p // 100`` with ``p = 50 - nodes // 125``
    percent (at least 5), but never fewer than 100.
    """
    if nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return nodes
    percentage = max(50 - nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE)
    return max(nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


def least_allocated(requested: int, capacity: int) -> int:
    """``leastRequestedScore``: ``(capacity - requested) * 100 // capacity``, 0 if over."""
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def balance_gain(after: int, before: int) -> int:
    """BalancedAllocation since kube 1.36: ``50 + (50 + after - before) / 2``.

    ``after`` and ``before`` are :func:`balanced_allocation` of the node with
    and without the pod (each in 50..100 for two resources): a pod that leaves
    the balance as it was scores 75, one that evens a node out up to 100.
    """
    return 50 + (50 + after - before) // 2


def balanced_allocation(fractions: list[float]) -> int:
    """``balancedResourceScorer`` (kube >= 1.24): ``int((1 - std) * 100)``.

    ``fractions`` are ``requested / allocatable`` capped at 1 for the
    resources the node has; with two the std is ``|f0 - f1| / 2``.
    """
    std = 0.0
    if len(fractions) == 2:
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) * (f - mean) for f in fractions) / len(fractions))
    return int((1 - std) * float(MAX_NODE_SCORE))


def go_round(x: float) -> int:
    """Go's ``math.Round`` for x >= 0: halves away from zero (Python rounds them to even)."""
    floor = math.floor(x)
    return floor + 1 if x - floor >= 0.5 else floor


def spread_raw(host_count: int, host_weight: float, zone_count: int | None,
               zone_weight: float) -> int:
    """``PodTopologySpread.Score`` with the system defaults.

    ``scoreForCount(cnt, maxSkew, w) = cnt * w + (maxSkew - 1)`` summed over
    the hostname and (when the node has the zone label) zone constraints,
    with ``w = ln(domains + 2)`` (``topologyNormalizingWeight``), rounded.
    """
    score = 0.0
    score += float(host_count) * host_weight + float(HOSTNAME_SKEW - 1)
    if zone_count is not None:
        score += float(zone_count) * zone_weight + float(ZONE_SKEW - 1)
    return go_round(score)


def spread_normalize(raw: list[int]) -> list[int]:
    """``PodTopologySpread.NormalizeScore``: ``100 * (max + min - s) // max``; 100 if max is 0."""
    high, low = max(raw), min(raw)
    if high == 0:
        return [MAX_NODE_SCORE] * len(raw)
    return [MAX_NODE_SCORE * (high + low - s) // high for s in raw]


def taint_normalize(raw: list[int]) -> list[int]:
    """``DefaultNormalizeScore(100, reverse=true)`` of the intolerable PreferNoSchedule counts."""
    high = max(raw)
    if high == 0:
        return [MAX_NODE_SCORE] * len(raw)
    return [MAX_NODE_SCORE - MAX_NODE_SCORE * c // high for c in raw]


def base_score(kube: Kube, spec: Spec, j: int) -> int:
    """NodeResourcesFit (LeastAllocated) plus BalancedAllocation on node ``j``, weighted.

    LeastAllocated scores cpu and memory (weight 1 each) with the non-zero
    requests: ``requested = NonZeroRequested(node) + nonzero(pod)``;
    BalancedAllocation uses the actual requests and is skipped (0) for a pod
    requesting neither (``isBestEffortPod``, kube >= 1.33). A resource the
    node lacks (allocatable 0) is left out of both.
    """
    total = weights = 0
    fractions: list[float] = []
    before: list[float] = []
    free = kube.free[j]
    for alloc, index, nonzero_used, nonzero, need in (
            (kube.alloc_cpu[j], kube.cpu_index, kube.nonzero_cpu[j], spec.nonzero_cpu,
             spec.cpu),
            (kube.alloc_memory[j], kube.memory_index, kube.nonzero_memory[j],
             spec.nonzero_memory, spec.memory)):
        if alloc and index is not None:
            total += least_allocated(nonzero_used + nonzero, alloc)
            weights += 1
            fractions.append(min(float(alloc - free[index] + need) / float(alloc), 1.0))
            before.append(min(float(alloc - free[index]) / float(alloc), 1.0))
    fit = total // weights if weights else 0
    balanced = 0 if spec.cpu == 0 and spec.memory == 0 else balanced_allocation(fractions)
    if balanced and kube.balance_gain:
        balanced = balance_gain(balanced, balanced_allocation(before))
    return WEIGHT_FIT * fit + WEIGHT_BALANCED * balanced


def feasible_nodes(kube: Kube, spec: Spec) -> list[int]:
    """The nodes that pass every filter (``findNodesThatPassFilters``), in node-tree order.

    Below 100 nodes every node is checked; above, the scan starts where the
    previous one stopped (``nextStartNodeIndex``) and ends after
    :func:`num_feasible_nodes_to_find` hits.
    """
    free, keys, needs, key = kube.free, kube.keys, spec.needs, spec.key
    limit = num_feasible_nodes_to_find(kube.n)
    out: list[int] = []
    if limit >= kube.n:
        for j in spec.allowed:
            f = free[j]
            for r, a in needs:
                if f[r] < a:
                    break
            else:
                if key is None or not keys[j].get(key, 0):
                    out.append(j)
        return out
    examined = 0
    for i in range(kube.n):
        j = kube.order[(kube.next_start + i) % kube.n]
        examined += 1
        if spec.mask[j] and kube.fits(spec, j):
            out.append(j)
            if len(out) == limit:
                break
    kube.next_start = (kube.next_start + examined) % kube.n
    return out


def scores(kube: Kube, spec: Spec, feasible: list[int]) -> list[int]:
    """The weighted total score of every feasible node (``RunScorePlugins``).

    The resource scores of a node are reused while the node is unchanged
    (its ``version``); the spreading and taint scores are normalised over
    ``feasible`` on every call.
    """
    cache = kube.score_cache[spec.index]
    version = kube.version
    host = {} if spec.spread is None else kube.host.get(spec.spread, {})
    has_zone, zone = kube.has_zone, kube.zone
    zones: dict[str, int] = {}  # the key's pods per zone, on nodes the pod's affinity allows
    for j, count in host.items():
        if count and has_zone[j] and spec.affinity[j]:
            zones[zone[j]] = zones.get(zone[j], 0) + count
    host_weight = math.log(len(feasible) + 2)
    zone_weight = math.log(len({zone[j] for j in feasible}) + 2)
    base: list[int] = []
    spread: list[int] = []
    for j in feasible:
        hit = cache.get(j)
        if hit is None or hit[0] != version[j]:
            hit = (version[j], base_score(kube, spec, j))
            cache[j] = hit
        base.append(hit[1])
        if spec.spread is not None:  # no owner: PodTopologySpread has nothing to score
            spread.append(spread_raw(host.get(j, 0), host_weight,
                                     zones.get(zone[j], 0) if has_zone[j] else None,
                                     zone_weight))
    if spec.spread is None:
        spread = [0] * len(feasible)
    taint = (taint_normalize([spec.taints[j] for j in feasible]) if spec.any_taint
             else [MAX_NODE_SCORE] * len(feasible))
    return [b + WEIGHT_SPREAD * s + WEIGHT_TAINT * t
            for b, s, t in zip(base, spread_normalize(spread), taint, strict=True)]


def select_host(kube: Kube, spec: Spec, feasible: list[int]) -> int:
    """``selectHost``: the best total; ties uniformly at random (seeded) or by node name.

    With one feasible node kube skips scoring, and so does this.
    """
    if len(feasible) == 1:
        return feasible[0]
    totals = scores(kube, spec, feasible)
    best = max(totals)
    tied = [j for j, t in zip(feasible, totals, strict=True) if t == best]
    if kube.rng is None:
        return min(tied, key=kube.rank.__getitem__)
    chosen = tied[0]
    for count, j in enumerate(tied[1:], start=2):  # reservoir sampling
        if kube.rng.randrange(count) == 0:
            chosen = j
    return chosen


def schedule(instance: PodsInstance, *, preemption: bool = False, order: str = "priority",
             seed: int | None = None, version: str = VERSIONS[0],
             timed: bool = False, deadline: Deadline | None = None) -> PodsSolution:
    """Simulate kube-scheduler's default profile on the pending pods of ``instance``.

    Parameters
    ----------
    instance
        Running pods stay; pending pods arrive in instance order.
    preemption
        Run ``DefaultPreemption`` for a pod that fits nowhere: victims are
        evicted (a running victim counts as evicted unless it is placed
        again) and requeued.
    order
        ``"priority"`` (kube's activeQ) or ``"arrival"`` (instance order).
    seed
        Random tie-breaking among equal scores; None breaks ties by node name.
    version
        The kube-scheduler version of :data:`VERSIONS` whose scores are used.
    timed
        Give the queue time, as a real cluster does: a pod woken by a deletion
        waits out its backoff (1 to 10 s) and a preemption's victims come back
        after their grace period, both far longer than scheduling the pods
        already queued, so they are retried only once the queue has run dry.
        Without it (the conservative default) they are retried at once, which
        makes the simulated scheduler stronger than a real one.
    deadline
        Once it passes, the pods still queued stay pending (None: no limit); should
        it pass before the simulation's cache is made,
        :class:`~optsched.deadline.OutOfTimeError`.

    Returns
    -------
    PodsSolution
        Every pod's node; pods the scheduler left pending are None.
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {excerpt(order)}")
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {', '.join(VERSIONS)}, "
                         f"got {excerpt(version)}")
    kube = Kube(instance, seed, balance_gain=version != VERSIONS[0], deadline=deadline)
    by_priority = order == "priority"

    def entry(pod: int, stamp: int, back: bool = False) -> tuple[int, int, int, int]:
        # In arrival order a pod that comes back (a victim, a parked pod woken by a
        # deletion) has arrived already: it is retried, by priority, before the next arrival.
        priority = -kube.spec_of[pod].priority
        if by_priority:
            return (0, priority, stamp, pod)
        return (0, priority, stamp, pod) if back else (1, 0, stamp, pod)

    queue = [entry(p, p) for p in range(len(kube.names)) if kube.where[p] < 0]
    heapq.heapify(queue)
    later: list[tuple[int, int, int, int]] = []  # timed: back after the queue runs dry

    def back(item: tuple[int, int, int, int]) -> None:
        if timed:
            later.append(item)
        else:
            heapq.heappush(queue, item)

    parked: dict[int, list[tuple[int, int]]] = {}
    failed: dict[int, int] = {}
    doomed: dict[int, int] = {}
    deletions = 0
    while queue or later:
        if deadline is not None and deadline.expired():
            break
        if not queue:
            queue, later = later, []
            heapq.heapify(queue)
        *_, pod = heapq.heappop(queue)
        spec = kube.spec_of[pod]
        if failed.get(spec.index) != deletions and doomed.get(pod) != deletions:
            feasible = feasible_nodes(kube, spec)
            if feasible:
                kube.bind(pod, select_host(kube, spec, feasible))
                continue
            # preemptionPolicy Never: DefaultPreemption does not run for the pod
            found = dp.preempt(kube, pod) if preemption and spec.group.preempts else None
            if found is not None:
                node, victims = found
                for victim in victims:
                    kube.unbind(victim)
                    if instance.allow_moves or kube.spec_of[victim].group.node is None:
                        back(entry(victim, kube.clock, back=True))
                        kube.clock += 1
                kube.bind(pod, node)
                deletions += 1
                # The deletions move every parked pod back to the queue; those that
                # cannot use the freed room fail again when popped (and are re-stamped).
                helped = set(dp.woken(kube, parked, node, preemption))
                for index, waiting in parked.items():
                    for stamp, other in waiting:
                        back(entry(other, stamp, back=True))
                        if index not in helped:
                            doomed[other] = deletions
                parked.clear()
                continue
            failed[spec.index] = deletions
        parked.setdefault(spec.index, []).append((kube.clock, pod))
        kube.clock += 1
    return make(instance, {kube.names[p]: None if j < 0 else instance.nodes[j].name
                           for p, j in enumerate(kube.where)})
