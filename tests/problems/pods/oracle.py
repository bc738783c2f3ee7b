"""A brute-force oracle for tiny pods instances and a hypothesis strategy for them."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from optsched.errors import InstanceError
from optsched.problems.pods import samples as ex
from optsched.problems.pods.evaluate import evaluate
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.objects import Node, PodGroup, Taint, Toleration
from optsched.problems.pods.solution import PodsSolution, make

MAX_PODS = 6
MAX_NODES = 3


def brute_force(instance: PodsInstance) -> tuple[int, PodsSolution]:
    """The optimum over every assignment of every pod to a node or to none.

    At most ``MAX_PODS`` pods on ``MAX_NODES`` nodes (``4^6 = 4096`` assignments);
    each is priced by the independent checker, infeasible ones skipped.
    """
    pods = [pod for g in instance.groups for pod in g.pod_names]
    assert len(pods) <= MAX_PODS and len(instance.nodes) <= MAX_NODES
    choices = [None, *(n.name for n in instance.nodes)]
    best: tuple[int, PodsSolution] | None = None
    for nodes in itertools.product(choices, repeat=len(pods)):
        solution = make(instance, dict(zip(pods, nodes, strict=True)))
        value = evaluate(instance, solution).objective
        if value is not None and (best is None or value < best[0]):
            best = (int(value), solution)
    assert best is not None, "leaving every pending pod pending is always feasible"
    return best


@st.composite
def instances(draw: st.DrawFn) -> PodsInstance:
    """Up to 3 nodes and 6 pods: cpu and gpu requests, priorities 0-2, some running
    (some protected), a taint, a selector, anti-affinity, and the two options."""
    n_nodes = draw(st.integers(1, MAX_NODES))
    nodes = []
    for j in range(n_nodes):
        taints = (Taint("dedicated", "x"),) if draw(st.integers(0, 4)) == 0 else ()
        nodes.append(Node(f"n{j}", {"cpu": draw(st.integers(2, 6)),
                                    "gpu": draw(st.integers(0, 1)), "pods": 110},
                          labels={"zone": draw(st.sampled_from("ab"))}, taints=taints,
                          unschedulable=draw(st.integers(0, 6)) == 0))
    groups: list[PodGroup] = []
    left = draw(st.integers(1, MAX_PODS))
    while left:
        i = len(groups)
        replicas = draw(st.integers(1, min(3, left)))
        left -= replicas
        running = draw(st.integers(0, 2)) == 0
        home = draw(st.sampled_from(nodes)).name if running else None
        anti = f"key{i}" if draw(st.integers(0, 3)) == 0 and not (running and replicas > 1) \
            else None
        groups.append(PodGroup(
            f"g{i}", {"cpu": draw(st.integers(1, 4)), "gpu": draw(st.integers(0, 1))},
            priority=draw(st.integers(0, 2)), replicas=replicas, node=home,
            protected=running and draw(st.integers(0, 3)) == 0,
            node_selector={"zone": "a"} if draw(st.integers(0, 4)) == 0 else {},
            tolerations=(Toleration("dedicated", "Exists"),) if draw(st.booleans()) else (),
            anti_affinity=anti))
    try:
        return PodsInstance(tuple(nodes), tuple(groups), {}, allow_moves=draw(st.booleans()),
                            allow_evictions=draw(st.booleans()), name="hypo")
    except InstanceError:  # running pods over a node's capacity or sharing a key
        assume(False)
        raise


# Hand-solved instances: (factory, optimum); the arithmetic is in each docstring.

def moved(allow_moves: bool = True) -> PodsInstance:
    """n1, n2 have 4 cpu; ``a`` and ``b`` (2 cpu, priority 0) run on n1 and n2; ``high``
    (3 cpu, priority 10) is pending and fits neither node as it is (2 cpu free each).

    Two movable pods: move weight 1, eviction 2 + 1 = 3, priority 0: 3 * 3 = 9,
    priority 10: 9 * (1 + 2) = 27. Moving ``b`` next to ``a`` (2 + 2 = 4) frees n2
    for ``high``: objective 1. Without moves one of them is evicted: 9 + 3 = 12.
    Leaving ``high`` pending (what first fit does) costs 27.
    """
    return ex.instance([ex.node("n1"), ex.node("n2")],
                       [ex.pod("a", "2", 0, node="n1"), ex.pod("b", "2", 0, node="n2"),
                        ex.pod("high", "3", 10)], name="moved", allow_moves=allow_moves)


def protected() -> PodsInstance:
    """``moved`` with ``a`` and ``b`` protected: ``high`` stays pending.

    No movable pod: move 1, eviction 1, priority 0: 1 * 1 = 1, priority 10:
    1 * (1 + 2) = 3; one pending priority-10 pod costs 3.
    """
    return ex.instance([ex.node("n1"), ex.node("n2")],
                       [ex.pod("a", "2", 0, node="n1", protected=True),
                        ex.pod("b", "2", 0, node="n2", protected=True),
                        ex.pod("high", "3", 10)], name="protected")


def tainted() -> PodsInstance:
    """n1 (1 cpu, label gpu=true, taint gpu:NoSchedule) and n2 (1 cpu, plain).

    ``web`` (2 replicas, 600m, priority 5) does not tolerate the taint: only n2,
    which holds one (1200m > 1000m). ``train`` (600m, priority 1) selects
    gpu=true and tolerates it: only n1. Weights: priority 1: 1, priority 5:
    1 * (1 + 1) = 2; one pending ``web`` pod: objective 2.
    """
    gpu: dict[str, Any] = {"labels": {"gpu": "true"},
           "taints": [{"key": "gpu", "value": "true", "effect": "NoSchedule"}]}
    return ex.instance([ex.node("n1", "1", **gpu), ex.node("n2", "1")],
                       [ex.pod("web", "600m", 5, replicas=2),
                        ex.pod("train", "600m", 1, node_selector={"gpu": "true"},
                               tolerations=[{"key": "gpu", "operator": "Exists"}])],
                       name="tainted")


def spread() -> PodsInstance:
    """Three 4-cpu nodes; ``web`` (2 replicas, priority 2) and ``api`` (2 replicas,
    priority 1), 1 cpu each, all with anti-affinity key ``front``: one pod per node.

    Three nodes hold three of the four pods: both ``web`` and one ``api``.
    Weights: priority 1: 1, priority 2: 1 * (1 + 2) = 3; objective 1.
    """
    return ex.instance([ex.node("n1"), ex.node("n2"), ex.node("n3")],
                       [ex.pod("web", "1", 2, replicas=2, anti_affinity="front"),
                        ex.pod("api", "1", 1, replicas=2, anti_affinity="front")],
                       name="spread")


def cordoned() -> PodsInstance:
    """n1 is unschedulable and runs ``old`` (2 cpu); n2 has 2 cpu; ``new`` (2 cpu) is
    pending. ``old`` may stay on its cordoned node, ``new`` takes n2: objective 0.
    """
    return ex.instance([ex.node("n1", "2", unschedulable=True), ex.node("n2", "2")],
                       [ex.pod("old", "2", 0, node="n1"), ex.pod("new", "2", 0)],
                       name="cordoned")


HAND: list[tuple[Callable[[], PodsInstance], int]] = [
    (ex.fragmented, 1), (ex.running, 12), (moved, 1), (lambda: moved(False), 12),
    (protected, 3), (tainted, 2), (spread, 1), (cordoned, 0)]
