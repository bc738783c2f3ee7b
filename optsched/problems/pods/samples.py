"""Tiny hand-made pods instances: the conformance samples and the tests' building blocks."""

from __future__ import annotations

from typing import Any

from optsched.problems.pods.instance import PodsInstance, from_dict


def node(name: str, cpu: str = "4", memory: str = "4Gi", **extra: Any) -> dict[str, Any]:
    """A node object of the simple JSON format."""
    return {"name": name, "allocatable": {"cpu": cpu, "memory": memory}, **extra}


def pod(name: str, cpu: str, priority: int = 0, **extra: Any) -> dict[str, Any]:
    """A pod group object with a cpu request and 1Mi of memory."""
    return {"name": name, "requests": {"cpu": cpu, "memory": "1Mi"}, "priority": priority,
            **extra}


def instance(nodes: list[dict[str, Any]], pods: list[dict[str, Any]], name: str = "t",
             **options: bool) -> PodsInstance:
    """Build an instance from node and pod objects."""
    return from_dict({"name": name, "nodes": nodes, "pods": pods, "options": options})


def fragmented() -> PodsInstance:
    """Two 4-cpu nodes and pods of 1, 2, 3, 2 cpu (priority 10) then ``low`` (1 cpu, priority 1).

    First fit in arrival order: one -> n1, two -> n1 (3 used), three -> n2 (3 used),
    two-b fits nowhere (1 cpu free on each), low -> n1: vector (3, 1). The optimum packs
    one + three on n1 and two + two-b on n2, all 4 priority-10 pods; the 8 cpu are then
    full, so low stays pending: vector (4, 0). Weights: low level 1, top level 1 * (1 + 1)
    = 2; the optimum's objective is 2 * 0 + 1 * 1 = 1, first fit's 2 * 1 + 1 * 0 = 2.
    """
    return instance([node("n1"), node("n2")],
                    [pod("one", "1", 10), pod("two", "2", 10), pod("three", "3", 10),
                     pod("two-b", "2", 10), pod("low", "1", 1)], name="fragmented")


def running() -> PodsInstance:
    """A running low-priority pod blocks a high-priority one unless it moves.

    n1 and n2 have 4 cpu; ``old`` (2 cpu, priority 1) runs on n1 and ``fill`` (3 cpu,
    priority 1) runs on n2; ``big`` (4 cpu, priority 100) is pending. ``big`` fits
    only on an empty node; ``old`` cannot move to n2 (1 cpu free) nor ``fill`` to n1
    (2 free), so one running pod is evicted: vector (1, 1), one eviction, no move.
    Weights: eviction 3 (two movable pods + 1), low level 3 * 3 = 9, high level
    9 * (1 + 2) = 27; objective 9 * 1 + 3 * 1 = 12. Keeping both running pods and
    leaving ``big`` pending costs 27.
    """
    return instance([node("n1"), node("n2")],
                    [pod("old", "2", 1, node="n1"), pod("fill", "3", 1, node="n2"),
                     pod("big", "4", 100)], name="running")


def samples() -> list[PodsInstance]:
    """The conformance suite's instances: :func:`fragmented` and :func:`running`."""
    return [fragmented(), running()]
