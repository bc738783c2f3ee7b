"""CP-SAT model of pods: one integer count per (pod class, node), see :mod:`.counts`.

Variables: ``x[c, n]`` per pair (pods of class ``c`` on node ``n``) and
``placed[c] = sum_n x[c, n]``. Constraints: capacity per node and resource
(and summed over the nodes, a knapsack on ``placed``), ``sum <= 1`` per
anti-affinity key and node, ``placed[c] = size`` for running classes when
evictions are off, and symmetry breaking between identical empty nodes
(:data:`.counts.SYMMETRY`; ``SolveParams.model["symmetry"]`` chooses).

Symmetry: by default (``fix``) the ``i``-th one-pod class may only use the
first ``i + 1`` nodes of an orbit. These are variable fixings, so CP-SAT's
LNS keeps its freedom; the ``load`` chain of ordering cuts, measured on the
generator's grid (8-32 nodes, 1 s, 2 workers), improved on the greedy hint
in half as many scenarios as ``fix`` or ``none`` (an LNS neighbourhood can
hardly change one node's load between its fixed neighbours). ``none`` is
about as good at search, but CP-SAT's presolve then fixes an orbitope of its
own that the hint usually violates, so the hint is only repaired.

Objective: :attr:`PodsInstance.weights` is a mixed radix, so the objective
is one weighted sum of ``placed`` and the staying counts whose largest value
is ``prod (top_t + 1) - 1`` over its digits. When that stays at most
:data:`OBJECTIVE_LIMIT` (CP-SAT checks ``|coefficient * domain|`` sums
against int64) the model minimises it directly. Otherwise (many priority
levels with many pods) the digits are split into blocks that fit and solved
*staged* while building: each block is minimised within a share of the time
left and fixed at its optimum, and the last block (it ends with the moves,
weight 1) is the objective returned to the backend, with the fixed blocks as
the objective's offset, so the objective and the bound stay exact. A block
that is not proven optimal in its share would make that bound a guess, so
the build raises :class:`StageUnfinishedError` instead and ``solve()`` falls back
to the hint. ``SolveParams.model["objective"]`` forces ``"weighted"`` or
``"staged"`` (then one digit per stage).

The hint becomes counts with its identical nodes reordered to satisfy the
symmetry breaking (CP-SAT drops a hint that violates a constraint, silently),
and its objective becomes an upper bound of the model's. Building is
vectorised over the pairs and written straight into the proto: 32 nodes x
256 pods build in about 10 ms, 100 nodes x 1,000 Alibaba pods (about 95
classes, 9,000 pairs) in about 30 ms.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from optsched.backends.cpsat import CpFormulation, configure
from optsched.deadline import Deadline
from optsched.params import SolveParams
from optsched.problems.pods.counts import Counts, IntArray, Term, blocks, build_counts, options
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.solution import PodsSolution

OBJECTIVE_LIMIT = 2**60
"""Largest objective value minimised as one weighted sum (CP-SAT computes in int64)."""
RESERVE_S = 0.02
RESERVE_PER_PAIR_S = 2e-6
"""The time kept back from CP-SAT for what follows it within the caller's limit: decoding,
the independent check and the family's lower bound (Python loops over groups x nodes,
about 1.5 us per pair measured at 1,000 groups x 100 nodes), at most a quarter of the
time left."""
_INF = 2**62


class StageUnfinishedError(RuntimeError):
    """A staged block was not proven optimal in its share of the time limit."""


class _Model:
    """The count model, written straight into the proto (fast for many pairs)."""

    def __init__(self, counts: Counts, symmetry: str) -> None:
        self.counts = counts
        self.model = cp_model.CpModel()
        self.proto = self.model.proto
        n_pairs, n_classes = len(counts.pair_class), len(counts.classes)
        ub = counts.pair_ub.copy()
        if symmetry == "fix":
            ub[counts.fixed_to_zero()] = 0
        for top in ub.tolist():
            self.proto.variables.add().domain.extend([0, top])
        most = np.bincount(counts.pair_class, weights=ub, minlength=n_classes)
        self.placed = list(range(n_pairs, n_pairs + n_classes))
        for c, klass in enumerate(counts.classes):
            self.proto.variables.add().domain.extend(
                [counts.min_placed[c], min(klass.size, int(most[c]))])
        bounds = np.searchsorted(counts.pair_class, np.arange(n_classes + 1)).tolist()
        for c in range(n_classes):
            pairs = list(range(bounds[c], bounds[c + 1]))
            self.linear([*pairs, self.placed[c]], [1] * len(pairs) + [-1], 0, 0)
        for n, r in counts.rows:
            on = counts.by_node[n]
            self.linear(on.tolist(), counts.need[counts.pair_class[on], r].tolist(),
                        -_INF, int(counts.capacity[n, r]))
        for r, total in counts.aggregate:
            self.linear(self.placed, counts.need[:, r].tolist(), -_INF, total)
        for conflict in counts.conflicts:
            self.linear(list(conflict), [1] * len(conflict), -_INF, 1)
        cuts = counts.load_cuts() if symmetry == "load" else []
        for cut, coeffs in cuts:
            self.linear(cut.tolist(), coeffs.tolist(), 0, _INF)
        self.stats = {"symmetry": symmetry, "symmetry_cuts": len(cuts),
                      "symmetry_fixed": int((ub < counts.pair_ub).sum())}

    def linear(self, variables: Sequence[int], coeffs: Sequence[int], lb: int, ub: int) -> None:
        """Add ``lb <= sum coeffs * variables <= ub``."""
        linear = self.proto.constraints.add().linear
        linear.vars.extend(variables)
        linear.coeffs.extend(coeffs)
        linear.domain.extend([lb, ub])

    def block(self, terms: tuple[Term, ...] | None) -> tuple[int, list[int], list[int]]:
        """A block's value as ``(constant, variables, coefficients)``."""
        constant, placed, stay = self.counts.objective(terms)
        variables = [*self.placed]
        coeffs = [*placed]
        for c, pair in self.counts.stay_pair.items():
            if stay[c]:
                variables.append(pair)
                coeffs.append(stay[c])
        return constant, variables, coeffs

    def minimize(self, terms: tuple[Term, ...] | None, offset: int = 0) -> None:
        """Minimise a block, plus ``offset`` (a float in the proto, as CP-SAT stores it)."""
        constant, variables, coeffs = self.block(terms)
        self.proto.clear_objective()
        self.proto.objective.vars.extend(variables)
        self.proto.objective.coeffs.extend(coeffs)
        self.proto.objective.offset = float(constant + offset)
        self.proto.objective.scaling_factor = 1.0

    def cap(self, terms: tuple[Term, ...] | None, value: int, fix: bool = False) -> None:
        """Add ``block <= value`` (``== value`` with ``fix``)."""
        constant, variables, coeffs = self.block(terms)
        self.linear(variables, coeffs, value - constant if fix else -_INF, value - constant)

    def hint(self, counts: IntArray) -> None:
        """Hint every variable: the pair counts and the placed totals."""
        placed = np.bincount(self.counts.pair_class, weights=counts,
                             minlength=len(self.counts.classes)).astype(np.int64)
        self.proto.clear_solution_hint()
        hint = self.proto.solution_hint
        hint.vars.extend([*range(len(counts)), *self.placed])
        hint.values.extend([*counts.tolist(), *placed.tolist()])

    def read(self, solver: cp_model.CpSolver) -> IntArray:
        """The pair counts of the solver's solution."""
        solution = np.array(list(solver.response_proto.solution), dtype=np.int64)
        return solution[:len(self.counts.pair_class)]


