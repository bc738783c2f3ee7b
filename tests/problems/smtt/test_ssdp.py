"""smtt-ssdp: successive sublimation dynamic programming for 1 || sum w_j T_j."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optsched import SmttInstance, SolveParams, Status, solve
from optsched.compiled import IntArray
from optsched.deadline import Deadline, StopRequest
from optsched.errors import InputError
from optsched.problems.smtt.bounds import lower_bound
from optsched.problems.smtt.evaluate import evaluate
from optsched.problems.smtt.formats import read_orlib
from optsched.problems.smtt.generate import generate
from optsched.problems.smtt.heuristics.rules import cost
from optsched.problems.smtt.solution import SmttSolution
from optsched.problems.smtt.ssdp import lr, ls
from optsched.problems.smtt.ssdp import solver as ssdp
from optsched.problems.smtt.ssdp.search import Search

from .oracle import brute_force, instances

NO_LIMIT = SolveParams(workers=1)


def _run(instance: SmttInstance, params: SolveParams = NO_LIMIT,
         limit: float | None = None) -> tuple[Status, int, int, tuple[int, ...]]:
    """Run smtt-ssdp; check the sequence is a permutation whose cost is the objective."""
    result = ssdp.run(instance, params, Deadline(limit))
    assert isinstance(result.solution, SmttSolution)
    assert result.objective is not None and result.bound is not None
    seq = result.solution.sequence
    assert sorted(seq) == list(range(instance.n))
    assert evaluate(instance, result.solution).objective == result.objective
    assert result.bound <= result.objective
    if result.status is Status.OPTIMAL:
        assert result.bound == result.objective
    else:
        assert result.status is Status.FEASIBLE
    return result.status, int(result.objective), int(result.bound), seq


def test_hand_solved() -> None:
    """p=(2,3,1), d=(2,3,3), w=(1,2,3): optimum 6, by 0,2,1 (or 2,1,0).

    0,2,1: C = 2, 3, 6; T = 0, 0, 3; cost 0 + 0 + 2*3 = 6.
    2,1,0: C = 1, 4, 6; T = 0, 1, 4; cost 0 + 2*1 + 1*4 = 6.
    The other four orders cost 13 (0,1,2), 12 (1,0,2), 7 (1,2,0) and 7 (2,0,1):
    e.g. 1,2,0 has C = 3, 4, 6 and cost 0 + 3*1 + 1*4 = 7.
    """
    inst = SmttInstance((2, 3, 1), (2, 3, 3), (1, 2, 3), name="hand")
    assert brute_force(inst)[0] == 6
    status, objective, bound, seq = _run(inst)
    assert (status, objective, bound) == (Status.OPTIMAL, 6, 6)
    assert seq in ((0, 2, 1), (2, 1, 0))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(instances(max_n=7))
def test_matches_the_oracle(instance: SmttInstance) -> None:
    """Optimal, with the brute-force optimum as objective and bound (weighted or not)."""
    optimum, _ = brute_force(instance)
    assert _run(instance)[:3] == (Status.OPTIMAL, optimum, optimum)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(instances(max_n=8, weighted=True))
def test_matches_the_oracle_without_local_search(instance: SmttInstance) -> None:
    """With the incumbent left to the relaxations (no kicks), still the optimum."""
    optimum, _ = brute_force(instance)
    params = SolveParams(workers=1, options={"ils_iterations": 1, "add": 1})
    assert _run(instance, params)[:3] == (Status.OPTIMAL, optimum, optimum)


@pytest.mark.parametrize(("tf", "rdd"), [(0.6, 0.2), (0.4, 0.6), (0.8, 0.4), (0.2, 0.8)])
def test_matches_subset_dp_on_generated(tf: float, rdd: float) -> None:
    """Potts & Van Wassenhove classes at n=12 with weights, against a DP over subsets."""
    for inst in generate(n=12, tf=tf, rdd=rdd, count=2, seed=3, weighted=True):
        assert _run(inst)[:2] == (Status.OPTIMAL, _subset_dp(inst))


def _subset_dp(instance: SmttInstance) -> int:
    """The optimum by dynamic programming over the set of jobs scheduled first (n <= 14)."""
    n, p, d, w = instance.n, instance.processing_times, instance.due_dates, instance.w
    best = [0] + [-1] * ((1 << n) - 1)
    for done in range(1, 1 << n):
        end = sum(p[j] for j in range(n) if done >> j & 1)
        best[done] = min(best[done ^ (1 << j)] + w[j] * max(0, end - d[j])
                         for j in range(n) if done >> j & 1)
    return best[-1]


def test_expired_deadline_returns_a_feasible_sequence() -> None:
    """A deadline already passed: a verified sequence and a bound no weaker than the family's."""
    inst = generate(n=40, tf=0.6, rdd=0.2, count=1, seed=2, weighted=True)[0]
    status, objective, bound, _ = _run(inst, limit=0.0)
    assert status is Status.FEASIBLE
    assert lower_bound(inst) <= bound <= objective


