"""CP-SAT model of pods: one integer count per (pod class, node), see :mod:`.structure`.

The model, its symmetry breaking, staged objective and hint:
``docs/methods/pods-count-model.md``. Building is vectorised over the pairs and written
straight into the proto; an objective wider than :data:`OBJECTIVE_LIMIT` is solved staged
while building, and a block not proven optimal raises :class:`StageUnfinishedError`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, TypeGuard

import numpy as np
from ortools.sat.python import cp_model

from optsched.backends.cpsat import CpFormulation, configure, solve_model
from optsched.compiled import IntArray
from optsched.deadline import Deadline
from optsched.params import SolveParams
from optsched.problems.pods.counts import pack
from optsched.problems.pods.counts.objective import Term, blocks, objective, value
from optsched.problems.pods.counts.structure import CP_OPTIONS, Counts, build_counts, options
from optsched.problems.pods.counts.symmetry import (
    decode,
    fixed_to_zero,
    hint_counts,
    load_cuts,
)
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.solution import PodsSolution

OBJECTIVE_LIMIT = 2**53
"""Largest objective value minimised as one weighted sum (or block of the staged objective).

Without its constant, a block's value lies between ``-limit`` and ``limit``: CP-SAT's
int64 arithmetic holds it with room to spare, and its double ``objective_value`` and
``best_objective_bound`` hold it exactly."""
RESERVE_S = 0.05
RESERVE_PER_POD_S = 1e-5
"""The time kept back from CP-SAT for what follows it within the caller's limit: decoding,
the independent check and the family's lower bound (Python loops over the pods, about
5 us per pod measured: 0.05 s for 10,000 pods on 1,000 nodes, 0.6 s for 150,000 on
5,000; doubled for a busy machine), and the interpreter's own overhead. Passed as
:attr:`CpFormulation.reserve_s`: the backend subtracts it from the time left when CP-SAT
starts, not when the model is built. (It was per pod and node while the never-placeable
test tried every node for every group: 20 s of a 30 s limit at 10,000 x 1,000.)"""


def reserve_s(instance: PodsInstance) -> float:
    """Seconds kept back for decoding and the checks (:data:`RESERVE_PER_POD_S`)."""
    return RESERVE_S + RESERVE_PER_POD_S * instance.pod_count


_INF = 2**62


class StageUnfinishedError(RuntimeError):
    """A staged block was not proven optimal in its share of the time limit."""


CHECK_EVERY = 1 << 16
"""Variables or constraint terms written between two looks at the deadline."""


class _Model:
    """The count model, written straight into the proto (fast for many pairs).

    Building looks at ``deadline`` every :data:`CHECK_EVERY` variables or terms and
    raises :class:`~optsched.deadline.OutOfTimeError` once it has passed: a model of
    millions of pairs takes seconds to write.
    """

    def __init__(self, counts: Counts, symmetry: str, deadline: Deadline) -> None:
        self.counts = counts
        self.deadline = deadline
        self.written = 0
        self.model = cp_model.CpModel()
        self.proto = self.model.proto
        n_pairs, n_classes = len(counts.pair_class), len(counts.classes)
        ub = counts.pair_ub.copy()
        if symmetry == "fix":
            ub[fixed_to_zero(counts)] = 0
        for i, top in enumerate(ub.tolist()):
            self.proto.variables.add().domain.extend([0, top])
            if i and i % CHECK_EVERY == 0:  # a model smaller than that is always built
                deadline.check()
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
        cuts = load_cuts(counts) if symmetry == "load" else []
        for cut, coeffs in cuts:
            self.linear(cut.tolist(), coeffs.tolist(), 0, _INF)
        self.stats = {"symmetry": symmetry, "symmetry_cuts": len(cuts),
                      "symmetry_fixed": int((ub < counts.pair_ub).sum())}

    def linear(self, variables: Sequence[int], coeffs: Sequence[int], lb: int, ub: int) -> None:
        """Add ``lb <= sum coeffs * variables <= ub``."""
        self.written += len(variables)
        if self.written >= CHECK_EVERY:
            self.written = 0
            self.deadline.check()
        linear = self.proto.constraints.add().linear
        linear.vars.extend(variables)
        linear.coeffs.extend(coeffs)
        linear.domain.extend([lb, ub])

    def block(self, terms: tuple[Term, ...] | None) -> tuple[int, list[int], list[int]]:
        """A block's value as ``(constant, variables, coefficients)``."""
        constant, placed, stay = objective(self.counts, terms)
        variables = [*self.placed]
        coeffs = [*placed]
        for c, pair in self.counts.stay_pair.items():
            if stay[c]:
                variables.append(pair)
                coeffs.append(stay[c])
        return constant, variables, coeffs

    def minimize(self, terms: tuple[Term, ...] | None) -> int:
        """Minimise a block without its constant (the proto's offset is a double); return it."""
        constant, variables, coeffs = self.block(terms)
        self.proto.clear_objective()
        self.proto.objective.vars.extend(variables)
        self.proto.objective.coeffs.extend(coeffs)
        self.proto.objective.scaling_factor = 1.0
        return constant

    def cap(self, terms: tuple[Term, ...] | None, limit: int, fix: bool = False) -> None:
        """Add ``block <= limit`` (``== limit`` with ``fix``)."""
        constant, variables, coeffs = self.block(terms)
        self.linear(variables, coeffs, limit - constant if fix else -_INF, limit - constant)

    def hint(self, x: IntArray) -> None:
        """Hint every variable: the pair counts and the placed totals."""
        placed = np.bincount(self.counts.pair_class, weights=x,
                             minlength=len(self.counts.classes)).astype(np.int64)
        self.proto.clear_solution_hint()
        hint = self.proto.solution_hint
        hint.vars.extend([*range(len(x)), *self.placed])
        hint.values.extend([*x.tolist(), *placed.tolist()])

    def read(self, solver: cp_model.CpSolver) -> IntArray:
        """The pair counts of the solver's solution."""
        solution = np.array(list(solver.response_proto.solution), dtype=np.int64)
        return solution[:len(self.counts.pair_class)]


