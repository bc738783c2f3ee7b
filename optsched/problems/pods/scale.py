"""``scale-fit``: best fit by priority with NumPy, for clusters of thousands of nodes.

The greedy rules of :mod:`.greedy` and the kube-scheduler simulation walk the
nodes in Python for every pod: about 1.5 microseconds per pod and node, half
an hour for 150,000 pods on 5,000 nodes. This rule keeps every node's free
amounts in one array and places each pending pod (highest priority first)
on the feasible node it leaves the least room on, normalised per resource. The
room each node would keep is kept per kind of pod (:class:`_Rooms`), and alike
pods in a row fill their best node before the next: a few seconds at
Kubernetes' limits. Within a priority the smaller pods (by dominant
share) go first: the objective counts pods, and on an overbooked cluster larger
first places fewer (on the 5,000-node Alibaba snapshot 26,484 pods of priority 3
against kube-scheduler's 38,209). Running pods stay; nodes pass the static
filters (:meth:`PodGroup.can_start_on`, one mask per filter signature) and
the anti-affinity keys, so the solution always passes the checker.
"""

from __future__ import annotations

from itertools import groupby
from operator import itemgetter

import numpy as np

from optsched.compiled import BoolArray, FloatArray, IntArray
from optsched.deadline import Deadline, while_time
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.solution import PodsSolution, as_it_is, make
from optsched.problems.pods.state import node_filter_signature

SECONDS_PER_POD = 3e-5
SECONDS_PER_POD_NODE = 2e-9
"""The expected time of :func:`scale_fit` and its check, per pod (running pods included)
and per pending pod and node. Measured on a 2-core machine (a Python loop of 10^7
additions: 1.6 s), a solve call of scale-fit: 0.045-0.078 s on 100 nodes x 1,000 pods,
0.37-0.55 s on 600 x 12,000, 0.63-0.68 s on 1,000 x 20,000 (10,147 pending), 4.0-4.3 s on
5,000 x 150,000."""
MAX_KINDS, MAX_CELLS = 1024, 1 << 23
"""Most kinds of pod, and kinds x nodes, whose rooms :class:`_Rooms` keeps (64 MiB of
floats). With more kinds a placement's update of its node for all of them takes longer
than the next pod's row computed anew."""


def seconds(instance: PodsInstance) -> float:
    """The expected time of :func:`scale_fit` and its check on ``instance``."""
    pending = sum(g.replicas for g in instance.groups if g.node is None)
    return (SECONDS_PER_POD * instance.pod_count
            + SECONDS_PER_POD_NODE * pending * len(instance.nodes))


