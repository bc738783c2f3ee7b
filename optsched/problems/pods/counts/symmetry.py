"""Symmetry between identical nodes in the pods count models; solutions to and from counts.

Nodes that are identical (allocatable, labels, taints, schedulability) and
run no pod form an *orbit*: permuting their counts maps solutions to
solutions of the same cost, so the models break that symmetry (see
:data:`SYMMETRY`), and :func:`hint_counts` reorders a hint's nodes to comply
(CP-SAT drops a hint that breaks a constraint, silently); :func:`decode`
names the pods of a model's counts.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from optsched.compiled import IntArray
from optsched.problems.pods.solution import PodsSolution, make

if TYPE_CHECKING:
    from optsched.problems.pods.counts.structure import Counts, PodClass
    from optsched.problems.pods.instance import PodsInstance
    from optsched.problems.pods.objects import Node

SYMMETRY = ("fix", "load", "none")
"""Symmetry breaking between identical nodes: ``fix`` (default) puts the ``i``-th
class of one pod on one of the orbit's first ``i + 1`` nodes (variable fixings,
the orbitope fixing CP-SAT's presolve would do itself, but compatible with the
hint); ``load`` orders the orbit's nodes by non-increasing load (a chain of
linear cuts); ``none`` leaves it to the solver."""
SYMMETRY_SCALE = 1000
"""A pod's symmetry key is its per-mille share of each resource of the node, summed."""


def node_signature(node: Node) -> tuple[object, ...]:
    """What :meth:`PodGroup.can_start_on` reads of a node: labels, taints, schedulability.

    Nodes with equal signatures accept the same pods (capacity apart).
    """
    return (tuple(sorted(node.labels.items())), node.taints, node.unschedulable)


def find_orbits(instance: PodsInstance, classes: Sequence[PodClass],
                fixed: Sequence[PodClass]) -> tuple[tuple[int, ...], ...]:
    """Groups of two or more identical nodes that run no pod, in node order."""
    busy = {k.home for k in (*classes, *fixed) if k.home is not None}
    orbits: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for j, node in enumerate(instance.nodes):
        if j not in busy:
            orbits[(tuple(sorted(node.allocatable.items())), node_signature(node))].append(j)
    return tuple(tuple(o) for o in orbits.values() if len(o) > 1)


def symmetry_keys(need: IntArray, capacity: IntArray, pair_class: IntArray,
                  pair_node: IntArray) -> IntArray:
    """Per pair: the pod's per-mille share of each resource of the node, summed (>= 1)."""
    cap = capacity[pair_node].astype(np.float64)
    share = np.ceil(SYMMETRY_SCALE * need[pair_class] / np.maximum(cap, 1.0))
    key: IntArray = np.maximum(np.where(cap > 0, share, 0.0).sum(axis=1), 1).astype(np.int64)
    return key


def singletons(counts: Counts) -> list[list[int]]:
    """Per orbit, the classes of one pod that may go to its nodes (the orbitope's rows)."""
    return [[c for c, k in enumerate(counts.classes)
             if k.size == 1 and (c, orbit[0]) in counts.index] for orbit in counts.orbits]


def fixed_to_zero(counts: Counts) -> list[int]:
    """The pairs the ``fix`` symmetry breaking sets to 0.

    In an orbit of identical nodes ``n_0, n_1, ...``, the ``i``-th class
    of one pod goes to a node among ``n_0 .. n_i`` or nowhere: order any
    solution's nodes by the first such class they hold and it complies.
    """
    out = []
    for orbit, rows in zip(counts.orbits, singletons(counts), strict=True):
        for i, c in enumerate(rows):
            out += [counts.index[c, n] for n in orbit[i + 1:]]
    return out


def load_cuts(counts: Counts) -> list[tuple[IntArray, IntArray]]:
    """The ``load`` symmetry breaking as ``(pairs, coefficients)`` of linear cuts.

    One cut ``load(a) - load(b) >= 0`` per consecutive nodes ``a, b`` of an
    orbit, with ``load(n) = sum_c sym_key[c, n] * x[c, n]``.
    """
    out = []
    by_node = counts.by_node
    for orbit in counts.orbits:
        for a, b in itertools.pairwise(orbit):
            pairs = np.concatenate([by_node[a], by_node[b]])
            if len(pairs):
                coeffs = np.concatenate([counts.sym_key[by_node[a]],
                                         -counts.sym_key[by_node[b]]])
                out.append((pairs, coeffs))
    return out


def hint_counts(counts: Counts, solution: PodsSolution, symmetry: str) -> IntArray | None:
    """The per-pair counts of ``solution``, its identical nodes reordered to meet the cuts.

    Within each orbit the nodes are sorted by the first one-pod class they
    hold (``fix``) or by non-increasing symmetry load (``load``), ties in
    their order. Returns None when the solution uses a pair the model does
    not have (an infeasible hint).
    """
    index = counts.index
    node_of = {n.name: j for j, n in enumerate(counts.instance.nodes)}
    pod_class = {pod: c for c, k in enumerate(counts.classes) for pod in k.pods}
    tally: Counter[tuple[int, int]] = Counter()
    for pod, node in solution.assignment.items():
        if node is not None and pod in pod_class:
            tally[pod_class[pod], node_of[node]] += 1
    if any(cn not in index for cn in tally):
        return None
    rank: dict[int, float] = defaultdict(float)
    for orbit, rows in zip(counts.orbits, singletons(counts), strict=True):
        if symmetry == "fix":
            rank.update(dict.fromkeys(orbit, math.inf))
            for i, c in reversed(list(enumerate(rows))):
                for n in orbit:
                    if tally[c, n]:
                        rank[n] = i
        elif symmetry == "load":
            for (c, n), k in tally.items():
                if n in orbit:
                    rank[n] -= k * int(counts.sym_key[index[c, n]])
    moved: dict[int, int] = {}
    for orbit in counts.orbits:
        moved.update(zip(sorted(orbit, key=lambda n: rank[n]), orbit, strict=True))
    x = np.zeros(len(counts.pair_class), dtype=np.int64)
    for (c, n), k in tally.items():
        target = (c, moved.get(n, n))
        if target not in index or k > counts.pair_ub[index[target]]:
            return None
        x[index[target]] = k
    return x


def decode(counts: Counts, x: IntArray) -> PodsSolution:
    """Name the pods of per-pair counts ``x``.

    Fixed pods stay; in each class, staying pods keep their node and the
    others fill the counts in node order; the rest are unplaced.
    """
    nodes = counts.instance.nodes
    assignment: dict[str, str | None] = {}
    for klass in counts.fixed:
        assert klass.home is not None
        assignment.update(dict.fromkeys(klass.pods, nodes[klass.home].name))
    per_class: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for p in np.flatnonzero(x):
        per_class[int(counts.pair_class[p])].append((int(counts.pair_node[p]), int(x[p])))
    for c, klass in enumerate(counts.classes):
        spots = sorted(per_class[c], key=lambda nk: nk[0] != klass.home)
        names = [nodes[n].name for n, k in spots for _ in range(k)]
        if len(names) > klass.size:
            raise ValueError(f"class of {klass.pods[0]} gets {len(names)} places for "
                             f"{klass.size} pods")
        assignment.update(zip(klass.pods, names + [None] * (klass.size - len(names)),
                              strict=True))
    return make(counts.instance, assignment)
