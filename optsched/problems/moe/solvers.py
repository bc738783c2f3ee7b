"""The table of moe's own solvers: the runtimes' defaults, the field's baselines, moe-lns."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from optsched.backends.native import found
from optsched.deadline import Deadline
from optsched.errors import NotSupportedError
from optsched.family import Kind, NativeRun, NativeSolver
from optsched.params import SolveParams
from optsched.problems.moe import baselines, layout, lns
from optsched.problems.moe.evaluate import evaluate
from optsched.problems.moe.instance import MoeInstance
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


def _exflow(instance: MoeInstance, params: SolveParams, deadline: Deadline) -> Result:
    return answer(instance, baselines.exflow(instance, deadline))


def _moetuner(instance: MoeInstance, params: SolveParams, deadline: Deadline) -> Result:
    return answer(instance, baselines.moetuner(instance, params, deadline))


def _lns(instance: MoeInstance, params: SolveParams, deadline: Deadline) -> Result:
    return answer(instance, lns.run(instance, params, deadline))


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
        "moetuner": NativeSolver(_moetuner, h, "MoETuner's two stages (balanced clusters, "
                                 "then clusters to GPUs by the worst pair), CP-SAT each"),
        "exflow": NativeSolver(_exflow, h, "ExFlow-style affinity grouping: fewest GPU "
                               "changes between layers, equal experts per GPU"),
        "moe-lns": NativeSolver(_lns, h, "balance, then swaps and exact per-layer "
                                "re-placement on the whole objective (caps and moves held)",
                                lns.OPTIONS),
    }


def choose(instance: MoeInstance, params: SolveParams) -> tuple[str, str]:
    """moe-lns (every instance): the per-layer decomposition scales to 58 x 256 x 32."""
    return "moe-lns", "balance, then the per-layer descent on the whole objective"
