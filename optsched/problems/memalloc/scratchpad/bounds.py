"""A lower bound on the non-compulsory bytes of a scratchpad instance (fixed order)."""

from __future__ import annotations

from optsched.problems.memalloc.scratchpad.instance import ScratchpadInstance
from optsched.problems.memalloc.scratchpad.timeline import uses


def pressure(instance: ScratchpadInstance) -> list[int]:
    """Bytes that step ``t`` of the listed order wants resident beyond the capacity.

    At step t the operator's tensors must be resident, and every tensor used
    both before and after t either stays (taking its bytes) or leaves and is
    loaded again later (paying at least its bytes). So at least this excess,
    ``max(0, needed + crossing - capacity)``, is paid because of step t.
    """
    g = instance.graph
    steps = len(instance.operators)
    need = [0] * (steps + 1)
    for a, used in enumerate(uses(g, range(steps))):  # needed at its uses, crossing between
        need[used[0]] += g.sizes[a]
        need[used[-1] + 1] -= g.sizes[a]
    excess, total = [], 0
    for t in range(steps):
        total += need[t]
        excess.append(max(0, total - instance.capacity))
    return excess


def lower_bound(instance: ScratchpadInstance) -> int:
    """The largest excess of one step (:func:`pressure`) of a fixed order; 0 for a free one."""
    if not instance.fixed:
        return 0
    return max(pressure(instance), default=0)
