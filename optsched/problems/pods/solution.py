"""A pods solution: every pod's node (or none), and the evictions and moves that implies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from optsched.errors import InputError
from optsched.fields import require_keys, require_str, type_name

if TYPE_CHECKING:
    from optsched.problems.pods.instance import PodsInstance


@dataclass(frozen=True)
class PodsSolution:
    """``assignment`` maps every pod name to a node name or None (pending or evicted).

    ``evicted`` lists the running pods left without a node and ``moved`` the
    running pods placed on another node; the checker recomputes both from
    the assignment and reports a list that disagrees.
    """

    assignment: Mapping[str, str | None]
    evicted: tuple[str, ...] = ()
    moved: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"assignment": {...}, "evicted": [...], "moved": [...]}``."""
        return {"assignment": dict(self.assignment), "evicted": list(self.evicted),
                "moved": list(self.moved)}


def from_dict(obj: object) -> PodsSolution:
    """Read the solution object of ``formats.md``."""
    data = require_keys(obj, "solution", ("assignment",), ("evicted", "moved"), InputError)
    assignment = data["assignment"]
    if not isinstance(assignment, Mapping):
        raise InputError("solution.assignment", f"must be an object pod -> node or null, "
                                                f"got {type_name(assignment)}")
    for pod, node in assignment.items():
        if node is not None:
            require_str(node, f"solution.assignment.{pod}", InputError)
    lists = {}
    for key in ("evicted", "moved"):
        value = data.get(key, [])
        if not isinstance(value, list):
            raise InputError(f"solution.{key}", f"must be a list of pod names, "
                                                f"got {type_name(value)}")
        lists[key] = tuple(require_str(v, f"solution.{key}[{i}]", InputError)
                           for i, v in enumerate(value))
    return PodsSolution(dict(assignment), lists["evicted"], lists["moved"])


def make(instance: PodsInstance, assignment: Mapping[str, str | None]) -> PodsSolution:
    """The solution of a complete assignment, with its evictions and moves listed."""
    evicted: list[str] = []
    moved: list[str] = []
    for group in instance.groups:
        if group.node is not None:
            for pod in group.pod_names:
                node = assignment[pod]
                if node != group.node:
                    (evicted if node is None else moved).append(pod)
    return PodsSolution(dict(assignment), tuple(sorted(evicted)), tuple(sorted(moved)))


def as_it_is(instance: PodsInstance) -> PodsSolution:
    """The cluster as it is: running pods stay, pending pods stay pending."""
    return PodsSolution({p: g.node for g in instance.groups for p in g.pod_names})
