"""The replay checker of scratchpad schedules: objectives worked out by hand, and every kind
of violation caught on its own.

The skip sample (``samples.skip``): x (2, graph input) -> op0 -> a (4) -> op1 -> b (4) ->
op2 -> c (4); op3 reads a and c and writes d (2, the graph output: nobody reads it);
capacity 10. Uses (listed order = steps): x 0; a 0, 1, 3; b 1, 2; c 2, 3; d 3.

``OPTIMUM`` is its optimal schedule, built by hand (addresses in [from, to)):

====  ===========================  =====
step  residents                    bytes
====  ===========================  =====
0     a [0, 4), x [4, 6)             6
1     a [0, 4), b [4, 8)             8
2     c [0, 4), b [4, 8)             8
3     c [0, 4), a [4, 8), d [8, 10) 10
====  ===========================  =====

a leaves after step 1 and is reloaded at step 3 at another address: one reload (4 bytes)
and, as a is written on chip and is not a graph output, one store (4 bytes): objective 8.
Compulsory: x's first load (2) and d's store (2) = 4. Peak 10.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from optsched.family import Evaluation
from optsched.problems.memalloc import kinds
from optsched.problems.memalloc.scratchpad import samples
from optsched.problems.memalloc.scratchpad.evaluate import evaluate
from optsched.problems.memalloc.scratchpad.instance import Operator, ScratchpadInstance, Tensor
from optsched.problems.memalloc.scratchpad.solution import (
    ScratchpadSolution,
    Segment,
    from_dict,
)
from optsched.problems.memalloc.solution import MemallocSolution

ORDER = ("op0", "op1", "op2", "op3")
OPTIMUM = (Segment("x", 0, 0, 4), Segment("a", 0, 1, 0), Segment("b", 1, 2, 4),
           Segment("c", 2, 3, 0), Segment("a", 3, 3, 4), Segment("d", 3, 3, 8))


def schedule(*segments: Segment, order: tuple[str, ...] = ORDER) -> ScratchpadSolution:
    return ScratchpadSolution(order, segments)


def without(i: int, *extra: Segment) -> tuple[Segment, ...]:
    """OPTIMUM without its segment ``i``, with ``extra`` added."""
    return (*OPTIMUM[:i], *OPTIMUM[i + 1:], *extra)


def only(ev: Evaluation, *words: str) -> str:
    """The single violation, holding every word."""
    assert len(ev.violations) == 1, ev.violations
    for word in words:
        assert word in ev.violations[0], ev.violations[0]
    return ev.violations[0]


def test_skip_optimum_costs_8() -> None:
    """The table above: valid, 8 bytes (reload 4 + store 4), metrics as worked out."""
    ev = evaluate(samples.skip(), schedule(*OPTIMUM))
    assert ev.violations == ()
    assert ev.objective == 8
    assert ev.metrics == {"non_compulsory_bytes": 8, "reloads": 1, "spilled": 1,
                          "compulsory_bytes": 4, "peak": 10}


def test_skip_with_room_costs_0() -> None:
    """Capacity 12, a stays at [0, 4) over step 2 (a, b, c = 12 bytes): c goes to [8, 12),
    d to [4, 6) at step 3; nothing moves: 0, peak 12."""
    inst = replace(samples.skip(), capacity=12)
    sol = schedule(Segment("x", 0, 0, 4), Segment("a", 0, 3, 0), Segment("b", 1, 2, 4),
                   Segment("c", 2, 3, 8), Segment("d", 3, 3, 4))
    ev = evaluate(inst, sol)
    assert (ev.violations, ev.objective) == ((), 0)
    assert (ev.metrics["reloads"], ev.metrics["spilled"], ev.metrics["peak"]) == (0, 0, 12)


def test_keeping_a_is_refused_at_10() -> None:
    """The 12-byte schedule in the 10-byte scratchpad: c at [8, 12) passes the end."""
    sol = schedule(Segment("x", 0, 0, 4), Segment("a", 0, 3, 0), Segment("b", 1, 2, 4),
                   Segment("c", 2, 3, 8), Segment("d", 3, 3, 4))
    ev = evaluate(samples.skip(), sol)
    assert ev.objective is None
    only(ev, "segments[3]", "'c' at offset 8 (4 bytes)", "scratchpad of 10")


def test_branches_memory_order_costs_0() -> None:
    """branches in the order A, C, B, D, E (samples.py: 5, 7, 7, 8, 5 bytes of 9):

    step 0 A: a [0, 4), x [4, 5); 1 C: a, c [5, 7), x waits; 2 B: b [0, 4), x, c;
    3 D: b, c, d [7, 9); 4 E: c, d, e [0, 1). Nothing moves: 0; peak 9.
    """
    sol = ScratchpadSolution(("A", "C", "B", "D", "E"), (
        Segment("a", 0, 1, 0), Segment("x", 0, 2, 4), Segment("c", 1, 4, 5),
        Segment("b", 2, 3, 0), Segment("d", 3, 4, 7), Segment("e", 4, 4, 0)))
    ev = evaluate(samples.branches(), sol)
    assert (ev.violations, ev.objective, ev.metrics["peak"]) == ((), 0, 9)
    assert ev.metrics["compulsory_bytes"] == 1 + 1  # x loaded, e stored


# --- the order -------------------------------------------------------------------------


@pytest.mark.parametrize("order", [("op0", "op1", "op2"), ("op0", "op1", "op2", "op2"),
                                   ("op0", "op1", "op2", "op3", "op3"),
                                   ("op0", "op1", "op2", "op9")])
def test_order_not_a_permutation(order: tuple[str, ...]) -> None:
    """A missing, repeated or unknown operator: no objective, the order is named."""
    ev = evaluate(samples.skip(), schedule(*OPTIMUM, order=order))
    assert ev.objective is None
    only(ev, "order: must list every operator exactly once")


def test_order_changed_on_a_fixed_instance() -> None:
    """skip is ``listed``: even a permutation other than the listed one is refused."""
    ev = evaluate(samples.skip(), schedule(*OPTIMUM, order=("op1", "op0", "op2", "op3")))
    assert ev.objective is None
    only(ev, "order: the instance's order is the listed one")


def test_free_order_reading_before_the_write() -> None:
    """branches is free, but C (reads a) before A (writes a) is not an order of the graph."""
    ev = evaluate(samples.branches(), ScratchpadSolution(("C", "A", "B", "D", "E"), ()))
    assert ev.objective is None
    only(ev, "'C' at step 0 reads 'a' before 'A' writes it")


# --- residency ---------------------------------------------------------------------------


def test_not_created_at_the_writers_step() -> None:
    """c is written at step 2 but its segment starts at 3: not created at 2, and not
    resident at 2 where op2 writes it. Objective still counted (0 reloads of c)."""
    ev = evaluate(samples.skip(), schedule(*without(3, Segment("c", 3, 3, 0))))
    assert len(ev.violations) == 2, ev.violations
    assert "tensor 'c': not created at step 2, where it is written" in ev.violations
    assert "tensor 'c': not resident at step 2, where it is used" in ev.violations
    assert ev.objective == 8


def test_resident_before_it_is_written() -> None:
    """b is written at step 1; a segment from step 0 ([6, 10) is free at step 0) holds it
    before it exists."""
    ev = evaluate(samples.skip(), schedule(*without(2, Segment("b", 0, 2, 6))))
    assert "tensor 'b': resident at step 0, before it is written at step 1" in ev.violations
    assert "tensor 'b': not created at step 1, where it is written" in ev.violations
    assert len(ev.violations) == 2, ev.violations


def test_not_resident_at_a_use() -> None:
    """Without a's reload, op3 reads a at step 3 where it is not: one violation (and the
    objective of what is left, 0)."""
    ev = evaluate(samples.skip(), schedule(*without(4)))
    only(ev, "tensor 'a': not resident at step 3, where it is used")
    assert ev.objective == 0


def test_graph_input_never_loaded() -> None:
    """x has no segment: not resident at step 0."""
    ev = evaluate(samples.skip(), schedule(*without(0)))
    only(ev, "tensor 'x': not resident at step 0")


def test_two_segments_of_one_tensor_overlap_in_time() -> None:
    """With capacity 20, a second copy of a at [10, 14) over steps 1..2 overlaps its first
    segment (0..1) at step 1 in time, not in address: only the time overlap."""
    inst = replace(samples.skip(), capacity=20)
    ev = evaluate(inst, schedule(*OPTIMUM, Segment("a", 1, 2, 10)))
    only(ev, "tensor 'a': segments 0..1 and 1..2 overlap in time")


def test_two_tensors_overlap_in_address() -> None:
    """d at [6, 8) instead of [8, 10) meets a at [4, 8) at step 3."""
    ev = evaluate(samples.skip(), schedule(*without(5, Segment("d", 3, 3, 6))))
    only(ev, "step 3: 'd' at [6, 8) overlaps 'a' at [4, 8)")
    assert ev.objective == 8


def test_overlap_found_among_many_residents() -> None:
    """Capacity 20, the optimum plus c kept at [10, 14) from step 2 and a at [12, 16) from
    step 1 (its reload gone): a and c share [12, 14) at step 2 (and 3)."""
    inst = replace(samples.skip(), capacity=20)
    segs = (Segment("x", 0, 0, 4), Segment("a", 0, 0, 0), Segment("a", 1, 3, 12),
            Segment("b", 1, 2, 4), Segment("c", 2, 3, 10), Segment("d", 3, 3, 8))
    ev = evaluate(inst, schedule(*segs))
    only(ev, "step 2: 'c' at [10, 14) overlaps 'a' at [12, 16)")


def test_segment_past_the_capacity() -> None:
    """d at offset 9 (2 bytes) ends at 11 > 10: no objective."""
    ev = evaluate(samples.skip(), schedule(*without(5, Segment("d", 3, 3, 9))))
    assert ev.objective is None
    only(ev, "segments[5]", "'d' at offset 9 (2 bytes) does not fit the scratchpad of 10")


def test_negative_offset() -> None:
    ev = evaluate(samples.skip(), schedule(*without(0, Segment("x", 0, 0, -1))))
    assert ev.objective is None
    only(ev, "segments[5]", "'x' at offset -1")


def test_unknown_tensor() -> None:
    ev = evaluate(samples.skip(), schedule(*OPTIMUM, Segment("z", 0, 0, 0)))
    assert ev.objective is None
    only(ev, "segments[6]: unknown tensor 'z'")


@pytest.mark.parametrize(("start", "end"), [(-1, 0), (3, 4), (2, 1)])
def test_steps_out_of_range(start: int, end: int) -> None:
    """Steps are 0..3 and a segment's start is not after its end."""
    ev = evaluate(samples.skip(), schedule(*without(5, Segment("d", start, end, 8))))
    assert ev.objective is None
    only(ev, "segments[5]", "are not within 0..3")


