"""A brute-force oracle for tiny smtt instances and a hypothesis strategy for them."""

from __future__ import annotations

import itertools

from hypothesis import strategies as st

from optsched import SmttInstance


def brute_force(instance: SmttInstance) -> tuple[int, tuple[int, ...]]:
    """The optimum over all n! sequences (n <= 8), computed from scratch."""
    p, d, w = instance.processing_times, instance.due_dates, instance.w
    best: tuple[int, tuple[int, ...]] | None = None
    for seq in itertools.permutations(range(instance.n)):
        t = total = 0
        for j in seq:
            t += p[j]
            total += w[j] * max(0, t - d[j])
        if best is None or total < best[0]:
            best = (total, seq)
    assert best is not None
    return best


@st.composite
def instances(draw: st.DrawFn, max_n: int = 7, weighted: bool | None = None) -> SmttInstance:
    """Small instances with due dates around the horizon, sometimes negative or zero-weight."""
    n = draw(st.integers(1, max_n))
    p = draw(st.lists(st.integers(1, 12), min_size=n, max_size=n))
    total = sum(p)
    d = draw(st.lists(st.integers(-3, total + 2), min_size=n, max_size=n))
    use_weights = draw(st.booleans()) if weighted is None else weighted
    w = draw(st.lists(st.integers(0, 9), min_size=n, max_size=n)) if use_weights else None
    return SmttInstance(tuple(p), tuple(d), None if w is None else tuple(w), name="hypo")
