"""When each tensor is used under an order, and the costs every solver and the checker share."""

from __future__ import annotations

from collections.abc import Sequence

from optsched.problems.memalloc.scratchpad.instance import Graph, ScratchpadInstance

MAX_CELLS = 40_000
"""Most (tensor, step) cells of the free-order CP-SAT model; larger instances are refused."""


def cells(instance: ScratchpadInstance) -> int:
    """The (tensor, step) cells of the free-order model of ``instance``.

    Every tensor has at least one cell and every operator at least one step,
    so a graph with more tensors or operators than :data:`MAX_CELLS` is
    counted at once (``tensors x operators``), without its windows.
    """
    g = instance.graph
    ops = len(instance.operators)
    if max(g.n, ops) > MAX_CELLS:
        return g.n * ops
    return sum(len(s) for s in spans(instance, *windows(instance)))


def spans(instance: ScratchpadInstance, early: Sequence[int], late: Sequence[int]
          ) -> list[range]:
    """The steps at which each tensor may be resident, from its users' windows.

    From the earliest step of its writer and readers to their latest.
    """
    g = instance.graph
    out = []
    for a in range(g.n):
        users = [*g.readers[a], *([g.producer[a]] if g.producer[a] >= 0 else [])]
        out.append(range(min(early[o] for o in users), max(late[o] for o in users) + 1))
    return out


def windows(instance: ScratchpadInstance) -> tuple[list[int], list[int]]:
    """Each operator's earliest and latest step (:attr:`.Graph.windows`, computed once)."""
    return instance.graph.windows


def steps_of(order: Sequence[int], operators: int) -> list[int]:
    """The step of each operator, from the order (operator indices, first first)."""
    step = [-1] * operators
    for t, o in enumerate(order):
        step[o] = t
    return step


def uses(graph: Graph, step: Sequence[int]) -> list[list[int]]:
    """Each tensor's use steps, ascending: its writer's step (if written), then its reads."""
    out = []
    for a in range(graph.n):
        at = sorted({step[o] for o in graph.readers[a]})
        p = graph.producer[a]
        out.append(([step[p]] if p >= 0 else []) + at)
    return out


def stored(graph: Graph, a: int) -> bool:
    """True when spilling tensor ``a`` costs a store (written on chip, not a graph output)."""
    return graph.producer[a] >= 0 and not graph.output[a]


def cost(graph: Graph, a: int, loads: int) -> int:
    """Non-compulsory bytes of tensor ``a`` resident in ``loads + 1`` segments.

    ``loads`` of them are reloads: the first creates it, or is a graph input's
    compulsory load.
    """
    if loads <= 0:
        return 0
    return graph.sizes[a] * (loads + (1 if stored(graph, a) else 0))


def topological(graph: Graph, order: Sequence[int]) -> bool:
    """True when every operator comes after the writers of what it reads."""
    step = steps_of(order, len(graph.reads))
    return all(graph.producer[a] < 0 or step[graph.producer[a]] < step[o]
               for o in range(len(graph.reads)) for a in graph.reads[o])