# --- costs ---------------------------------------------------------------------------------


def _fork(outputs: tuple[str, ...] | None) -> ScratchpadInstance:
    """x (4, input); p: x -> y (3); q: x -> z (2); r: y, z -> w (1); capacity 20.

    Uses: x 0, 1; y 0, 2; z 1, 2; w 2.
    """
    t = (Tensor("x", 4), Tensor("y", 3), Tensor("z", 2), Tensor("w", 1))
    ops = (Operator("p", ("x",), ("y",)), Operator("q", ("x",), ("z",)),
           Operator("r", ("y", "z"), ("w",)))
    return ScratchpadInstance(t, ops, 20, inputs=("x",), outputs=outputs)


def _fork_schedule(*x: Segment) -> ScratchpadSolution:
    """y leaves after step 0 and is reloaded at step 2 (same address)."""
    return ScratchpadSolution(("p", "q", "r"), (
        *x, Segment("y", 0, 0, 0), Segment("y", 2, 2, 0), Segment("z", 1, 2, 10),
        Segment("w", 2, 2, 15)))


def test_spilled_graph_output_pays_only_the_reload() -> None:
    """y is a graph output (listed), spilled and reloaded: 3 bytes, no store (so it does
    not count as ``spilled``, the tensors that pay a store); compulsory x 4 + y 3 + w 1
    = 8."""
    ev = evaluate(_fork(("y", "w")), _fork_schedule(Segment("x", 0, 1, 5)))
    assert (ev.violations, ev.objective) == ((), 3)
    assert (ev.metrics["reloads"], ev.metrics["spilled"],
            ev.metrics["compulsory_bytes"]) == (1, 0, 8)


