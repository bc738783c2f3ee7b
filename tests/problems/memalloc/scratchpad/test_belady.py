"""The baselines: listed_order, memory_order and belady (first fit, Belady replacement).

Traces worked out by hand on the samples and on a graph where first fit fragments the
scratchpad and only the fallback rule (re-place the operator's own inputs) completes it;
then seeded random DAGs, where belady's schedules always pass the checker and never beat
the step bound. ``random_dag`` and ``fragmenting`` are also used by ``test_cp``.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from optsched.problems.memalloc.scratchpad import samples
from optsched.problems.memalloc.scratchpad.belady import belady, listed_order, memory_order
from optsched.problems.memalloc.scratchpad.bounds import lower_bound
from optsched.problems.memalloc.scratchpad.evaluate import evaluate
from optsched.problems.memalloc.scratchpad.instance import Operator, ScratchpadInstance, Tensor
from optsched.problems.memalloc.scratchpad.solution import ScratchpadSolution, Segment
from optsched.problems.memalloc.scratchpad.timeline import topological

SEEDS = range(30)


def random_dag(seed: int, ops: tuple[int, int] = (5, 15), sizes: tuple[int, int] = (1, 8),
               slack: int = 3, weights: bool = False) -> ScratchpadInstance:
    """A seeded random DAG, listed in a topological order (the listed order is valid).

    One or two graph inputs; operator ``o`` reads 1-3 of the tensors that exist before it
    and writes 1-2 new ones (one in three writes two). Capacity: the largest operator need
    plus 0..``slack``. With ``weights``, each operator has 0-3 streamed weight bytes.
    """
    rng = random.Random(seed)
    size: dict[str, int] = {}
    exist: list[str] = []
    for k in range(rng.randint(1, 2)):
        size[f"in{k}"] = rng.randint(*sizes)
        exist.append(f"in{k}")
    operators = []
    for o in range(rng.randint(*ops)):
        reads = rng.sample(exist, rng.randint(1, min(3, len(exist))))
        writes = []
        for j in range(rng.choice((1, 1, 2))):
            size[f"t{o}_{j}"] = rng.randint(*sizes)
            writes.append(f"t{o}_{j}")
        operators.append(Operator(f"op{o}", tuple(reads), tuple(writes),
                                  rng.randint(0, 3) if weights else 0))
        exist.extend(writes)
    read = {t for op in operators for t in op.inputs}
    used = read | {t for op in operators for t in op.outputs}
    need = max(sum(size[t] for t in {*op.inputs, *op.outputs}) + op.weights * weights
               for op in operators)
    return ScratchpadInstance(tuple(Tensor(t, s) for t, s in size.items() if t in used),
                              tuple(operators), need + rng.randint(0, slack),
                              inputs=tuple(t for t in size if t.startswith("in") and t in read),
                              stream_weights=weights, name=f"random{seed}")


def fragmenting() -> ScratchpadInstance:
    """First fit fragments the scratchpad of 10 bytes.

    op0 writes u, a, v, c, w (2 bytes each; 10, full); op1 reads a, c and writes d (5; it
    needs 9); op2 reads u, v, w and writes e (2; it needs 8). Outputs: d and e.
    """
    t = (Tensor("u", 2), Tensor("a", 2), Tensor("v", 2), Tensor("c", 2), Tensor("w", 2),
         Tensor("d", 5), Tensor("e", 2))
    ops = (Operator("op0", (), ("u", "a", "v", "c", "w")), Operator("op1", ("a", "c"), ("d",)),
           Operator("op2", ("u", "v", "w"), ("e",)))
    return ScratchpadInstance(t, ops, 10, name="fragmenting")


def run(inst: ScratchpadInstance, order: list[int]) -> tuple[ScratchpadSolution, int]:
    """Belady in ``order``, checked: its solution and objective (no violation allowed)."""
    sol = belady(inst, order)
    ev = evaluate(inst, sol)
    assert ev.violations == (), ev.violations
    assert isinstance(ev.objective, int)
    return sol, ev.objective


# --- the samples, by hand --------------------------------------------------------------


def test_skip_listed() -> None:
    """skip (capacity 10) step by step, largest first at the lowest free address:

    0 op0: a [0, 4), x [4, 6); x is done.  1 op1: b [4, 8).  2 op2: c (4) finds only
    [8, 10); a (next use 3) is the only other resident and leaves, c at [0, 4); b is done.
    3 op3: a back at [4, 8), d [8, 10). a reloaded (4) and stored (4): 8, the optimum.
    """
    inst = samples.skip()
    assert listed_order(inst) == [0, 1, 2, 3]
    sol, objective = run(inst, listed_order(inst))
    assert objective == 8
    assert set(sol.segments) == {Segment("x", 0, 0, 4), Segment("a", 0, 1, 0),
                                 Segment("b", 1, 2, 4), Segment("c", 2, 3, 0),
                                 Segment("a", 3, 3, 4), Segment("d", 3, 3, 8)}
    assert sol.order == ("op0", "op1", "op2", "op3")


def test_skip_memory_order_is_the_chain() -> None:
    """skip's graph is a chain (op3 needs c): one order, the same 8 bytes."""
    assert memory_order(samples.skip()) == [0, 1, 2, 3]


