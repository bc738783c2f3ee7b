"""Seeded scenarios of the grid of "Priority Matters" (Christensen, Giallorenzo, Mauro, 2025).

A scenario has ``nodes`` identical nodes and ``nodes * pods_per_node``
pending pods in ReplicaSets of 1 to 4 replicas:

1. replica counts are drawn uniformly from 1..4 until the pods are used up
   (the last ReplicaSet takes what is left);
2. each ReplicaSet draws a cpu request uniformly from 100..1000 millicores, a
   memory request uniformly from 100..1000 MB (10^6 bytes) and one of
   ``priorities`` levels uniformly (priority classes ``p1`` = 1 .. ``pK`` = K);
3. the nodes are sized so that the binding resource is requested at ``load``
   times capacity: with ``C``, ``M`` the total requested cpu (m) and memory
   (MB) and ``S = pods_per_node * nodes * 500``, the factor
   ``s = load / max(C / S, M / S)`` gives each node
   ``floor(pods_per_node * 500 / s)`` millicores and as many MB, so the
   binding resource is at ``load`` (at most 0.05 % above, from the rounding)
   and the other at most that; at ``s = 1`` a node has 500m and 500 MB per pod
   slot (cpu "2" and memory "2G" for 4 pods per node);
4. the requests stay as drawn, in the paper's ranges;
5. the ReplicaSets arrive in random order (the instance's order).

Scenario ``k`` depends only on ``(seed, k)``. With ``failing``, scenarios the
default scheduler places completely are skipped: the instances are the first
``count`` failing ones among scenarios ``k = 0, 1, ...``, each keeping its own
``k`` in its name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from optsched.errors import InputError
from optsched.family import GeneratorParam
from optsched.fields import excerpt
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.objects import DEFAULT_MAX_PODS, Node, PodGroup

if TYPE_CHECKING:
    from optsched.problems.pods.solution import PodsSolution

PARAMS = (
    GeneratorParam("nodes", int, 4, "identical nodes (the paper: 4, 8, 16, 32)", low=1,
                   high=100_000),
    GeneratorParam("pods_per_node", int, 4, "pods per node (the paper: 4 or 8)", low=1,
                   high=DEFAULT_MAX_PODS),
    GeneratorParam("priorities", int, 2, "priority levels (the paper: 1, 2 or 4)", low=1,
                   high=1000),
    GeneratorParam("load", float, 1.0, "requests of the binding resource / its capacity "
                                       "(the paper: 0.90, 0.95, 1.00, 1.05)", low=0.001,
                   high=10),
    GeneratorParam("count", int, 1, "number of instances", low=1, high=10_000),
    GeneratorParam("seed", int, 0, "random seed; scenario k uses the seed sequence (seed, k)",
                   low=0, high=2**63 - 1),
    GeneratorParam("failing", bool, False, "keep only scenarios where the default scheduler "
                                           "leaves pods pending", is_flag=True),
)
MAX_PODS = 1_000_000
"""Most pods of all scenarios one call generates."""
MAX_REPLICAS = 4
LOW, HIGH = 100, 1000
"""Request range per ReplicaSet: millicores of cpu, MB of memory."""
SLOT = 500
"""Node allocatable per pod slot: 500 millicores and 500 MB."""
MB = 10**6
ATTEMPTS = 1000
"""With ``failing``: scenarios tried per instance asked for, at most."""
Baseline = Callable[[PodsInstance], "PodsSolution"]


def generate(nodes: int = 4, pods_per_node: int = 4, priorities: int = 2, load: float = 1.0,
             count: int = 1, seed: int = 0, failing: bool = False,
             baseline: Baseline | None = None) -> list[PodsInstance]:
    """``count`` scenarios of the paper's grid (the recipe is in the module docstring).

    ``baseline`` is the placement that decides ``failing`` (default: the
    non-preempting default scheduler with its priority queue).
    """
    for field, value, low in (("nodes", nodes, 1), ("pods_per_node", pods_per_node, 1),
                              ("priorities", priorities, 1), ("count", count, 1),
                              ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InputError(field, f"must be an integer >= {low}, got {excerpt(value)}")
    if isinstance(load, bool) or not isinstance(load, int | float) or not 0 < load <= 10:
        raise InputError("load", f"must be a number in (0, 10], got {excerpt(load)}")
    if not failing:
        return [scenario(nodes, pods_per_node, priorities, load, seed, k) for k in range(count)]
    fails = baseline or _default_scheduler()
    out: list[PodsInstance] = []
    for k in range(ATTEMPTS * count):
        instance = scenario(nodes, pods_per_node, priorities, load, seed, k)
        if any(node is None for node in fails(instance).assignment.values()):
            out.append(instance)
            if len(out) == count:
                return out
    raise InputError("failing", f"only {len(out)} of the first {ATTEMPTS * count} scenarios "
                                f"leave pods pending; raise load (now {load:g})")


def scenario(nodes: int, pods_per_node: int, priorities: int, load: float, seed: int,
             k: int) -> PodsInstance:
    """Scenario ``k`` of the grid point; it depends only on its arguments."""
    rng = np.random.default_rng([seed, k])
    pods = nodes * pods_per_node
    replicas: list[int] = []
    while sum(replicas) < pods:
        replicas.append(min(int(rng.integers(1, MAX_REPLICAS + 1)), pods - sum(replicas)))
    sets = len(replicas)
    cpu = rng.integers(LOW, HIGH + 1, size=sets)
    memory = rng.integers(LOW, HIGH + 1, size=sets)
    level = rng.integers(1, priorities + 1, size=sets)
    order = rng.permutation(sets)
    capacity = nodes * pods_per_node * SLOT
    count = np.array(replicas)
    scale = load / max(float(count @ cpu) / capacity, float(count @ memory) / capacity)
    room = int(pods_per_node * SLOT / scale)  # millicores and MB per node
    allocatable = {"cpu": room, "memory": room * MB, "pods": DEFAULT_MAX_PODS}
    groups = tuple(PodGroup(
        name=f"rs{i:03d}", replicas=replicas[j], priority=int(level[j]),
        priority_class=f"p{level[j]}",
        requests={"cpu": int(cpu[j]), "memory": int(memory[j]) * MB})
        for i, j in enumerate(order))
    return PodsInstance(
        nodes=tuple(Node(f"node-{n:02d}", allocatable) for n in range(nodes)),
        groups=groups, priority_classes={f"p{v}": v for v in range(1, priorities + 1)},
        name=f"pods-n{nodes}-ppn{pods_per_node}-pr{priorities}-load{load:g}-s{seed}-{k}")


def _default_scheduler() -> Baseline:
    """kube-scheduler's simulation, imported only when used (it imports this family)."""
    # default_scheduler.schedule(instance, *, preemption=False, order="priority", seed=None):
    # the non-preempting default with its priority queue, ties broken by node name. Most
    # tests pass baseline=greedy.first_fit so that they do not depend on the simulation.
    module = importlib.import_module("optsched.problems.pods.scheduler.simulation")
    schedule: Baseline = module.schedule
    return schedule
