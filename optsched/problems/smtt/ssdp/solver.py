"""``smtt-ssdp``: successive sublimation dynamic programming for 1 || sum w_j T_j.

The method, with its sources: ``docs/methods/smtt-ssdp.md``. This module checks the input,
improves the start by iterated dynasearch and builds the :class:`Result`;
:mod:`optsched.problems.smtt.ssdp.search` drives the search.
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
    Option("states_mb", int, 1024, "cap of the state tables (MB); the search ends there, like a "
                                   "time limit", low=1),
    Option("iterations", int, 600, "subgradient steps of the first stage (it ends sooner once "
                                   "its step factor is below 1/100)", low=1),
    Option("ils_iterations", int, 100, "kicks of the compiled local search that improves the "
                                       "start", low=1),
    Option("add", int, 3, "jobs memorised per level", low=1),
    Option("kicks", int, 300, "kicks of the dynasearch that improves the start", low=1),
    Option("windows", int, 1, "1: precedences, completion windows and their propagation; 0: off",
           choices=(0, 1)),
))
"""``kicks`` 300 takes 0.12 s at most and finds the best known value on all of OR-Library
wt100 (10 kicks miss it on 35); ``windows`` are the precedences of
:func:`optsched.problems.smtt.dominance.completion_windows` and their propagation
(:meth:`optsched.problems.smtt.ssdp.search.Search._propagate`)."""
MAX_VALUE = 2**52
"""Every cost the search forms must stay below this to be exact in a double."""


MAX_JOBS = 5000
"""Most jobs smtt-ssdp takes: its precedence tables hold n^2 entries (OR-Library has 100)."""


def check_supported(instance: SmttInstance) -> None:
    """Raise :class:`NotSupportedError` for too many jobs or costs too large for doubles."""
    if instance.n > MAX_JOBS:
        raise NotSupportedError("processing_times", f"smtt-ssdp takes at most {MAX_JOBS} jobs "
                                                    f"(this instance has {instance.n}); "
                                                    "dynasearch scales further")
    _, d, w = instance.arrays
    if int(w.sum()) * (instance.horizon + max(0, -int(d.min()))) >= MAX_VALUE:
        raise NotSupportedError("processing_times", "sum of weights times the horizon must "
                                                    "stay below 2^52 for smtt-ssdp")




def run(instance: SmttInstance, params: SolveParams, deadline: Deadline) -> Result:
    """Solve ``instance`` to optimality, or return the best sequence and bound at the deadline.

    Returns
    -------
    Result
        ``optimal`` with ``bound == objective``; or, when the deadline passes,
        a stop is requested or the state tables reach ``states_mb``,
        ``feasible`` with the best sequence found (never worse than a valid
        hint), the best proven lower bound and the reason in ``stats["stopped"]``.

    Raises
    ------
    NotSupportedError
        The costs are too large for exact double arithmetic.
    """
    check_supported(instance)
    opts = OPTIONS.resolve(params.options)
    from optsched.problems.smtt.heuristics import dynasearch  # compiles or loads numba code
    from optsched.problems.smtt.ssdp.search import Search  # compiles or loads numba code

    started = time.perf_counter()
    p, d, w = instance.arrays
    label = np.lexsort((np.arange(instance.n), d, -w, p))  # search job x is job label[x]
    search = Search(p[label], d[label], w[label], deadline.expired,
                    opts["states_mb"] << 20, opts)
    starts = [np.asarray(best_rule(instance, deadline)[0], dtype=np.int64)]
    hint = params.hint
    if isinstance(hint, SmttSolution) and sorted(hint.sequence) == list(range(instance.n)):
        starts.append(np.asarray(hint.sequence, dtype=np.int64))
    floor = lower_bound(instance)
    better, _, _ = dynasearch.iterated_dynasearch(instance, starts[-1].tolist(), deadline,
                                                  opts["kicks"], params.seed, floor)
    starts.append(np.asarray(better, dtype=np.int64))
    relabel = np.argsort(label)
    search.solve([relabel[seq] for seq in starts])
    seq = [int(label[j]) for j in search.best]
    value = cost(instance, seq)
    if value != search.ub:
        raise InvalidSolutionError(f"smtt-ssdp priced its sequence at {search.ub}, "
                                   f"but it costs {value}")
    bound = max(search.bound(), floor)
    stats: dict[str, Any] = {**search.stats, "search_s": round(time.perf_counter() - started, 6)}
    status = Status.OPTIMAL if bound >= value else Status.FEASIBLE
    return Result(status=status, solver="", solution=SmttSolution(tuple(seq)), objective=value,
                  bound=min(bound, value), stats=stats)
