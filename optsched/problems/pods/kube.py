"""A Kubernetes pod spec in optsched's terms, by kube-scheduler's rules.

Request: per resource, the larger of the containers' sum and the largest init
container (sidecars, ``restartPolicy: Always``, add to both), plus ``overhead``;
a limit without a request is the request. ``matchFields`` on ``metadata.name``
is an expression on :data:`NODE_NAME_LABEL`, a label every node then gets. Required
anti-affinity on ``kubernetes.io/hostname`` selecting the pod itself is the
``anti_affinity`` key. Priority: ``spec.priority``, else ``priorityClassName``,
else the ``globalDefault`` class, else 0. ``optsched.io/protected: "true"``
(annotation) keeps a running pod in place. Anything else that could change a
placement is noted, never dropped silently.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from optsched.errors import InstanceError
from optsched.fields import excerpt, or_default, require_str, type_name
from optsched.problems.pods.instance import priority_value
from optsched.problems.pods.objects import (
    NEVER,
    PREEMPTION_POLICIES,
    Expression,
    Toleration,
    read_expression,
    read_labels,
    read_resources,
    read_toleration,
)

HOSTNAME = "kubernetes.io/hostname"
BUILTIN_CLASSES = {"system-cluster-critical": 2000000000, "system-node-critical": 2000001000}
PROTECTED = "optsched.io/protected"
"""The annotation that marks a running pod that must stay (value "true")."""
NODE_NAME_LABEL = "optsched.io/node-name"
"""The label that carries a node's ``metadata.name`` for ``matchFields`` terms."""
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"
PLAIN_VOLUMES = frozenset({"name", "configMap", "secret", "emptyDir", "downwardAPI",
                           "projected", "hostPath"})  # these never restrict the node
UNMODELLED = {"topologySpreadConstraints": "topology spread constraints",
              "schedulingGates": "scheduling gates", "resourceClaims": "resource claims",
              "resources": "pod-level resources", "hostNetwork": "host network ports"}


class Notes(list[str]):
    """The warnings of one read: each names the object and field optsched does not model."""

    def add(self, where: str, problem: str) -> None:
        """Note that ``where`` (object and field) is not modelled, and why."""
        self.append(f"{where}: {problem}")


def mapping(obj: object, where: str) -> Mapping[str, Any]:
    """An object, ``{}`` for null."""
    if obj is not None and not isinstance(obj, Mapping):
        raise InstanceError(where, f"must be an object, got {type_name(obj)}")
    return obj or {}


def listing(obj: object, where: str) -> list[Any]:
    """A list, ``[]`` for null."""
    if obj is not None and not isinstance(obj, list):
        raise InstanceError(where, f"must be a list, got {type_name(obj)}")
    return obj or []


