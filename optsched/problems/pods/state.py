"""Mutable views of the cluster: free amounts, anti-affinity keys and pods per node.

:class:`Cluster` serves the greedy rules (pods by name); :class:`Kube` is
kube-scheduler's cache for the default-scheduler simulation (per-node
arrays, pods as integers).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from optsched.deadline import Deadline
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.objects import Node, PodGroup
from optsched.problems.pods.quantity import CPU


class Cluster:
    """Free amounts and anti-affinity keys per node, starting from the running pods.

    Pods are identified by name; ``assignment`` is the current node of every
    pod. Amounts are updated in place; the static filters (unschedulable,
    selector, affinity, taints) are evaluated once per node and filter signature
    (:func:`node_filter_signature`), shared by the groups that have it.

    Parameters
    ----------
    instance
        The instance; its running pods are placed on their nodes.
    running
        Place the running pods (``node`` set) where they run; with False every
        pod starts unassigned (a repacking rule places them itself).
    deadline
        Raise :class:`~optsched.deadline.OutOfTimeError` should it pass before the
        view is made (150,000 pods take 0.7 s).
    """

    def __init__(self, instance: PodsInstance, running: bool = True,
                 deadline: Deadline | None = None) -> None:
        self.instance = instance
        self.resources = instance.resources
        self.free = [[n.allocatable.get(r, 0) for r in self.resources] for n in instance.nodes]
        self.keys: list[Counter[str]] = [Counter() for _ in instance.nodes]
        self.index = {n.name: j for j, n in enumerate(instance.nodes)}
        self.assignment: dict[str, str | None] = {}
        self.need: dict[str, list[int]] = {}
        self.needs: dict[str, tuple[tuple[int, int], ...]] = {}
        """Per group the ``(resource index, amount)`` pairs with an amount above 0."""
        self._allowed: dict[str, list[bool]] = {}
        self._masks: dict[tuple[object, ...], list[bool]] = {}  # by node_filter_signature
        for group in instance.groups:
            if deadline is not None:
                deadline.check()
            need = [instance.requests(group).get(r, 0) for r in self.resources]
            self.need[group.name] = need
            self.needs[group.name] = tuple((r, a) for r, a in enumerate(need) if a)
            for pod in group.pod_names:
                self.assignment[pod] = None
                if running and group.node is not None:
                    self.place(group, pod, self.index[group.node])

    def copy(self) -> Cluster:
        """An independent copy of the mutable state (the static parts are shared)."""
        other = Cluster.__new__(Cluster)
        other.__dict__.update(self.__dict__)
        other.free = [list(f) for f in self.free]
        other.keys = [Counter(k) for k in self.keys]
        other.assignment = dict(self.assignment)
        return other

    def allowed(self, group: PodGroup) -> list[bool]:
        """Per node, whether the static filters let a new pod of ``group`` start there."""
        mask = self._allowed.get(group.name)
        if mask is None:
            signature = node_filter_signature(group)
            mask = self._masks.get(signature)
            if mask is None:
                mask = [group.can_start_on(n) for n in self.instance.nodes]
                self._masks[signature] = mask
            self._allowed[group.name] = mask
        return mask

    def fits_now(self, group: PodGroup, j: int) -> bool:
        """Whether one more pod of ``group`` fits node ``j``'s free amounts and keys.

        The static filters are not checked: a running pod may stay on a node
        it could not start on.
        """
        if group.anti_affinity is not None and self.keys[j][group.anti_affinity]:
            return False
        free = self.free[j]
        return all(a <= free[r] for r, a in self.needs[group.name])

    def fits(self, group: PodGroup, j: int) -> bool:
        """Whether one more pod of ``group`` may start on node ``j`` now."""
        return self.allowed(group)[j] and self.fits_now(group, j)

    def feasible(self, group: PodGroup) -> list[int]:
        """The nodes a new pod of ``group`` may start on now, in instance order."""
        mask = self.allowed(group)
        needs, key = self.needs[group.name], group.anti_affinity
        out = []
        for j, free in enumerate(self.free):
            if not mask[j] or (key is not None and self.keys[j][key]):
                continue
            for r, a in needs:
                if free[r] < a:
                    break
            else:
                out.append(j)
        return out

    def place(self, group: PodGroup, pod: str, j: int) -> None:
        """Put ``pod`` (of ``group``) on node ``j``."""
        free = self.free[j]
        for r, a in self.needs[group.name]:
            free[r] -= a
        if group.anti_affinity is not None:
            self.keys[j][group.anti_affinity] += 1
        self.assignment[pod] = self.instance.nodes[j].name

    def remove(self, group: PodGroup, pod: str) -> None:
        """Take ``pod`` off its node."""
        name = self.assignment[pod]
        assert name is not None
        j = self.index[name]
        free = self.free[j]
        for r, a in self.needs[group.name]:
            free[r] += a
        if group.anti_affinity is not None:
            self.keys[j][group.anti_affinity] -= 1
        self.assignment[pod] = None

    def pending(self) -> list[tuple[PodGroup, str]]:
        """Pods without a node, highest priority first, in instance order within a priority."""
        pods = [(g, p) for g in self.instance.groups for p in g.pod_names
                if self.assignment[p] is None]
        return sorted(pods, key=lambda gp: -gp[0].priority)


DEFAULT_MILLI_CPU_REQUEST = 100
"""``schedutil.DefaultMilliCPURequest``: LeastAllocated's cpu for a pod that sets none."""
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
"""``schedutil.DefaultMemoryRequest``: LeastAllocated's memory for a pod that sets none."""
ZONE = "topology.kubernetes.io/zone"
REGION = "topology.kubernetes.io/region"
BETA_ZONE = "failure-domain.beta.kubernetes.io/zone"
BETA_REGION = "failure-domain.beta.kubernetes.io/region"


