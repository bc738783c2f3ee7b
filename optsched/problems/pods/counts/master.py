"""The master of drop-and-pack: which pods to leave pending (who uses it: :mod:`.pack`).

A small CP-SAT model over the classes' placed counts, the relaxation of the count
model that keeps only the nodes' summed capacities; ``docs/methods/pods-count-model.md``
("Drop and pack").
"""

from __future__ import annotations

import numpy as np
from ortools.sat.python import cp_model

from optsched.compiled import IntArray
from optsched.deadline import Deadline
from optsched.problems.pods.counts.objective import objective, value
from optsched.problems.pods.counts.structure import Counts

MASTER_S = 0.5
"""Most seconds one proposal may take."""


class Master:
    """CP-SAT over the classes' placed counts: the nodes' summed capacities, the objective."""

    def __init__(self, counts: Counts) -> None:
        self.counts = counts
        self.model = m = cp_model.CpModel()
        n_cls = len(counts.classes)
        most = np.bincount(counts.pair_class, weights=counts.pair_ub, minlength=n_cls)
        self.placed = [m.new_int_var(min(counts.min_placed[c], int(most[c])),
                                     min(counts.classes[c].size, int(most[c])), f"p{c}")
                       for c in range(n_cls)]
        binding = np.zeros(counts.need.shape[1], dtype=np.bool_)
        for r, total in counts.aggregate:  # the resources asked beyond the nodes' sum
            column = [int(v) for v in counts.need[:, r]]
            m.add(sum(v * p for v, p in zip(column, self.placed, strict=True)) <= total)
            binding[r] = True
        # What a pod takes of the summed capacity of the resources asked beyond it (of
        # every resource, weighted by demand over capacity, when none is).
        totals = counts.capacity[np.unique(counts.pair_node)].sum(axis=0).astype(np.float64)
        demand = np.array(counts.demand, dtype=np.float64)
        scale = np.where(binding, 1.0, 0.0) if binding.any() else demand / np.maximum(totals, 1)
        share = (counts.need / np.maximum(totals, 1)) @ scale
        keyed: dict[str, list[int]] = {}
        for c, klass in enumerate(counts.classes):
            if klass.key is not None:
                keyed.setdefault(klass.key, []).append(c)
        for members in keyed.values():
            spots = np.unique(counts.pair_node[np.isin(counts.pair_class, members)])
            m.add(sum(self.placed[c] for c in members) <= len(spots))
        # Every digit but the moves (the last, least significant: packing does not aim at
        # them), a function of the placed counts alone; beating it beats the objective.
        assert counts.terms[-1].name == "moved"
        self.terms = counts.terms[:-1]
        self.constant, coef, _ = objective(counts, self.terms)
        self.weights = weights = [int(v) for v in coef]
        span = [(w * p.proto.domain[0], w * p.proto.domain[1])
                for w, p in zip(weights, self.placed, strict=True)]
        self.low = sum(min(a, b) for a, b in span)
        self.objective = m.new_int_var(self.low, sum(max(a, b) for a, b in span), "objective")
        m.add(self.objective == sum(w * p for w, p in zip(weights, self.placed, strict=True)))
        self.room = sum(round(1e6 * s) * p
                        for s, p in zip(share.tolist(), self.placed, strict=True))

    def value(self, x: IntArray) -> int:
        """What the master minimises, of per-pair counts ``x`` (in its own units)."""
        return value(self.counts, x, self.terms)

    def propose(self, incumbent: int, deadline: Deadline, floor: int | None
                ) -> tuple[IntArray, int] | None:
        """The placed vector to try next and its objective.

        The best objective below ``incumbent`` (and at least ``floor``), and among those
        the vector that leaves the most room; None when there is none.
        """
        high = incumbent - 1 - self.constant
        low = self.low if floor is None else max(self.low, floor - self.constant)
        if high < low:
            return None
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        # Without presolve: CP-SAT 9.15's presolve may solve the model's knapsack by dynamic
        # programming, which took 0.35 s on a grid scenario (32 nodes, 98 classes) and ended
        # with no solution under the 0.5 s limit, so drop-and-pack proposed nothing; the
        # search alone proves the same optimum in 0.01 s (docs/methods/pods-count-model.md).
        solver.parameters.cp_model_presolve = False
        out = None
        for stage in range(2):
            left = deadline.remaining()
            solver.parameters.max_time_in_seconds = MASTER_S if left is None else min(
                left, MASTER_S)
            self.objective.proto.domain[0] = low
            self.objective.proto.domain[1] = high
            self.model.minimize(self.objective if stage == 0 else self.room)
            status = solver.solve(self.model)
            if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                break
            if stage == 0:
                high = int(solver.objective_value)
            else:
                out = (np.array([solver.value(p) for p in self.placed], dtype=np.int64),
                       high + self.constant)
        return out

    def exclude(self, target: IntArray) -> None:
        """No later proposal places at least ``target[c]`` pods of every class."""
        lits = []
        for c, p in enumerate(self.placed):
            if int(target[c]) > p.proto.domain[0]:
                b = self.model.new_bool_var("")
                self.model.add(p <= int(target[c]) - 1).only_enforce_if(b)
                lits.append(b)
        self.model.add_bool_or(lits)
