"""MILP model of pods (PuLP): the count model of :mod:`.structure`, as in :mod:`.cp`.

The model and why the objective stops at :data:`OBJECTIVE_LIMIT` (wider ones raise
:class:`NotSupportedError`): ``docs/methods/pods-count-model.md``. PuLP passes no start to
HiGHS, so the hint is not used here.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pulp

from optsched.backends.milp import MilpFormulation
from optsched.compiled import IntArray
from optsched.deadline import Deadline
from optsched.errors import NotSupportedError
from optsched.params import SolveParams
from optsched.problems.pods.counts.objective import objective
from optsched.problems.pods.counts.structure import Counts, build_counts, options
from optsched.problems.pods.counts.symmetry import decode, fixed_to_zero, hint_counts, load_cuts
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.solution import PodsSolution

OBJECTIVE_LIMIT = 2**40
"""Largest objective value the MILP solves: 13 bits below the 2^53 of a double's
mantissa, a margin for rounding and near-integral values (see
``docs/methods/pods-count-model.md``)."""


def formulate(counts: Counts, symmetry: str, start: IntArray | None = None
              ) -> tuple[pulp.LpProblem, Callable[[], PodsSolution]]:
    """The count model as a PuLP problem and its decoder; ``start`` counts are a MIP start."""
    prob = pulp.LpProblem("pods_counts", pulp.LpMinimize)
    ub = counts.pair_ub.copy()
    if symmetry == "fix":
        ub[fixed_to_zero(counts)] = 0
    x = [prob.add_variable(f"x_{p}", lowBound=0, upBound=int(u), cat=pulp.LpInteger)
         for p, u in enumerate(ub.tolist())]
    if start is not None:
        for var, k in zip(x, start.tolist(), strict=True):
            var.setInitialValue(k)
    bounds = np.searchsorted(counts.pair_class, np.arange(len(counts.classes) + 1)).tolist()
    placed = [pulp.lpSum(x[bounds[c]:bounds[c + 1]]) for c in range(len(counts.classes))]
    for c, klass in enumerate(counts.classes):
        if bounds[c + 1] - bounds[c] > 1 or counts.min_placed[c]:
            prob += placed[c] <= klass.size, f"size_{c}"
        if counts.min_placed[c]:
            prob += placed[c] >= counts.min_placed[c], f"stay_{c}"
    for n, r in counts.rows:
        pairs = counts.by_node[n].tolist()
        coeffs = counts.need[counts.pair_class[pairs], r].tolist()
        prob += (pulp.LpAffineExpression(zip([x[p] for p in pairs], coeffs, strict=True))
                 <= int(counts.capacity[n, r])), f"cap_{n}_{r}"
    for r, total in counts.aggregate:
        prob += pulp.lpSum(int(counts.need[c, r]) * placed[c]
                           for c in range(len(counts.classes))) <= total, f"all_{r}"
    for i, conflict in enumerate(counts.conflicts):
        prob += pulp.lpSum(x[p] for p in conflict) <= 1, f"anti_{i}"
    if symmetry == "load":
        for i, (pairs_, coeffs_) in enumerate(load_cuts(counts)):
            prob += pulp.LpAffineExpression(zip([x[p] for p in pairs_.tolist()],
                                                coeffs_.tolist(), strict=True)) >= 0, f"sym_{i}"
    constant, on_placed, on_stay = objective(counts)
    goal = pulp.lpSum(k * placed[c] for c, k in enumerate(on_placed) if k)
    goal += pulp.lpSum(on_stay[c] * x[p] for c, p in counts.stay_pair.items() if on_stay[c])
    prob += goal + constant

    def read() -> PodsSolution:
        values = np.array([round(v.value() or 0) for v in x], dtype=np.int64)
        for v, k in zip(x, values.tolist(), strict=True):
            v.varValue = float(k)  # the objective read next is then exact, not w * (k +- 1e-9)
        return decode(counts, values)

    return prob, read


def build(instance: PodsInstance, params: SolveParams, deadline: Deadline) -> MilpFormulation:
    """Build the MILP; raise :class:`NotSupportedError` for an objective too wide for it."""
    started = time.perf_counter()
    mode, symmetry = options(params)
    counts = build_counts(instance, deadline)
    if mode == "staged" or counts.top > OBJECTIVE_LIMIT:
        why = ("the MILP models solve the weighted objective only" if mode == "staged"
               else f"the lexicographic objective reaches {counts.top}, beyond the 2^40 up to "
                    "which a MILP solver's doubles and tolerances keep its lowest digit exact")
        raise NotSupportedError("objective", f"{why}; use cpsat (it solves it staged)")
    start = None
    if isinstance(params.hint, PodsSolution):
        start = hint_counts(counts, params.hint, symmetry)
    prob, decode = formulate(counts, symmetry, start)
    return MilpFormulation(problem=prob, decode=decode, build_s=time.perf_counter() - started,
                           stats={"classes": len(counts.classes),
                                  "pairs": len(counts.pair_class), "symmetry": symmetry,
                                  "start": "none" if start is None else "hint"},
                           started=start is not None)
