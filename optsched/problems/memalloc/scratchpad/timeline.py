"""When each tensor is used under an order, and the costs every solver and the checker share."""

from __future__ import annotations

from collections.abc import Sequence

from optsched.problems.memalloc.scratchpad.instance import Graph


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
