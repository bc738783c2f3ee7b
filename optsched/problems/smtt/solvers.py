"""The table of smtt's own solvers: constructive rules, local searches, smtt-bb and smtt-ssdp."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from optsched.backends.heuristic import found
from optsched.deadline import Deadline
from optsched.family import Kind, NativeSolver
from optsched.fields import int_options
from optsched.params import SolveParams
from optsched.problems.smtt.bb import solver as bb
from optsched.problems.smtt.bounds import lower_bound
from optsched.problems.smtt.heuristics import local_search as ls
from optsched.problems.smtt.heuristics import rules as h
from optsched.problems.smtt.instance import SmttInstance
from optsched.problems.smtt.solution import SmttSolution
from optsched.problems.smtt.ssdp import solver as ssdp
from optsched.result import Result

DYNASEARCH_KICKS = 1000
"""Default of option ``kicks``: equals ``dynasearch.KICKS``, which is imported only when
used (it loads numba)."""

Rule = Callable[[SmttInstance], list[int]]

RULES: dict[str, tuple[Rule, str]] = {
    "edd": (h.edd, "earliest due date"),
    "spt": (h.spt, "shortest processing time"),
    "wspt": (h.wspt, "weighted shortest processing time (Smith)"),
    "mdd": (h.mdd, "modified due date (Baker & Bertrand)"),
    "wmdd": (h.wmdd, "weighted modified due date (Kanet & Li)"),
    "atc": (h.atc_best, "apparent tardiness cost, best look-ahead of a grid"),
    "psk": (h.psk, "Panwalkar, Smith & Koulamas"),
    "wi": (h.wilkerson_irwin, "Wilkerson & Irwin pairwise rule with backtracking"),
    "eddc": (h.eddc, "EDDC of the LLM-discovered heuristics paper"),
    "mddc": (h.mddc, "MDDC of the LLM-discovered heuristics paper"),
}


def best_rule(instance: SmttInstance) -> tuple[list[int], int, str]:
    """The cheapest sequence of all constructive rules: (sequence, cost, rule name)."""
    scored = [(h.cost(instance, seq), name, seq)
              for name, (rule, _) in RULES.items() for seq in (rule(instance),)]
    value, name, seq = min(scored, key=lambda item: item[0])
    return seq, value, name


def _options(params: SolveParams, defaults: Mapping[str, int]) -> dict[str, int]:
    return int_options(params.options, defaults, "this heuristic")


def _rule(rule: Rule, name: str) -> Callable[[Any, SolveParams, Deadline], Result]:
    def run(instance: SmttInstance, params: SolveParams, deadline: Deadline) -> Result:
        _options(params, {})
        seq = rule(instance)
        return found(SmttSolution(tuple(seq)), h.cost(instance, seq), rule=name)

    return run


Search = Callable[[SmttInstance, list[int], Deadline], tuple[list[int], int]]


def _search(search: Search) -> Callable[[Any, SolveParams, Deadline], Result]:
    def run(instance: SmttInstance, params: SolveParams, deadline: Deadline) -> Result:
        _options(params, {})
        start, start_cost, name = best_rule(instance)
        seq, value = search(instance, start, deadline)
        return found(SmttSolution(tuple(seq)), value, start=name, start_objective=start_cost)

    return run


def _ils(instance: SmttInstance, params: SolveParams, deadline: Deadline) -> Result:
    opts = _options(params, {"iterations": 200})
    start, start_cost, name = best_rule(instance)
    seq, value = ls.iterated_local_search(instance, start, deadline, opts["iterations"],
                                          params.seed)
    return found(SmttSolution(tuple(seq)), value, start=name, start_objective=start_cost)


def _dynasearch(instance: SmttInstance, params: SolveParams, deadline: Deadline) -> Result:
    opts = _options(params, {"kicks": DYNASEARCH_KICKS})
    from optsched.problems.smtt.heuristics import dynasearch  # compiles or loads numba code

    start, start_cost, name = best_rule(instance)
    seq, value, counts = dynasearch.iterated_dynasearch(
        instance, start, deadline, opts["kicks"], params.seed, lower_bound(instance))
    return found(SmttSolution(tuple(seq)), value, start=name, start_objective=start_cost,
                 **counts)


def table() -> dict[str, NativeSolver]:
    """Name -> solver, for the family's entry in the registry."""
    out = {name: NativeSolver(_rule(rule, name), Kind.HEURISTIC, summary)
           for name, (rule, summary) in RULES.items()}
    out["best-rule"] = NativeSolver(
        _rule(lambda inst: best_rule(inst)[0], "best-rule"), Kind.HEURISTIC,
        "the best sequence of all constructive rules")
    out["ai"] = NativeSolver(_search(ls.adjacent_interchange), Kind.HEURISTIC,
                             "best rule + adjacent interchange descent")
    out["insertion"] = NativeSolver(_search(ls.insertion), Kind.HEURISTIC,
                                    "best rule + insertion descent")
    out["vnd"] = NativeSolver(_search(ls.vnd), Kind.HEURISTIC,
                              "best rule + variable neighbourhood descent")
    out["ils"] = NativeSolver(_ils, Kind.HEURISTIC,
                              "iterated local search: VND with random kicks "
                              "(option iterations, default 200)")
    out["dynasearch"] = NativeSolver(_dynasearch, Kind.HEURISTIC,
                                     "iterated dynasearch: best sets of independent swaps and "
                                     "insertions, with random kicks (option kicks: stop after "
                                     "that many in a row without a gain, default "
                                     f"{DYNASEARCH_KICKS})")
    out["smtt-bb"] = NativeSolver(bb.run, Kind.EXACT,
                                  "Lawler decomposition with memorised subproblems, unweighted "
                                  "(or equal weights) only (options memo_mb=128, sets_mb=512)")
    out["smtt-ssdp"] = NativeSolver(ssdp.run, Kind.EXACT,
                                    "successive sublimation dynamic programming (Tanaka, "
                                    "Fujikuma & Araki) for weighted tardiness, partial: "
                                    "Lagrangian time-indexed relaxation with job memory and "
                                    "state elimination")
    return out


def warm() -> None:
    """Run the compiled solvers once on a tiny instance, loading their numba code.

    The stages of ``smtt-ssdp`` that a tiny instance never reaches are driven
    by hand (:func:`optsched.problems.smtt.ssdp.search.warm`).
    """
    from optsched.problems.smtt.bb import kernel as bb_kernel  # tables growing in smtt-bb
    from optsched.problems.smtt.bb import memo as bb_memo  # tables growing in smtt-bb
    from optsched.problems.smtt.generate import generate
    from optsched.problems.smtt.ssdp.search import warm as warm_levels

    for weighted in (False, True):
        (instance,) = generate(n=8, weighted=weighted, seed=1)
        for name in ("dynasearch", "smtt-bb", "smtt-ssdp"):
            if name != "smtt-bb" or not weighted:
                table()[name].run(instance, SolveParams(workers=1), Deadline(None))
    warm_levels(dict(ssdp.OPTIONS))
    bb_memo.rehash(bb_memo.empty(bb_kernel.BUCKET), 2 * bb_kernel.BUCKET)
    bb_kernel.rehash_registry(np.full((1, 2), -1, np.int64), np.full((2, 2), -1, np.int64))