def build(instance: PodsInstance, params: SolveParams, deadline: Deadline) -> CpFormulation:
    """Build the count model (staged blocks are solved here when the objective is too wide)."""
    started = time.perf_counter()
    return build_on(build_counts(instance, deadline), params, deadline, started)


def build_on(counts: Counts, params: SolveParams, deadline: Deadline,
             started: float) -> CpFormulation:
    """:func:`build` on a count structure already made (``pods-lns`` keeps it).

    ``started`` is when the build began (``time.perf_counter``), for ``build_s``.
    """
    instance = counts.instance
    mode, symmetry = options(params)
    m = _Model(counts, symmetry, deadline)
    stats: dict[str, Any] = {"classes": len(counts.classes), "pairs": len(counts.pair_class),
                             "orbits": len(counts.orbits), **m.stats}
    best: IntArray | None = None  # the best solution known: an upper bound of each block
    hint = params.hint
    packed: PodsSolution | None = None  # the hint improved by drop-and-pack
    share = float(CP_OPTIONS.resolve(params.model)["pack"])
    if packs(hint, counts, share):
        packed = _packed(counts, hint, deadline, share, params, stats)
        if packed is not None:
            hint = packed
    if isinstance(hint, PodsSolution):
        best = hint_counts(counts, hint, symmetry)
        stats["hint"] = "rejected" if best is None else "used"
        if best is not None:
            m.hint(best)
            if counts.top <= OBJECTIVE_LIMIT:
                m.cap(None, value(counts, best))
    staged = mode == "staged" or (mode == "auto" and counts.top > OBJECTIVE_LIMIT)
    last: tuple[Term, ...] | None = None
    offset = 0
    if staged:
        parts = blocks(counts.terms, OBJECTIVE_LIMIT if mode == "auto" else 0)
        caps: list[int | None] = []
        for i, part in enumerate(parts):
            cap = None if best is None else value(counts, best, part)
            if cap is not None:
                m.cap(part, cap)
            caps.append(cap)
            if i == len(parts) - 1:
                break
            best = _stage(m, part, params, deadline, len(parts) - i)
            optimum = value(counts, best, part)
            m.cap(part, optimum, fix=True)
            offset += part[-1].weight * optimum
        stats["stages"] = len(parts)
        stats["stage_caps"] = caps
        last = parts[-1]
    offset += m.minimize(last)
    reserve = reserve_s(instance)
    stats["reserve_s"] = round(reserve, 4)

    def read(solver: cp_model.CpSolver) -> PodsSolution:
        return decode(counts, m.read(solver))

    return CpFormulation(model=m.model, decode=read, build_s=time.perf_counter() - started,
                         stats=stats, parameters=_parameters(params), offset=offset,
                         reserve_s=reserve, known=packed,
                         known_objective=stats.get("pack_objective"))


