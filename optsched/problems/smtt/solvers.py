"""The table of smtt's own solvers: constructive rules, local searches, smtt-bb and smtt-ssdp."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from optsched.backends.native import found
from optsched.deadline import Deadline
from optsched.family import Kind, NativeRun, NativeSolver
from optsched.options import Option, OptionSet
from optsched.params import SolveParams
from optsched.problems.smtt.bb import solver as bb
from optsched.problems.smtt.bounds import lower_bound
from optsched.problems.smtt.heuristics import local_search as ls
from optsched.problems.smtt.heuristics.rules import RULES, Rule, best_rule, cost
from optsched.problems.smtt.instance import SmttInstance
from optsched.problems.smtt.solution import SmttSolution
from optsched.problems.smtt.ssdp import solver as ssdp
from optsched.result import Result

DYNASEARCH_KICKS = 1000
"""Default of option ``kicks``: equals ``dynasearch.KICKS``, which is imported only when
used (it loads numba)."""
ILS = OptionSet((Option("iterations", int, 200, "kicks, each followed by a VND descent",
                        low=1),))
DYNASEARCH = OptionSet((Option("kicks", int, DYNASEARCH_KICKS,
                               "stop after this many kicks in a row without a gain", low=1),))


def _rule(rule: Rule, name: str) -> NativeRun[SmttInstance]:
    def run(instance: SmttInstance, params: SolveParams, deadline: Deadline) -> Result:
        seq = rule(instance)
        return found(SmttSolution(tuple(seq)), cost(instance, seq), rule=name)

    return run


Search = Callable[[SmttInstance, list[int], Deadline], tuple[list[int], int]]


def _search(search: Search) -> NativeRun[SmttInstance]:
    def run(instance: SmttInstance, params: SolveParams, deadline: Deadline) -> Result:
        start, start_cost, name = best_rule(instance)
        seq, value = search(instance, start, deadline)
        return found(SmttSolution(tuple(seq)), value, start=name, start_objective=start_cost)

    return run


def _ils(instance: SmttInstance, params: SolveParams, deadline: Deadline) -> Result:
    start, start_cost, name = best_rule(instance)
    seq, value = ls.iterated_local_search(instance, start, deadline,
                                          params.options["iterations"], params.seed)
    return found(SmttSolution(tuple(seq)), value, start=name, start_objective=start_cost)


def _dynasearch(instance: SmttInstance, params: SolveParams, deadline: Deadline) -> Result:
    from optsched.problems.smtt.heuristics import dynasearch  # compiles or loads numba code

    start, start_cost, name = best_rule(instance)
    seq, value, counts = dynasearch.iterated_dynasearch(
        instance, start, deadline, params.options["kicks"], params.seed, lower_bound(instance))
    return found(SmttSolution(tuple(seq)), value, start=name, start_objective=start_cost,
                 **counts)


def table() -> dict[str, NativeSolver[SmttInstance]]:
    """Name -> solver, for the family's entry."""
    heuristic = Kind.HEURISTIC
    out = {name: NativeSolver(_rule(rule, name), heuristic, summary)
           for name, (rule, summary) in RULES.items()}
    out["best-rule"] = NativeSolver(_rule(lambda inst: best_rule(inst)[0], "best-rule"),
                                    heuristic, "the best sequence of all constructive rules")
    out["ai"] = NativeSolver(_search(ls.adjacent_interchange), heuristic,
                             "best rule + adjacent interchange descent")
    out["insertion"] = NativeSolver(_search(ls.insertion), heuristic,
                                    "best rule + insertion descent")
    out["vnd"] = NativeSolver(_search(ls.vnd), heuristic,
                              "best rule + variable neighbourhood descent")
    out["ils"] = NativeSolver(_ils, heuristic, "iterated local search: VND with random kicks",
                              ILS)
    out["dynasearch"] = NativeSolver(_dynasearch, heuristic,
                                     "iterated dynasearch: best sets of independent swaps and "
                                     "insertions, with random kicks", DYNASEARCH)
    out["smtt-bb"] = NativeSolver(bb.run, Kind.EXACT,
                                  "Lawler decomposition with memorised subproblems, unweighted "
                                  "(or equal weights) only", bb.OPTIONS, bb.supports)
    out["smtt-ssdp"] = NativeSolver(ssdp.run, Kind.EXACT,
                                    "successive sublimation dynamic programming (Tanaka, "
                                    "Fujikuma & Araki): Lagrangian time-indexed relaxation "
                                    "with job memory and state elimination",
                                    ssdp.OPTIONS, ssdp.check_supported)
    return out


def warm() -> None:
    """Run the compiled solvers once on a tiny instance, loading their numba code.

    The stages of ``smtt-ssdp`` that a tiny instance never reaches are driven
    by hand (:func:`optsched.problems.smtt.ssdp.search.warm`).
    """
    from optsched.problems.smtt.bb import kernel as bb_kernel
    from optsched.problems.smtt.bb import memo as bb_memo
    from optsched.problems.smtt.generate import generate
    from optsched.problems.smtt.ssdp.search import warm as warm_levels

    solvers = table()
    for weighted in (False, True):
        (instance,) = generate(n=8, weighted=weighted, seed=1)
        for name in ("dynasearch", "smtt-bb", "smtt-ssdp"):
            if name != "smtt-bb" or not weighted:
                native = solvers[name]
                params = SolveParams(workers=1, options=native.options.resolve({}))
                native.run(instance, params, Deadline(None))
    warm_levels(ssdp.OPTIONS.resolve({}))
    bb_memo.rehash(bb_memo.empty(bb_kernel.BUCKET), 2 * bb_kernel.BUCKET)  # tables growing
    bb_kernel.rehash_registry(np.full((1, 2), -1, np.int64), np.full((2, 2), -1, np.int64))
