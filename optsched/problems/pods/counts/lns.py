"""pods-lns: CP-SAT on the whole count model, then large-neighbourhood search over nodes.

The method and its measurements: ``docs/methods/pods-count-model.md`` ("Search over
nodes"). A neighbourhood is a few nodes: their pair counts are free again, every other
pair keeps its count, so a class may use on them what the other nodes leave of its size.
The sub-model is the count model on those nodes (capacity, anti-affinity, the classes'
sizes less what the other nodes hold, the same objective), solved by CP-SAT from the
current counts as its hint; a better or equal value is kept.
"""

from __future__ import annotations

import itertools
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
from ortools.sat.python import cp_model

from optsched.backends import cpsat
from optsched.compiled import IntArray
from optsched.deadline import Deadline, OutOfTimeError
from optsched.params import SolveParams
from optsched.problems.pods.counts import cp
from optsched.problems.pods.counts.objective import objective, radix, value
from optsched.problems.pods.counts.structure import Counts, build_counts
from optsched.problems.pods.counts.symmetry import decode, hint_counts
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.solution import PodsSolution
from optsched.problems.pods.solvers import LNS_OPTIONS
from optsched.result import Result, Status

LINEARIZATION = 2
"""CP-SAT's ``linearization_level`` in a neighbourhood (its default is 1). On the plugin
benchmark's large states (five priorities: a wide objective) one worker with level 2
proves a two-node neighbourhood in about 0.15 s where level 1 has not in 2 s, and the
search places more pods in the same time; on the Alibaba snapshots it is level
(``docs/methods/pods-count-model.md``)."""
FIRST_MIN_S = 0.5
"""Fewest seconds the first phase (drop-and-pack, then CP-SAT on the whole model) has when
the time left allows, whatever ``-o start`` says (unless 0: no first phase). At 1 s on
Alibaba snapshots of 300 nodes and 5,000 pods, its share of 0.3 left drop-and-pack under
0.04 s, which improved nothing, and the answer was barely better than the greedy hint; 0.6
of the time did better than ``cpsat`` (``benchmarks/README.md``, "pods between the grid and
cluster scale"). Drop-and-pack keeps its part of a first phase lengthened so (``pack`` of
``start + pack``, 2/3 by default): with 0.4 of the longer phase, as before, it had about
0.2 s at 1 s on 300 x 5,000, too little for its recombination, and left 6.2e7 and 6.9e7
where ``cpsat`` left 5.1e7 and 5.6e7; now 5.0e7-5.1e7 and 5.6e7-5.7e7."""
NEIGHBOURHOOD_LIMIT = 2**53
"""Largest weighted objective of one neighbourhood when the whole one is too wide (staged):
as :data:`.cp.OBJECTIVE_LIMIT`, but of the digits' changes within the neighbourhood."""


def run(instance: PodsInstance, params: SolveParams, deadline: Deadline) -> Result:
    """CP-SAT on the whole model for a share of the time, then the search over nodes."""
    options = LNS_OPTIONS.resolve(params.options)
    began = time.perf_counter()
    try:
        counts = build_counts(instance, deadline)
    except OutOfTimeError:  # solve() answers with the hint it verified
        return Result(status=Status.NO_SOLUTION, solver="pods-lns",
                      stats={"build": "the limit came before the count structure was built"})
    whole, packing = float(options["start"]), float(options["pack"])
    if not (whole and cp.packs(params.hint, counts, packing)):
        packing = 0.0
    share = asked = min(1.0, whole + packing)
    if share and (left := deadline.remaining()):  # 0: no first phase, the search starts
        share = max(share, min(1.0, FIRST_MIN_S / left))  # from the hint
    first = deadline.part(share)
    # drop-and-pack's part of the first phase (as asked, also of a longer one), then
    # CP-SAT with its own defaults
    plain = replace(params, options={}, model={"pack": packing / asked if share else 0.0})
    form: cpsat.CpFormulation | None = None
    if counts.top > cp.OBJECTIVE_LIMIT:  # CP-SAT would solve it staged: seldom in time
        why = "the objective is too wide for one weighted sum: no whole model"
    else:
        try:
            form = cp.build_on(counts, plain, first, began)
        except OutOfTimeError:  # the whole model takes more than its share
            why = "the whole model was not built in its share of the time"
    if form is None:
        result = Result(status=Status.NO_SOLUTION, solver="pods-lns", stats={"build": why})
    else:
        result = cpsat.run(form, "pods-lns", plain, first)
    start = result.solution if result.status.has_solution else params.hint
    if result.status in (Status.OPTIMAL, Status.INFEASIBLE):
        return result
    if not isinstance(start, PodsSolution):
        return result  # nothing to start from
    x = hint_counts(counts, start, "none")
    if x is None:  # a valid solution always has counts; keep CP-SAT's answer
        return result
    started = time.perf_counter()
    search = _Search(counts, x, params, int(options["nodes"]), float(options["slice"]))
    start_value = search.value
    reserve = cp.reserve_s(instance)
    while not search.whole and (
            (left := deadline.remaining()) is None or left > reserve + cpsat.MIN_SOLVE_S):
        if search.step(None if left is None else left - reserve, deadline) and deadline.listening:
            deadline.report(decode(counts, search.x), search.value)
        if left is None and search.stalled():
            break
    best = value(counts, search.x)
    bound = best if search.whole else result.bound
    return replace(result, status=Status.OPTIMAL if bound is not None and bound >= best
                   else Status.FEASIBLE, solution=decode(counts, search.x), objective=best,
                   stats={**result.stats, "lns_s": round(time.perf_counter() - started, 3),
                          "lns_start": start_value, **search.stats()})


