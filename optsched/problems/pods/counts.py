"""The count structure shared by the CP-SAT and MILP models of pods.

Pods with the same spec (requests, priority, selector, affinity,
tolerations, anti-affinity key, running node and protection) are
interchangeable, so a model decides only *how many* pods of each class go to
each node: one integer per (class, node) pair. For a class of running pods
the count on its own node is the number that stay, the counts elsewhere are
moves and what is left unplaced is evicted. Protected pods (and running pods
that may neither move nor be evicted) are fixed: they only take capacity.

A pair exists only where one pod of the class fits the node's capacity left
by the fixed pods and passes :meth:`PodGroup.can_start_on` (a running pod's
own node always counts); a class with no pair is never placeable and its
cost is a constant. Nodes that are identical (allocatable, labels, taints,
schedulability) and run no pod form an *orbit*: permuting their counts maps
solutions to solutions of the same cost, so the models break that symmetry (see
:data:`SYMMETRY`), and :meth:`Counts.hint_counts` reorders a hint's nodes to
comply (CP-SAT drops a hint that breaks a constraint, silently).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optsched.errors import InputError
from optsched.params import SolveParams
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.objects import Node, PodGroup
from optsched.problems.pods.solution import PodsSolution, make

IntArray = NDArray[np.int64]
SYMMETRY = ("fix", "load", "none")
"""Symmetry breaking between identical nodes: ``fix`` (default) puts the ``i``-th
class of one pod on one of the orbit's first ``i + 1`` nodes (variable fixings,
the orbitope fixing CP-SAT's presolve would do itself, but compatible with the
hint); ``load`` orders the orbit's nodes by non-increasing load (a chain of
linear cuts); ``none`` leaves it to the solver."""
OBJECTIVES = ("auto", "weighted", "staged")
"""How a model treats the lexicographic objective (see :mod:`.cp`)."""
SYMMETRY_SCALE = 1000
"""A pod's symmetry key is its per-mille share of each resource of the node, summed."""


@dataclass(frozen=True)
class PodClass:
    """Interchangeable pods: ``home`` is the node index they run on (None if pending)."""

    pods: tuple[str, ...]
    need: tuple[int, ...]
    level: int
    home: int | None
    key: str | None
    spec: PodGroup

    @property
    def size(self) -> int:
        """The number of pods in the class."""
        return len(self.pods)


@dataclass(frozen=True)
class Term:
    """One digit of the lexicographic objective: ``weight * (constant + sum coef * var)``.

    ``placed[c]`` multiplies the pods of class ``c`` that are placed,
    ``stay[c]`` the ones that stay on their node; ``top`` is the largest value.
    """

    name: str
    weight: int
    constant: int
    placed: tuple[int, ...]
    stay: tuple[int, ...]
    top: int


