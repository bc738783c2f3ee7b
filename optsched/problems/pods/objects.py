"""The Kubernetes objects of a pods instance: taints, tolerations, node affinity, nodes, pods.

Matching follows kube-scheduler's filters: a node selector needs every label
equal; required node affinity needs one term whose expressions all hold; a
taint with effect ``NoSchedule`` or ``NoExecute`` keeps out every pod that
does not tolerate it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from optsched.errors import InstanceError
from optsched.fields import (
    excerpt,
    is_mapping,
    or_default,
    require_keys,
    require_str,
    type_name,
)
from optsched.problems.pods.quantity import PODS, amount, format_amount
from optsched.reading import ascii_int

EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
DEFAULT_MAX_PODS = 110
"""kubelet's default ``maxPods``, used when a node's allocatable does not say."""


NEVER = "Never"
PREEMPTION_POLICIES = ("PreemptLowerPriority", NEVER)
"""Kubernetes' ``preemptionPolicy`` values."""


@dataclass(frozen=True)
class Taint:
    """A node taint."""

    key: str
    value: str = ""
    effect: str = "NoSchedule"

    def to_dict(self) -> dict[str, str]:
        """Return the JSON object."""
        return {"key": self.key, "value": self.value, "effect": self.effect}


@dataclass(frozen=True)
class Toleration:
    """A pod toleration; ``key`` None with ``Exists`` tolerates every taint."""

    key: str | None = None
    operator: str = "Equal"
    value: str = ""
    effect: str | None = None

    def tolerates(self, taint: Taint) -> bool:
        """Kubernetes' ``Toleration.ToleratesTaint``."""
        if self.effect is not None and self.effect != taint.effect:
            return False
        if self.key is not None and self.key != taint.key:
            return False
        return self.operator == "Exists" or self.value == taint.value

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object."""
        return {"key": self.key, "operator": self.operator, "value": self.value,
                "effect": self.effect}


@dataclass(frozen=True)
class Expression:
    """One node-selector requirement (``matchExpressions`` item)."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def holds(self, labels: Mapping[str, str]) -> bool:
        """Whether a node with ``labels`` satisfies the requirement."""
        label = labels.get(self.key)
        if self.operator == "In":
            return label is not None and label in self.values
        if self.operator == "NotIn":
            return label is None or label not in self.values
        if self.operator == "Exists":
            return label is not None
        if self.operator == "DoesNotExist":
            return label is None
        try:  # Gt, Lt compare integers; a label that is not one fails
            number, bound = int(label or ""), int(self.values[0])
        except ValueError:
            return False
        return number > bound if self.operator == "Gt" else number < bound

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object."""
        return {"key": self.key, "operator": self.operator, "values": list(self.values)}


@dataclass(frozen=True)
class Node:
    """A node: integer allocatable amounts (cpu in millicores), labels, taints."""

    name: str
    allocatable: Mapping[str, int]
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    unschedulable: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object (amounts as Kubernetes quantities)."""
        return {"name": self.name, "allocatable": _quantities(self.allocatable),
                "labels": dict(self.labels), "taints": [t.to_dict() for t in self.taints],
                "unschedulable": self.unschedulable}


