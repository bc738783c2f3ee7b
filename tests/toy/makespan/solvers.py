"""Heuristics: list scheduling in the given order and longest processing time first (LPT)."""

from __future__ import annotations

from collections.abc import Sequence

from optsched.backends.native import found
from optsched.deadline import Deadline
from optsched.family import Kind, NativeSolver
from optsched.options import Option, OptionSet
from optsched.params import SolveParams
from optsched.result import Result

from .instance import MakespanInstance, MakespanSolution

ORDER = OptionSet((Option("reverse", bool, False, "list the jobs last to first"),))


def _list_schedule(instance: MakespanInstance, order: Sequence[int]) -> Result:
    """Each job in ``order`` to the machine that is free first (Graham 1966)."""
    load = [0] * instance.machines
    machine = [0] * len(instance.times)
    for j in order:
        k = min(range(instance.machines), key=lambda i: (load[i], i))
        machine[j] = k
        load[k] += instance.times[j]
    return found(MakespanSolution(tuple(machine)), max(load))


def _in_order(instance: MakespanInstance, params: SolveParams, deadline: Deadline) -> Result:
    jobs = range(len(instance.times))
    return _list_schedule(instance, list(reversed(jobs)) if params.options["reverse"]
                          else list(jobs))


def _lpt(instance: MakespanInstance, params: SolveParams, deadline: Deadline) -> Result:
    jobs = sorted(range(len(instance.times)), key=lambda j: (-instance.times[j], j))
    return _list_schedule(instance, jobs)


SOLVERS = {
    "list": NativeSolver(_in_order, Kind.HEURISTIC, "list scheduling in instance order",
                         ORDER),
    "lpt": NativeSolver(_lpt, Kind.HEURISTIC, "longest processing time first (Graham 1969)"),
}
