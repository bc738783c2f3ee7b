"""Which pods kube-scheduler's default topology spreading counts together (their owner)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from optsched.problems.pods.formats import KubeObject

Workload = tuple[str, dict[str, str], str]
"""A workload's namespace, selector and spreading key."""

SPREAD_OWNERS = ("ReplicaSet", "Deployment", "StatefulSet")
"""Workloads whose pods kube-scheduler's default topology spreading counts together."""


def _selector(obj: KubeObject) -> dict[str, str]:
    """A workload's ``spec.selector.matchLabels`` (its template's labels when absent)."""
    spec = obj.data.get("spec")
    spec = spec if isinstance(spec, Mapping) else {}
    selector = spec.get("selector")
    if isinstance(selector, Mapping) and isinstance(selector.get("matchLabels"), Mapping):
        return {str(k): str(v) for k, v in selector["matchLabels"].items()}
    template = spec.get("template")
    meta = template.get("metadata") if isinstance(template, Mapping) else None
    labels = meta.get("labels") if isinstance(meta, Mapping) else None
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}


def _owner_key(obj: KubeObject) -> str:
    """The spreading key of a workload: its namespace and selector."""
    labels = ",".join(f"{k}={v}" for k, v in sorted(_selector(obj).items()))
    return f"{obj.namespace or 'default'}/{labels or obj.kind + '/' + obj.name}"


def workloads(items: list[KubeObject]) -> list[Workload]:
    """The workloads of a file whose selectors may match running pods."""
    return [(o.namespace or "default", _selector(o), _owner_key(o)) for o in items
            if o.kind in SPREAD_OWNERS]


def spread_key(obj: KubeObject, labels: Mapping[str, str], known: list[Workload]) -> str | None:
    """The owner whose pods the default topology spreading counts together.

    kube-scheduler's system default constraints take the selector of the
    pod's ReplicaSet, StatefulSet (or Service, not read here) and count every
    pod it matches: a workload's pods and every running pod of its namespace
    whose labels match count together (a pod that no workload selects is keyed
    by its controller, and one without a controller is not spread: a Job's
    pods included).
    """
    if obj.kind in SPREAD_OWNERS:
        return _owner_key(obj)
    if obj.kind != "Pod":
        return None
    namespace = obj.namespace or "default"
    for space, selector, key in known:  # counted by a workload's selector, owner or not
        if space == namespace and selector and all(labels.get(k) == v
                                                   for k, v in selector.items()):
            return key
    refs = obj.meta.get("ownerReferences")
    if not isinstance(refs, list) or not refs:
        return None
    ref = refs[0]
    if not isinstance(ref, Mapping) or ref.get("kind") not in ("ReplicaSet", "StatefulSet"):
        return None
    return f"{namespace}/{ref.get('kind')}/{ref.get('name')}"
