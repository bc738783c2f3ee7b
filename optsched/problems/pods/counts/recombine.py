"""Recombination of drop-and-pack's nodes: the best plan made of node loads already seen.

Every node that the annealing of :mod:`.pack` leaves within its capacities holds a
*pattern*, a number of pods per class that fits it and every node of its *type* (the
same capacities and the same most pods per class). The patterns of all proposals, lanes
and the incumbent are kept; a set-packing model over them (at most as many patterns of a
type as it has nodes, at most a class's pods in all) then picks the combination with the
best objective. On tight packings of identical nodes the annealing's failed proposals
hold nodes that, taken together, pack what none of them did: on the paper's grid at 32
nodes and load 1.05 this finds plans with the bound's number of pending pods that the
annealing alone missed for seconds (``docs/methods/pods-count-model.md``, "Drop and
pack").
"""

from __future__ import annotations

import threading

import numpy as np
from ortools.sat.python import cp_model

from optsched.backends.cpsat import solve_model
from optsched.compiled import BoolArray, IntArray
from optsched.deadline import Deadline
from optsched.problems.pods.counts.structure import Counts

MAX_CELLS = 100_000
"""Most classes x nodes for which the patterns are kept (:func:`suits`). On Alibaba
snapshots of 1,000 nodes and 25,000 pods (162,000) half of drop-and-pack's time given to
the recombination left `cpsat -t 2` 3 % worse and `pods-lns -t 2` at the greedy hint; on
600 x 12,000 (97,200) it changed nothing beyond noise, on 300 x 5,000 it gained 12-19 %."""
MAX_PATTERNS = 20_000
"""Most patterns kept (memory and the model's size); later ones are dropped."""
PER_TYPE = 300
"""Patterns of each node type in the model: the fullest (:meth:`Patterns._fullest`)."""
PATIENCE, PATIENCE_MIN_S = 0.25, 0.3
"""The model stops once the larger of ``PATIENCE`` of its time and ``PATIENCE_MIN_S``
seconds has passed without a better plan than the incumbent or its own last (the lanes
then take the rest). On the grid at 32 nodes it finds its better plan 0.1-0.2 s after it
starts; on the 10 default Alibaba snapshots it never finds one, and its half of
drop-and-pack's 4 s cost 10 pending pods of 960 there (``docs/methods/pods-count-model.md``)."""
EVERY_CALL_CELLS = 20_000
"""Most classes x nodes for which the patterns are taken after every annealing call
(about a millisecond each); beyond, only at the end of each proposal."""


def suits(counts: Counts) -> bool:
    """True when the patterns are kept: at most :data:`MAX_CELLS` classes x nodes."""
    return len(counts.classes) * len(counts.capacity) <= MAX_CELLS


