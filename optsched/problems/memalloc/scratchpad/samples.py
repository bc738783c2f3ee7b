"""Tiny scratchpad instances, with their optima worked out by hand."""

from __future__ import annotations

from optsched.problems.memalloc.scratchpad.instance import Operator, ScratchpadInstance, Tensor


def skip() -> ScratchpadInstance:
    """A residual block in a scratchpad of 10 bytes, the listed order.

    x (2, graph input) -> op0 -> a (4) -> op1 -> b (4) -> op2 -> c (4); op3 adds a and c
    into d (2). At step 2, b and c (8 bytes) are needed while a (4) waits for step 3: 12
    bytes > 10, so a must leave after step 1 and come back at step 3: a reload (4) and,
    as a is written on chip and is not an output, a store (4). Every other step fits
    (6, 8, 10 bytes: at step 3 a, c and d fill the 10 bytes exactly). Optimum 8; the
    step bound is 12 - 10 = 2.
    """
    t = (Tensor("x", 2), Tensor("a", 4), Tensor("b", 4), Tensor("c", 4), Tensor("d", 2))
    ops = (Operator("op0", ("x",), ("a",)), Operator("op1", ("a",), ("b",)),
           Operator("op2", ("b",), ("c",)), Operator("op3", ("a", "c"), ("d",)))
    return ScratchpadInstance(t, ops, 10, inputs=("x",), name="skip")


def branches() -> ScratchpadInstance:
    """Two branches from x (1 byte) in 9 bytes, the order free.

    A: x -> a (4), B: x -> b (4), C: a -> c (2), D: b -> d (2), E: c, d -> e (1). Listed
    order A, B, C, D, E: at step 2 (C) a and c (6) are needed while b (4) waits: 10 > 9,
    so b leaves and comes back (reload 4 + store 4 = 8). Order A, C, B, D, E: the steps
    need 5, 7 (a, c and x waiting), 7 (x, b, c), 8 (b, d, c), 5 bytes; at most 8 of the
    9, so nothing moves: optimum 0.
    """
    t = (Tensor("x", 1), Tensor("a", 4), Tensor("b", 4), Tensor("c", 2), Tensor("d", 2),
         Tensor("e", 1))
    ops = (Operator("A", ("x",), ("a",)), Operator("B", ("x",), ("b",)),
           Operator("C", ("a",), ("c",)), Operator("D", ("b",), ("d",)),
           Operator("E", ("c", "d"), ("e",)))
    return ScratchpadInstance(t, ops, 9, inputs=("x",), order="free", name="branches")


def samples() -> list[ScratchpadInstance]:
    """The scratchpad samples of memalloc's conformance suite."""
    return [skip(), branches()]
