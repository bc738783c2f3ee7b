"""smtt-bb: the exact decomposition search for the unweighted 1 || sum T_j."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optsched import SmttInstance, SolveParams, Status, solve
from optsched.deadline import Deadline
from optsched.errors import InputError, NotSupportedError
from optsched.problems.smtt.bb import kernel as kn
from optsched.problems.smtt.bb import solver as bb
from optsched.problems.smtt.bb.memo import Memo
from optsched.problems.smtt.bb.search import MEMORY_LIMIT, Search, solve_edd
from optsched.problems.smtt.bounds import lower_bound
from optsched.problems.smtt.evaluate import evaluate
from optsched.problems.smtt.generate import generate
from optsched.problems.smtt.solution import SmttSolution

from .oracle import brute_force, instances

NO_LIMIT = SolveParams()


def _run(instance: SmttInstance, params: SolveParams = NO_LIMIT,
         limit: float | None = None) -> tuple[Status, int, int, tuple[int, ...]]:
    """Run smtt-bb; check the sequence is a permutation whose cost is the objective."""
    result = bb.run(instance, params, Deadline(limit))
    assert isinstance(result.solution, SmttSolution)
    assert result.objective is not None and result.bound is not None
    seq = result.solution.sequence
    assert sorted(seq) == list(range(instance.n))
    assert evaluate(instance, result.solution).objective == result.objective
    return result.status, int(result.objective), int(result.bound), seq


def _subset_dp(instance: SmttInstance) -> int:
    """The optimum by dynamic programming over the set of jobs scheduled first (n <= 14)."""
    n, p, d = instance.n, instance.processing_times, instance.due_dates
    best = [0] + [-1] * ((1 << n) - 1)
    for done in range(1, 1 << n):
        end = sum(p[j] for j in range(n) if done >> j & 1)
        best[done] = min(best[done ^ (1 << j)] + max(0, end - d[j])
                         for j in range(n) if done >> j & 1)
    return best[-1]


def test_hand_solved_decomposition() -> None:
    """p=(2,6,3,4), d=(3,8,6,9): the longest job 1 goes last, optimum 7 by 0,2,3,1.

    EDD order is 0,2,1,3 and job 1 (p=6) is the longest, so by Lawler jobs 0
    and 2 precede it and job 3 goes before or after it:
    after:  {0,2} from 0 costs 0 (C=2,5), job 1 ends at 11 (T=3), job 3 at 15
            (T=6): 9. Job 3 is due at 9 <= 11, so the search skips this one.
    before: {0,2,3} from 0 costs 0 in EDD order (C=2,5,9), job 1 ends at 15
            (T=7): 7, and d_3 + p_3 = 13 <= 15, so this one is searched.
    """
    inst = SmttInstance((2, 6, 3, 4), (3, 8, 6, 9), name="lawler")
    assert brute_force(inst) == (7, (0, 2, 3, 1))
    assert _run(inst) == (Status.OPTIMAL, 7, 7, (0, 2, 3, 1))
    result = solve(inst, "smtt-bb", SolveParams(time_limit=60, workers=1))
    assert result.status is Status.OPTIMAL and result.verified
    assert result.objective == 7 and result.gap == 0.0


@settings(max_examples=300, deadline=None)
@given(instances(max_n=8, weighted=False))
def test_matches_the_oracle(instance: SmttInstance) -> None:
    """Optimal, with the brute-force optimum as objective and bound."""
    optimum, _ = brute_force(instance)
    assert _run(instance)[:3] == (Status.OPTIMAL, optimum, optimum)


@settings(max_examples=40, deadline=None)
@given(instances(max_n=7, weighted=False), st.integers(0, 5))
def test_equal_weights_scale_the_optimum(instance: SmttInstance, w: int) -> None:
    """All weights w: every sequence costs w times its unweighted cost."""
    optimum, _ = brute_force(instance)
    weighted = SmttInstance(instance.processing_times, instance.due_dates, (w,) * instance.n)
    assert _run(weighted)[:3] == (Status.OPTIMAL, w * optimum, w * optimum)


@pytest.mark.parametrize(("tf", "rdd"), [(0.6, 0.2), (0.4, 0.6), (0.8, 0.4), (0.2, 0.8)])
def test_matches_subset_dp_on_generated(tf: float, rdd: float) -> None:
    """Potts & Van Wassenhove classes at n=13, against an independent DP over subsets."""
    for inst in generate(n=13, tf=tf, rdd=rdd, count=2, seed=3):
        assert _run(inst)[1] == _subset_dp(inst)


@settings(max_examples=200, deadline=None)
@given(instances(max_n=7, weighted=False), st.integers(-5, 40))
def test_lower_bound_never_exceeds_the_optimum(instance: SmttInstance, t: int) -> None:
    """``lower`` of the whole job set from ``t`` is at most the brute-force optimum from ``t``.

    Starting at ``t`` is the same as every due date lowered by ``t``.
    """
    p, d = (np.asarray(a, dtype=np.int64) for a in (instance.processing_times,
                                                     instance.due_dates))
    order = np.lexsort((np.arange(instance.n), p, d))
    search = Search(p[order], d[order], 1 << 20, 1 << 20, True)
    shifted = SmttInstance(instance.processing_times, tuple(x - t for x in instance.due_dates))
    assert 0 <= kn.lower(search.sets, search.root, t) <= brute_force(shifted)[0]


def test_pruning_skips_work_and_keeps_the_optimum() -> None:
    """With the bound, fewer subproblems are expanded and the optima stay the same.

    The memo is roomy (nothing evicted), so the pruned search expands a subset
    of the subproblems of the full one; on these hard classes strictly fewer.
    """
    for inst in [*generate(n=80, tf=0.6, rdd=0.2, count=2, seed=5),
                 *generate(n=80, tf=0.4, rdd=0.4, count=2, seed=6)]:
        p, d = (np.asarray(a, dtype=np.int64) for a in (inst.processing_times, inst.due_dates))
        order = np.lexsort((np.arange(inst.n), p, d))
        p, d = p[order], d[order]
        pruned = solve_edd(p, d, 64 << 20, 64 << 20, True, lambda: False)
        full = solve_edd(p, d, 64 << 20, 64 << 20, False, lambda: False)
        assert pruned.value == full.value and pruned.sequence is not None
        assert pruned.stats["expanded"] < full.stats["expanded"]
        c = np.cumsum(p[pruned.sequence])
        assert int(np.maximum(0, c - d[pruned.sequence]).sum()) == pruned.value


def test_memo_cap_does_not_change_results() -> None:
    """A four-slot memo evicts nearly everything, yet the optima and sequences stay optimal."""
    for inst in [*generate(n=60, tf=0.6, rdd=0.2, count=2, seed=5),
                 *generate(n=60, tf=0.4, rdd=0.6, count=2, seed=6)]:
        p, d = (np.asarray(a, dtype=np.int64) for a in (inst.processing_times, inst.due_dates))
        order = np.lexsort((np.arange(inst.n), p, d))
        p, d = p[order], d[order]
        roomy = solve_edd(p, d, 64 << 20, 64 << 20, True, lambda: False)
        tiny = solve_edd(p, d, 0, 64 << 20, True, lambda: False)
        assert tiny.value == roomy.value and tiny.sequence is not None
        assert tiny.stats["memo_entries"] <= 4 < roomy.stats["memo_entries"]
        c = np.cumsum(p[tiny.sequence])
        assert int(np.maximum(0, c - d[tiny.sequence]).sum()) == tiny.value


def test_memo_option_does_not_change_results() -> None:
    """memo_mb=1 (32768 slots) where the search stores far more: the same optimum."""
    inst = generate(n=200, tf=0.6, rdd=0.2, count=1, seed=1)[0]
    small = bb.run(inst, SolveParams(options={"memo_mb": 1}), Deadline(None))
    roomy = bb.run(inst, NO_LIMIT, Deadline(None))
    assert small.status is roomy.status is Status.OPTIMAL
    assert small.objective == roomy.objective and small.bound == roomy.bound
    assert small.stats["memo_entries"] <= 32768 < roomy.stats["memo_entries"]
    assert isinstance(small.solution, SmttSolution)
    assert evaluate(inst, small.solution).objective == small.objective


def test_job_set_cap_stops_the_search() -> None:
    """Job-set tables that may not grow end the search without an answer, saying why."""
    inst = generate(n=100, tf=0.6, rdd=0.2, count=1, seed=1)[0]
    p, d = (np.asarray(a, dtype=np.int64) for a in (inst.processing_times, inst.due_dates))
    order = np.lexsort((np.arange(inst.n), p, d))
    outcome = solve_edd(p[order], d[order], 64 << 20, 0, True, lambda: False)
    assert outcome.value is None and outcome.sequence is None
    assert outcome.stats["stopped"] == MEMORY_LIMIT


def test_rehash_keeps_every_entry_findable() -> None:
    """The vectorised rehash puts entries where the compiled look-up searches for them."""
    rng = np.random.default_rng(7)
    memo = Memo(64, 1 << 12)
    for i in range(200):
        memo.used += kn.store(memo.table, int(rng.integers(0, 50)), int(rng.integers(-9, 9)),
                              i, i, int(rng.integers(1, 9)))
        memo.maybe_grow()
    assert memo.slots > 64
    kept = memo.table[memo.table[:, kn.KEY] != 0]
    assert kept.shape[0] == memo.used
    for key, t, value, _ in kept:
        slot = kn.lookup(memo.table, int(key) - 1, int(t))
        assert slot >= 0 and memo.table[slot, kn.VALUE] == value


def test_expired_deadline_returns_a_feasible_sequence() -> None:
    """A deadline already passed: feasible, a verified sequence, the family's lower bound."""
    inst = generate(n=40, tf=0.6, rdd=0.2, count=1, seed=2)[0]
    status, objective, bound, _ = _run(inst, limit=0.0)
    assert status is Status.FEASIBLE and bound == lower_bound(inst) <= objective
    result = solve(inst, "smtt-bb", SolveParams(time_limit=1e-9, workers=1))
    assert result.verified and result.status.has_solution
    assert result.bound is not None and result.objective is not None
    assert result.bound <= result.objective