class Patterns:
    """The node loads seen within capacity, per node type (shared by the lanes).

    ``gain[c]`` is what one more pod of class ``c`` placed takes off the objective;
    ``pair_of[c, n]`` the pair of class ``c`` on node ``n`` (-1: none).
    """

    def __init__(self, counts: Counts, gain: IntArray, pair_of: IntArray) -> None:
        self.counts, self.gain, self.pair_of = counts, gain, pair_of
        n_cls, n_nodes = len(counts.classes), len(counts.capacity)
        self.n_cls, self.n_nodes = n_cls, n_nodes
        most = np.zeros((n_nodes, n_cls), dtype=np.int64)
        most[counts.pair_node, counts.pair_class] = counts.pair_ub
        self.most = most
        _, self.type = np.unique(np.hstack([counts.capacity, most]), axis=0,
                                 return_inverse=True)
        self.type = self.type.reshape(-1).astype(np.int64)
        self.every_call = n_cls * n_nodes <= EVERY_CALL_CELLS
        self.seen: dict[bytes, tuple[int, IntArray]] = {}
        self.lock = threading.Lock()

    def add_state(self, node: IntArray, klass: IntArray, load: IntArray, kload: IntArray,
                  ) -> None:
        """Keep the patterns of an annealing state's nodes that are within capacity."""
        n = self.n_nodes
        on = (node >= 0) & (node < n)
        table = np.bincount(node[on] * self.n_cls + klass[on],
                            minlength=n * self.n_cls).reshape(n, self.n_cls)
        fits = np.asarray((load[:n] <= self.counts.capacity).all(axis=1)
                          & (kload[:n] <= 1).all(axis=1) & (table <= self.most).all(axis=1))
        self._keep(table, fits)

    def _table(self, x: IntArray) -> IntArray:
        """Pods per node and class of per-pair counts ``x``."""
        table = np.zeros((self.n_nodes, self.n_cls), dtype=np.int64)
        table[self.counts.pair_node, self.counts.pair_class] = x
        return table

    def _key(self, j: int, row: IntArray) -> bytes:
        """The pattern ``row`` seen on node ``j``, as a key: its node type, then its counts."""
        return int(self.type[j]).to_bytes(4, "little") + row.tobytes()

    def _keep(self, table: IntArray, fits: BoolArray) -> None:
        rows = np.flatnonzero(fits & (table.sum(axis=1) > 0))
        with self.lock:
            for j in rows.tolist():
                if len(self.seen) >= MAX_PATTERNS:
                    return
                key = self._key(j, table[j])
                if key not in self.seen:
                    self.seen[key] = (int(self.type[j]), table[j].copy())

    def best(self, x: IntArray, deadline: Deadline, threads: int, seed: int) -> IntArray | None:
        """The best plan made of the patterns seen, hinted with ``x``; None if none better.

        The model maximises the weight placed within ``deadline``, and stops early when
        it finds no better plan for a while (:data:`PATIENCE`); its answer is returned
        only when that weight beats ``x``'s (the caller compares the whole objective,
        moves included).
        """
        left = deadline.remaining()
        if left is not None and left <= 0:
            return None
        mine = self._table(x)  # x is a valid plan: every node of it fits
        self._keep(mine, np.ones(self.n_nodes, dtype=np.bool_))
        held = [self._key(j, mine[j]) for j in np.flatnonzero(mine.sum(axis=1)).tolist()]
        own = set(held)
        with self.lock:
            keys = list(self.seen)
            kept = list(self.seen.values())
        kinds = np.array([t for t, _ in kept], dtype=np.int64)
        table = np.array([row for _, row in kept], dtype=np.int64)
        chosen = self._fullest(kinds, table, np.array([k in own for k in keys], dtype=np.bool_))
        kinds, table = kinds[chosen], table[chosen]
        index = {keys[i]: n for n, i in enumerate(chosen.tolist())}
        gain = table @ self.gain
        model = cp_model.CpModel()
        proto = model.proto
        sizes = np.bincount(self.type, minlength=int(self.type.max()) + 1)
        for top in sizes[kinds].tolist():
            proto.variables.add().domain.extend([0, top])
        for t in np.unique(kinds).tolist():
            members = np.flatnonzero(kinds == t)
            _linear(proto, members, np.ones(len(members), dtype=np.int64), 0, int(sizes[t]))
        low = np.array(self.counts.min_placed, dtype=np.int64)
        for c in range(self.n_cls):
            uses = np.flatnonzero(table[:, c])
            if len(uses):
                _linear(proto, uses, table[uses, c], int(low[c]), int(self.counts.sizes[c]))
            elif low[c] > 0:
                return None
        proto.objective.vars.extend(range(len(table)))
        proto.objective.coeffs.extend((-gain).tolist())
        start = int(mine.sum(axis=0) @ self.gain)
        if all(key in index for key in held):  # beyond MAX_PATTERNS, x's own may be missing
            hint = np.bincount(np.array([index[key] for key in held], dtype=np.int64),
                               minlength=len(table))
            proto.solution_hint.vars.extend(range(len(table)))
            proto.solution_hint.values.extend(hint.tolist())
        left = deadline.remaining()
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = threads
        solver.parameters.random_seed = seed
        if left is not None:
            solver.parameters.max_time_in_seconds = max(left, 0.0)
        wait = None if left is None else max(PATIENCE * left, PATIENCE_MIN_S)
        with _Patience(solver, -start, wait) as patience:
            status = solve_model(solver, model, deadline, patience)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE) or (
                -solver.objective_value <= start):
            return None
        chosen = np.array(solver.response_proto.solution, dtype=np.int64)
        return self._plan(kinds, table, chosen)

    def _fullest(self, kinds: IntArray, table: IntArray, own: BoolArray) -> IntArray:
        """The patterns the model takes: the :data:`PER_TYPE` fullest of each type, and ``own``.

        Fullness sums the loads over the capacities of the resources that the pods ask
        beyond the nodes' sum (of all, when none is). A tight packing is made of full
        nodes; on the grid at 32 nodes the 300 fullest of about 2,000 patterns still
        held the optimum, and the model took 0.05-0.18 s where all of them took 0.3-0.7 s.
        """
        counts = self.counts
        binding = [r for r, _ in counts.aggregate] or list(range(counts.need.shape[1]))
        first = np.unique(self.type, return_index=True)[1]
        cap = counts.capacity[first[kinds]][:, binding]
        fill = ((table @ counts.need[:, binding]) / np.maximum(cap, 1)).sum(axis=1)
        order = np.lexsort((-fill, kinds))  # by type, the fullest first
        rank = np.empty(len(order), dtype=np.int64)
        starts = np.searchsorted(kinds[order], kinds[order])
        rank[order] = np.arange(len(order)) - starts
        return np.flatnonzero((rank < PER_TYPE) | own)

    def _plan(self, kinds: IntArray, table: IntArray, chosen: IntArray) -> IntArray:
        """Per-pair counts: each chosen pattern on a node of its type, running pods' first.

        A pattern holding running pods goes to the free node of its type that is home to
        most of them (fewest moves); the others take the free nodes in order.
        """
        counts = self.counts
        home = np.array([-1 if k.home is None else k.home for k in counts.classes],
                        dtype=np.int64)
        free = {t: sorted(np.flatnonzero(self.type == t).tolist()) for t in np.unique(kinds)}
        picks = np.repeat(np.arange(len(chosen)), chosen)
        homed = (table[picks][:, home >= 0]).sum(axis=1)
        x = np.zeros(len(counts.pair_class), dtype=np.int64)
        for i in picks[np.argsort(-homed, kind="stable")].tolist():
            row, spots = table[i], free[int(kinds[i])]
            mine = (home >= 0) & (row > 0)
            stays = np.bincount(home[mine], weights=row[mine], minlength=self.n_nodes)
            n = max(spots, key=lambda s: stays[s]) if mine.any() else spots[0]
            spots.remove(n)
            classes = np.flatnonzero(row)
            x[self.pair_of[classes, n]] = row[classes]
        return x


