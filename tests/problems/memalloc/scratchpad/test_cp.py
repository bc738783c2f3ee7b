"""CP-SAT on scratchpad schedules against hand optima and a brute force: the keep-or-reload
model of the listed order, and (smaller) the time-indexed model of a free order.

The brute force (``enumerate_optimum``) knows nothing of the model. Under the listed order
each tensor has its use steps u0 < u1 < ... (its writer's step, then its reads; a graph
input's reads). Keeping it longer than from a use to the next, or loading it earlier than
at a use, only adds residents, since only bytes count; so a schedule is fixed by which of
the consecutive use pairs (u_i, u_i+1) it breaks -- leaving after u_i and loading again at
u_i+1, at any address, also between consecutive steps -- and by the addresses. A tensor
broken k times costs ``size * (k + 1 if it is written on chip and not a graph output,
else k)`` (k > 0). The plans, all combinations, are tried cheapest first:

- the first whose residents' bytes fit the capacity at every step is a lower bound;
- the first whose segments also pack (every address tried, segment by segment in order
  of start step, against the segments already placed that meet it in time) is the optimum.

A free order's optimum is the least over its topological orders. Like the brute force, the
models allow a reload between uses on consecutive steps (a move to another address).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace

import pytest

import optsched
from optsched.errors import NotSupportedError
from optsched.params import SolveParams
from optsched.problems.memalloc.scratchpad import samples
from optsched.problems.memalloc.scratchpad.belady import belady, listed_order
from optsched.problems.memalloc.scratchpad.bounds import lower_bound
from optsched.problems.memalloc.scratchpad.evaluate import evaluate
from optsched.problems.memalloc.scratchpad.instance import Operator, ScratchpadInstance, Tensor
from optsched.problems.memalloc.scratchpad.solution import ScratchpadSolution
from optsched.problems.memalloc.scratchpad.timeline import (
    MAX_CELLS,
    cells,
    stored,
    topological,
    uses,
)
from optsched.result import Result, Status

from .test_belady import fragmenting, random_dag

SEEDS = range(20)
MAX_PLANS = 200_000
"""Most combinations the brute force may face (the seeds stay far below; checked)."""

Span = tuple[int, int]  # first and last step of a segment


def plans(inst: ScratchpadInstance) -> list[list[tuple[int, list[Span]]]]:
    """Per tensor, every (cost, segments) of the subsets of its use pairs it breaks."""
    g = inst.graph
    out = []
    for a, used in enumerate(uses(g, range(len(inst.operators)))):
        mine = []
        for k in range(len(used)):
            for broken in itertools.combinations(range(len(used) - 1), k):
                spans, first = [], 0
                for i in range(len(used)):
                    if i == len(used) - 1 or i in broken:
                        spans.append((used[first], used[i]))
                        first = i + 1
                cost = g.sizes[a] * (k + int(stored(g, a))) if k else 0
                mine.append((cost, spans))
        out.append(mine)
    return out


def packs(segments: Sequence[tuple[int, int, int]], capacity: int) -> bool:
    """True when the segments (start, end, size) get addresses in [0, capacity) with no two
    that meet in time sharing a byte (exhaustive search)."""
    order = sorted(segments, key=lambda s: (s[0], -s[2]))
    placed: list[tuple[int, int, int, int]] = []  # start, end, offset, offset + size

    def place(i: int) -> bool:
        if i == len(order):
            return True
        start, end, size = order[i]
        taken = [(lo, hi) for s, e, lo, hi in placed if s <= end and start <= e]
        for offset in range(capacity - size + 1):
            if all(offset + size <= lo or hi <= offset for lo, hi in taken):
                placed.append((start, end, offset, offset + size))
                if place(i + 1):
                    return True
                placed.pop()
        return False

    return place(0)


def enumerate_optimum(inst: ScratchpadInstance, below: int | None = None
                      ) -> tuple[int, int] | None:
    """(the capacity-only lower bound, the optimum) by brute force (module docstring).

    With ``below``, only plans cheaper than it are tried: None when there is none.
    """
    g = inst.graph
    options = plans(inst)
    count = 1
    for mine in options:
        count *= len(mine)
    assert count <= MAX_PLANS, count
    steps = len(inst.operators)
    bound = None
    for combo in sorted(itertools.product(*options), key=lambda c: sum(p[0] for p in c)):
        cost = sum(p[0] for p in combo)
        if below is not None and cost >= below:
            return None
        load = [0] * steps
        for a, (_, spans) in enumerate(combo):
            for start, end in spans:
                for t in range(start, end + 1):
                    load[t] += g.sizes[a]
        if max(load) > inst.capacity:
            continue
        if bound is None:
            bound = cost
        if packs([(s, e, g.sizes[a]) for a, (_, spans) in enumerate(combo) for s, e in spans],
                 inst.capacity):
            return bound, cost
    raise AssertionError("every plan fails, yet an operator always fits an empty scratchpad")


def optimum(inst: ScratchpadInstance) -> tuple[int, int]:
    found = enumerate_optimum(inst)
    assert found is not None
    return found


def free_optimum(inst: ScratchpadInstance) -> int:
    """The least optimum over every topological order (each listed in turn, brute force)."""
    best: int | None = None
    for order in itertools.permutations(range(len(inst.operators))):
        if topological(inst.graph, order):
            fixed = replace(inst, operators=tuple(inst.operators[o] for o in order),
                            order="listed")
            found = enumerate_optimum(fixed, best)
            if found is not None:
                best = found[1]
    assert best is not None
    return best


def cpsat(inst: ScratchpadInstance) -> Result:
    """CP-SAT's result, checked to be the model's own: no fallback to the hint, and no
    claim (objective, bound) that the checker had to correct."""
    res = optsched.solve(inst, "cpsat", SolveParams(time_limit=10, workers=1))
    assert res.stats.get("fallback") is None, res.stats
    assert "disagreements" not in res.stats, res.stats["disagreements"]
    return res


def test_skip_proved_optimal_at_8() -> None:
    """samples.skip: step 2 wants 12 bytes of 10, a (4) must leave: reload 4 + store 4."""
    res = cpsat(samples.skip())
    assert (res.status, res.objective, res.bound, res.verified) == (Status.OPTIMAL, 8, 8, True)
    assert isinstance(res.solution, ScratchpadSolution)
    ev = evaluate(samples.skip(), res.solution)
    assert (ev.violations, ev.objective) == ((), 8)


def test_brute_force_on_the_samples() -> None:
    """The brute force agrees with samples.py: skip 8 (bound 8: leaving a is forced by the
    bytes alone); fragmenting 12 (u, v, w must leave: 3 x (2 + 2))."""
    assert optimum(samples.skip()) == (8, 8)
    assert optimum(fragmenting()) == (12, 12)


def test_fragmenting_optimum_beats_belady() -> None:
    """fragmenting: belady pays 20 (test_belady); the optimum keeps a and c side by side
    at step 0 (say a [0, 2), c [2, 4)) so that d fits after them: only u, v, w move, 12.
    The step bound is only 5; CP-SAT proves 12."""
    res = cpsat(fragmenting())
    assert (res.status, res.objective, res.bound, res.verified) == (Status.OPTIMAL, 12, 12, True)


def test_free_branches_optimum_0() -> None:
    """samples.branches is free: the order A, C, B, D, E needs at most 8 of its 9 bytes at
    every step, so nothing moves (the listed order pays 8): 0, proved."""
    res = cpsat(samples.branches())
    assert (res.status, res.objective, res.bound, res.verified) == (Status.OPTIMAL, 0, 0, True)
    assert optimum(replace(samples.branches(), order="listed")) == (8, 8)


def _star(n: int, order: str) -> ScratchpadInstance:
    """x (1 byte, input) read by n independent operators, each writing its own 1 byte;
    capacity 2. Free, any operator may take any step."""
    t = (Tensor("x", 1), *(Tensor(f"t{i}", 1) for i in range(n)))
    ops = tuple(Operator(f"op{i}", ("x",), (f"t{i}",)) for i in range(n))
    return ScratchpadInstance(t, ops, 2, inputs=("x",), order=order)


def test_large_free_order_is_refused() -> None:
    """A free star of 250 operators: every tensor may be resident at any of 250 steps,
    more (tensor, step) cells than the time-indexed model takes: NotSupportedError naming
    ``order``. The same star listed is solved: x stays, each output lives one step, 0."""
    inst = _star(250, "free")
    assert cells(inst) > MAX_CELLS
    with pytest.raises(NotSupportedError) as caught:
        cpsat(inst)
    assert caught.value.field == "order"
    res = cpsat(_star(250, "listed"))
    assert (res.status, res.objective, res.verified) == (Status.OPTIMAL, 0, True)


@pytest.mark.parametrize("seed", range(8))
def test_random_free_against_brute_force(seed: int) -> None:
    """Tiny free DAGs (4-6 operators): CP-SAT's proven optimum is the least brute-force
    optimum over every topological order, and not above the listed order's."""
    inst = random_dag(seed, ops=(4, 6), sizes=(1, 6), slack=2)
    res = cpsat(replace(inst, order="free"))
    assert res.verified and res.status is Status.OPTIMAL, res
    assert res.objective == free_optimum(inst) <= optimum(inst)[1]