def scale_fit(instance: PodsInstance, deadline: Deadline | None = None) -> PodsSolution:
    """Best fit, smaller pods first within a priority, over arrays of free amounts.

    Once ``deadline`` passes, the pods not yet reached stay pending (the cluster as it
    is when it passes while the arrays are made).
    """
    nodes = instance.nodes
    resources = instance.resources
    free = np.array([[n.allocatable.get(r, 0) for r in resources] for n in nodes],
                    dtype=np.int64)
    total = free.sum(axis=0).astype(float)
    inverse = np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)
    index = {n.name: j for j, n in enumerate(nodes)}
    keys: dict[str, set[int]] = {}
    assignment: dict[str, str | None] = {}
    specs: dict[tuple[int, ...], float] = {}  # the requests seen, and their dominant share
    kinds: dict[tuple[object, tuple[int, ...]], int] = {}  # node filters and requests
    masks: dict[object, BoolArray] = {}
    of_kind: list[BoolArray] = []  # the nodes that pass a kind's filters
    running: list[tuple[int, tuple[int, ...], int]] = []  # node, requests, replicas
    pending: list[tuple[int, float, str, int, str | None]] = []
    scale = inverse.tolist()
    made = 0
    for group in while_time(instance.groups, deadline):
        made += 1
        asked = instance.requests(group)
        spec = tuple([asked.get(r, 0) for r in resources])
        share = specs.get(spec)
        if share is None:
            share = specs[spec] = max((a * b for a, b in zip(spec, scale, strict=True)),
                                      default=0.0)
        if group.node is not None:  # running pods stay
            j = index[group.node]
            running.append((j, spec, group.replicas))
            for name in group.pod_names:
                assignment[name] = group.node
            if group.anti_affinity is not None:
                keys.setdefault(group.anti_affinity, set()).add(j)
            continue
        signature = node_filter_signature(group)
        kind = kinds.setdefault((signature, spec), len(kinds))
        if kind == len(of_kind):
            if signature not in masks:
                masks[signature] = np.array([group.can_start_on(n) for n in nodes])
            of_kind.append(masks[signature])
        pending.extend((-group.priority, share, name, kind, group.anti_affinity)
                       for name in group.pod_names)
    if made < len(instance.groups):
        return as_it_is(instance)
    if running:  # at once: a NumPy step per running group took 0.04 s for 10,000 pods
        where, amounts, replicas = zip(*running, strict=True)
        np.subtract.at(free, list(where), np.array(amounts, dtype=np.int64).reshape(
            len(running), len(resources)) * np.array(replicas, dtype=np.int64)[:, None])
    pending.sort(key=lambda item: item[:3])
    for _, _, name, _, _ in pending:
        assignment[name] = None
    rooms = _Rooms(free, inverse, [spec for _, spec in kinds], of_kind)
    for (kind, key), run in groupby(while_time(pending, deadline), key=itemgetter(3, 4)):
        names = [name for _, _, name, _, _ in run]
        need = rooms.need[kind]
        asks = need > 0
        # best fit keeps a node the best while the pods alike still fit it: one node a step
        while names and (deadline is None or not deadline.expired()):
            left = rooms.row(kind)
            if key is not None and keys.get(key):
                left = left.copy()
                left[list(keys[key])] = np.inf
            j = int(np.argmin(left))
            if left[j] == np.inf:  # no node fits them
                break
            take = 1 if key is not None else len(names)  # anti-affinity: one per node
            if take > 1 and asks.any():  # as many as node j still has room for
                take = min(take, int((free[j][asks] // need[asks]).min()))
            if take < 1:  # never: the row said one fits (but never loop on it)
                break
            for name in names[:take]:
                assignment[name] = nodes[j].name
            del names[:take]
            free[j] -= need * take
            rooms.changed(j)
            if key is not None:
                keys.setdefault(key, set()).add(j)
    return make(instance, assignment)


class _Rooms:
    """For each kind of pending pod (node filters and requests), the room each node would keep.

    ``left[k, j]`` is node ``j``'s free amounts after one more pod of kind ``k``, normalised
    and summed, or infinity where the pod does not fit. A placement changes one node, so
    its column is computed anew for every kind at once, and a pod's best node is one
    ``argmin`` over its row. Beyond :data:`MAX_KINDS` (or :data:`MAX_CELLS`) no table is
    kept and a pod's row is computed when it is placed.
    """

    def __init__(self, free: IntArray, inverse: FloatArray, needs: list[tuple[int, ...]],
                 masks: list[BoolArray]) -> None:
        self.free, self.inverse = free, inverse
        self.need = np.array(needs, dtype=np.int64).reshape(len(needs), free.shape[1])
        self.mask = masks
        self.left: FloatArray | None = None
        if len(needs) <= MAX_KINDS and len(needs) * len(free) <= MAX_CELLS:
            self.table = np.array(masks, dtype=np.bool_).reshape(len(needs), len(free))
            self.left = np.array([self._room(k) for k in range(len(needs))]).reshape(
                len(needs), len(free))

    def _room(self, k: int) -> FloatArray:
        room = np.full(len(self.free), np.inf)
        fits = np.flatnonzero(self.mask[k] & np.all(self.free >= self.need[k], axis=1))
        room[fits] = ((self.free[fits] - self.need[k]) * self.inverse).sum(axis=1)
        return room

    def row(self, k: int) -> FloatArray:
        """The room each node would keep after one more pod of kind ``k`` (not to be written)."""
        return self._room(k) if self.left is None else self.left[k]

    def changed(self, j: int) -> None:
        """Node ``j``'s free amounts changed: its room for every kind, anew."""
        if self.left is None:
            return
        fits = self.table[:, j] & np.all(self.free[j] >= self.need, axis=1)
        room = ((self.free[j] - self.need) * self.inverse).sum(axis=1)
        self.left[:, j] = np.where(fits, room, np.inf)