def zone_key(node: Node) -> str:
    """``utilnode.GetZoneKey``: region and zone, ``""`` when the node has neither."""
    labels = node.labels
    zone = labels.get(ZONE, labels.get(BETA_ZONE, ""))
    region = labels.get(REGION, labels.get(BETA_REGION, ""))
    return "" if not zone and not region else f"{region}:\x00:{zone}"


def node_tree_order(nodes: tuple[Node, ...]) -> list[int]:
    """Node indices in kube-scheduler's snapshot order (``nodeTree.list``).

    Zones in order of first appearance; one node from each zone in turn,
    instance order within a zone. Without zone labels: instance order.
    """
    zones: dict[str, list[int]] = {}
    for j, node in enumerate(nodes):
        zones.setdefault(zone_key(node), []).append(j)
    out: list[int] = []
    for i in range(max(len(z) for z in zones.values())):
        out += [members[i] for members in zones.values() if i < len(members)]
    return out


def matches_affinity(group: PodGroup, node: Node) -> bool:
    """Node selector and required node affinity only (``GetRequiredNodeAffinity().Match``)."""
    if any(node.labels.get(k) != v for k, v in group.node_selector.items()):
        return False
    return not group.node_affinity or any(all(e.holds(node.labels) for e in term)
                                          for term in group.node_affinity)


def node_filter_signature(group: PodGroup) -> tuple[object, ...]:
    """Selector, required affinity, tolerations: all that the node filters read of a group."""
    return (tuple(sorted(group.node_selector.items())), group.node_affinity, group.tolerations)


def prefer_no_schedule(group: PodGroup, node: Node) -> int:
    """``countIntolerableTaintsPreferNoSchedule``: PreferNoSchedule taints not tolerated."""
    return sum(1 for taint in node.taints if taint.effect == "PreferNoSchedule"
               and not any(t.tolerates(taint) for t in group.tolerations))


@dataclass(slots=True)
class Spec:
    """What the scheduler simulation needs of one pod group, computed once."""

    index: int
    group: PodGroup
    priority: int
    need: tuple[int, ...]
    """Requests per resource of the instance (``pods`` 1 included)."""
    needs: tuple[tuple[int, int], ...]
    """The ``(resource index, amount)`` pairs with an amount above 0."""
    cpu: int
    memory: int
    nonzero_cpu: int
    nonzero_memory: int
    key: str | None
    spread: str | None
    """The group's spreading key (None: no default spreading)."""
    allowed: list[int]
    """Nodes passing the static filters, in node-tree order."""
    mask: list[bool]
    affinity: list[bool]
    """Per node: selector and required affinity hold (spreading counts pods only there)."""
    taints: list[int]
    """Per node: intolerable PreferNoSchedule taints (all 0: ``any_taint`` False)."""
    any_taint: bool
    preemptible: bool
    """Pods of the group may be preemption victims (not protected; evictions allowed)."""


_Static = tuple[list[bool], list[bool], list[int], list[int], bool]
"""Per node-filter signature: the mask, affinity matches, PreferNoSchedule taints (and
whether any node has one) and the allowed nodes in the tree's order. Shared by the specs
and never changed: 150,000 pods of their own groups on 5,000 nodes took 45 s to set up
with these made per group, 1 s now."""


