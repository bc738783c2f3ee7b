"""Kubernetes YAML (Node, Pod, PriorityClass, ReplicaSet, Deployment, StatefulSet, Job).

A file (a multi-document stream or a ``kind: List``) is one instance named after
its stem. Nodes give ``status.allocatable`` (not capacity), labels, taints and
``unschedulable``; pods are read by :mod:`.kube`. Workloads give ``replicas``
(Job: ``parallelism``) pods of their template, less the pods of the file they
control; a Deployment whose ReplicaSet is in the file is read as that ReplicaSet.
Names are ``metadata.name``, ``namespace/name`` outside ``default``. Errors name
file, object and field (``web.yaml: Pod default/web.spec.containers[0]...``);
fields optsched does not model are reported as :class:`UnmodelledFieldWarning`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from optsched.errors import InstanceError
from optsched.fields import excerpt, or_default, require_int, require_str
from optsched.problems.pods import kube, objects, owners
from optsched.problems.pods.instance import MAX_PODS, PodsInstance, priority_value
from optsched.problems.pods.kube import listing, mapping
from optsched.problems.pods.quantity import PODS
from optsched.reading import parse_yaml_all, read_text

KINDS: dict[str, tuple[str, ...]] = {
    "Node": ("",), "PriorityClass": ("scheduling.k8s.io",), "Pod": ("",),
    "ReplicaSet": ("apps", "extensions"), "Deployment": ("apps", "extensions"),
    "StatefulSet": ("apps",), "Job": ("batch",)}
FINISHED = ("Succeeded", "Failed")
YAML_FIELDS = {"node": "spec.nodeName", "protected": f"metadata.annotations.{kube.PROTECTED}",
               "allocatable": "status.allocatable", "anti_affinity": "spec.affinity"}
Key = tuple[str, str | None, str]  # kind, namespace, name


class UnmodelledFieldWarning(UserWarning):
    """A field optsched does not model: the real scheduler may place the pod differently."""


@dataclass(frozen=True)
class KubeObject:
    """One object of the file; ``where`` names it in messages (``Pod default/web``)."""

    kind: str
    name: str
    namespace: str | None
    data: Mapping[str, Any]
    meta: Mapping[str, Any]
    phase: object
    where: str

    def qualified(self, name: str | None = None) -> str:
        """``name`` (default: the object's), after a namespace other than ``default``."""
        name = self.name if name is None else name
        return name if self.namespace in (None, "default") else f"{self.namespace}/{name}"


def claims(path: Path) -> bool:
    """True for ``.yaml`` and ``.yml`` files."""
    return path.suffix.lower() in (".yaml", ".yml")


def read_yaml(path: Path) -> list[PodsInstance]:
    """Read the instance of a Kubernetes YAML file, warning about unmodelled fields."""
    instance, notes = load(path)
    for note in notes:
        warnings.warn(f"{path}: {note}", UnmodelledFieldWarning, stacklevel=2)
    return [instance]


def load(path: Path) -> tuple[PodsInstance, list[str]]:
    """The instance of a Kubernetes YAML file and the notes on fields it does not model."""
    documents = parse_yaml_all(read_text(path, InstanceError), str(path), InstanceError)
    try:
        return from_documents(documents, path.stem)
    except InstanceError as exc:
        raise exc.within(str(path)) from None


def from_documents(documents: Sequence[object], name: str) -> tuple[PodsInstance, list[str]]:
    """The instance of parsed YAML documents, and the notes on fields it does not model."""
    items = list(_objects(documents))
    seen: set[Key] = set()
    for obj in items:
        if (obj.kind, obj.namespace, obj.name) in seen:
            raise InstanceError(f"{obj.where}.metadata.name", f"duplicate {obj.kind} name")
        seen.add((obj.kind, obj.namespace, obj.name))
    nodes = [_node(o) for o in items if o.kind == "Node"]
    if not nodes:
        raise InstanceError("", "holds no Node (an instance needs at least one node)")
    reader = _Reader(items)
    if reader.uses_node_name:
        nodes = [replace(n, labels={**n.labels, kube.NODE_NAME_LABEL: n.name}) for n in nodes]
    try:
        instance = PodsInstance(tuple(nodes), tuple(reader.groups), reader.classes, name=name)
    except InstanceError as exc:
        match = re.fullmatch(r"(nodes|pods)\[(\d+)\]\.(\w+)(.*)", exc.field)
        if match is None:
            raise
        if match[1] == "nodes":
            wheres = [f"Node {n.name}" for n in nodes]
        else:  # a duplicate name counts expanded pods, other checks count groups
            wheres = [w for g, w in zip(reader.groups, reader.wheres, strict=True)
                      for _ in (g.pod_names if match[3] == "name" else (w,))]
        field = YAML_FIELDS.get(match[3], match[3])
        problem = re.sub(rf"{match[1]}\[(\d+)\]", lambda m: wheres[int(m[1])], exc.problem)
        raise InstanceError(f"{wheres[int(match[2])]}.{field}{match[4]}", problem) from None
    return instance, reader.notes


def _objects(documents: Sequence[object]) -> Iterator[KubeObject]:
    for i, document in enumerate(documents):
        if document is None:
            continue
        data = mapping(document, f"documents[{i}]")
        kind = data.get("kind")
        if isinstance(kind, str) and kind.endswith("List"):
            for k, item in enumerate(listing(data.get("items"), f"documents[{i}].items")):
                yield _object(item, f"documents[{i}].items[{k}]", kind[:-4] or None)
        else:
            yield _object(data, f"documents[{i}]", None)


def _object(obj: object, where: str, implied: str | None) -> KubeObject:
    data = mapping(obj, where)
    kind = data.get("kind") or implied
    if kind is None:
        raise InstanceError(f"{where}.kind", "is missing")
    if not isinstance(kind, str) or kind not in KINDS:
        raise InstanceError(f"{where}.kind", f"{excerpt(kind)} is not a kind optsched reads "
                                             f"({', '.join(KINDS)})")
    api = data.get("apiVersion")
    if api is not None and require_str(api, f"{where}.apiVersion").rpartition("/")[0] \
            not in KINDS[kind]:
        expected = " or ".join(f"{g}/v1" if g else "v1" for g in KINDS[kind])
        raise InstanceError(f"{where}.apiVersion", f"{excerpt(api)} is not an API version of "
                                                   f"{kind} "
                                                   f"(expected {expected})")
    meta = mapping(data.get("metadata"), f"{where}.metadata")
    if not meta.get("name"):
        raise InstanceError(f"{where}.metadata.name", f"is missing ({kind})")
    name = require_str(meta["name"], f"{where}.metadata.name")
    phase = mapping(data.get("status"), f"{where}.status").get("phase")
    if kind in ("Node", "PriorityClass"):
        return KubeObject(kind, name, None, data, meta, phase, f"{kind} {name}")
    namespace = require_str(meta.get("namespace") or "default", f"{where}.metadata.namespace")
    return KubeObject(kind, name, namespace, data, meta, phase, f"{kind} {namespace}/{name}")


def _node(obj: KubeObject) -> objects.Node:
    status = mapping(obj.data.get("status"), f"{obj.where}.status")
    where = f"{obj.where}.status.allocatable"
    allocatable = objects.read_resources(or_default(status.get("allocatable"), {}), where)
    if not any(allocatable.values()):
        raise InstanceError(where, "is missing: a node without allocatable resources (the "
                                   "scheduler reads allocatable, not capacity)")
    allocatable.setdefault(PODS, objects.DEFAULT_MAX_PODS)
    spec = mapping(obj.data.get("spec"), f"{obj.where}.spec")
    unschedulable = spec.get("unschedulable") or False
    if not isinstance(unschedulable, bool):
        raise InstanceError(f"{obj.where}.spec.unschedulable", "must be true or false")
    taints = listing(spec.get("taints"), f"{obj.where}.spec.taints")
    return objects.Node(obj.name, allocatable,
                objects.read_labels(or_default(obj.meta.get("labels"), {}),
                                    f"{obj.where}.metadata.labels"),
                tuple(objects.read_taint(t, f"{obj.where}.spec.taints[{i}]")
                      for i, t in enumerate(taints)), unschedulable)


class _Reader:
    """Priority classes, then the pod groups of the file in document order."""

    def __init__(self, items: list[KubeObject]) -> None:
        self.notes, self.uses_node_name = kube.Notes(), False
        self.classes: dict[str, int] = {}
        self.default: str | None = None
        self.never: set[str] = set()
        """PriorityClasses with preemptionPolicy: Never."""
        self.groups: list[objects.PodGroup] = []
        self.wheres: list[str] = []
        self.labels: list[tuple[dict[str, str], str | None, kube.Selector | None]] = []
        for obj in items:
            if obj.kind == "PriorityClass":
                self._priority_class(obj)
        controllers = {(o.kind, o.namespace, o.name) for o in items
                       if o.kind in ("ReplicaSet", "StatefulSet", "Job")}
        self.owned: dict[Key, list[KubeObject]] = {}
        self.read_as: dict[Key, str] = {}
        for obj in items:
            where = f"{obj.where}.metadata.ownerReferences"
            for i, ref in enumerate(listing(obj.meta.get("ownerReferences"), where)):
                ref = mapping(ref, f"{where}[{i}]")
                owner = (str(ref.get("kind")), obj.namespace, str(ref.get("name")))
                if obj.kind == "Pod" and owner in controllers:
                    self.owned.setdefault(owner, []).append(obj)
                elif obj.kind == "ReplicaSet" and owner[0] == "Deployment":
                    self.read_as[owner] = obj.where
        self.owners = owners.workloads(items)
        for obj in items:
            if obj.kind == "Pod" and obj.phase not in FINISHED:
                self._pod(obj)
            elif obj.kind in ("ReplicaSet", "Deployment", "StatefulSet", "Job"):
                self._workload(obj)
        self._check_anti_affinity()

    def _priority_class(self, obj: KubeObject) -> None:
        if "value" not in obj.data:
            raise InstanceError(f"{obj.where}.value", "is missing")
        self.classes[obj.name] = priority_value(obj.data["value"], f"{obj.where}.value")
        default = obj.data.get("globalDefault") or False
        if not isinstance(default, bool):
            raise InstanceError(f"{obj.where}.globalDefault", "must be true or false")
        if default and self.default is not None:
            raise InstanceError(f"{obj.where}.globalDefault",
                                f"PriorityClass {self.default} is the global default already")
        self.default = obj.name if default else self.default
        if not kube.preempts_by(obj.data.get("preemptionPolicy"),
                                f"{obj.where}.preemptionPolicy"):
            self.never.add(obj.name)  # admission gives its pods preemptionPolicy: Never

    def _pod(self, obj: KubeObject) -> None:
        spec, labels = self._spec(obj, obj.meta, obj.data.get("spec"), obj.where)
        protected = kube.protected(obj.meta, f"{obj.where}.metadata")
        self._add(obj, obj.qualified(), spec, 1, labels, spec.node, protected)

    def _workload(self, obj: KubeObject) -> None:
        key = (obj.kind, obj.namespace, obj.name)
        if key in self.read_as:
            self.notes.add(obj.where, f"read as {self.read_as[key]} (not read itself)")
            return
        spec = mapping(obj.data.get("spec"), f"{obj.where}.spec")
        where = f"{obj.where}.spec.template"
        template = mapping(spec.get("template"), where)
        meta = mapping(template.get("metadata"), f"{where}.metadata")
        pod_spec, labels = self._spec(obj, meta, template.get("spec"), where)
        if pod_spec.node is not None:
            self.notes.add(f"{where}.spec.nodeName", "a node in a template is not modelled")
        protected = kube.protected(meta, f"{where}.metadata")
        owned = self.owned.get(key, [])
        active = [p.name for p in owned if p.phase not in FINISHED]
        wanted = _wanted(obj, spec, sum(p.phase == "Succeeded" for p in owned))
        if obj.kind == "StatefulSet" and active:
            for name in [f"{obj.name}-{k}" for k in range(wanted)]:
                if name not in active:
                    self._add(obj, obj.qualified(name), pod_spec, 1, labels, None, protected)
        elif wanted > len(active):
            self._add(obj, obj.qualified(), pod_spec, wanted - len(active), labels, None,
                      protected)

    def _spec(self, obj: KubeObject, meta: Mapping[str, Any], spec: object, where: str
              ) -> tuple[kube.PodSpec, dict[str, str]]:
        if spec is None:
            raise InstanceError(f"{where}.spec", "is missing")
        labels = objects.read_labels(or_default(meta.get("labels"), {}),
                                     f"{where}.metadata.labels")
        pod_spec = kube.read_pod_spec(spec, f"{where}.spec", self.notes, labels,
                                      obj.namespace or "default")
        self.uses_node_name |= any(e.key == kube.NODE_NAME_LABEL
                                   for term in pod_spec.node_affinity for e in term)
        return pod_spec, labels

    def _add(self, obj: KubeObject, name: str, spec: kube.PodSpec, replicas: int,
             labels: dict[str, str], node: str | None = None, protected: bool = False) -> None:
        where = f"{obj.where}.spec" if obj.kind == "Pod" else f"{obj.where}.spec.template.spec"
        priority, klass = kube.priority(spec, where, self.classes, self.default, self.notes)
        key = None if spec.anti_affinity is None else \
            f"{obj.namespace}/{spec.anti_affinity.text()}"
        self.groups.append(objects.PodGroup(name, spec.requests, priority, replicas, klass, node,
                                    protected, spec.node_selector, spec.node_affinity,
                                    spec.tolerations, key,
                                    preempts=spec.preempts and klass not in self.never,
                                    spread=self._spread(obj, labels)))
        self.wheres.append(obj.where)
        self.labels.append((labels, obj.namespace, spec.anti_affinity))

    def _spread(self, obj: KubeObject, labels: Mapping[str, str]) -> str | None:
        return owners.spread_key(obj, labels, self.owners)

    def _check_anti_affinity(self) -> None:
        members = list(zip(self.groups, self.wheres, self.labels, strict=True))
        for group, where, (_, namespace, selector) in members:
            for other, _, (labels, other_namespace, _) in members if selector else []:
                if selector and other.anti_affinity != group.anti_affinity and \
                        other_namespace == namespace and selector.matches(labels):
                    self.notes.add(f"{where}.podAntiAffinity", f"also repels {other.name}, "
                                   "which lacks the same term: not modelled")


def _wanted(obj: KubeObject, spec: Mapping[str, Any], succeeded: int) -> int:
    def count(key: str) -> int:
        value = spec.get(key)
        number = 1 if value is None else require_int(value, f"{obj.where}.spec.{key}", 0)
        if number > MAX_PODS:  # before any pod of it is named
            raise InstanceError(f"{obj.where}.spec.{key}", f"is {number}; optsched takes at "
                                                           f"most {MAX_PODS} pods")
        return number

    if obj.kind != "Job":
        return count("replicas")
    wanted = 0 if spec.get("suspend") else count("parallelism")
    if spec.get("completions") is not None:
        wanted = min(wanted, max(0, count("completions") - succeeded))
    return wanted


EXAMPLE = """\
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
---
apiVersion: v1
kind: Node
metadata: {name: n1, labels: {zone: a}}
status: {allocatable: {cpu: "2", memory: 4Gi, pods: "10"}}
---
apiVersion: v1
kind: Node
metadata: {name: n2}
spec:
  taints: [{key: gpu, value: "true", effect: NoSchedule}]
status: {allocatable: {cpu: 1500m, memory: 2Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: old, namespace: batch}
spec:
  nodeName: n1
  containers: [{name: c, resources: {requests: {cpu: "1", memory: 1Gi}}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  template:
    spec:
      priorityClassName: high
      nodeSelector: {zone: a}
      containers: [{name: c, resources: {requests: {cpu: 500m, memory: 512Mi}}}]
"""
"""A small cluster of the kinds optsched reads: the seed of the fuzz suite's YAML reader."""


def example() -> dict[str, str]:
    """:data:`EXAMPLE` as a file."""
    return {"cluster.yaml": EXAMPLE}