def test_spilled_intermediate_pays_store_and_reload() -> None:
    """The same schedule when only w (nobody reads it) is an output: y pays 3 + 3 = 6."""
    ev = evaluate(_fork(None), _fork_schedule(Segment("x", 0, 1, 5)))
    assert (ev.violations, ev.objective, ev.metrics["compulsory_bytes"]) == ((), 6, 5)


def test_graph_input_loaded_twice_pays_one_reload() -> None:
    """x loaded at step 0 and again at step 1 (at another address): its first load is
    compulsory, the second is a reload of 4 bytes, with no store (DRAM has x): 4 + y's
    3 + 3 = 10 when y is not an output."""
    ev = evaluate(_fork(None), _fork_schedule(Segment("x", 0, 0, 5), Segment("x", 1, 1, 16)))
    assert (ev.violations, ev.objective) == ((), 10)
    assert (ev.metrics["reloads"], ev.metrics["spilled"]) == (2, 1)  # x is not "spilled"


def test_reload_that_is_not_needed_still_costs() -> None:
    """x loaded a third time at step 2, where nobody reads it: one more reload, 4 more
    bytes (10 + 4 = 14); the checker counts loads, needed or not."""
    ev = evaluate(_fork(None), _fork_schedule(Segment("x", 0, 0, 5), Segment("x", 1, 1, 16),
                                              Segment("x", 2, 2, 16)))
    assert (ev.violations, ev.objective) == ((), 14)