class _Patience(cp_model.CpSolverSolutionCallback):
    """Stops ``solver`` when ``seconds`` pass without a solution below the last (or ``start``).

    A context manager: the watch begins on entry and ends on exit; ``seconds`` None
    never stops it.
    """

    def __init__(self, solver: cp_model.CpSolver, start: int, seconds: float | None) -> None:
        super().__init__()
        self.solver, self.best = solver, start
        self.seconds: float | None = seconds
        self.lock = threading.Lock()
        self.timer: threading.Timer | None = None

    def __enter__(self) -> _Patience:
        self._restart()
        return self

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
            self.timer = None
            self.seconds = None  # a late callback starts no timer

    def _restart(self) -> None:
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
            if self.seconds is not None:
                self.timer = threading.Timer(self.seconds, self.solver.stop_search)
                self.timer.daemon = True
                self.timer.start()

    def on_solution_callback(self) -> None:
        self.found(round(self.objective_value))

    def found(self, objective: int) -> None:
        """A solution of ``objective``: the watch starts again if it beats the best."""
        if objective < self.best:
            self.best = objective
            self._restart()


def _linear(proto: object, variables: IntArray, coeffs: IntArray, lb: int, ub: int) -> None:
    """Add ``lb <= sum coeffs * variables <= ub`` to a CP-SAT proto."""
    linear = proto.constraints.add().linear  # type: ignore[attr-defined]
    linear.vars.extend(np.asarray(variables).tolist())
    linear.coeffs.extend(np.asarray(coeffs, dtype=np.int64).tolist())
    linear.domain.extend([lb, ub])