def build(instance: PodsInstance, params: SolveParams, deadline: Deadline) -> CpFormulation:
    """Build the count model (staged blocks are solved here when the objective is too wide)."""
    started = time.perf_counter()
    objective, symmetry = options(params)
    counts = build_counts(instance)
    m = _Model(counts, symmetry)
    stats: dict[str, Any] = {"classes": len(counts.classes), "pairs": len(counts.pair_class),
                             "orbits": len(counts.orbits), **m.stats}
    if isinstance(params.hint, PodsSolution):
        hinted = counts.hint_counts(params.hint, symmetry)
        stats["hint"] = "rejected" if hinted is None else "used"
        if hinted is not None:
            m.hint(hinted)
            if counts.top <= OBJECTIVE_LIMIT:
                m.cap(None, counts.value(hinted))
    staged = objective == "staged" or (objective == "auto" and counts.top > OBJECTIVE_LIMIT)
    last: tuple[Term, ...] | None = None
    offset = 0
    if staged:
        parts = blocks(counts.terms, OBJECTIVE_LIMIT if objective == "auto" else 0)
        for i, part in enumerate(parts[:-1]):
            value = _stage(m, part, params, deadline, len(parts) - i)
            m.cap(part, value, fix=True)
            offset += part[-1].weight * value
        stats["stages"] = len(parts)
        last = parts[-1]
    m.minimize(last, offset)

    def decode(solver: cp_model.CpSolver) -> PodsSolution:
        return counts.decode(m.read(solver))

    parameters = _parameters(params)
    left = deadline.remaining()
    if left is not None:
        reserve = min(left / 4, RESERVE_S + RESERVE_PER_PAIR_S * len(instance.groups)
                      * len(instance.nodes))
        parameters["max_time_in_seconds"] = max(0.0, left - reserve)
        stats["reserve_s"] = round(reserve, 4)
    return CpFormulation(model=m.model, decode=decode, build_s=time.perf_counter() - started,
                         stats=stats, parameters=parameters)


def _stage(m: _Model, part: tuple[Term, ...], params: SolveParams, deadline: Deadline,
           left: int) -> int:
    """Minimise one block within ``1 / left`` of the time left; return its proven optimum."""
    m.minimize(part)
    solver = cp_model.CpSolver()
    configure(solver, params, Deadline(deadline.share(1 / left)), _parameters(params))
    status = solver.status_name(solver.solve(m.model))
    if status != "OPTIMAL":
        names = ", ".join(t.name for t in part)
        raise StageUnfinishedError(f"staged objective: block {names} ended {status}, not proven "
                              "optimal in its share of the time limit")
    found = m.read(solver)
    m.hint(found)
    return m.counts.value(found, part)


def _parameters(params: SolveParams) -> dict[str, Any]:
    """Suggested CP-SAT parameters (the caller's options override them): none.

    On the generator's grid (8-32 identical nodes, 1 s, 1 and 2 workers) no
    setting we tried beat CP-SAT's defaults beyond noise: ``subsolvers``
    ``[default_lp, core]``, ``[quick_restart_no_lp, core]`` or
    ``[default_lp, max_lp]``, ``linearization_level`` 0 or 2, ``use_lns_only``,
    ``interleave_search``, ``symmetry_level`` 0, a cheaper presolve. What
    mattered was the symmetry breaking: the ``load`` chain of cuts halved the
    scenarios improved over the greedy hint (it blocks LNS moves), while the
    ``fix`` fixings did slightly better than none. ``build`` adds
    ``max_time_in_seconds`` to keep :data:`RESERVE_S` time back.
    """
    return {}
