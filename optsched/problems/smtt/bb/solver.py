"""``smtt-bb``: an exact decomposition search for the unweighted problem 1 || sum T_j.

The method, with its sources: ``docs/methods/smtt-bb.md``. This module checks the input,
watches the deadline and builds the :class:`Result`; :mod:`optsched.problems.smtt.bb.search`
drives the compiled search of :mod:`optsched.problems.smtt.bb.kernel` (numba, loaded on
first use). Equal weights ``w`` scale every cost by ``w`` and are accepted; unequal weights
raise :class:`NotSupportedError`.
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
from optsched.problems.smtt.heuristics.rules import best_known, cost
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
                                           "weights); smtt-ssdp solves weighted instances")
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
        seq, value = best_known(instance, params.hint)
        return Result(status=Status.FEASIBLE, solver="", solution=SmttSolution(tuple(seq)),
                      objective=value, bound=lower_bound(instance), stats=stats)
    seq = [int(order[x]) for x in outcome.sequence]
    value = weight * outcome.value
    if cost(instance, seq) != value:
        raise InvalidSolutionError(f"smtt-bb built a sequence of cost {cost(instance, seq)} "
                                   f"for the optimum {value}")
    return Result(status=Status.OPTIMAL, solver="", solution=SmttSolution(tuple(seq)),
                  objective=value, bound=value, stats=stats)