def test_stop_request_returns_a_feasible_sequence() -> None:
    """A stop requested before the solve: feasible, with the reason in the stats."""
    inst = generate(n=30, tf=0.6, rdd=0.2, count=1, seed=5, weighted=True)[0]
    stop = StopRequest()
    stop.set()
    result = ssdp.run(inst, NO_LIMIT, Deadline(None, stop))
    assert result.status is Status.FEASIBLE
    assert result.stats["stopped"] == "time limit or stop request"
    assert result.bound is not None and result.objective is not None
    assert result.bound <= result.objective


def test_hint_is_never_worse() -> None:
    """A hint bounds the objective from above even when the solve stops at once."""
    inst = generate(n=30, tf=0.8, rdd=0.4, count=1, seed=6, weighted=True)[0]
    optimum = _run(inst)[1]
    hinted = _run(inst, SolveParams(workers=1, hint=SmttSolution(tuple(
        _run(inst)[3]))), limit=0.0)
    assert hinted[1] == optimum


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.integers(2, 30), st.integers(0, 10_000))
def test_local_search_prices_its_sequences(n: int, seed: int) -> None:
    """The compiled search returns a permutation whose cost it reports correctly."""
    inst = generate(n=n, tf=0.6, rdd=0.4, count=1, seed=seed, weighted=True)[0]
    p, d, w = inst.arrays
    current = np.arange(n, dtype=np.int64)
    best = current.copy()
    value = ls.ils(p, d, w, current, best, 5, seed)
    assert sorted(best.tolist()) == list(range(n))
    assert value == cost(inst, best.tolist()) <= cost(inst, list(range(n)))


def test_repair_makes_a_permutation() -> None:
    """Repeated jobs keep their first place; missing ones follow by due date."""
    d = np.array([5, 1, 9, 3], dtype=np.int64)
    out = ls.repair(np.array([2, 0, 2, 0], dtype=np.int64), 4, d)
    assert out.tolist() == [2, 0, 1, 3]


@pytest.mark.parametrize(("options", "field"), [({"nope": 1}, "options.nope"),
                                                ({"add": 0}, "options.add"),
                                                ({"windows": 2}, "options.windows")])
def test_bad_options(options: dict[str, int], field: str) -> None:
    """Unknown options, values below 1 and switches other than 0/1 raise InputError."""
    with pytest.raises(InputError) as caught:
        solve(SmttInstance((1,), (0,)), "smtt-ssdp", SolveParams(options=options))
    assert caught.value.field == field


@pytest.mark.data
def test_orlib_wt40(data_dir: Path) -> None:
    """A few OR-Library wt40 instances (wt40-087 needs memory levels): proven optimal."""
    instances = read_orlib(data_dir / "smtt" / "orlib" / "wt40.txt")
    for k in (0, 1, 3, 10, 20, 40, 86):
        inst = instances[k]
        assert inst.reference is not None
        status, objective, _, _ = _run(inst, limit=20.0)
        assert (status, objective) == (Status.OPTIMAL, inst.reference.value)


