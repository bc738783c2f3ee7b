"""The table of parplan's solvers: the rules people run, the enumeration, the exact method."""

from __future__ import annotations

from optsched.backends.native import found
from optsched.deadline import Deadline
from optsched.family import Kind, NativeRun, NativeSolver
from optsched.options import Option, OptionSet
from optsched.params import SolveParams
from optsched.problems.parplan import baselines, exact
from optsched.problems.parplan.evaluate import evaluate
from optsched.problems.parplan.instance import ParplanInstance
from optsched.problems.parplan.solution import ParplanSolution
from optsched.result import Result, Status

EXACT_OPTIONS = OptionSet((
    Option("uneven", bool, True, "uneven layer splits (false: vLLM's even split)"),
    Option("mix", bool, True, "replicas of different shapes, and pipelines over two GPU "
                              "types (false: identical one-type replicas per pool)"),
))


def answer(instance: ParplanInstance, plan: ParplanSolution, **stats: object) -> Result:
    """A plan's result, priced by the cost model; none when it has no replica."""
    evaluation = evaluate(instance, plan)
    if evaluation.violations or evaluation.objective is None:
        return Result(status=Status.NO_SOLUTION, solver="",
                      stats={**stats, "why": "; ".join(evaluation.violations[:2])})
    return found(plan, evaluation.objective, **stats)


def _rule(shapes: baselines.Shapes) -> NativeRun[ParplanInstance]:
    def run(instance: ParplanInstance, params: SolveParams, deadline: Deadline) -> Result:
        return answer(instance, baselines.rule(instance, shapes))

    return run


def _enumerate(instance: ParplanInstance, params: SolveParams, deadline: Deadline) -> Result:
    return answer(instance, baselines.enumerate_all(instance, deadline))


def _exact(instance: ParplanInstance, params: SolveParams, deadline: Deadline) -> Result:
    """Columns, then the master; infeasible (with the reason) when no template exists."""
    opts = params.options
    plan, mix, cols = exact.plan(instance, deadline, bool(opts["uneven"]), bool(opts["mix"]),
                                 params.workers or 1)
    stats = {"templates_priced": cols.priced, "columns": len(cols.best),
             "enumeration_complete": cols.complete}
    restricted = not (opts["uneven"] and opts["mix"])
    if not plan.replicas:
        if cols.complete and not restricted:  # an empty restricted space proves nothing
            return Result(status=Status.INFEASIBLE, solver="",
                          stats={**stats, "binding": exact.explain(instance)})
        return Result(status=Status.NO_SOLUTION, solver="", stats=stats)
    result = answer(instance, plan, **stats)
    if result.objective is None:
        return result
    if restricted or not cols.complete:  # the master's bound holds for its own plan space
        return result
    bound = -mix.bound
    status = Status.OPTIMAL if mix.optimal else Status.FEASIBLE
    return Result(status=status, solver="", solution=plan, objective=result.objective,
                  bound=bound, stats=result.stats)


def table() -> dict[str, NativeSolver[ParplanInstance]]:
    """Name -> solver, for the family's entry."""
    h = Kind.HEURISTIC
    return {
        "vllm": NativeSolver(_rule(baselines.vllm), h, "vLLM's rule: TP = GPUs per node, "
                             "PP = the nodes that hold the model, then DP (also max-TP)"),
        "max-pp": NativeSolver(_rule(baselines.max_pp), h, "the deepest pipeline that works, "
                               "the smallest TP size at that depth, then DP"),
        "min-tp": NativeSolver(_rule(baselines.min_tp), h, "one stage, the smallest TP size "
                               "that holds the model, then DP"),
        "enumerate": NativeSolver(_enumerate, h, "every (TP, PP, batch, EP) per pool with "
                                  "even splits, identical replicas: the homogeneous ground "
                                  "truth"),
        "parplan-exact": NativeSolver(_exact, Kind.EXACT, "exact layer splits per replica "
                                      "template, then an integer master (HiGHS) over the "
                                      "replica mix: optimal plan and bound", EXACT_OPTIONS),
    }
