"""memalloc's two kinds of instance, buffers and scratchpad schedules, behind one family.

Each function of the family entry takes either kind and hands it to that
kind's own function; the solvers of one kind refuse the other by their
``supports``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from optsched.errors import InputError, NotSupportedError
from optsched.family import Evaluation, InstanceKind, NativeSolver
from optsched.params import SolveParams
from optsched.problems.memalloc import output
from optsched.problems.memalloc.instance import from_dict as buffers_from_dict
from optsched.problems.memalloc.scratchpad import bounds, evaluate, reading, solvers, timeline
from optsched.problems.memalloc.scratchpad.belady import belady, listed_order
from optsched.problems.memalloc.scratchpad.instance import ScratchpadInstance
from optsched.problems.memalloc.scratchpad.solution import ScratchpadSolution
from optsched.problems.memalloc.scratchpad.solution import from_dict as schedule_from_dict
from optsched.problems.memalloc.solution import MemallocSolution
from optsched.problems.memalloc.solution import from_dict as offsets_from_dict

SCRATCHPAD = InstanceKind("scratchpad", ScratchpadInstance, ScratchpadSolution,
                          hint_solver="scratchpad-belady", default_solver="cpsat")


def read_instance(obj: Mapping[str, Any]) -> Any:
    """A scratchpad instance when the object has ``operators``, else buffers."""
    if isinstance(obj, Mapping) and reading.is_scratchpad(obj):
        return reading.from_dict(obj)
    return buffers_from_dict(obj)


def read_solution(obj: object) -> Any:
    """A schedule when the object has ``segments``, else offsets."""
    if isinstance(obj, Mapping) and "segments" in obj:
        return schedule_from_dict(obj)
    return offsets_from_dict(obj)


def checker(buffers: Callable[[Any, Any], Evaluation]) -> Callable[[Any, Any], Evaluation]:
    """The family's check: ``buffers`` or the scratchpad replay, by the instance's kind."""
    def check(inst: Any, solution: Any) -> Evaluation:
        if isinstance(inst, ScratchpadInstance):
            if not isinstance(solution, ScratchpadSolution):
                return Evaluation(None, ("solution: a scratchpad instance needs a schedule "
                                         "(order and segments), not offsets",))
            return evaluate.evaluate(inst, solution)
        if not isinstance(solution, MemallocSolution):
            return Evaluation(None, ("solution: a buffers instance needs offsets, not a "
                                     "schedule",))
        return buffers(inst, solution)

    return check


def by_kind(buffers: Callable[..., Any], scratchpad: Callable[..., Any]) -> Callable[..., Any]:
    """A function of either kind of instance (its first argument)."""
    def either(inst: Any, *args: Any) -> Any:
        return (scratchpad if isinstance(inst, ScratchpadInstance) else buffers)(inst, *args)

    either.__doc__ = buffers.__doc__
    return either


def refused(what: str) -> Callable[..., Any]:
    """A scratchpad-kind stand-in for what only buffers offer."""
    def refuse(*_args: Any) -> Any:
        raise InputError(what, "is offered for memalloc's buffers, not scratchpad schedules")

    return refuse


def only_buffers(supports: Callable[[Any], None] | None) -> Callable[[Any], None]:
    """``supports`` of a buffers solver, refusing scratchpad instances first."""
    def check(inst: Any) -> None:
        if isinstance(inst, ScratchpadInstance):
            raise NotSupportedError("operators", "this solver places buffers; a scratchpad "
                                                 "schedule needs cpsat, highs, cbc or the "
                                                 "scratchpad-* solvers")
        if supports is not None:
            supports(inst)

    return check


def table(buffers: Mapping[str, NativeSolver[Any]]) -> dict[str, NativeSolver[Any]]:
    """The buffers solvers (refusing schedules), then the scratchpad ones."""
    out = {name: NativeSolver(s.run, s.kind, s.summary, s.options, only_buffers(s.supports))
           for name, s in buffers.items()}
    return {**out, **solvers.table()}


def choose(buffers: Callable[[Any, SolveParams], tuple[str, str]]
           ) -> Callable[[Any, SolveParams], tuple[str, str]]:
    """``auto``: ``buffers`` for buffers; for a scratchpad schedule, cpsat.

    A free order too large for the time-indexed model gets Belady in the
    memory-aware order.
    """
    def pick(inst: Any, params: SolveParams) -> tuple[str, str]:
        if not isinstance(inst, ScratchpadInstance):
            return buffers(inst, params)
        if inst.fixed:
            return "cpsat", "a scratchpad schedule in the listed order: the CP-SAT model"
        if timeline.cells(inst) <= timeline.MAX_CELLS:
            return "cpsat", "a free order: the time-indexed CP-SAT model"
        return "scratchpad-memorder", (f"a free order with more than {timeline.MAX_CELLS} "
                                       "tensor x step cells: Belady in a memory-aware order")

    pick.__doc__ = buffers.__doc__
    return pick


def trivial(inst: Any) -> Any:
    """Buffers: no reuse; a schedule: Belady in the listed order."""
    if isinstance(inst, ScratchpadInstance):
        return belady(inst, listed_order(inst))
    return output.naive_solution(inst)


def lower_bound(buffers: Callable[[Any], int]) -> Callable[[Any], int]:
    """The family's bound, by kind."""
    return by_kind(buffers, bounds.lower_bound)


def headline(metrics: Mapping[str, Any]) -> str:
    """Buffers: the peak; a schedule: its moved bytes."""
    if "non_compulsory_bytes" in metrics:
        return (f"{metrics['non_compulsory_bytes']} non-compulsory bytes "
                f"({metrics.get('reloads')} reloads, {metrics.get('spilled')} stores), "
                f"peak {metrics.get('peak')}")
    return output.headline(metrics)