# --- streamed weights ----------------------------------------------------------------------


def _weighted(stream: bool) -> ScratchpadInstance:
    """x (2, input) -> p (weights 5) -> y (3); capacity 10 (p needs 2 + 3 + 5 = 10)."""
    return ScratchpadInstance((Tensor("x", 2), Tensor("y", 3)),
                              (Operator("p", ("x",), ("y",), weights=5),), 10, inputs=("x",),
                              stream_weights=stream)


def test_streamed_weights_must_be_resident() -> None:
    """With stream_weights, ``p:weights`` (5 bytes) is a graph input read at step 0."""
    sol = ScratchpadSolution(("p",), (Segment("x", 0, 0, 0), Segment("y", 0, 0, 2)))
    only(evaluate(_weighted(True), sol), "tensor 'p:weights': not resident at step 0")


def test_streamed_weights_fill_the_scratchpad() -> None:
    """x [0, 2), y [2, 5), p:weights [5, 10): valid, 0; compulsory 2 + 5 + 3 = 10."""
    sol = ScratchpadSolution(("p",), (Segment("x", 0, 0, 0), Segment("y", 0, 0, 2),
                                      Segment("p:weights", 0, 0, 5)))
    ev = evaluate(_weighted(True), sol)
    assert (ev.violations, ev.objective, ev.metrics["compulsory_bytes"],
            ev.metrics["peak"]) == ((), 0, 10, 10)


def test_weights_are_no_tensor_without_streaming() -> None:
    sol = ScratchpadSolution(("p",), (Segment("x", 0, 0, 0), Segment("y", 0, 0, 2),
                                      Segment("p:weights", 0, 0, 5)))
    ev = evaluate(_weighted(False), sol)
    assert ev.objective is None
    only(ev, "unknown tensor 'p:weights'")


def test_weights_overlapping_an_input() -> None:
    """p:weights at [1, 6) meets x at [0, 2)."""
    sol = ScratchpadSolution(("p",), (Segment("x", 0, 0, 0), Segment("y", 0, 0, 6),
                                      Segment("p:weights", 0, 0, 1)))
    only(evaluate(_weighted(True), sol), "'p:weights' at [1, 6) overlaps 'x' at [0, 2)")


# --- the family's checker and the solution's JSON --------------------------------------


def test_family_checker_wants_a_schedule() -> None:
    """memalloc's checker hands a schedule to the replay, and refuses offsets for it."""
    check = kinds.checker(lambda _i, _s: Evaluation(None, ("buffers",)))
    assert check(samples.skip(), schedule(*OPTIMUM)).objective == 8
    ev = check(samples.skip(), MemallocSolution({"a": 0}))
    assert ev.objective is None and "needs a schedule" in ev.violations[0]


def test_solution_json_round_trip() -> None:
    sol = schedule(*OPTIMUM)
    assert from_dict(sol.to_dict()) == sol
    assert kinds.read_solution(sol.to_dict()) == sol
