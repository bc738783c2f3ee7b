"""pods-lns: CP-SAT on the whole count model, then large-neighbourhood search over nodes.

The method and its measurements: ``docs/methods/pods-count-model.md`` ("Search over
nodes"). A neighbourhood is a few nodes: their pair counts are free again, every other
pair keeps its count, so a class may use on them what the other nodes leave of its size.
The sub-model is the count model on those nodes (capacity, anti-affinity, the classes'
sizes less what the other nodes hold, the same objective), solved by CP-SAT from the
current counts as its hint; a better or equal value is kept.
"""

from __future__ import annotations

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
from optsched.problems.pods.counts.objective import objective, value
from optsched.problems.pods.counts.structure import Counts, build_counts
from optsched.problems.pods.counts.symmetry import decode, hint_counts
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.solution import PodsSolution
from optsched.problems.pods.solvers import LNS_OPTIONS
from optsched.result import Result, Status


def run(instance: PodsInstance, params: SolveParams, deadline: Deadline) -> Result:
    """CP-SAT on the whole model for a share of the time, then the search over nodes."""
    options = LNS_OPTIONS.resolve(params.options)
    # CP-SAT's own defaults in the first phase, after drop-and-pack's share
    plain = replace(params, options={}, model={"pack": float(options["pack"])})
    first = deadline.part(float(options["start"]))
    counts = build_counts(instance)
    form: cpsat.CpFormulation | None
    try:
        form = cp.build_on(counts, plain, first, first.start)
    except OutOfTimeError:  # the whole model takes more than its share: search from the hint
        form = None
    if form is None:
        result = Result(status=Status.NO_SOLUTION, solver="pods-lns",
                        stats={"build": "the whole model was not built in its share of "
                                        "the time"})
    else:
        result = cpsat.run(form, "pods-lns", plain, first)
    start = result.solution if result.status.has_solution else params.hint
    staged = form.stats.get("stages") if form is not None else (
        counts.top > cp.OBJECTIVE_LIMIT)
    if (result.status in (Status.OPTIMAL, Status.INFEASIBLE) or staged
            or not isinstance(start, PodsSolution)):
        return result  # proven, or nothing to start from, or weights past 64 bits (staged)
    x = hint_counts(counts, start, "none")
    if x is None:  # a valid solution always has counts; keep CP-SAT's answer
        return result
    started = time.perf_counter()
    search = _Search(counts, x, params, int(options["nodes"]), float(options["slice"]))
    reserve = cp.reserve_s(instance)
    while (left := deadline.remaining()) is None or left > reserve + cpsat.MIN_SOLVE_S:
        if search.step(None if left is None else left - reserve, deadline) and deadline.listening:
            deadline.report(decode(counts, search.x), value(counts, search.x))
        if search.whole or (left is None and search.stalled()):
            break
    best = value(counts, search.x)
    bound = best if search.whole else result.bound
    return replace(result, status=Status.OPTIMAL if bound is not None and bound >= best
                   else Status.FEASIBLE, solution=decode(counts, search.x), objective=best,
                   stats={**result.stats, "lns_s": round(time.perf_counter() - started, 3),
                          "lns_start": value(counts, x), **search.stats()})


