"""The checker finds every kind of violation; the bounds hold on hand-computed cases."""

from __future__ import annotations

from optsched.problems.memalloc.bounds import live_peak, lower_bound
from optsched.problems.memalloc.evaluate import evaluate
from optsched.problems.memalloc.instance import Buffer, Gap, MemallocInstance
from optsched.problems.memalloc.solution import MemallocSolution

TWO = MemallocInstance((Buffer("a", 0, 4, 8), Buffer("b", 2, 6, 4, alignment=4)), 16)


def _check(instance: MemallocInstance, **offsets: int) -> tuple[float | None, tuple[str, ...]]:
    ev = evaluate(instance, MemallocSolution(offsets))
    return ev.objective, tuple(ev.violations)


def test_a_valid_packing() -> None:
    """a [0, 8) and b [8, 12) meet in time but not in bytes: peak 12, live peak 12."""
    assert _check(TWO, a=0, b=8) == (12, ())


def test_overlap_in_time_and_bytes() -> None:
    """b at 4 covers [4, 8) inside a's [0, 8) at steps 2 and 3."""
    _, found = _check(TWO, a=0, b=4)
    assert len(found) == 1 and "both live at step 2" in found[0]


def test_misaligned_missing_unknown_and_over_capacity() -> None:
    """b at 10 is not a multiple of 4; 'x' is no buffer; a missing offset; 20 > 16."""
    assert any("alignment 4" in v for v in _check(TWO, a=0, b=10)[1])
    assert any("ids the instance does not have" in v for v in _check(TWO, a=0, b=8, x=1)[1])
    assert _check(TWO, a=0) == (None, ("buffer 'b' has no offset",))
    assert any("above the capacity 16" in v for v in _check(TWO, a=0, b=16)[1])


def test_moved_pin() -> None:
    """A buffer pinned at 8 and reported at 0."""
    pinned = MemallocInstance((Buffer("p", 0, 2, 4, offset=8),))
    assert _check(pinned, p=0)[1] == ("buffer 'p' is pinned at 8, not 0",)


def test_gaps_are_respected() -> None:
    """a (8 bytes) has a gap 2..4; b (8 bytes, 2..4) may take a's bytes: peak 8.

    With a window 0:2 in the gap, a keeps [0, 2) live: b at 0 collides, at 2 fits.
    """
    free = MemallocInstance((Buffer("a", 0, 6, 8, gaps=(Gap(2, 4),)), Buffer("b", 2, 4, 8)))
    assert _check(free, a=0, b=0) == (8, ())
    assert live_peak(free) == 8
    window = MemallocInstance((Buffer("a", 0, 6, 8, gaps=(Gap(2, 4, (0, 2)),)),
                               Buffer("b", 2, 4, 6)))
    assert _check(window, a=0, b=0)[1]
    assert _check(window, a=0, b=2) == (8, ())
    assert live_peak(window) == 8  # 2 + 6 in the gap, 8 outside


def test_lower_bound_parts() -> None:
    """Live peak 12 (a + b at steps 2, 3); a pinned buffer ending at 30 raises it to 30."""
    assert lower_bound(TWO) == 12
    pinned = MemallocInstance((*TWO.buffers, Buffer("p", 10, 11, 2, offset=28)))
    assert lower_bound(pinned) == 30
    big = MemallocInstance((Buffer("x", 0, 1, 5), Buffer("y", 1, 2, 7)))
    assert lower_bound(big) == 7  # never two live at once: the largest buffer