def test_branches_listed() -> None:
    """branches (capacity 9) in A, B, C, D, E:

    0 A: a [0, 4), x [4, 5).  1 B: b [5, 9); x done.  2 C: c (2) finds no hole of 2 (only
    [4, 5)); b (next use 3) leaves, c [4, 6); a done.  3 D: b back at [0, 4), d [6, 8); b
    done.  4 E: e [0, 1). b reloaded and stored: 4 + 4 = 8.
    """
    inst = samples.branches()
    assert listed_order(inst) == [0, 1, 2, 3, 4]
    sol, objective = run(inst, listed_order(inst))
    assert objective == 8
    assert set(sol.segments) == {Segment("a", 0, 2, 0), Segment("x", 0, 1, 4),
                                 Segment("b", 1, 1, 5), Segment("b", 3, 3, 0),
                                 Segment("c", 2, 4, 4), Segment("d", 3, 4, 6),
                                 Segment("e", 4, 4, 0)}


def test_branches_memory_order() -> None:
    """memory_order: ready A, B both make 4 bytes (x has two readers): A (listed first).
    Then B makes 4 and frees x (3), C makes 2 and frees a (-2): C. Then B, then D, E:
    A, C, B, D, E.

    Belady in it: 0 A: a [0, 4), x [4, 5).  1 C: c [5, 7); a done.  2 B: b [0, 4); x done.
    3 D: d in [7, 9) (the hole [4, 5) is too small); b done.  4 E: e [0, 1). Nothing
    leaves before its last use: 0 (samples.py: the optimum).
    """
    inst = samples.branches()
    order = memory_order(inst)
    assert order == [0, 2, 1, 3, 4]
    sol, objective = run(inst, order)
    assert objective == 0
    assert sol.order == ("A", "C", "B", "D", "E")
    assert set(sol.segments) == {Segment("a", 0, 1, 0), Segment("x", 0, 2, 4),
                                 Segment("c", 1, 4, 5), Segment("b", 2, 3, 0),
                                 Segment("d", 3, 4, 7), Segment("e", 4, 4, 0)}


def test_listed_order_of_a_free_graph_listed_out_of_order() -> None:
    """Free, listed C (reads a) then A (writes a): the closest topological order is A, C."""
    t = (Tensor("x", 1), Tensor("a", 2), Tensor("c", 3))
    inst = ScratchpadInstance(t, (Operator("C", ("a",), ("c",)), Operator("A", ("x",), ("a",))),
                              10, inputs=("x",), order="free")
    assert listed_order(inst) == [1, 0]
    assert memory_order(inst) == [1, 0]
    assert run(inst, [1, 0])[1] == 0


# --- fragmentation: the fallback rule --------------------------------------------------


def test_fragmentation_needs_the_fallback() -> None:
    """``fragmenting`` in its listed order:

    0 op0: u, a, v, c, w (all 2 bytes; ties by index) at 0, 2, 4, 6, 8: full.
    1 op1: d (5) has no hole. Victims u, v, w (next use 2; ties: the largest index) leave
    in the order w, v, u: the free bytes [0, 2), [4, 6), [8, 10) are 6 but no 5 in a row,
    and a at 2 and c at 6 are the operator's own. Fallback: a and c leave too (segments
    0..0) and d, a, c are placed again: d [0, 5), a [5, 7), c [7, 9).
    2 op2: u, v, w, e at 0, 2, 4, 6.
    u, v, w, a and c are each reloaded once and stored once (written on chip, not
    outputs): 5 x (2 + 2) = 20. (The optimum is 12, test_cp: only u, v, w must leave.)
    """
    inst = fragmenting()
    sol, objective = run(inst, listed_order(inst))
    assert objective == 20
    assert set(sol.segments) == {
        Segment("u", 0, 0, 0), Segment("a", 0, 0, 2), Segment("v", 0, 0, 4),
        Segment("c", 0, 0, 6), Segment("w", 0, 0, 8),
        Segment("d", 1, 1, 0), Segment("a", 1, 1, 5), Segment("c", 1, 1, 7),
        Segment("u", 2, 2, 0), Segment("v", 2, 2, 2), Segment("w", 2, 2, 4),
        Segment("e", 2, 2, 6)}
    assert len(sol.segments) == 12


def test_fragmentation_bound() -> None:
    """Step 1 wants a, c, d (9) and u, v, w waiting (6): 15 - 10 = 5, the step bound."""
    assert lower_bound(fragmenting()) == 5


# --- seeded random DAGs ----------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_random_listed(seed: int) -> None:
    """Listed order: belady's schedule passes the checker and is >= the step bound."""
    inst = random_dag(seed)
    assert 5 <= len(inst.operators) <= 15
    order = listed_order(inst)
    assert order == list(range(len(inst.operators)))
    sol, objective = run(inst, order)
    assert objective >= lower_bound(inst)
    assert sol.order == tuple(op.id for op in inst.operators)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_streamed_weights(seed: int) -> None:
    """The same with each operator's weights (0-3 bytes) streamed as a tensor."""
    inst = random_dag(seed, weights=True)
    assert inst.stream_weights
    _, objective = run(inst, listed_order(inst))
    assert objective >= lower_bound(inst)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_free(seed: int) -> None:
    """Free order: memory_order is a topological permutation, and belady's schedule in it
    (and in the listed order) passes the checker."""
    inst = replace(random_dag(seed, slack=seed % 3), order="free")
    order = memory_order(inst)
    assert sorted(order) == list(range(len(inst.operators)))
    assert topological(inst.graph, order)
    run(inst, order)
    run(inst, listed_order(inst))


def test_random_graphs_move_bytes() -> None:
    """The random graphs are not trivial: in two thirds of them or more, belady moves bytes
    and the step bound is positive (27 and 25 of the 30 when written)."""
    moved = bounded = 0
    for seed in SEEDS:
        inst = random_dag(seed)
        moved += run(inst, listed_order(inst))[1] > 0
        bounded += lower_bound(inst) > 0
    assert moved >= 20 and bounded >= 20, (moved, bounded)