def test_memory_cap_returns_a_feasible_sequence() -> None:
    """Time-indexed tables larger than ``states_mb``: the heuristic's answer, saying why."""
    inst = generate(n=200, tf=0.6, rdd=0.2, count=1, seed=7, weighted=True)[0]
    result = ssdp.run(inst, SolveParams(workers=1, options={"states_mb": 1}), Deadline(None))
    assert result.status is Status.FEASIBLE
    assert result.stats["stopped"] == "memory limit of the state tables"
    assert isinstance(result.solution, SmttSolution)
    assert evaluate(inst, result.solution).objective == result.objective


def test_memory_levels_schedule_every_memorised_job() -> None:
    """Every state of a memory level at the horizon has done all memorised jobs.

    A path may only reach ``T`` once the memorised jobs not yet done fit in
    the time left, whichever job its last arc adds; so the cheapest path of
    a level holds each memorised job exactly once. (Checking the fit only on
    arcs of memorised jobs let paths skip them and kept the bound flat.)
    """
    from optsched.problems.smtt.ssdp import graph as gr

    inst = generate(n=35, tf=0.6, rdd=0.4, count=1, seed=6, weighted=True)[0]
    p, d, w = inst.arrays
    search = Search(p, d, w, lambda: False, 1 << 28, {**ssdp.OPTIONS.resolve({}), "add": 6})
    search.offer(np.argsort(d).astype(np.int64))
    search.base = base = search._multipliers()
    assert not search.closed  # the instance needs memory levels
    level = search._level(base, search._level(base, None))
    assert len(level.memory) >= 3
    full = (1 << len(level.memory)) - 1
    x, finals = level.head[search.horizon], 0
    while x >= 0:
        assert level.nodes[x, gr.M0] == full
        finals += 1
        x = level.nodes[x, gr.NEXT]
    assert finals > 0
    path = gr.best_path(p, level.nodes, level.values, level.head).tolist()
    assert all(path.count(j) == 1 for j in level.memory)


def test_levels_memorise_the_jobs_that_end_the_fewest_states_first() -> None:
    """The next level memorises the jobs that end the fewest surviving states.

    On this instance jobs 8, 17, 18, 22 and 27 each end one surviving state
    of level 0, job 24 ends two, job 30 four and every other job at least 13;
    the best path holds each of those five once, so with ``add=3`` the tie
    goes to the job number and the next level memorises 8, 17, 18. The
    previous rule (the jobs the path repeats or misses, here 5, 7, 9, 11, 12,
    13, 14 and 16, smallest multiplier first) would have memorised 7, 13, 5.
    """
    from optsched.problems.smtt.ssdp import graph as gr

    inst = generate(n=35, tf=0.6, rdd=0.4, count=1, seed=6, weighted=True)[0]
    p, d, w = inst.arrays
    search = Search(p, d, w, lambda: False, 1 << 28, {**ssdp.OPTIONS.resolve({}), "add": 3})
    search.offer(np.argsort(d).astype(np.int64))
    search.base = search._multipliers()
    first = search._level(search.base, None)
    assert not search.closed
    states = [0] * inst.n
    for x in range(1, first.count):
        if first.values[x, gr.BV] < np.inf:
            states[first.nodes[x, gr.JOB]] += 1
    assert [j for j in range(inst.n) if states[j] == 1] == [8, 17, 18, 22, 27]
    assert states[24] == 2 and states[30] == 4 and sorted(states)[7] == 13
    path = gr.best_path(p, first.nodes, first.values, first.head).tolist()
    assert all(path.count(j) == 1 for j in (8, 17, 18, 22, 27))
    assert sorted(j for j in range(inst.n) if path.count(j) != 1) == [5, 7, 9, 11, 12, 13, 14, 16]
    assert list(search._level(search.base, first).memory) == [8, 17, 18]


