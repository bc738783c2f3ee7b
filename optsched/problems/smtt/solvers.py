"""The table of smtt's own solvers: constructive rules, local searches, smtt-bb and smtt-ssdp."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from optsched.backends.native import found, stopped
from optsched.compiled import LOADING
from optsched.deadline import Deadline
from optsched.errors import NotSupportedError
from optsched.family import Kind, NativeRun, NativeSolver
from optsched.options import Option, OptionSet
from optsched.params import SolveParams
from optsched.problems.smtt.bb import solver as bb
from optsched.problems.smtt.bounds import lower_bound
from optsched.problems.smtt.generate import generate
from optsched.problems.smtt.heuristics import local_search as ls
from optsched.problems.smtt.heuristics.rules import RULES, Rule, best_known, best_rule, cost
from optsched.problems.smtt.instance import SmttInstance
from optsched.problems.smtt.solution import SmttSolution
from optsched.problems.smtt.ssdp import solver as ssdp
from optsched.result import Result, Status

STOPPED = "the jobs it had not reached follow in its order so far"
"""What a rule cut short by its deadline did with the rest (``native.stopped``)."""
DYNASEARCH_KICKS = 1000
"""Default of option ``kicks``: equals ``dynasearch.KICKS``, which is imported only when
used (it loads numba)."""
ILS = OptionSet((Option("iterations", int, 200, "kicks, each followed by a VND descent",
                        low=1),))
DYNASEARCH = OptionSet((Option("kicks", int, DYNASEARCH_KICKS,
                               "stop after this many kicks in a row without a gain", low=1),))


def _rule(rule: Rule, name: str) -> NativeRun[SmttInstance]:
    def run(instance: SmttInstance, params: SolveParams, deadline: Deadline) -> Result:
        seq = rule(instance, deadline=deadline)
        return found(SmttSolution(tuple(seq)), cost(instance, seq), rule=name,
                     **stopped(deadline, STOPPED))

    return run


Search = Callable[[SmttInstance, list[int], Deadline], tuple[list[int], int]]


def _search(search: Search) -> NativeRun[SmttInstance]:
    def run(instance: SmttInstance, params: SolveParams, deadline: Deadline) -> Result:
        start, start_cost, name = best_rule(instance, deadline)
        seq, value = search(instance, start, deadline)
        return found(SmttSolution(tuple(seq)), value, start=name, start_objective=start_cost)

    return run


def _ils(instance: SmttInstance, params: SolveParams, deadline: Deadline) -> Result:
    start, start_cost, name = best_rule(instance, deadline)
    seq, value = ls.iterated_local_search(instance, start, deadline,
                                          params.options["iterations"], params.seed)
    return found(SmttSolution(tuple(seq)), value, start=name, start_objective=start_cost)


PASS_S_PER_N2 = 4e-9
"""Measured seconds of one dynasearch pass over n squared (1.4 s for 20,000 jobs)."""


def _dynasearch(instance: SmttInstance, params: SolveParams, deadline: Deadline) -> Result:
    from optsched.problems.smtt.heuristics import dynasearch

    start, start_cost, name = best_rule(instance, deadline)
    left = deadline.remaining()
    if left is not None and PASS_S_PER_N2 * instance.n ** 2 > left:  # not one pass in time
        return found(SmttSolution(tuple(start)), start_cost, start=name,
                     start_objective=start_cost, passes=0)
    seq, value, counts = dynasearch.iterated_dynasearch(
        instance, start, deadline, params.options["kicks"], params.seed, lower_bound(instance))
    return found(SmttSolution(tuple(seq)), value, start=name, start_objective=start_cost,
                 **counts)


def _load_dynasearch() -> None:
    from optsched.problems.smtt.heuristics import dynasearch

    dynasearch.load()


def _load_bb() -> None:
    from optsched.problems.smtt.bb import kernel, memo

    (instance,) = generate(n=8, seed=1)
    bb.run(instance, SolveParams(workers=1), Deadline(None))
    memo.rehash(memo.empty(kernel.BUCKET), 2 * kernel.BUCKET)  # tables growing
    kernel.rehash_registry(np.full((1, 2), -1, np.int64), np.full((2, 2), -1, np.int64))


def _load_ssdp() -> None:
    from optsched.problems.smtt.ssdp.search import warm as warm_levels

    (instance,) = generate(n=8, weighted=True, seed=1)
    ssdp.run(instance, SolveParams(workers=1), Deadline(None))
    warm_levels(ssdp.OPTIONS.resolve({}))  # the level stages a tiny instance never reaches


KERNELS: dict[str, Callable[[], None]] = {"dynasearch": _load_dynasearch, "smtt-bb": _load_bb,
                                          "smtt-ssdp": _load_ssdp}
"""How each compiled solver loads its kernels: a run on a tiny instance."""


def _when_loaded(name: str, run: NativeRun[SmttInstance]) -> NativeRun[SmttInstance]:
    """``run`` once the kernels of ``name`` are loaded; until then the best known sequence.

    Loading from numba's disk cache takes a fraction of a second per process,
    compiling on a cold cache several seconds: a short limit must not pay it.
    """
    def gated(instance: SmttInstance, params: SolveParams, deadline: Deadline) -> Result:
        if LOADING.ready(name, KERNELS[name], deadline):
            return run(instance, params, deadline)
        seq, value = best_known(instance, params.hint, deadline)
        return Result(status=Status.FEASIBLE, solver="", solution=SmttSolution(tuple(seq)),
                      objective=value, bound=lower_bound(instance),
                      stats={"kernels": "still loading when the limit came"})

    return gated


def table() -> dict[str, NativeSolver[SmttInstance]]:
    """Name -> solver, for the family's entry."""
    heuristic = Kind.HEURISTIC
    out = {name: NativeSolver(_rule(rule, name), heuristic, summary)
           for name, (rule, summary) in RULES.items()}
    out["best-rule"] = NativeSolver(_rule(lambda inst, deadline=None: best_rule(inst, deadline)[0],
                                          "best-rule"),
                                    heuristic, "the best sequence of all constructive rules")
    out["ai"] = NativeSolver(_search(ls.adjacent_interchange), heuristic,
                             "best rule + adjacent interchange descent")
    out["insertion"] = NativeSolver(_search(ls.insertion), heuristic,
                                    "best rule + insertion descent")
    out["vnd"] = NativeSolver(_search(ls.vnd), heuristic,
                              "best rule + variable neighbourhood descent")
    out["ils"] = NativeSolver(_ils, heuristic, "iterated local search: VND with random kicks",
                              ILS)
    out["dynasearch"] = NativeSolver(_when_loaded("dynasearch", _dynasearch), heuristic,
                                     "iterated dynasearch: best sets of independent swaps and "
                                     "insertions, with random kicks", DYNASEARCH)
    out["smtt-bb"] = NativeSolver(_when_loaded("smtt-bb", bb.run), Kind.EXACT,
                                  "Lawler decomposition with memorised subproblems, unweighted "
                                  "(or equal weights) only", bb.OPTIONS, bb.supports)
    out["smtt-ssdp"] = NativeSolver(_when_loaded("smtt-ssdp", ssdp.run), Kind.EXACT,
                                    "successive sublimation dynamic programming (Tanaka, "
                                    "Fujikuma & Araki): Lagrangian time-indexed relaxation "
                                    "with job memory and state elimination",
                                    ssdp.OPTIONS, ssdp.check_supported)
    return out


def warm() -> None:
    """Load every compiled solver's kernels now (the benchmark fork server calls this)."""
    for load in KERNELS.values():
        load()


def choose(instance: SmttInstance, params: SolveParams) -> tuple[str, str]:
    """smtt-bb for equal weights, smtt-ssdp for unequal ones, dynasearch beyond their range.

    Equal weights: ``smtt-bb`` (it proves 500-job instances in seconds, where
    CP-SAT proves none in a minute); unequal: ``smtt-ssdp`` (all of OR-Library
    within 6 s, where CP-SAT leaves gaps of tens of percent).
    """
    weighted = len(set(instance.w)) > 1
    name = "smtt-ssdp" if weighted else "smtt-bb"
    try:
        (ssdp.check_supported if weighted else bb.supports)(instance)
    except NotSupportedError as exc:
        return "dynasearch", f"beyond {name} ({exc.problem.split(';')[0]})"
    return name, f"{'unequal' if weighted else 'equal'} weights: {name} proves them fastest"