class _Search:
    """The current counts and the neighbourhoods tried on them."""

    def __init__(self, counts: Counts, x: IntArray, params: SolveParams, nodes: int,
                 slice_s: float) -> None:
        self.counts, self.x, self.params = counts, x.copy(), params
        self.nodes, self.slice_s = nodes, slice_s
        self.rng = random.Random(params.seed)
        self.used = sorted(set(counts.pair_node.tolist()))
        _, self.on_placed, self.on_stay = objective(counts)
        self.tried = self.better = self.since_better = 0
        self.whole = False  # a neighbourhood of every node was proven: the optimum
        self.sizes = np.array([k.size for k in counts.classes], dtype=np.int64)
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
        frees = [np.isin(self.counts.pair_node, np.array(drawn[i * k:(i + 1) * k]))
                 for i in range(lanes)]
        limit = max(self.slice_s if left is None else min(self.slice_s, left),
                    cpsat.MIN_SOLVE_S)
        workers = self.params.threads if lanes == 1 else 1

        def solve(i: int) -> tuple[int, list[int]]:
            model, variables = self._model(frees[i])
            solver = cp_model.CpSolver()
            solver.parameters.num_workers = workers
            solver.parameters.random_seed = self.params.seed + self.tried + i
            solver.parameters.max_time_in_seconds = limit
            status = cpsat.solve_model(solver, model, deadline)
            found = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
            return status, [solver.value(v) for v in variables] if found else []

        if lanes == 1:
            answers = [solve(0)]
        else:
            with ThreadPoolExecutor(lanes) as pool:
                answers = list(pool.map(solve, range(lanes)))
        self.tried += lanes
        proven = all(status == cp_model.OPTIMAL for status, _ in answers)
        self.nodes = self.nodes + 1 if proven else max(2, self.nodes - 1)
        self.whole = proven and k == len(self.used)
        start = before = value(self.counts, self.x)
        for free, (_, values) in zip(frees, answers, strict=True):
            if not values:
                continue
            trial = self.x.copy()
            trial[free] = values
            after = value(self.counts, trial)
            if after <= before and self._within_sizes(trial):
                self.x, before = trial, after
        improved = before < start
        self.better += improved
        self.since_better = 0 if improved else self.since_better + lanes
        return improved

    def _within_sizes(self, x: IntArray) -> bool:
        """Each class's total within its bounds (side-by-side answers share the classes)."""
        placed = np.bincount(self.counts.pair_class, weights=x,
                             minlength=len(self.counts.classes))
        return bool(np.all(placed <= self.sizes) and np.all(placed >= self.least))

    def stalled(self) -> bool:
        """Without a time limit: stop once each node was freed about three times in vain."""
        return self.since_better * self.nodes >= 3 * len(self.used)

    def _model(self, free: np.ndarray) -> tuple[cp_model.CpModel, list[cp_model.IntVar]]:
        """The count model on the freed pairs, the others' counts fixed, hinted by the current."""
        counts, m = self.counts, cp_model.CpModel()
        pairs = np.flatnonzero(free)
        x = [m.new_int_var(0, int(counts.pair_ub[p]), f"x{p}") for p in pairs.tolist()]
        for var, k in zip(x, self.x[pairs].tolist(), strict=True):
            m.add_hint(var, k)
        where = {int(p): i for i, p in enumerate(pairs.tolist())}
        n_classes = len(counts.classes)
        outside = np.bincount(counts.pair_class[~free], weights=self.x[~free],
                              minlength=n_classes).astype(np.int64)
        per_class: dict[int, list[int]] = {}
        for i, p in enumerate(pairs.tolist()):
            per_class.setdefault(int(counts.pair_class[p]), []).append(i)
        for c, members in per_class.items():
            size, least = counts.classes[c].size, counts.min_placed[c]
            m.add_linear_constraint(sum(x[i] for i in members), max(0, least - int(outside[c])),
                                    size - int(outside[c]))
        node_pairs: dict[int, list[int]] = {}
        for i, p in enumerate(pairs.tolist()):
            node_pairs.setdefault(int(counts.pair_node[p]), []).append(i)
        for n, members in node_pairs.items():
            for r in range(counts.need.shape[1]):
                coeffs = [int(counts.need[counts.pair_class[pairs[i]], r]) for i in members]
                if any(coeffs):
                    m.add(sum(k * x[i] for k, i in zip(coeffs, members, strict=True))
                          <= int(counts.capacity[n, r]))
        for n in node_pairs:
            for conflict in self.conflicts.get(n, ()):
                m.add(sum(x[where[p]] for p in conflict) <= 1)
        stay = {p: c for c, p in counts.stay_pair.items()}
        m.minimize(sum((self.on_placed[int(counts.pair_class[p])]
                        + (self.on_stay[stay[p]] if p in stay else 0)) * x[i]
                       for i, p in enumerate(pairs.tolist())))
        return m, x

    def stats(self) -> dict[str, int]:
        """Neighbourhoods tried and improving, and the size reached."""
        return {"lns_neighbourhoods": self.tried, "lns_improving": self.better,
                "lns_nodes": self.nodes}
