"""The count structure shared by the CP-SAT and MILP models of pods.

One integer per (pod class, node) pair: how many pods of the class go to the node (the
model: ``docs/methods/pods-count-model.md``). This module builds the classes and pairs;
the objective's digits are in :mod:`.objective`; the symmetry between identical nodes and
the conversion of solutions to and from counts in :mod:`.symmetry`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optsched.compiled import IntArray
from optsched.deadline import Deadline
from optsched.options import Option, OptionSet
from optsched.params import SolveParams
from optsched.problems.pods.counts.objective import Term, make_terms
from optsched.problems.pods.counts.symmetry import (
    SYMMETRY,
    find_orbits,
    node_signature,
    symmetry_keys,
)
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.objects import PodGroup
from optsched.problems.pods.quantity import MAX_AMOUNT
from optsched.problems.pods.state import node_filter_signature

OBJECTIVES = ("auto", "weighted", "staged")
"""How a model treats the lexicographic objective (see ``docs/methods/pods-count-model.md``)."""


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


class PairIndex:
    """The pair of a (class, node), found by bisection in the sorted pairs.

    A dict of millions of pairs takes seconds to build; this takes one array.
    """

    def __init__(self, pair_class: IntArray, pair_node: IntArray, n_nodes: int) -> None:
        self.keys = pair_class * max(n_nodes, 1) + pair_node  # ascending: by class, node
        self.n_nodes = max(n_nodes, 1)

    def get(self, key: tuple[int, int]) -> int | None:
        """The pair of ``(class, node)``, or None when the model has none."""
        c, n = key
        if not 0 <= n < self.n_nodes:
            return None
        want = c * self.n_nodes + n
        p = int(np.searchsorted(self.keys, want))
        return p if p < len(self.keys) and int(self.keys[p]) == want else None

    def __contains__(self, key: tuple[int, int]) -> bool:
        return self.get(key) is not None

    def __getitem__(self, key: tuple[int, int]) -> int:
        p = self.get(key)
        if p is None:
            raise KeyError(key)
        return p


@dataclass(frozen=True, eq=False)
class Counts:
    """Classes, the (class, node) pairs that may hold pods, capacities and the objective.

    Pairs are sorted by class, then node; ``pair_ub`` is the most pods of the
    class the node can take (capacity, anti-affinity, class size).
    ``capacity[n, r]`` is what node ``n`` has left for resource ``r`` once the
    fixed pods are counted, in the units of ``need`` (divided by the
    resource's gcd) and at most ``demand[r]``, what all the classes together
    request (so no coefficient grows beyond what the pods need); ``rows``
    lists the (node, resource) pairs whose capacity can bind. ``conflicts``
    lists, per anti-affinity key and node, the pairs whose pods exclude each
    other (``sum <= 1``), when there are two or more.
    """

    instance: PodsInstance
    classes: tuple[PodClass, ...]
    fixed: tuple[PodClass, ...]
    need: IntArray
    capacity: IntArray
    demand: tuple[int, ...]
    pair_class: IntArray
    pair_node: IntArray
    pair_ub: IntArray
    conflicts: tuple[tuple[int, ...], ...]
    orbits: tuple[tuple[int, ...], ...]
    min_placed: tuple[int, ...]
    terms: tuple[Term, ...]

    @cached_property
    def rows(self) -> tuple[tuple[int, int], ...]:
        """The (node, resource) capacities that the pairs' upper bounds could exceed."""
        most = np.zeros_like(self.capacity, dtype=np.float64)
        for r in range(len(self.demand)):
            most[:, r] = np.bincount(self.pair_node, minlength=len(most), weights=(
                self.need[self.pair_class, r].astype(np.float64) * self.pair_ub))
        binding = np.argwhere(most > self.capacity.astype(np.float64) * (1 - 1e-9))
        return tuple((int(n), int(r)) for n, r in binding)

    @cached_property
    def sym_key(self) -> IntArray:
        """Per pair, the weight of its pods in the ``load`` symmetry breaking."""
        return symmetry_keys(self.need, self.capacity, self.pair_class, self.pair_node)

    @cached_property
    def sizes(self) -> IntArray:
        """Per class, its number of pods."""
        return np.array([k.size for k in self.classes], dtype=np.int64)

    @cached_property
    def index(self) -> PairIndex:
        """(class, node) -> pair."""
        return PairIndex(self.pair_class, self.pair_node, len(self.instance.nodes))

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
        Summed in Python integers: the nodes' capacities together may pass
        int64 (amounts go up to :data:`MAX_AMOUNT`, 2^62); a total beyond
        that is left to the per-node rows (no 64-bit solver could state it).
        """
        used = np.unique(self.pair_node).tolist()
        out = []
        for r, demand in enumerate(self.demand):
            total = sum(int(self.capacity[n, r]) for n in used)
            if total < demand and total <= MAX_AMOUNT:
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


def _classes(instance: PodsInstance, check: Callable[[], None]
             ) -> tuple[list[PodClass], list[PodClass]]:
    """Group the pods into classes; return (decided classes, fixed classes).

    ``check`` is called before each group (150,000 groups take 1 s).
    """
    resources = instance.resources
    level = {p: i for i, p in enumerate(instance.priorities)}
    node_of = {n.name: j for j, n in enumerate(instance.nodes)}
    members: dict[tuple[Any, ...], list[PodGroup]] = {}
    for group in instance.groups:
        check()
        fixed = group.node is not None and (group.protected or not (
            instance.allow_moves or instance.allow_evictions))
        need = tuple(instance.requests(group).get(r, 0) for r in resources)
        key = (need, group.priority, node_filter_signature(group), group.anti_affinity,
               group.node, fixed)
        members.setdefault(key, []).append(group)
    free: list[PodClass] = []
    fixed_classes: list[PodClass] = []
    for (need, priority, _, anti, home, fixed), groups in members.items():
        klass = PodClass(tuple(p for g in groups for p in g.pod_names), need, level[priority],
                         None if home is None else node_of[home], anti, groups[0])
        (fixed_classes if fixed else free).append(klass)
    return free, fixed_classes


def build_counts(instance: PodsInstance, deadline: Deadline | None = None) -> Counts:
    """Classes, pairs, capacities, orbits and objective terms of ``instance``.

    Between its steps (each a fraction of a second at millions of pairs) the build
    looks at ``deadline`` and raises :class:`~optsched.deadline.OutOfTimeError` once
    it has passed.
    """
    check = deadline.check if deadline is not None else _never
    classes, fixed = _classes(instance, check)
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
    demand = tuple(sum(int(a) * k.size for a, k in zip(need[:, r].tolist(), classes,
                                                        strict=True)) for r in range(n_res))
    capacity = np.minimum(left // divisor,
                          np.array([min(d, MAX_AMOUNT) for d in demand], dtype=np.int64))
    eligible = _eligible(instance, classes)
    check()
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
    check()
    pair_class, pair_node = np.nonzero(ub)
    pair_ub = ub[pair_class, pair_node].astype(np.int64)
    conflicts = _conflicts(classes, pair_class, pair_node)
    check()
    return Counts(
        instance=instance, classes=tuple(classes), fixed=tuple(fixed), need=need,
        capacity=capacity, demand=demand, pair_class=pair_class.astype(np.int64),
        pair_node=pair_node.astype(np.int64), pair_ub=pair_ub, conflicts=conflicts,
        orbits=find_orbits(instance, classes, fixed),
        min_placed=tuple(k.size if k.home is not None and not instance.allow_evictions else 0
                         for k in classes),
        terms=make_terms(instance, classes))


def _eligible(instance: PodsInstance, classes: Sequence[PodClass]) -> NDArray[np.bool_]:
    """``can_start_on`` per (class, node), computed once per distinct (spec, node spec)."""
    node_specs: dict[tuple[Any, ...], int] = {}
    node_index = np.array([node_specs.setdefault(node_signature(n), len(node_specs))
                           for n in instance.nodes], dtype=np.int64)
    first = {s: next(n for n, i in zip(instance.nodes, node_index, strict=True) if i == s)
             for s in node_specs.values()}
    specs: dict[tuple[Any, ...], int] = {}
    class_index = [specs.setdefault(node_filter_signature(k.spec), len(specs)) for k in classes]
    reps = {i: k.spec for k, i in zip(classes, class_index, strict=True)}
    table = np.array([[reps[i].can_start_on(first[s]) for s in range(len(node_specs))]
                      for i in range(len(specs))], dtype=np.bool_).reshape(len(specs),
                                                                           len(node_specs))
    return table[np.array(class_index, dtype=np.int64)][:, node_index].reshape(
        len(classes), len(instance.nodes))


def _never() -> None:
    """No deadline to look at."""


def _conflicts(classes: Sequence[PodClass], pair_class: IntArray, pair_node: IntArray
               ) -> tuple[tuple[int, ...], ...]:
    """Per anti-affinity key and node with two or more pairs of that key: those pairs.

    Classes with a key hold at most one pod per node (their ``pair_ub`` is 1),
    and two pods of one key exclude each other on a node, so the models
    state ``sum <= 1`` over each group returned here.
    """
    groups: dict[tuple[str, int], list[int]] = defaultdict(list)
    keyed = np.array([k.key is not None for k in classes], dtype=np.bool_)
    for p in np.flatnonzero(keyed[pair_class]) if len(classes) else ():
        key = classes[pair_class[p]].key
        assert key is not None
        groups[key, int(pair_node[p])].append(int(p))
    return tuple(tuple(ps) for ps in groups.values() if len(ps) > 1)


MODEL_OPTIONS = OptionSet((
    Option("objective", str, OBJECTIVES[0], "the lexicographic objective as one weighted sum, "
                                            "or staged by blocks of levels (CP-SAT); auto: "
                                            "staged only when the sum would not fit", OBJECTIVES),
    Option("symmetry", str, SYMMETRY[0], "symmetry breaking between identical empty nodes: "
                                         "fix counts, order loads, or none", SYMMETRY),
))
"""The options of both count models (``-m``)."""

CP_OPTIONS = OptionSet((
    *MODEL_OPTIONS.options,
    Option("pack", float, 0.6, "most of the time left that drop-and-pack (choose the pods left "
                               "pending, anneal the others onto the nodes) may spend improving "
                               "the hint before CP-SAT starts; 0: off", low=0.0, high=1.0),
))
"""The options of the CP-SAT count model (``-m``)."""


def options(params: SolveParams) -> tuple[str, str]:
    """``(objective, symmetry)`` from ``SolveParams.model`` (checked by ``solve()``)."""
    model = MODEL_OPTIONS.resolve(params.model)
    return str(model["objective"]), str(model["symmetry"])