def test_arcs_rule_out_a_dominated_triple() -> None:
    """p=(2,2,3), d=(5,0,0), w=(3,3,1): job 1 may not follow job 0 ending at 5.

    Job 0 ending at 5 starts at 3, so only job 2 (p=3) can precede it. The
    order 2,0,1 costs 1*3 + 0 + 3*7 = 24, while 1,0,2 costs 3*2 + 0 + 1*7 = 13:
    the triple is dominated. The pairs alone are not: 0,1 ending at 7 costs
    0 + 3*7 = 21 and 1,0 costs 3*5 + 3*2 = 21, a tie kept because 0 < 1; and
    2,0 ending at 5 costs 3 + 0 against 0 + 5 for 0,2. Job 1 is the only one
    short enough to follow job 0 ending at 5 (T = 7), so the node (5, 0) is
    left without an arc out and dies, and with it the arc from (3, 2) into it.
    """
    p, d, w = (np.array(x, dtype=np.int64) for x in ((2, 2, 3), (5, 0, 0), (3, 3, 1)))
    alive = np.arange(8)[:, None] >= p[None, :]
    ok = np.zeros((8, 3, 3), dtype=np.bool_)
    lr.arcs(p, d, w, alive, ok)
    assert not lr.forbidden(p, d, w, 0, 1, 7) and not lr.forbidden(p, d, w, 2, 0, 5)
    assert lr.dominated(p, d, w, 2, 0, 1, 7)
    assert not ok[5, 0, 1] and not alive[5, 0] and not ok[3, 2, 0]


@st.composite
def _tied(draw: st.DrawFn) -> SmttInstance:
    """Tiny weighted instances with many equal costs (small p, d and w)."""
    n = draw(st.integers(2, 7))
    p = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    d = draw(st.lists(st.integers(-1, sum(p)), min_size=n, max_size=n))
    w = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    return SmttInstance(tuple(p), tuple(d), tuple(w), name="tied")


@settings(max_examples=200, deadline=None, derandomize=True)
@given(_tied())
def test_arcs_keep_the_first_optimal_sequence(instance: SmttInstance) -> None:
    """The lexicographically first optimal sequence uses only arcs that ``arcs`` keeps.

    ``itertools.permutations`` runs in lexicographic order and the oracle keeps
    the first strictly better sequence, so it returns that sequence. The pair
    and triple rules break ties towards it, so none of its arcs may be cut.
    """
    _, seq = brute_force(instance)
    p, d, w = instance.arrays
    horizon = int(p.sum())
    ok = np.zeros((horizon + 1, instance.n, instance.n), dtype=np.bool_)
    lr.arcs(p, d, w, np.arange(horizon + 1)[:, None] >= p[None, :], ok)
    ends = np.cumsum(p[list(seq)])
    assert all(ok[ends[q - 1], seq[q - 1], seq[q]] for q in range(1, instance.n))


class _RelaxationsOnly(Search):
    """A search whose incumbent improves only by relaxed paths that are permutations."""

    def offer(self, seq: IntArray, iterations: int = 0) -> None:
        """Take ``seq`` only if it is a permutation cheaper than the incumbent, as it is."""
        if sorted(seq.tolist()) == list(range(self.n)):
            value = int(ls.seq_cost(self.p, self.d, self.w, seq))
            if value < self.ub:
                self.ub, self.best = value, seq.copy()


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.one_of(_tied(), instances(max_n=7, weighted=True)))
def test_relaxations_never_cut_off_the_optimum(instance: SmttInstance) -> None:
    """Started from the due-date order and without local search, the search ends at the optimum.

    An invalid rule or elimination would cut off every optimal path and then
    "prove" a worse incumbent optimal; here nothing else can find the optimum.
    """
    p, d, w = instance.arrays
    search = _RelaxationsOnly(p, d, w, lambda: False, 1 << 28, ssdp.OPTIONS.resolve({}))
    search.solve([])
    assert search.closed
    assert search.ub == brute_force(instance)[0]
