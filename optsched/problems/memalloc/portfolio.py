"""``best-of-k``: every named allocator and best fit in five orders; the smallest peak wins."""

from __future__ import annotations

from functools import partial

from optsched.compiled import IntArray
from optsched.deadline import Deadline
from optsched.problems.memalloc.generate import generate
from optsched.problems.memalloc.greedy import allocators as al
from optsched.problems.memalloc.instance import MemallocInstance

FIRST = ("greedy-by-size", "tflite-arena", "xla-spatial", "xla-temporal")
LAST = ("first-fit", "greedy-by-breadth")
"""The named allocators tried before and after the five orders (naive is never better,
xla is the better of its two parts)."""


def candidates(instance: MemallocInstance) -> list[tuple[str, al.Allocator]]:
    """The portfolio in the order it is tried (the usual winners first)."""
    out = [(name, al.ALLOCATORS[name][0]) for name in FIRST]
    for key, order in al.portfolio_orders(instance).items():
        out.append((f"best-fit-{key}", partial(al.in_order, order=order)))
    return out + [(name, al.ALLOCATORS[name][0]) for name in LAST]


def best(instance: MemallocInstance, deadline: Deadline,
         known: tuple[str, IntArray] | None = None) -> tuple[IntArray, str, int]:
    """The offsets with the smallest peak (the first on ties), its name, how many were tried.

    ``known`` is a candidate's name and offsets already computed: it is not run again.
    Stops between allocators when the deadline expires (at least one runs, cut short by
    it if need be).
    """
    best_offsets: IntArray | None = None
    best_name, best_peak, tried = "", 0, 0
    for name, how in candidates(instance):
        if best_offsets is not None and deadline.expired():
            break
        offsets = (known[1] if known is not None and known[0] == name
                   else how(instance, deadline=deadline))
        tried += 1
        value = al.peak(instance, offsets)
        if best_offsets is None or value < best_peak:
            best_offsets, best_name, best_peak = offsets, name, value
    assert best_offsets is not None
    return best_offsets, best_name, tried


def load() -> None:
    """Load the greedy kernels (numba) with a run on a tiny instance."""
    (instance,) = generate(buffers=6, seed=1)
    for _, how in candidates(instance):
        how(instance)