class Kube:
    """kube-scheduler's cache for the simulation: free amounts, requests, keys, pods per node.

    Pods are integers (instance order after expanding replicas); ``where[p]``
    is a node index or -1. ``version[j]`` changes whenever node ``j`` does, so
    per-node scores can be reused while it stays the same. A ``deadline`` that
    passes before the cache is made raises :class:`~optsched.deadline.OutOfTimeError`.
    """

    def __init__(self, instance: PodsInstance, seed: int | None,
                 balance_gain: bool = False, deadline: Deadline | None = None) -> None:
        nodes = instance.nodes
        self.instance = instance
        self.balance_gain = balance_gain
        """BalancedAllocation scores the balance the pod brings (kube >= 1.36)."""
        self.n = len(nodes)
        self.order = node_tree_order(nodes)
        self.rank = {j: r for r, j in enumerate(sorted(range(self.n),
                                                       key=lambda j: nodes[j].name))}
        self.rng = None if seed is None else random.Random(seed)
        resources = instance.resources
        self.free = [[n.allocatable.get(r, 0) for r in resources] for n in nodes]
        cpu = resources.index(CPU) if CPU in resources else None
        memory = resources.index("memory") if "memory" in resources else None
        self.cpu_index, self.memory_index = cpu, memory
        self.alloc_cpu = [0 if cpu is None else f[cpu] for f in self.free]
        self.alloc_memory = [0 if memory is None else f[memory] for f in self.free]
        self.nonzero_cpu = [0] * self.n
        self.nonzero_memory = [0] * self.n
        self.version = [0] * self.n
        self.keys: list[dict[str, int]] = [{} for _ in nodes]
        self.pods_on: list[dict[int, None]] = [{} for _ in nodes]
        self.has_zone = [ZONE in n.labels for n in nodes]
        self.zone = [n.labels.get(ZONE, "") for n in nodes]
        statics: dict[object, _Static] = {}
        self.specs = []
        for i, group in enumerate(instance.groups):
            if deadline is not None:
                deadline.check()  # 150,000 pods take 1 s
            self.specs.append(self._spec(i, group, statics))
        self.host: dict[str, dict[int, int]] = {}
        """Per spreading key: its pods on each node (kube-scheduler's default spreading)."""
        self.score_cache: list[dict[int, tuple[int, int]]] = [{} for _ in self.specs]
        self.victim_cache: dict[object, dict[int, tuple[int, list[int] | None]]] = {}
        self.names: list[str] = []
        self.spec_of: list[Spec] = []
        for spec in self.specs:
            for name in spec.group.pod_names:
                self.names.append(name)
                self.spec_of.append(spec)
        self.where = [-1] * len(self.names)
        self.start = [0] * len(self.names)
        self.clock = len(self.names)
        self.next_start = 0
        node_index = {n.name: j for j, n in enumerate(nodes)}
        for pod, spec in enumerate(self.spec_of):
            if spec.group.node is not None:
                self.bind(pod, node_index[spec.group.node])
                self.start[pod] = pod

    def _spec(self, i: int, group: PodGroup, statics: dict[object, _Static]) -> Spec:
        instance = self.instance
        signature = node_filter_signature(group)
        static = statics.get(signature)
        if static is None:
            can = [group.can_start_on(n) for n in instance.nodes]
            tainted = [prefer_no_schedule(group, n) for n in instance.nodes]
            static = (can, [matches_affinity(group, n) for n in instance.nodes], tainted,
                      [j for j in self.order if can[j]], any(tainted))
            statics[signature] = static
        mask, affinity, taints, allowed, any_taint = static
        requests = instance.requests(group)
        need = tuple(requests.get(r, 0) for r in instance.resources)
        cpu, memory = group.requests.get(CPU, 0), group.requests.get("memory", 0)
        return Spec(
            index=i, group=group, priority=group.priority, need=need,
            needs=tuple((r, a) for r, a in enumerate(need) if a), cpu=cpu, memory=memory,
            nonzero_cpu=cpu if CPU in group.requests else DEFAULT_MILLI_CPU_REQUEST,
            nonzero_memory=memory if "memory" in group.requests else DEFAULT_MEMORY_REQUEST,
            key=group.anti_affinity, spread=group.spread_key,
            allowed=allowed, mask=mask,
            affinity=affinity, taints=taints, any_taint=any_taint,
            preemptible=not group.protected and (group.node is None
                                                 or instance.allow_evictions))

    def bind(self, pod: int, j: int) -> None:
        """Put ``pod`` on node ``j`` (no checks) and stamp its start."""
        spec = self.spec_of[pod]
        free = self.free[j]
        for r, a in spec.needs:
            free[r] -= a
        self.nonzero_cpu[j] += spec.nonzero_cpu
        self.nonzero_memory[j] += spec.nonzero_memory
        self.version[j] += 1
        if spec.key is not None:
            self.keys[j][spec.key] = self.keys[j].get(spec.key, 0) + 1
        self.pods_on[j][pod] = None
        self.where[pod] = j
        self.start[pod] = self.clock
        self.clock += 1
        if spec.spread is not None:
            host = self.host.setdefault(spec.spread, {})
            host[j] = host.get(j, 0) + 1

    def unbind(self, pod: int) -> None:
        """Take ``pod`` off its node (a deletion)."""
        spec = self.spec_of[pod]
        j = self.where[pod]
        free = self.free[j]
        for r, a in spec.needs:
            free[r] += a
        self.nonzero_cpu[j] -= spec.nonzero_cpu
        self.nonzero_memory[j] -= spec.nonzero_memory
        self.version[j] += 1
        if spec.key is not None:
            self.keys[j][spec.key] -= 1
        del self.pods_on[j][pod]
        self.where[pod] = -1
        if spec.spread is not None:
            self.host[spec.spread][j] -= 1

    def fits(self, spec: Spec, j: int) -> bool:
        """``NodeResourcesFit`` and the anti-affinity key on node ``j`` (static filters apart)."""
        if spec.key is not None and self.keys[j].get(spec.key, 0):
            return False
        free = self.free[j]
        return all(a <= free[r] for r, a in spec.needs)