def test_large_instance() -> None:
    """1000 jobs (deep decompositions, an explicit stack): optimal and below the heuristics."""
    inst = generate(n=1000, tf=0.8, rdd=0.4, count=1, seed=4)[0]
    status, objective, bound, _ = _run(inst)
    assert status is Status.OPTIMAL and objective == bound
    heuristic = solve(inst, "mdd").objective
    assert heuristic is not None and lower_bound(inst) <= objective <= heuristic


def test_weighted_instances_are_declined() -> None:
    """Unequal weights raise NotSupportedError naming the field."""
    inst = SmttInstance((2, 6, 3), (3, 8, 6), (1, 2, 1))
    with pytest.raises(NotSupportedError) as caught:
        bb.run(inst, NO_LIMIT, Deadline(None))
    assert caught.value.field == "weights"


@pytest.mark.parametrize(("options", "field"), [({"nope": 1}, "options.nope"),
                                                ({"memo_mb": 0}, "options.memo_mb"),
                                                ({"prune": 2}, "options.prune"),
                                                ({"prune": -1}, "options.prune")])
def test_bad_options(options: dict[str, int], field: str) -> None:
    """Unknown options, sizes below 1 and switches other than 0/1 raise InputError."""
    with pytest.raises(InputError) as caught:
        solve(SmttInstance((1,), (0,)), "smtt-bb", SolveParams(options=options))
    assert caught.value.field == field
