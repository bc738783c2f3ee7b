"""Pods instances: nodes, pod groups with priorities, and what may change on the cluster."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from optsched.errors import InstanceError
from optsched.fields import (
    excerpt,
    is_int,
    or_default,
    require_int,
    require_keys,
    require_str,
    type_name,
)
from optsched.problems.pods.objects import (
    NEVER,
    PREEMPTION_POLICIES,
    Node,
    PodGroup,
    read_expression,
    read_labels,
    read_node,
    read_resources,
    read_toleration,
)
from optsched.problems.pods.quantity import PODS

MAX_PODS = 1_000_000
"""Most pods (after expanding replicas) an instance may hold."""
GROUP_KEYS = ("replicas", "requests", "priority_class", "priority", "node", "protected",
              "preemption_policy", "spread",
              "node_selector", "node_affinity", "tolerations", "anti_affinity")


@dataclass(frozen=True)
class PodsInstance:
    """Pods to place on nodes; every pod requests ``pods: 1`` besides its own requests.

    Parameters
    ----------
    nodes, groups
        Names are unique (pod names after expanding replicas too).
    priority_classes
        ``name -> value``; a group naming a class takes its value.
    allow_moves
        Running pods (``node`` set, not protected) may move to another node.
    allow_evictions
        Running pods may be evicted (left unplaced) to make room.
    """

    nodes: tuple[Node, ...]
    groups: tuple[PodGroup, ...]
    priority_classes: Mapping[str, int]
    allow_moves: bool = True
    allow_evictions: bool = True
    name: str = ""

    def __post_init__(self) -> None:
        if self.pod_count > MAX_PODS:
            raise InstanceError("pods", f"{self.pod_count} pods after expanding replicas; "
                                        f"optsched takes at most {MAX_PODS}")
        _unique([(i, n.name) for i, n in enumerate(self.nodes)], "nodes", "node")
        _unique([(i, p) for i, g in enumerate(self.groups) for p in g.pod_names], "pods", "pod")
        names = {n.name: n for n in self.nodes}
        if not self.nodes:
            raise InstanceError("nodes", "must list at least one node")
        for i, group in enumerate(self.groups):
            if group.node is not None and group.node not in names:
                raise InstanceError(f"pods[{i}].node", f"names no node: {excerpt(group.node)}")
            if group.protected and group.node is None:
                raise InstanceError(f"pods[{i}].protected", "only a running pod (node set) "
                                                            "can be protected")
        keys: set[tuple[str, str]] = set()
        for i, group in enumerate(self.groups):
            if group.node is None or group.anti_affinity is None:
                continue
            key = (group.node, group.anti_affinity)
            if key in keys or group.replicas > 1:
                raise InstanceError(f"pods[{i}].anti_affinity", f"running pods with key "
                                    f"{excerpt(group.anti_affinity)} share node {group.node}")
            keys.add(key)
        loads = self._running_loads()
        for j, node in enumerate(self.nodes):
            used = loads.get(node.name, {})
            for resource, need in used.items():
                if need > node.allocatable.get(resource, 0):
                    raise InstanceError(f"nodes[{j}].allocatable.{resource}",
                                        f"{node.name} runs pods requesting {need}, more than "
                                        f"its {node.allocatable.get(resource, 0)}")

    def running_load(self, node: str) -> dict[str, int]:
        """What the pods running on ``node`` now request, ``pods`` included."""
        return self._running_loads().get(node, {})

    def _running_loads(self) -> dict[str, dict[str, int]]:
        """:meth:`running_load` of every node that runs pods, in one pass over the groups."""
        loads: dict[str, dict[str, int]] = {}
        for group in self.groups:
            if group.node is not None:
                used = loads.setdefault(group.node, {})
                for resource, need in self.requests(group).items():
                    used[resource] = used.get(resource, 0) + need * group.replicas
        return loads

    @staticmethod
    def requests(group: PodGroup) -> dict[str, int]:
        """A group's per-pod requests with ``pods: 1``."""
        return {**group.requests, PODS: 1}

    @cached_property
    def resources(self) -> tuple[str, ...]:
        """Every resource named by a node or a pod, ``cpu``, ``memory``, ``pods`` first."""
        names = {r for n in self.nodes for r in n.allocatable}
        names |= {r for g in self.groups for r in g.requests} | {PODS}
        first = [r for r in ("cpu", "memory", PODS) if r in names]
        return (*first, *sorted(names - set(first)))

    @cached_property
    def priorities(self) -> tuple[int, ...]:
        """The distinct pod priorities, highest first (the objective's levels)."""
        return tuple(sorted({g.priority for g in self.groups}, reverse=True))

    @property
    def pod_count(self) -> int:
        """Pods after expanding replicas."""
        return sum(g.replicas for g in self.groups)

    @cached_property
    def never_placeable(self) -> tuple[PodGroup, ...]:
        """The groups no node could take a pod of even when empty: pending in every solution.

        Computed once per instance (:func:`~optsched.problems.pods.bounds.placeable_test`):
        the checker and the lower bound both need it, 0.16 s for 150,000 groups.
        """
        from optsched.problems.pods.bounds import placeable_test

        test = placeable_test(self)
        return tuple(g for g in self.groups if not test(g))

    @cached_property
    def weights(self) -> tuple[tuple[int, ...], int, int]:
        """Mixed-radix weights ``(per priority level, per eviction, per move)``.

        Each level's weight exceeds the largest possible total of all levels
        after it, so minimising ``sum weight * count`` is the lexicographic
        objective: unplaced pods by priority, then evictions, then moves.
        """
        movable = sum(g.replicas for g in self.groups if g.node is not None and not g.protected)
        move = 1
        evict = movable + 1
        weight = evict * (movable + 1)
        pods = Counter[int]()
        for g in self.groups:
            pods[g.priority] += g.replicas
        levels: list[int] = []
        for priority in reversed(self.priorities):
            levels.append(weight)
            weight *= 1 + pods[priority]
        return tuple(reversed(levels)), evict, move

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON fields (amounts as Kubernetes quantities)."""
        return {"name": self.name,
                "priority_classes": [{"name": k, "value": v}
                                     for k, v in self.priority_classes.items()],
                "nodes": [n.to_dict() for n in self.nodes],
                "pods": [g.to_dict() for g in self.groups],
                "options": {"allow_moves": self.allow_moves,
                            "allow_evictions": self.allow_evictions}}


def _unique(names: list[tuple[int, str]], where: str, what: str) -> None:
    """Raise naming the entry ``where[i]`` whose name (or a replica's) repeats an earlier one."""
    seen: dict[str, int] = {}
    for i, name in names:
        if name in seen:
            raise InstanceError(f"{where}[{i}].name", f"duplicate {what} name {excerpt(name)}, "
                                                      f"also of {where}[{seen[name]}]")
        seen[name] = i


def from_dict(obj: Mapping[str, Any]) -> PodsInstance:
    """Build an instance from the simple JSON format of ``formats.md``."""
    data = require_keys(obj, "", ("nodes", "pods"),
                        ("family", "format", "name", "priority_classes", "options"))
    classes = read_priority_classes(or_default(data.get("priority_classes"), []))
    nodes, pods = data["nodes"], data["pods"]
    for key, value in (("nodes", nodes), ("pods", pods)):
        if not isinstance(value, list):
            raise InstanceError(key, f"must be a list, got {type_name(value)}")
    options = require_keys(data.get("options", {}), "options", (),
                           ("allow_moves", "allow_evictions"))
    flags = {k: options.get(k, True) for k in ("allow_moves", "allow_evictions")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise InstanceError(f"options.{key}", "must be true or false")
    return PodsInstance(tuple(read_node(n, f"nodes[{i}]") for i, n in enumerate(nodes)),
                        tuple(read_group(p, f"pods[{i}]", classes) for i, p in enumerate(pods)),
                        classes, flags["allow_moves"], flags["allow_evictions"],
                        require_str(data.get("name", ""), "name"))


def read_priority_classes(obj: object) -> dict[str, int]:
    """``[{"name": ..., "value": ...}, ...]`` as ``name -> value``."""
    if not isinstance(obj, list):
        raise InstanceError("priority_classes", f"must be a list, got {type_name(obj)}")
    classes: dict[str, int] = {}
    for i, item in enumerate(obj):
        where = f"priority_classes[{i}]"
        data = require_keys(item, where, ("name", "value"))
        name = require_str(data["name"], f"{where}.name")
        if name in classes:
            raise InstanceError(f"{where}.name", f"duplicate priority class {excerpt(name)}")
        classes[name] = priority_value(data["value"], f"{where}.value")
    return classes


def priority_value(value: object, where: str) -> int:
    """A priority: Kubernetes stores it as a 32-bit integer."""
    number = require_int(value, where)
    if not -(2**31) <= number < 2**31:
        raise InstanceError(where, f"must fit a 32-bit integer, got {number}")
    return number


def read_group(obj: object, where: str, classes: Mapping[str, int]) -> PodGroup:
    """One entry of ``pods``."""
    data = require_keys(obj, where, ("name",), GROUP_KEYS)
    klass = data.get("priority_class")
    if klass is not None and "priority" in data:
        raise InstanceError(f"{where}.priority", "give priority or priority_class, not both")
    if klass is not None:
        klass = require_str(klass, f"{where}.priority_class")
        if klass not in classes:
            known = ", ".join(classes) or "none defined"
            raise InstanceError(f"{where}.priority_class",
                                f"names no priority class: {excerpt(klass)} (known: {known})")
        priority = classes[klass]
    else:
        priority = priority_value(data.get("priority", 0), f"{where}.priority")
    node = data.get("node")
    affinity = or_default(data.get("node_affinity"), [])
    tolerations = or_default(data.get("tolerations"), [])
    for key, value in (("node_affinity", affinity), ("tolerations", tolerations)):
        if not isinstance(value, list):
            raise InstanceError(f"{where}.{key}", f"must be a list, got {type_name(value)}")
    terms = []
    for i, term in enumerate(affinity):
        if not isinstance(term, list) or not term:
            raise InstanceError(f"{where}.node_affinity[{i}]",
                                "must be a non-empty list of match expressions")
        terms.append(tuple(read_expression(e, f"{where}.node_affinity[{i}][{k}]")
                           for k, e in enumerate(term)))
    anti = data.get("anti_affinity")
    name = require_str(data["name"], f"{where}.name")
    if anti is True:
        anti = name
    elif anti is False:
        anti = None
    protected = data.get("protected", False)
    if not isinstance(protected, bool):
        raise InstanceError(f"{where}.protected", "must be true or false")
    replicas = data.get("replicas", 1)
    if not is_int(replicas) or not 1 <= replicas <= MAX_PODS:
        raise InstanceError(f"{where}.replicas", f"must be an integer in 1..{MAX_PODS}, "
                                                 f"got {excerpt(replicas)}")
    policy = or_default(data.get("preemption_policy"), PREEMPTION_POLICIES[0])
    if policy not in PREEMPTION_POLICIES:
        raise InstanceError(f"{where}.preemption_policy", f"must be one of "
                                                          f"{', '.join(PREEMPTION_POLICIES)}, "
                                                          f"got {excerpt(policy)}")
    requests = read_resources(or_default(data.get("requests"), {}), f"{where}.requests")
    if PODS in requests:
        raise InstanceError(f"{where}.requests.{PODS}", "is implied: every pod takes one "
                                                        "of its node's pod slots")
    return PodGroup(
        name=name, requests=requests,
        priority=priority, replicas=int(replicas), priority_class=klass,
        node=None if node is None else require_str(node, f"{where}.node"), protected=protected,
        node_selector=read_labels(or_default(data.get("node_selector"), {}),
                                  f"{where}.node_selector"),
        node_affinity=tuple(terms),
        tolerations=tuple(read_toleration(t, f"{where}.tolerations[{i}]")
                          for i, t in enumerate(tolerations)),
        anti_affinity=None if anti is None else require_str(anti, f"{where}.anti_affinity"),
        preempts=policy != NEVER, spread=_spread(data, where))


def _spread(data: Mapping[str, Any], where: str) -> str | None:
    """``spread``: the owner key (a non-empty string), null for none; absent: the group."""
    if "spread" not in data:
        return ""
    value = data["spread"]
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InstanceError(f"{where}.spread", f"must be a non-empty string or null, got "
                                               f"{excerpt(value)}")
    return value