@dataclass(frozen=True, eq=False)
class Counts:
    """Classes, the (class, node) pairs that may hold pods, capacities and the objective.

    Pairs are sorted by class, then node; ``pair_ub`` is the most pods of the
    class the node can take (capacity, anti-affinity, class size).
    ``capacity[n, r]`` is what node ``n`` has left for resource ``r`` once the
    fixed pods are counted, in the units of ``need`` (divided by the
    resource's gcd); ``rows`` lists the (node, resource) pairs whose capacity
    can bind. ``conflicts`` lists, per anti-affinity key and node, the pairs
    whose pods exclude each other (``sum <= 1``), when there are two or more.
    """

    instance: PodsInstance
    classes: tuple[PodClass, ...]
    fixed: tuple[PodClass, ...]
    need: IntArray
    capacity: IntArray
    pair_class: IntArray
    pair_node: IntArray
    pair_ub: IntArray
    rows: tuple[tuple[int, int], ...]
    conflicts: tuple[tuple[int, ...], ...]
    orbits: tuple[tuple[int, ...], ...]
    sym_key: IntArray
    min_placed: tuple[int, ...]
    terms: tuple[Term, ...]

    @cached_property
    def index(self) -> dict[tuple[int, int], int]:
        """(class, node) -> pair."""
        return {(int(c), int(n)): p for p, (c, n) in enumerate(zip(
            self.pair_class.tolist(), self.pair_node.tolist(), strict=True))}

    @cached_property
    def stay_pair(self) -> dict[int, int]:
        """Class index -> the pair of its running pods' own node."""
        return {c: self.index[c, k.home] for c, k in enumerate(self.classes)
                if k.home is not None}

    @cached_property
    def aggregate(self) -> list[tuple[int, int]]:
        """``(resource, total capacity)`` where the classes ask for more than all nodes have.

        ``sum_c need[c, r] * placed[c] <= total`` is implied by the per-node
        rows; stated over the placed totals it gives the solver a knapsack.
        """
        used = np.unique(self.pair_node)
        sizes = np.array([k.size for k in self.classes], dtype=np.float64)
        out = []
        for r in range(self.capacity.shape[1]):
            total = int(self.capacity[used, r].sum())
            if float(self.need[:, r].astype(np.float64) @ sizes) > total:
                out.append((r, total))
        return out

    @cached_property
    def by_node(self) -> list[IntArray]:
        """Per node, its pairs."""
        order = np.argsort(self.pair_node, kind="stable")
        bounds = np.searchsorted(self.pair_node[order], np.arange(len(self.instance.nodes) + 1))
        return [order[bounds[n]:bounds[n + 1]] for n in range(len(self.instance.nodes))]

    @property
    def top(self) -> int:
        """The largest objective value (every pod pending, every running pod evicted)."""
        return sum(t.weight * t.top for t in self.terms)

    def objective(self, terms: tuple[Term, ...] | None = None
                  ) -> tuple[int, list[int], list[int]]:
        """``(constant, per-class placed coefficient, per-class stay coefficient)``.

        ``terms`` (default all) is a block of consecutive terms; the weights
        are divided by the block's last weight, so the block's value is in
        units of its least significant digit.
        """
        block = self.terms if terms is None else terms
        unit = block[-1].weight
        constant = sum(t.weight // unit * t.constant for t in block)
        placed = [sum(t.weight // unit * t.placed[c] for t in block)
                  for c in range(len(self.classes))]
        stay = [sum(t.weight // unit * t.stay[c] for t in block)
                for c in range(len(self.classes))]
        return constant, placed, stay

    def value(self, counts: IntArray, terms: tuple[Term, ...] | None = None) -> int:
        """The objective (or a block's value) of per-pair counts."""
        constant, placed, stay = self.objective(terms)
        per_class = np.bincount(self.pair_class, weights=counts, minlength=len(self.classes))
        total = constant + sum(int(k) * p for k, p in zip(per_class.astype(np.int64), placed,
                                                          strict=True))
        for c, pair in self.stay_pair.items():
            total += int(counts[pair]) * stay[c]
        return total

    @cached_property
    def singletons(self) -> list[list[int]]:
        """Per orbit, the classes of one pod that may go to its nodes (the orbitope's rows)."""
        return [[c for c, k in enumerate(self.classes)
                 if k.size == 1 and (c, orbit[0]) in self.index] for orbit in self.orbits]

    def fixed_to_zero(self) -> list[int]:
        """The pairs the ``fix`` symmetry breaking sets to 0.

        In an orbit of identical nodes ``n_0, n_1, ...``, the ``i``-th class
        of one pod goes to a node among ``n_0 .. n_i`` or nowhere: order any
        solution's nodes by the first such class they hold and it complies.
        """
        out = []
        for orbit, rows in zip(self.orbits, self.singletons, strict=True):
            for i, c in enumerate(rows):
                out += [self.index[c, n] for n in orbit[i + 1:]]
        return out

    def load_cuts(self) -> list[tuple[IntArray, IntArray]]:
        """The ``load`` symmetry breaking as ``(pairs, coefficients)`` of linear cuts.

        One cut ``load(a) - load(b) >= 0`` per consecutive nodes ``a, b`` of an
        orbit, with ``load(n) = sum_c sym_key[c, n] * x[c, n]``.
        """
        out = []
        for orbit in self.orbits:
            for a, b in itertools.pairwise(orbit):
                pairs = np.concatenate([self.by_node[a], self.by_node[b]])
                if len(pairs):
                    coeffs = np.concatenate([self.sym_key[self.by_node[a]],
                                             -self.sym_key[self.by_node[b]]])
                    out.append((pairs, coeffs))
        return out

    def hint_counts(self, solution: PodsSolution, symmetry: str) -> IntArray | None:
        """The per-pair counts of ``solution``, its identical nodes reordered to meet the cuts.

        Within each orbit the nodes are sorted by the first one-pod class they
        hold (``fix``) or by non-increasing symmetry load (``load``), ties in
        their order. Returns None when the solution uses a pair the model does
        not have (an infeasible hint).
        """
        index = self.index
        node_of = {n.name: j for j, n in enumerate(self.instance.nodes)}
        pod_class = {pod: c for c, k in enumerate(self.classes) for pod in k.pods}
        tally: Counter[tuple[int, int]] = Counter()
        for pod, node in solution.assignment.items():
            if node is not None and pod in pod_class:
                tally[pod_class[pod], node_of[node]] += 1
        if any(cn not in index for cn in tally):
            return None
        rank: dict[int, float] = defaultdict(float)
        for orbit, rows in zip(self.orbits, self.singletons, strict=True):
            if symmetry == "fix":
                rank.update(dict.fromkeys(orbit, math.inf))
                for i, c in reversed(list(enumerate(rows))):
                    for n in orbit:
                        if tally[c, n]:
                            rank[n] = i
            elif symmetry == "load":
                for (c, n), k in tally.items():
                    if n in orbit:
                        rank[n] -= k * int(self.sym_key[index[c, n]])
        moved: dict[int, int] = {}
        for orbit in self.orbits:
            moved.update(zip(sorted(orbit, key=lambda n: rank[n]), orbit, strict=True))
        counts = np.zeros(len(self.pair_class), dtype=np.int64)
        for (c, n), k in tally.items():
            target = (c, moved.get(n, n))
            if target not in index or k > self.pair_ub[index[target]]:
                return None
            counts[index[target]] = k
        return counts

    def decode(self, counts: IntArray) -> PodsSolution:
        """Name the pods: staying pods keep their node, the others fill the counts in order."""
        nodes = self.instance.nodes
        assignment: dict[str, str | None] = {}
        for klass in self.fixed:
            assert klass.home is not None
            assignment.update(dict.fromkeys(klass.pods, nodes[klass.home].name))
        per_class: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for p in np.flatnonzero(counts):
            per_class[int(self.pair_class[p])].append((int(self.pair_node[p]), int(counts[p])))
        for c, klass in enumerate(self.classes):
            spots = sorted(per_class[c], key=lambda nk: nk[0] != klass.home)
            names = [nodes[n].name for n, k in spots for _ in range(k)]
            if len(names) > klass.size:
                raise ValueError(f"class of {klass.pods[0]} gets {len(names)} places for "
                                 f"{klass.size} pods")
            assignment.update(zip(klass.pods, names + [None] * (klass.size - len(names)),
                                  strict=True))
        return make(self.instance, assignment)


def _spec(group: PodGroup) -> tuple[Any, ...]:
    return (tuple(sorted(group.node_selector.items())), group.node_affinity, group.tolerations)


def _node_spec(node: Node) -> tuple[Any, ...]:
    return (tuple(sorted(node.labels.items())), node.taints, node.unschedulable)


def _classes(instance: PodsInstance) -> tuple[list[PodClass], list[PodClass]]:
    """Group the pods into classes; return (decided classes, fixed classes)."""
    resources = instance.resources
    level = {p: i for i, p in enumerate(instance.priorities)}
    node_of = {n.name: j for j, n in enumerate(instance.nodes)}
    members: dict[tuple[Any, ...], list[PodGroup]] = {}
    for group in instance.groups:
        fixed = group.node is not None and (group.protected or not (
            instance.allow_moves or instance.allow_evictions))
        need = tuple(instance.requests(group).get(r, 0) for r in resources)
        key = (need, group.priority, _spec(group), group.anti_affinity, group.node, fixed)
        members.setdefault(key, []).append(group)
    free: list[PodClass] = []
    fixed_classes: list[PodClass] = []
    for (need, priority, _, anti, home, fixed), groups in members.items():
        klass = PodClass(tuple(p for g in groups for p in g.pod_names), need, level[priority],
                         None if home is None else node_of[home], anti, groups[0])
        (fixed_classes if fixed else free).append(klass)
    return free, fixed_classes


def build_counts(instance: PodsInstance) -> Counts:
    """Classes, pairs, capacities, orbits and objective terms of ``instance``."""
    classes, fixed = _classes(instance)
    nodes = instance.nodes
    n_nodes, n_res, n_cls = len(nodes), len(instance.resources), len(classes)
    alloc = np.array([[n.allocatable.get(r, 0) for r in instance.resources] for n in nodes],
                     dtype=np.int64).reshape(n_nodes, n_res)
    need = np.array([k.need for k in classes], dtype=np.int64).reshape(n_cls, n_res)
    used = np.zeros_like(alloc)
    taken: set[tuple[int, str]] = set()
    for klass in fixed:
        assert klass.home is not None
        used[klass.home] += np.array(klass.need, dtype=np.int64) * klass.size
        if klass.key is not None:
            taken.add((klass.home, klass.key))
    left = alloc - used
    # Divide each resource by the gcd of the requests: smaller coefficients, same constraints.
    divisor = np.array([math.gcd(*(int(v) for v in need[:, r])) or 1 for r in range(n_res)],
                       dtype=np.int64)
    need = need // divisor
    capacity = left // divisor
    eligible = _eligible(instance, classes)
    with np.errstate(divide="ignore"):
        fits = np.where(need[:, None, :] > 0,
                        capacity[None, :, :] // np.maximum(need[:, None, :], 1),
                        np.iinfo(np.int64).max).min(axis=2)
    sizes = np.array([k.size for k in classes], dtype=np.int64)
    ub = np.minimum(fits, sizes[:, None]) * eligible
    for c, klass in enumerate(classes):
        if klass.home is not None:
            if not instance.allow_moves:
                ub[c] = 0
            ub[c, klass.home] = klass.size
        if klass.key is not None:
            ub[c] = np.minimum(ub[c], 1)
            for n in range(n_nodes):
                if (n, klass.key) in taken:
                    ub[c, n] = 0
    pair_class, pair_node = np.nonzero(ub)
    pair_ub = ub[pair_class, pair_node].astype(np.int64)
    return Counts(
        instance=instance, classes=tuple(classes), fixed=tuple(fixed), need=need,
        capacity=capacity, pair_class=pair_class.astype(np.int64),
        pair_node=pair_node.astype(np.int64), pair_ub=pair_ub,
        rows=_rows(need, capacity, pair_class, pair_node, pair_ub),
        conflicts=_conflicts(classes, pair_class, pair_node),
        orbits=_orbits(instance, classes, fixed),
        sym_key=_sym_key(need, capacity, pair_class, pair_node),
        min_placed=tuple(k.size if k.home is not None and not instance.allow_evictions else 0
                         for k in classes),
        terms=_terms(instance, classes))


def _eligible(instance: PodsInstance, classes: list[PodClass]) -> NDArray[np.bool_]:
    """``can_start_on`` per (class, node), computed once per distinct (spec, node spec)."""
    node_specs: dict[tuple[Any, ...], int] = {}
    node_index = np.array([node_specs.setdefault(_node_spec(n), len(node_specs))
                           for n in instance.nodes], dtype=np.int64)
    first = {s: next(n for n, i in zip(instance.nodes, node_index, strict=True) if i == s)
             for s in node_specs.values()}
    specs: dict[tuple[Any, ...], int] = {}
    class_index = [specs.setdefault(_spec(k.spec), len(specs)) for k in classes]
    reps = {i: k.spec for k, i in zip(classes, class_index, strict=True)}
    table = np.array([[reps[i].can_start_on(first[s]) for s in range(len(node_specs))]
                      for i in range(len(specs))], dtype=np.bool_).reshape(len(specs),
                                                                           len(node_specs))
    return table[np.array(class_index, dtype=np.int64)][:, node_index].reshape(
        len(classes), len(instance.nodes))


def _rows(need: IntArray, capacity: IntArray, pair_class: IntArray, pair_node: IntArray,
          pair_ub: IntArray) -> tuple[tuple[int, int], ...]:
    """The (node, resource) capacities that the pairs' upper bounds could exceed."""
    most = np.zeros(capacity.shape, dtype=np.float64)
    np.add.at(most, pair_node, need[pair_class].astype(np.float64) * pair_ub[:, None])
    binding = np.argwhere(most > capacity.astype(np.float64) * (1 - 1e-9))
    return tuple((int(n), int(r)) for n, r in binding)


def _conflicts(classes: list[PodClass], pair_class: IntArray, pair_node: IntArray
               ) -> tuple[tuple[int, ...], ...]:
    groups: dict[tuple[str, int], list[int]] = defaultdict(list)
    keyed = np.array([k.key is not None for k in classes], dtype=np.bool_)
    for p in np.flatnonzero(keyed[pair_class]) if len(classes) else ():
        key = classes[pair_class[p]].key
        assert key is not None
        groups[key, int(pair_node[p])].append(int(p))
    return tuple(tuple(ps) for ps in groups.values() if len(ps) > 1)


def _orbits(instance: PodsInstance, classes: list[PodClass], fixed: list[PodClass]
            ) -> tuple[tuple[int, ...], ...]:
    """Groups of two or more identical nodes that run no pod, in node order."""
    busy = {k.home for k in (*classes, *fixed) if k.home is not None}
    orbits: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for j, node in enumerate(instance.nodes):
        if j not in busy:
            orbits[(tuple(sorted(node.allocatable.items())), _node_spec(node))].append(j)
    return tuple(tuple(o) for o in orbits.values() if len(o) > 1)


def _sym_key(need: IntArray, capacity: IntArray, pair_class: IntArray, pair_node: IntArray
             ) -> IntArray:
    """Per pair: the pod's per-mille share of each resource of the node, summed (>= 1)."""
    cap = capacity[pair_node].astype(np.float64)
    share = np.ceil(SYMMETRY_SCALE * need[pair_class] / np.maximum(cap, 1.0))
    key: IntArray = np.maximum(np.where(cap > 0, share, 0.0).sum(axis=1), 1).astype(np.int64)
    return key


def _terms(instance: PodsInstance, classes: list[PodClass]) -> tuple[Term, ...]:
    """The digits of :attr:`PodsInstance.weights` as functions of placed and staying counts.

    Level ``l`` counts its unplaced pods: the decided ones not placed plus the
    fixed ones (always placed, so none). Evictions are the running pods not
    placed; moves are the running pods placed but not on their own node.
    """
    levels, evict, move = instance.weights
    totals = Counter(g.priority for g in instance.groups for _ in g.pod_names)
    zeros = (0,) * len(classes)
    terms = []
    for i, (weight, priority) in enumerate(zip(levels, instance.priorities, strict=True)):
        mine = [k.level == i for k in classes]
        terms.append(Term(f"pending[{priority}]", weight,
                          sum(k.size for k, m in zip(classes, mine, strict=True) if m),
                          tuple(-int(m) for m in mine), zeros, totals[priority]))
    running = [k.home is not None for k in classes]
    movable = sum(g.replicas for g in instance.groups if g.node is not None and not g.protected)
    terms.append(Term("evicted", evict,
                      sum(k.size for k, r in zip(classes, running, strict=True) if r),
                      tuple(-int(r) for r in running), zeros, movable))
    terms.append(Term("moved", move, 0, tuple(int(r) for r in running),
                      tuple(-int(r) for r in running), movable))
    return tuple(terms)


def blocks(terms: tuple[Term, ...], limit: int) -> list[tuple[Term, ...]]:
    """Split the terms into consecutive blocks whose values stay at most ``limit``.

    A block's value is ``sum (weight / last weight) * term``, at most the
    product of ``top + 1`` over its terms minus one (mixed radix).
    """
    out: list[list[Term]] = []
    span = limit + 1
    for term in terms:
        if out and span * (term.top + 1) <= limit + 1:
            out[-1].append(term)
            span *= term.top + 1
        else:
            out.append([term])
            span = term.top + 1
    return [tuple(b) for b in out]


def options(params: SolveParams) -> tuple[str, str]:
    """``(objective, symmetry)`` from ``SolveParams.model``, checked."""
    unknown = set(params.model) - {"objective", "symmetry"}
    if unknown:
        raise InputError(f"model.{sorted(unknown)[0]}", "is not a pods model option "
                                                        "(known: objective, symmetry)")
    objective = params.model.get("objective", OBJECTIVES[0])
    if objective not in OBJECTIVES:
        raise InputError("model.objective", f"must be one of {', '.join(OBJECTIVES)}, "
                                            f"got {objective!r}")
    symmetry = params.model.get("symmetry", SYMMETRY[0])
    if symmetry not in SYMMETRY:
        raise InputError("model.symmetry", f"must be one of {', '.join(SYMMETRY)}, "
                                           f"got {symmetry!r}")
    return str(objective), str(symmetry)