@pytest.mark.parametrize("seed", SEEDS)
def test_random_against_brute_force(seed: int) -> None:
    """Tiny random DAGs (4-8 operators, sizes 1-6, capacity the largest need + 0..3):
    step bound <= capacity-only bound <= CP-SAT's proven optimum == the brute force's
    optimum <= belady's."""
    inst = random_dag(seed, ops=(4, 8), sizes=(1, 6), slack=3)
    bound, best = optimum(inst)
    res = cpsat(inst)
    assert res.verified and res.status is Status.OPTIMAL, res
    assert res.objective == best
    assert res.bound is not None and lower_bound(inst) <= bound <= res.bound <= best
    heuristic = evaluate(inst, belady(inst, listed_order(inst))).objective
    assert heuristic is not None and best <= heuristic


def test_random_instances_are_not_trivial() -> None:
    """Half of the seeds or more cost something, and in many the capacity-only bound is above
    the step bound (14 and 13 of the 20 when written)."""
    costly = strict = 0
    for seed in SEEDS:
        inst = random_dag(seed, ops=(4, 8), sizes=(1, 6), slack=3)
        bound, best = optimum(inst)
        costly += best > 0
        strict += lower_bound(inst) < bound
    assert costly >= 10 and strict >= 8, (costly, strict)
