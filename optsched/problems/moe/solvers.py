"""The table of moe's own solvers: the runtimes' defaults, the field's baselines, moe-lns."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from optsched.backends.native import found
from optsched.deadline import Deadline
from optsched.errors import NotSupportedError
from optsched.family import Kind, NativeRun, NativeSolver
from optsched.params import SolveParams
from optsched.problems.moe import baselines, layout, lns
from optsched.problems.moe.bounds import lower_bound
from optsched.problems.moe.evaluate import evaluate
from optsched.problems.moe.instance import MoeInstance
from optsched.problems.moe.output import trivial
from optsched.problems.moe.solution import make
from optsched.result import Result, Status


def answer(instance: MoeInstance, phy2log: np.ndarray, **stats: object) -> Result:
    """A placement's result, priced by the cost model; none if it breaks a cap."""
    solution = make(phy2log)
    evaluation = evaluate(instance, solution)
    if evaluation.violations or evaluation.objective is None:
        return Result(status=Status.NO_SOLUTION, solver="",
                      stats={**stats, "why": "; ".join(evaluation.violations[:2])})
    return found(solution, evaluation.objective, **stats)


def _fixed(place: Callable[[MoeInstance], np.ndarray]) -> NativeRun[MoeInstance]:
    def run(instance: MoeInstance, params: SolveParams, deadline: Deadline) -> Result:
        return answer(instance, place(instance))

    return run


def _eplb(policy: str) -> NativeRun[MoeInstance]:
    def run(instance: MoeInstance, params: SolveParams, deadline: Deadline) -> Result:
        return answer(instance, baselines.deepseek(instance, policy))  # type: ignore[arg-type]

    return run


def _hierarchical(instance: MoeInstance) -> None:
    """EPLB's hierarchical policy needs the groups to divide over the nodes."""
    groups, nodes = instance.model.groups, instance.cluster.nodes
    if groups % nodes:
        raise NotSupportedError("model.groups", f"EPLB's hierarchical policy needs the "
                                                f"{groups} group(s) to divide over the {nodes} "
                                                "nodes")


Search = Callable[[MoeInstance, SolveParams, Deadline], np.ndarray]


def _within_checks(search: Search) -> NativeRun[MoeInstance]:
    """``search`` (moetuner, exflow, moe-lns), stopping early enough for the checks after it.

    Pricing a placement once (:func:`.evaluate`) shows what the check of the
    answer and ``solve()``'s verification will take; the search ends that
    long (three times over, at least 0.1 s) before the deadline.
    """
    def run(instance: MoeInstance, params: SolveParams, deadline: Deadline) -> Result:
        started = time.perf_counter()
        lower_bound(instance)  # cached: the verification will not pay for it again
        evaluate(instance, trivial(instance))
        reserve = 3 * (time.perf_counter() - started) + 0.1
        left = deadline.remaining()
        inner = deadline if left is None else Deadline(max(0.0, left - reserve),
                                                         deadline.stop, deadline.found)
        return answer(instance, search(instance, params, inner), reserve_s=round(reserve, 3))

    return run


def table() -> dict[str, NativeSolver[MoeInstance]]:
    """Name -> solver, for the family's entry."""
    h = Kind.HEURISTIC
    return {
        "contiguous": NativeSolver(_fixed(layout.contiguous), h, "slot s holds expert s mod E "
                                   "(vLLM's and SGLang's default placement)"),
        "round-robin": NativeSolver(_fixed(layout.round_robin), h, "expert e on GPU e mod G"),
        "lpt": NativeSolver(_fixed(layout.lpt), h, "D'Hondt replica counts, then longest "
                            "processing time first with equal slots per GPU"),
        "eplb": NativeSolver(_eplb("auto"), h, "DeepSeek EPLB, exactly (hierarchical when "
                             "the groups divide over the nodes, else global)"),
        "eplb-hierarchical": NativeSolver(_eplb("hierarchical"), h, "DeepSeek EPLB's "
                                          "hierarchical policy (groups kept on a node)",
                                          supports=_hierarchical),
        "eplb-global": NativeSolver(_eplb("global"), h, "DeepSeek EPLB's global policy"),
        "moetuner": NativeSolver(_within_checks(baselines.moetuner), h,
                                 "MoETuner's two stages (balanced clusters, then clusters to "
                                 "GPUs by the worst pair), CP-SAT each"),
        "exflow": NativeSolver(_within_checks(lambda i, _, d: baselines.exflow(i, d)), h,
                               "ExFlow-style affinity grouping: fewest GPU changes between "
                               "layers, equal experts per GPU"),
        "moe-lns": NativeSolver(_within_checks(lns.run), h,
                                "balance, then swaps and exact per-layer re-placement on the "
                                "whole objective (caps and moves held)",
                                lns.OPTIONS),
    }


MAX_EXACT_AUTO = 2000
"""Most replica variables of a ``load`` instance that ``auto`` gives the exact MILP."""


def choose(instance: MoeInstance, params: SolveParams) -> tuple[str, str]:
    """HiGHS on the exact model for small load instances, else moe-lns.

    The line above is what ``optsched families`` shows; small means at most
    :data:`MAX_EXACT_AUTO` replica variables.
    """
    c = instance.cluster
    size = instance.layers * instance.experts * c.gpus * (1 + c.slots - instance.experts)
    if instance.objective == "load" and size <= MAX_EXACT_AUTO:
        return "highs", "a small load instance: the exact model proves its optimum"
    return "moe-lns", "balance, then the per-layer descent on the whole objective"