def packs(hint: object, counts: Counts, share: float) -> TypeGuard[PodsSolution]:
    """True when drop-and-pack improves ``hint`` before CP-SAT, given ``share`` of the time.

    It needs a hint, a share, an objective of one weighted sum and a structure it suits
    (:func:`.pack.usable`).
    """
    return (isinstance(hint, PodsSolution) and share > 0 and counts.top <= OBJECTIVE_LIMIT
            and pack.usable(counts))


def _packed(counts: Counts, hint: PodsSolution, deadline: Deadline, share: float,
            params: SolveParams, stats: dict[str, Any]) -> PodsSolution | None:
    """The hint improved by drop-and-pack (:mod:`.pack`) in ``share`` of the time (or None).

    It runs one search per thread of the solve (CP-SAT starts after it).
    """
    start = hint_counts(counts, hint, "none")
    if start is None:
        return None
    began = time.perf_counter()
    found = pack.Packer(counts, params.seed).improve(start, deadline, share, params.threads)
    stats["pack_s"] = round(time.perf_counter() - began, 4)
    if found is start:  # improve() returns its start unless it found strictly better
        return None
    stats["pack_objective"] = value(counts, found)
    return decode(counts, found)


def _stage(m: _Model, part: tuple[Term, ...], params: SolveParams, deadline: Deadline,
           left: int) -> IntArray:
    """Minimise one block within ``1 / left`` of the time left; return its proven optimum.

    The optimum becomes the hint of the next stage (it meets the block's
    value once that is fixed, which the previous hint may not).
    """
    m.minimize(part)
    solver = cp_model.CpSolver()
    stage = deadline.part(1 / left)
    configure(solver, params, stage, _parameters(params))
    status = solver.status_name(solve_model(solver, m.model, stage))
    if status != "OPTIMAL":
        names = ", ".join(t.name for t in part)
        raise StageUnfinishedError(f"staged objective: block {names} ended {status}, not proven "
                                   "optimal in its share of the time limit")
    found = m.read(solver)
    m.hint(found)
    return found


def _parameters(params: SolveParams) -> dict[str, Any]:
    """Suggested CP-SAT parameters (the caller's options override them): none.

    On the generator's grid (8-32 identical nodes, 1 s, 1 and 2 workers) no
    setting we tried beat CP-SAT's defaults beyond noise: ``subsolvers``
    ``[default_lp, core]``, ``[quick_restart_no_lp, core]`` or
    ``[default_lp, max_lp]``, ``linearization_level`` 0 or 2, ``use_lns_only``,
    ``interleave_search``, ``symmetry_level`` 0, a cheaper presolve. What
    mattered was the symmetry breaking: the ``load`` chain of cuts halved the
    scenarios improved over the greedy hint (it blocks LNS moves), while the
    ``fix`` fixings did slightly better than none. The time limit is the
    backend's (the time left when CP-SAT starts, less :data:`RESERVE_S`).
    """
    return {}
