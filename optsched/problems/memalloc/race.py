"""``memalloc-race``: MiniMalloc's search and CP-SAT side by side; the first proof ends both.

The two are strong on different instances: the canonical search decides
MiniMalloc's challenging set and the compiler traces in seconds where CP-SAT
proves nothing in a minute, while on guillotine-cut instances with no slack
CP-SAT's propagation finds the packing at once where the search backtracks
for minutes. On a solve with at least two workers, CP-SAT takes one and
:mod:`.exact.solver` the others, each with its own stop request; a proven
optimum or infeasibility (or, when deciding a capacity, any fit) of one
stops the other. Each answer is checked by the family's checker before it
counts, and the better solution and the better bound are kept.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from optsched.deadline import Deadline
from optsched.errors import NotSupportedError
from optsched.params import SolveParams
from optsched.problems.memalloc.evaluate import evaluate
from optsched.problems.memalloc.exact import solver as exact
from optsched.problems.memalloc.instance import MemallocInstance
from optsched.problems.memalloc.solution import MemallocSolution
from optsched.result import Result, Status

if TYPE_CHECKING:
    from optsched.registry import SolverSpec

ENDS = (Status.OPTIMAL, Status.INFEASIBLE)


def run(instance: MemallocInstance, params: SolveParams, deadline: Deadline) -> Result:
    """Both searches until one proves its answer (with one worker: the search alone)."""
    from optsched.registry import family_of, get_solver

    cpsat = get_solver("cpsat", family_of(instance))
    if params.threads < 2 or not cpsat.installed() or not _cp_takes(cpsat, instance):
        return exact.run(instance, params, deadline)
    deciding = instance.capacity is not None and (params.options.get("mode") or
                                                  "decide") == "decide"
    stops = [deadline.stop.child(), deadline.stop.child()]
    results: list[Result | None] = [None, None]

    def one(k: int) -> None:
        own = Deadline(deadline.remaining(), stops[k])
        try:
            if k == 0:
                result = exact.run(instance, replace(params, workers=params.threads - 1), own)
            else:
                result = cpsat.run(instance, replace(params, workers=1, options={}, model={}),
                                   own)
        except Exception as exc:
            result = Result(status=Status.ERROR, solver="", stats={"error": repr(exc)})
        results[k] = result
        if result.status in ENDS or (deciding and result.status.has_solution):
            stops[1 - k].set()

    threads = [threading.Thread(target=one, args=(k,), daemon=True) for k in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return _merge(instance, results)


def _cp_takes(cpsat: SolverSpec, instance: MemallocInstance) -> bool:
    if cpsat.supports is None:
        return True
    try:
        cpsat.supports(instance)
    except NotSupportedError:  # the model's size limit: the search alone
        return False
    return True


def _merge(instance: MemallocInstance, results: list[Result | None]) -> Result:
    """The better checked solution, the larger valid bound, and which side gave what.

    A proof of infeasibility stands unless the other side found a solution
    that the checker accepts (then the claim is listed as a disagreement).
    """
    stats: dict[str, object] = {}
    best: tuple[int, MemallocSolution, str] | None = None
    bound: int | None = None
    infeasible: Result | None = None
    for name, result in zip(("memalloc-bb", "cpsat"), results, strict=True):
        if result is None:
            continue
        stats[name] = result.status.value
        if "error" in result.stats:
            stats[f"{name}_error"] = result.stats["error"]
        if result.status is Status.INFEASIBLE:
            infeasible = replace(result, solver="", stats={**result.stats, **stats,
                                                           "proof": name})
            continue
        if result.bound is not None:
            bound = max(bound or 0, int(result.bound))
        solution = result.solution
        if isinstance(solution, MemallocSolution):
            evaluation = evaluate(instance, solution)
            if evaluation.violations or evaluation.objective is None:
                stats[f"{name}_invalid"] = evaluation.violations[0]
                continue
            value = int(evaluation.objective)
            if best is None or value < best[0]:
                best = (value, solution, name)
    if best is None:
        if infeasible is not None:
            return infeasible
        return Result(status=Status.NO_SOLUTION, solver="", bound=bound, stats=stats)
    if infeasible is not None:
        stats["disagreements"] = [f"{infeasible.stats['proof']} claimed the instance "
                                  "infeasible; the other side's solution is valid"]
    value, solution, name = best
    bound = min(bound, value) if bound is not None else None
    status = Status.OPTIMAL if bound == value else Status.FEASIBLE
    return Result(status=status, solver="", solution=solution, objective=value, bound=bound,
                  stats={**stats, "from": name})
