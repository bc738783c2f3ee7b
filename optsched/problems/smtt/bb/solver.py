"""``smtt-bb``: an exact decomposition search for the unweighted problem 1 || sum T_j.

Method
------
Jobs are numbered in EDD order (due date, then processing time, then job
index) and ranked by ``(processing time, EDD index)``. Every subproblem is a
*job set* -- the jobs of EDD index ``first..last`` whose rank is at most
``rank[k]``, ``k`` being its longest job -- processed from a start time
``t``. Lawler (1977): some optimal sequence puts before ``k`` exactly the
members of EDD index up to some member ``m >= k``; both sides are job sets
again, so the search is a dynamic programme over ``(job set, t)``, memorised
in a bounded hash table (Shang, T'kindt & Della Croce's "Branch & Memorize";
eviction costs work, never correctness), run on an explicit stack.

Writing ``C`` for the completion time of ``k`` at position ``m`` and ``m'``
for the member after ``m``, only positions passing both rules are searched:

1. ``m = k`` or ``d[m] + p[m] <= C``. Otherwise move ``m`` from before ``k``
   to just after it: ``m`` ends at ``C`` and gains at most
   ``max(0, C - d[m]) < p[m]`` tardiness, while ``k`` (due no later,
   ``d[k] <= d[m]``) ends ``p[m]`` sooner and loses
   ``min(p[m], max(0, C - d[k]))``, no less; the previous position is as good.
2. ``m`` is the last member or ``d[m'] > C`` (Potts & Van Wassenhove 1982).
   Take an optimal sequence in which ``k`` ends as late as possible, at
   ``C*``, and set ``d'[k] = max(d[k], C*)``: every sequence optimal for the
   due date ``d'[k]`` is optimal for ``d[k]`` (Lawler), and exchanges after
   Emmons turn one into an optimal sequence with exactly the jobs due by
   ``d'[k]`` before ``k``. Its position ``m*`` passes rule 2 strictly, since
   ``d[m'] > d'[k] >= C* >= C``.

Together they keep an optimum: from ``m*``, while rule 1 fails step to the
previous member; the value does not grow, and the new position passes rule
2 because ``d[m] > C - p[m]``. Among the positions passing both, a later one
is skipped when moving the members between it and the previous one to just
after ``k`` (in EDD order) costs them no more than it saves ``k`` (the
*block rule*: the earlier position is as good, so the smallest optimal one
is never skipped). A job set whose EDD order keeps every job on time (value
0), or whose SPT order makes every job tardy (value ``sum C_j - d_j``, a
lower bound for any order), needs no search: both thresholds on ``t`` are
computed once per set, as are its positions and the ``t`` interval where
each passes the rules, so a subproblem costs only a few table look-ups.

Pruning: pair the set's due dates in increasing order with the completion
times of its SPT order (also increasing); any order completes its ``i``-th
job no sooner than SPT does, so ``sum_i max(0, t + S_i - d_(i))`` bounds the
set's optimum from ``t`` (``S_i`` the SPT prefix sums). It is convex in
``t``; each set keeps a few of its linear pieces (a sum over some of the
pairs, each a lower bound itself). A position whose left and right bounds
plus the tardiness of ``k`` reach the best position found so far is
skipped, and so is its right side once the exact left value shows the same;
values stay exact, so memorised entries stay valid. Measured: about 5 %
fewer subproblems on the hardest 500-job class.

This module checks the input, watches the deadline and builds the
:class:`Result`; :mod:`optsched.problems.smtt.bb.search` drives the compiled
search of :mod:`optsched.problems.smtt.bb.kernel` (numba, loaded on first use).
Equal weights ``w`` (all 1 being the usual case) scale every sequence's cost
by ``w`` and are accepted; unequal weights raise :class:`NotSupportedError`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from optsched.deadline import Deadline
from optsched.errors import InvalidSolutionError, NotSupportedError
from optsched.options import Option, OptionSet
from optsched.params import SolveParams
from optsched.problems.smtt.bounds import lower_bound
from optsched.problems.smtt.heuristics.rules import best_rule, cost
from optsched.problems.smtt.instance import SmttInstance
from optsched.problems.smtt.solution import SmttSolution
from optsched.result import Result, Status

OPTIONS = OptionSet((
    Option("memo_mb", int, 2048, "cap of the memo table (MB); it grows as needed, then evicts",
           low=1),
    Option("sets_mb", int, 2048, "cap of the job-set tables (MB); the search ends there, like "
                                 "a time limit", low=1),
    Option("prune", int, 1, "1: skip positions the lower bound shows cannot win; 0: search them",
           choices=(0, 1)),
))
"""Both tables grow only as needed (the sets by tens of MB for 500 jobs); the caps matter
at 1000 jobs, where the hardest instance measured needs a 1 GB memo (with 128 MB,
evictions kept it unsolved in 300 s)."""
INT64_ROOM = 2**62
"""Every time, due date and partial sum the search forms must stay below this."""


def check_supported(instance: SmttInstance) -> int:
    """The common weight of all jobs; :class:`NotSupportedError` if smtt-bb cannot solve it."""
    weights = set(instance.w)
    if len(weights) > 1:
        raise NotSupportedError("weights", "smtt-bb solves the unweighted problem (or equal "
                                           "weights); use cpsat or highs for weighted instances")
    reach = instance.horizon + max(abs(d) for d in instance.due_dates) + 1
    if instance.n * reach >= INT64_ROOM:
        raise NotSupportedError("processing_times", "n * (sum of processing times + largest "
                                                    "|due date|) must stay below 2^62 for "
                                                    "smtt-bb's integer arithmetic")
    return weights.pop()


def supports(instance: SmttInstance) -> None:
    """Raise :class:`NotSupportedError` if smtt-bb cannot solve ``instance``."""
    check_supported(instance)


def run(instance: SmttInstance, params: SolveParams, deadline: Deadline) -> Result:
    """Solve ``instance`` to optimality, or return the best known sequence at the deadline.

    Returns
    -------
    Result
        ``optimal`` with ``bound == objective``; or, when the deadline passes,
        a stop is requested or the job-set tables reach ``sets_mb`` first,
        ``feasible`` with the better of the hint of :func:`optsched.solve`
        and the best constructive rule, the family's lower bound as bound,
        and the reason in ``stats["stopped"]``.

    Raises
    ------
    NotSupportedError
        The jobs do not all have the same weight (field ``weights``), or the
        numbers are too large for 64-bit arithmetic.
    """
    weight = check_supported(instance)
    opts = OPTIONS.resolve(params.options)
    from optsched.problems.smtt.bb.search import solve_edd  # compiles or loads numba code

    started = time.perf_counter()
    p, d = instance.arrays[0], instance.arrays[1]
    order = np.lexsort((np.arange(instance.n), p, d))
    outcome = solve_edd(np.ascontiguousarray(p[order]), np.ascontiguousarray(d[order]),
                        opts["memo_mb"] << 20, opts["sets_mb"] << 20, bool(opts["prune"]),
                        deadline.expired)
    stats: dict[str, Any] = {**outcome.stats,
                             "search_s": round(time.perf_counter() - started, 6)}
    if outcome.value is None or outcome.sequence is None:
        seq, value = _best_known(instance, params)
        return Result(status=Status.FEASIBLE, solver="", solution=SmttSolution(tuple(seq)),
                      objective=value, bound=lower_bound(instance), stats=stats)
    seq = [int(order[x]) for x in outcome.sequence]
    value = weight * outcome.value
    if cost(instance, seq) != value:
        raise InvalidSolutionError(f"smtt-bb built a sequence of cost {cost(instance, seq)} "
                                   f"for the optimum {value}")
    return Result(status=Status.OPTIMAL, solver="", solution=SmttSolution(tuple(seq)),
                  objective=value, bound=value, stats=stats)


def _best_known(instance: SmttInstance, params: SolveParams) -> tuple[list[int], int]:
    """The better of the hint of :func:`optsched.solve` (if any) and the best constructive rule."""
    candidates = [best_rule(instance)[0]]
    hint = params.hint
    if isinstance(hint, SmttSolution) and sorted(hint.sequence) == list(range(instance.n)):
        candidates.append(list(hint.sequence))
    return min(((seq, cost(instance, seq)) for seq in candidates), key=lambda item: item[1])