@dataclass(frozen=True)
class PodGroup:
    """``replicas`` interchangeable pods with one spec.

    ``node`` set means every replica runs there now; ``anti_affinity`` is a
    key: two pods with the same key never share a node (hostname topology).
    """

    name: str
    requests: Mapping[str, int]
    priority: int = 0
    replicas: int = 1
    priority_class: str | None = None
    node: str | None = None
    protected: bool = False
    node_selector: Mapping[str, str] = field(default_factory=dict)
    node_affinity: tuple[tuple[Expression, ...], ...] = ()
    tolerations: tuple[Toleration, ...] = ()
    anti_affinity: str | None = None
    preempts: bool = True
    """``preemptionPolicy``: False for ``Never`` (kube-scheduler's DefaultPreemption does not
    run for these pods; optsched's plans may still evict for them)."""
    spread: str | None = ""
    """The owner whose pods kube-scheduler's default topology spreading counts together: ""
    for the group itself, None for a pod without an owner (no default spreading)."""

    @property
    def spread_key(self) -> str | None:
        """The spreading key: the group's name unless ``spread`` names another or none."""
        return self.name if self.spread == "" else self.spread

    @property
    def pod_names(self) -> tuple[str, ...]:
        """``name`` for one replica, ``name-0``, ``name-1``, ... for more (made once).

        Kept in the instance's ``__dict__`` as ``functools.cached_property`` would, without
        the lock it takes on Python 3.11 (10 us a group: 1.5 s of reading 150,000 pods).
        One replica's name is made anew: reading ``__dict__`` makes Python 3.11 build one
        for the object, and that slows every later read of its fields (the plugin's 20,000
        groups of one pod: read in 0.23 s instead of 0.33, checked in 0.06 instead of 0.10).
        """
        if self.replicas == 1:
            return (self.name,)
        names: tuple[str, ...] | None = self.__dict__.get("_pod_names")
        if names is None:
            names = tuple(f"{self.name}-{i}" for i in range(self.replicas))
            self.__dict__["_pod_names"] = names
        return names

    def fits_labels(self, node: Node) -> bool:
        """Node selector, required node affinity and NoSchedule/NoExecute taints."""
        if any(node.labels.get(k) != v for k, v in self.node_selector.items()):
            return False
        if self.node_affinity and not any(all(e.holds(node.labels) for e in term)
                                          for term in self.node_affinity):
            return False
        return all(any(t.tolerates(taint) for t in self.tolerations)
                   for taint in node.taints if taint.effect != "PreferNoSchedule")

    def can_start_on(self, node: Node) -> bool:
        """Whether the scheduler may place a new pod of this group on ``node``."""
        return not node.unschedulable and self.fits_labels(node)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object (amounts as Kubernetes quantities)."""
        out: dict[str, Any] = {"name": self.name, "replicas": self.replicas,
                               "requests": _quantities(self.requests)}
        if self.priority_class is None:
            out["priority"] = self.priority
        else:
            out["priority_class"] = self.priority_class
        out.update(node=self.node, protected=self.protected,
                   node_selector=dict(self.node_selector),
                   node_affinity=[[e.to_dict() for e in term] for term in self.node_affinity],
                   tolerations=[t.to_dict() for t in self.tolerations],
                   anti_affinity=self.anti_affinity)
        if not self.preempts:
            out["preemption_policy"] = NEVER
        if self.spread != "":
            out["spread"] = self.spread
        return out


def _quantities(amounts: Mapping[str, int]) -> dict[str, str]:
    return {r: format_amount(r, v) for r, v in amounts.items()}


def read_resources(obj: object, where: str) -> dict[str, int]:
    """A ``{resource: quantity}`` object as integer amounts."""
    if not is_mapping(obj):
        raise InstanceError(where, f"must be an object of resource quantities, "
                                   f"got {type_name(obj)}")
    return {require_str(k, f"{where} key"): amount(k, v, f"{where}.{k}") for k, v in obj.items()}


def read_labels(obj: object, where: str) -> dict[str, str]:
    """A ``{key: value}`` object of strings."""
    if not is_mapping(obj):
        raise InstanceError(where, f"must be an object of strings, got {type_name(obj)}")
    if not obj:
        return {}
    return {require_str(k, f"{where} key {excerpt(k)}"): require_str(v, f"{where}.{k}")
            for k, v in obj.items()}


def read_taint(obj: object, where: str) -> Taint:
    """One taint object."""
    data = require_keys(obj, where, ("key",), ("value", "effect", "timeAdded"))
    effect = data.get("effect", "NoSchedule")
    if effect not in EFFECTS:
        raise InstanceError(f"{where}.effect", f"must be one of {', '.join(EFFECTS)}, "
                                               f"got {excerpt(effect)}")
    return Taint(require_str(data["key"], f"{where}.key"),
                 require_str(data.get("value") or "", f"{where}.value"), effect)


def read_toleration(obj: object, where: str) -> Toleration:
    """One toleration object."""
    data = require_keys(obj, where, (), ("key", "operator", "value", "effect",
                                         "tolerationSeconds"))
    operator = data.get("operator") or "Equal"
    if operator not in ("Equal", "Exists"):
        raise InstanceError(f"{where}.operator", "must be Equal or Exists, got "
                                                 f"{excerpt(operator)}")
    effect = data.get("effect") or None
    if effect is not None and effect not in EFFECTS:
        raise InstanceError(f"{where}.effect", f"must be one of {', '.join(EFFECTS)}, "
                                               f"got {excerpt(effect)}")
    key = data.get("key") or None
    if key is None and operator != "Exists":
        raise InstanceError(f"{where}.key", "is required unless operator is Exists")
    return Toleration(None if key is None else require_str(key, f"{where}.key"), operator,
                      require_str(data.get("value") or "", f"{where}.value"), effect)


def read_expression(obj: object, where: str) -> Expression:
    """One ``matchExpressions`` item."""
    data = require_keys(obj, where, ("key", "operator"), ("values",))
    operator = data["operator"]
    if operator not in OPERATORS:
        raise InstanceError(f"{where}.operator", f"must be one of {', '.join(OPERATORS)}, "
                                                 f"got {excerpt(operator)}")
    values = or_default(data.get("values"), [])
    if not isinstance(values, list):
        raise InstanceError(f"{where}.values", f"must be a list, got {type_name(values)}")
    texts = tuple(require_str(v, f"{where}.values[{i}]") for i, v in enumerate(values))
    if operator in ("In", "NotIn") and not texts:
        raise InstanceError(f"{where}.values", f"{operator} needs at least one value")
    if operator in ("Gt", "Lt") and (len(texts) != 1 or ascii_int(texts[0]) is None):
        raise InstanceError(f"{where}.values", f"{operator} needs exactly one integer value")
    return Expression(require_str(data["key"], f"{where}.key"), operator, texts)


def read_node(obj: object, where: str) -> Node:
    """One node of the simple JSON format."""
    data = require_keys(obj, where, ("name", "allocatable"),
                        ("labels", "taints", "unschedulable"))
    allocatable = read_resources(data["allocatable"], f"{where}.allocatable")
    if not allocatable or not any(allocatable.values()):
        raise InstanceError(f"{where}.allocatable", "has no resources (a node needs at least "
                                                    "one allocatable amount above 0)")
    allocatable.setdefault(PODS, DEFAULT_MAX_PODS)
    taints = or_default(data.get("taints"), [])
    if not isinstance(taints, list):
        raise InstanceError(f"{where}.taints", f"must be a list, got {type_name(taints)}")
    unschedulable = data.get("unschedulable", False)
    if not isinstance(unschedulable, bool):
        raise InstanceError(f"{where}.unschedulable", "must be true or false")
    return Node(require_str(data["name"], f"{where}.name"), allocatable,
                read_labels(or_default(data.get("labels"), {}), f"{where}.labels"),
                tuple(read_taint(t, f"{where}.taints[{i}]") for i, t in enumerate(taints)),
                unschedulable)