@dataclass(frozen=True)
class Selector:
    """A label selector: ``matchLabels`` and ``matchExpressions``."""

    labels: tuple[tuple[str, str], ...]
    expressions: tuple[Expression, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether an object with ``labels`` is selected."""
        return all(labels.get(k) == v for k, v in self.labels) and all(
            e.holds(labels) for e in self.expressions)

    def text(self) -> str:
        """The selector as text: ``app=web,tier In (a,b),canary DoesNotExist ()``."""
        return ",".join([f"{k}={v}" for k, v in self.labels] + [
            f"{e.key} {e.operator} ({','.join(e.values)})" for e in self.expressions])


def read_selector(obj: object, where: str) -> Selector:
    """A ``labelSelector`` object."""
    data = mapping(obj, where)
    labels = read_labels(or_default(data.get("matchLabels"), {}), f"{where}.matchLabels")
    items = listing(data.get("matchExpressions"), f"{where}.matchExpressions")
    return Selector(tuple(sorted(labels.items())), tuple(
        read_expression(e, f"{where}.matchExpressions[{i}]") for i, e in enumerate(items)))


@dataclass(frozen=True)
class PodSpec:
    """What optsched reads from a pod spec (of a Pod or of a workload's template)."""

    requests: dict[str, int]
    priority: int | None
    priority_class: str | None
    node: str | None
    node_selector: dict[str, str]
    node_affinity: tuple[tuple[Expression, ...], ...]
    tolerations: tuple[Toleration, ...]
    anti_affinity: Selector | None
    preempts: bool = True
    """``spec.preemptionPolicy`` is not ``Never``."""


def read_pod_spec(obj: object, where: str, notes: Notes, labels: Mapping[str, str],
                  namespace: str) -> PodSpec:
    """Read a pod spec at ``where`` (``"Pod default/web.spec"``) for a pod with ``labels``."""
    spec = mapping(obj, where)
    checks = [(key, bool(spec.get(key)), f"{what} are not modelled")
              for key, what in UNMODELLED.items()]
    checks += [
        ("schedulerName", spec.get("schedulerName", "default-scheduler") != "default-scheduler",
         "another scheduler is not modelled (the default scheduler's rules are used)"),
        ("runtimeClassName", bool(spec.get("runtimeClassName")) and "overhead" not in spec,
         "the RuntimeClass's overhead is not looked up (give spec.overhead)")]
    for i, volume in enumerate(listing(spec.get("volumes"), f"{where}.volumes")):
        kinds = sorted(set(mapping(volume, f"{where}.volumes[{i}]")) - PLAIN_VOLUMES)
        checks += [(f"volumes[{i}].{kinds[0]}", True, "volume binding, zones and volume "
                                                       "limits are not modelled")] if kinds else []
    for key, applies, problem in checks:
        if applies:
            notes.add(f"{where}.{key}", problem)
    priority, klass, node = spec.get("priority"), spec.get("priorityClassName"), \
        spec.get("nodeName")
    affinity = mapping(spec.get("affinity"), f"{where}.affinity")
    tolerations = listing(spec.get("tolerations"), f"{where}.tolerations")
    return PodSpec(
        requests=effective_requests(spec, where, notes),
        priority=None if priority is None
        else priority_value(priority, f"{where}.priority"),
        priority_class=None if not klass else require_str(klass, f"{where}.priorityClassName"),
        node=None if not node else require_str(node, f"{where}.nodeName"),
        node_selector=read_labels(or_default(spec.get("nodeSelector"), {}),
                                  f"{where}.nodeSelector"),
        node_affinity=node_affinity(affinity, f"{where}.affinity", notes),
        tolerations=tuple(read_toleration(t, f"{where}.tolerations[{i}]")
                          for i, t in enumerate(tolerations)),
        anti_affinity=anti_affinity(affinity, f"{where}.affinity", notes, labels, namespace),
        preempts=preempts_by(spec.get("preemptionPolicy"), f"{where}.preemptionPolicy"))


def preempts_by(policy: object, where: str) -> bool:
    """``preemptionPolicy``: ``PreemptLowerPriority`` (the default) or ``Never``."""
    if policy is None or policy == PREEMPTION_POLICIES[0]:
        return True
    if policy == NEVER:
        return False
    raise InstanceError(where, f"must be one of {', '.join(PREEMPTION_POLICIES)}, got "
                               f"{excerpt(policy)}")


def effective_requests(spec: Mapping[str, Any], where: str, notes: Notes) -> dict[str, int]:
    """Kubernetes' ``PodRequests``: containers, init containers and sidecars, overhead."""
    containers = listing(spec.get("containers"), f"{where}.containers")
    if not containers:
        raise InstanceError(f"{where}.containers", "is missing (a pod needs a container)")
    total: dict[str, int] = {}
    for i, container in enumerate(containers):
        _merge(total, container_requests(container, f"{where}.containers[{i}]", notes))
    sidecars, init = dict[str, int](), dict[str, int]()
    for i, item in enumerate(listing(spec.get("initContainers"), f"{where}.initContainers")):
        need = container_requests(item, f"{where}.initContainers[{i}]", notes)
        container = mapping(item, f"{where}.initContainers[{i}]")
        if container.get("restartPolicy") == "Always":
            _merge(total, need)
            _merge(sidecars, need)
            need = dict(sidecars)
        else:
            _merge(need, sidecars)
        _merge(init, need, max)
    _merge(total, init, max)
    _merge(total, read_resources(or_default(spec.get("overhead"), {}), f"{where}.overhead"))
    return total


def container_requests(obj: object, where: str, notes: Notes) -> dict[str, int]:
    """One container's requests, a missing request defaulting to the limit."""
    if obj is None:
        raise InstanceError(where, "must be a container object, got null")
    container = mapping(obj, where)
    resources = mapping(container.get("resources"), f"{where}.resources")
    requests = read_resources(or_default(resources.get("requests"), {}),
                              f"{where}.resources.requests")
    limits = read_resources(or_default(resources.get("limits"), {}), f"{where}.resources.limits")
    for resource, limit in limits.items():
        if resource not in requests:
            requests[resource] = limit
        elif limit > requests[resource]:
            notes.add(f"{where}.resources.limits.{resource}",
                      "a limit above the request is not modelled (only requests are)")
    if resources.get("claims"):
        notes.add(f"{where}.resources.claims", "resource claims are not modelled")
    for j, port in enumerate(listing(container.get("ports"), f"{where}.ports")):
        if mapping(port, f"{where}.ports[{j}]").get("hostPort"):
            notes.add(f"{where}.ports[{j}].hostPort", "host ports are not modelled")
    return requests


def _merge(total: dict[str, int], more: Mapping[str, int],
           how: Callable[[int, int], int] = operator.add) -> None:
    for resource, amount in more.items():
        total[resource] = how(total.get(resource, 0), amount)


def node_affinity(affinity: Mapping[str, Any], where: str, notes: Notes
                  ) -> tuple[tuple[Expression, ...], ...]:
    """The required node-selector terms."""
    where = f"{where}.nodeAffinity"
    data = mapping(affinity.get("nodeAffinity"), where)
    if data.get(PREFERRED):
        notes.add(f"{where}.{PREFERRED}", "preferred node affinity (a score) is not modelled")
    if data.get(REQUIRED) is None:
        return ()
    where = f"{where}.{REQUIRED}.nodeSelectorTerms"
    raw = listing(mapping(data[REQUIRED], where).get("nodeSelectorTerms"), where)
    if not raw:
        raise InstanceError(where, "must list at least one term")
    terms: list[tuple[Expression, ...]] = []
    for i, item in enumerate(raw):
        term = mapping(item, f"{where}[{i}]")
        expressions = [read_expression(e, f"{where}[{i}].matchExpressions[{k}]") for k, e in
                       enumerate(listing(term.get("matchExpressions"),
                                         f"{where}[{i}].matchExpressions"))]
        for k, e in enumerate(listing(term.get("matchFields"), f"{where}[{i}].matchFields")):
            field = read_expression(e, f"{where}[{i}].matchFields[{k}]")
            if field.key != "metadata.name" or field.operator not in ("In", "NotIn"):
                raise InstanceError(f"{where}[{i}].matchFields[{k}]", "only metadata.name with "
                                    "In or NotIn is a node field selector")
            expressions.append(Expression(NODE_NAME_LABEL, field.operator, field.values))
        if expressions:
            terms.append(tuple(expressions))
        else:
            notes.add(f"{where}[{i}]", "an empty term matches no node (ignored)")
    if not terms:
        raise InstanceError(where, "every term is empty, so no node matches")
    return tuple(terms)


def anti_affinity(affinity: Mapping[str, Any], where: str, notes: Notes,
                  labels: Mapping[str, str], namespace: str) -> Selector | None:
    """The one required hostname anti-affinity term optsched models, if any."""
    if affinity.get("podAffinity"):
        notes.add(f"{where}.podAffinity", "pod affinity is not modelled")
    where = f"{where}.podAntiAffinity"
    data = mapping(affinity.get("podAntiAffinity"), where)
    if data.get(PREFERRED):
        notes.add(f"{where}.{PREFERRED}", "preferred pod anti-affinity is not modelled")
    chosen: Selector | None = None
    for i, item in enumerate(listing(data.get(REQUIRED), f"{where}.{REQUIRED}")):
        at = f"{where}.{REQUIRED}[{i}]"
        term = mapping(item, at)
        selector = read_selector(term.get("labelSelector"), f"{at}.labelSelector")
        namespaces = listing(term.get("namespaces"), f"{at}.namespaces")
        if term.get("topologyKey") != HOSTNAME:
            reason = (f"topologyKey {excerpt(term.get('topologyKey'))} (only {HOSTNAME} is "
                      "modelled)")
        elif term.get("namespaceSelector") is not None or any(n != namespace
                                                               for n in namespaces):
            reason = "a term over other namespaces"
        elif term.get("matchLabelKeys") or term.get("mismatchLabelKeys"):
            reason = "matchLabelKeys and mismatchLabelKeys"
        elif term.get("labelSelector") is None or not selector.matches(labels):
            reason = "a selector that does not select the pod itself"
        elif chosen is not None:
            reason = "a second hostname term (one per pod is modelled)"
        else:
            chosen = selector
            continue
        notes.add(at, f"not modelled: {reason}")
    return chosen


def priority(spec: PodSpec, where: str, classes: dict[str, int], default: str | None,
             notes: Notes) -> tuple[int, str | None]:
    """The priority and class (a built-in class named is added to ``classes``)."""
    klass = spec.priority_class
    known = classes.get(klass or "", BUILTIN_CLASSES.get(klass or ""))
    if spec.priority is not None and (klass is None or known != spec.priority):
        if known is not None:
            notes.add(f"{where}.priorityClassName", f"{klass} has value {known}: "
                      f"spec.priority {spec.priority} is used")
        return spec.priority, None
    klass = klass or default
    if klass is None:
        return 0, None
    if klass not in classes and klass not in BUILTIN_CLASSES:
        raise InstanceError(f"{where}.priorityClassName", "names no PriorityClass: "
                                                          f"{excerpt(klass)} "
                            f"(defined: {', '.join(classes) or 'none'})")
    classes.setdefault(klass, BUILTIN_CLASSES.get(klass, 0))
    return classes[klass], klass


def protected(meta: Mapping[str, Any], where: str) -> bool:
    """The annotation :data:`PROTECTED` of ``metadata`` at ``where``: "true" or "false"."""
    value = mapping(meta.get("annotations"), f"{where}.annotations").get(PROTECTED)
    if value not in (None, True, False, "true", "false"):
        raise InstanceError(f"{where}.annotations.{PROTECTED}",
                            f"must be \"true\" or \"false\", got {excerpt(value)}")
    return value in (True, "true")

