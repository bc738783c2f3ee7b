"""The scratchpad kind's own solvers: linear allocation with Belady in two orders."""

from __future__ import annotations

from typing import Any

from optsched.backends.native import found
from optsched.deadline import Deadline
from optsched.errors import NotSupportedError
from optsched.family import Kind, NativeSolver
from optsched.params import SolveParams
from optsched.problems.memalloc.scratchpad.belady import belady, listed_order, memory_order
from optsched.problems.memalloc.scratchpad.evaluate import evaluate
from optsched.problems.memalloc.scratchpad.instance import ScratchpadInstance
from optsched.result import Result


def only_scratchpad(instance: Any) -> None:
    """Refuse an instance of memalloc's buffers kind."""
    if not isinstance(instance, ScratchpadInstance):
        raise NotSupportedError("buffers", "this solver schedules scratchpad instances "
                                           "(operators and tensors), not buffers")


def free_order(instance: Any) -> None:
    """Refuse buffers, and a scratchpad instance whose order is fixed."""
    only_scratchpad(instance)
    if instance.fixed:
        raise NotSupportedError("order", "this solver chooses the order; the instance's is "
                                         "the listed one (-m order=free lets it choose)")


def _in(order_of: Any) -> Any:
    def run(instance: ScratchpadInstance, params: SolveParams, deadline: Deadline) -> Result:
        solution = belady(instance, order_of(instance))
        objective = evaluate(instance, solution).objective
        assert objective is not None
        return found(solution, objective)

    return run


def table() -> dict[str, NativeSolver[Any]]:
    """Name -> solver, added to memalloc's table."""
    h = Kind.HEURISTIC
    return {
        "scratchpad-belady": NativeSolver(_in(listed_order), h, "TFLite-style linear "
                                          "allocation with Belady replacement, in the listed "
                                          "order (scratchpad instances)",
                                          supports=only_scratchpad),
        "scratchpad-memorder": NativeSolver(_in(memory_order), h, "the same in a "
                                            "memory-aware greedy order (free order)",
                                            supports=free_order),
    }