class _Search:
    """The current counts and the neighbourhoods tried on them."""

    def __init__(self, counts: Counts, x: IntArray, params: SolveParams, nodes: int,
                 slice_s: float) -> None:
        self.counts, self.x, self.params = counts, x.copy(), params
        self.nodes, self.slice_s = nodes, slice_s
        self.rng = random.Random(params.seed)
        self.used = sorted(set(counts.pair_node.tolist()))
        by_node = np.argsort(counts.pair_node, kind="stable")  # a node's pairs: a slice
        cuts = np.searchsorted(counts.pair_node[by_node], np.arange(len(counts.capacity) + 1))
        self.node_pairs = [by_node[a:b] for a, b in itertools.pairwise(cuts)]
        self.totals = np.bincount(counts.pair_class, weights=x,
                                  minlength=len(counts.classes)).astype(np.int64)
        self.value = value(counts, x)  # kept up to date by each change's worth
        _, self.on_placed, self.on_stay = objective(counts)
        # An objective too wide for one weighted sum (staged): each neighbourhood weighs
        # the digits by what they can change there (objective.radix).
        self.wide = counts.top > cp.OBJECTIVE_LIMIT
        self.digits = (np.array([t.placed for t in counts.terms], dtype=np.int64),
                       np.array([t.stay for t in counts.terms], dtype=np.int64))
        self.stay_of = np.full(len(counts.pair_class), -1, dtype=np.int64)  # pair -> class
        for c, pair in counts.stay_pair.items():  # whose running pods it keeps in place
            self.stay_of[pair] = c
        self.tried = self.better = self.since_better = 0
        # a neighbourhood of every node was proven: the optimum (with no pair at all, the
        # start is the only solution)
        self.whole = not self.used
        self.sizes = counts.sizes
        self.least = np.array(counts.min_placed, dtype=np.int64)
        self.conflicts: dict[int, list[tuple[int, ...]]] = {}  # a conflict's pairs share a node
        for conflict in counts.conflicts:
            self.conflicts.setdefault(int(counts.pair_node[conflict[0]]), []).append(conflict)

    def step(self, left: float | None, deadline: Deadline) -> bool:
        """Solve neighbourhoods within ``left`` seconds (a stop ends them); True if better.

        With two threads or more, as many disjoint neighbourhoods are solved side by side
        (one CP-SAT worker each) and their answers applied in turn: each keeps its nodes'
        capacity and anti-affinity, and is applied only while the classes' totals stay
        within their bounds and the value does not worsen.
        """
        k = min(self.nodes, len(self.used))
        lanes = max(1, min(self.params.threads, len(self.used) // k))
        drawn = self.rng.sample(self.used, k * lanes)
        frees = [np.concatenate([self.node_pairs[n] for n in drawn[i * k:(i + 1) * k]])
                 for i in range(lanes)]
        ends = None if left is None else time.monotonic() + left
        workers = self.params.threads if lanes == 1 else 1

        def solve(i: int) -> tuple[bool, IntArray, list[int]]:
            model, pairs, variables, exact = self._model(frees[i])
            solver = cp_model.CpSolver()
            solver.parameters.num_workers = workers
            solver.parameters.linearization_level = LINEARIZATION
            solver.parameters.random_seed = self.params.seed + self.tried + i
            limit = self.slice_s if ends is None else min(self.slice_s, ends - time.monotonic())
            solver.parameters.max_time_in_seconds = max(limit, cpsat.MIN_SOLVE_S)
            status = cpsat.solve_model(solver, model, deadline)
            found = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
            proven = status == cp_model.OPTIMAL and exact
            return proven, pairs, [solver.value(v) for v in variables] if found else []

        if lanes == 1:
            answers = [solve(0)]
        else:
            with ThreadPoolExecutor(lanes) as pool:
                answers = list(pool.map(solve, range(lanes)))
        self.tried += lanes
        proven = all(done for done, _, _ in answers)
        self.nodes = self.nodes + 1 if proven else max(2, self.nodes - 1)
        self.whole = proven and k == len(self.used)
        start = self.value
        for _, pairs, values in answers:  # the freed pairs left out hold 0 and keep it
            if values:
                self._apply(pairs, np.array(values, dtype=np.int64))
        improved = self.value < start
        self.better += improved
        self.since_better = 0 if improved else self.since_better + lanes
        return improved

    def _apply(self, pairs: IntArray, new: IntArray) -> None:
        """Take the ``new`` counts of ``pairs`` unless they worsen the value or break a bound.

        A class's total must stay within its bounds (side-by-side answers share the
        classes). The change of value is summed, in exact integers, over the pairs that change.
        """
        change = new - self.x[pairs]
        changed = np.flatnonzero(change)
        cls = self.counts.pair_class[pairs[changed]]
        totals = self.totals.copy()
        np.add.at(totals, cls, change[changed])
        if np.any(totals[cls] > self.sizes[cls]) or np.any(totals[cls] < self.least[cls]):
            return
        worth = sum(d * k for d, k in zip(change[changed].tolist(),
                                          self._coefficients(pairs[changed]), strict=True))
        if worth <= 0:
            self.x[pairs], self.totals, self.value = new, totals, self.value + worth

    def _coefficients(self, pairs: IntArray) -> list[int]:
        """Each pair's objective coefficient, in exact integers.

        Its class's, plus its stay's when the pair keeps the class's running pods in place.
        """
        return [self.on_placed[c] + (self.on_stay[c] if s >= 0 else 0) for c, s in zip(
            self.counts.pair_class[pairs].tolist(), self.stay_of[pairs].tolist(), strict=True)]

    def stalled(self) -> bool:
        """Without a time limit: stop once each node was freed about three times in vain."""
        return self.since_better * self.nodes >= 3 * len(self.used)

    def _model(self, freed: IntArray) -> tuple[cp_model.CpModel, IntArray,
                                                list[cp_model.IntVar], bool]:
        """The count model on the ``freed`` pairs, the others fixed, hinted by the current.

        Returns the model, the freed pairs it decides and their variables, and whether its
        optimum is the neighbourhood's lexicographic one (False when the objective leaves
        out low digits, too wide even for the neighbourhood). A class whose whole size
        the other nodes hold has no pod on the freed nodes and can place none there: its
        pairs stay 0 and are left out (with thousands of running classes, most of them).
        """
        counts, m = self.counts, cp_model.CpModel()
        n_classes = len(counts.classes)
        outside = self.totals - np.bincount(counts.pair_class[freed], weights=self.x[freed],
                                            minlength=n_classes).astype(np.int64)
        room = self.sizes - outside  # what a class may still hold on the freed nodes
        pairs = freed[room[counts.pair_class[freed]] > 0]
        cls = counts.pair_class[pairs]
        x = [m.new_int_var(0, int(ub), f"x{p}")
             for p, ub in zip(pairs.tolist(), counts.pair_ub[pairs].tolist(), strict=True)]
        for var, k in zip(x, self.x[pairs].tolist(), strict=True):
            m.add_hint(var, k)
        for c in np.unique(cls).tolist():
            m.add_linear_constraint(sum(x[i] for i in np.flatnonzero(cls == c).tolist()),
                                    max(0, counts.min_placed[c] - int(outside[c])),
                                    int(room[c]))
        nodes = counts.pair_node[pairs]
        for n in np.unique(nodes).tolist():
            on = np.flatnonzero(nodes == n)
            for r in range(counts.need.shape[1]):
                coeffs = counts.need[cls[on], r]
                if coeffs.any():
                    m.add(sum(int(k) * x[i] for k, i in zip(coeffs.tolist(), on.tolist(),
                                                            strict=True))
                          <= int(counts.capacity[n, r]))
            where = dict(zip(pairs[on].tolist(), on.tolist(), strict=True))
            for conflict in self.conflicts.get(n, ()):
                kept = [x[where[p]] for p in conflict if p in where]
                if len(kept) > 1:
                    m.add(sum(kept) <= 1)
        if not self.wide:
            m.minimize(sum(k * v for k, v in zip(self._coefficients(pairs), x, strict=True)))
            return m, pairs, x, True
        staying = self.stay_of[pairs] >= 0
        # Per digit, its coefficient on each pair and the most it can change here: a class
        # places at most its room, or what fits on the freed nodes.
        placed, stays = self.digits
        coef = placed[:, cls] + stays[:, cls] * staying
        fits = np.bincount(cls, weights=counts.pair_ub[pairs], minlength=n_classes)
        most = np.minimum(np.maximum(room, 0), fits.astype(np.int64))
        ranges = (np.abs(placed) @ most
                  + np.abs(stays)[:, cls] @ (staying * counts.pair_ub[pairs])).tolist()
        weights = radix([int(r) for r in ranges], NEIGHBOURHOOD_LIMIT)
        m.minimize(sum(int(sum(w * int(k) for w, k in zip(weights, coef[:, i], strict=True)))
                       * x[i] for i in range(len(pairs))))
        return m, pairs, x, all(weights)

    def stats(self) -> dict[str, int]:
        """Neighbourhoods tried and improving, and the size reached."""
        return {"lns_neighbourhoods": self.tried, "lns_improving": self.better,
                "lns_nodes": self.nodes}
