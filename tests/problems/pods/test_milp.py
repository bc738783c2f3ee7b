"""The MILP count model through PuLP (HiGHS and CBC): hand-solved instances and the oracle."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings

from optsched import SolveParams, Status, solve
from optsched.deadline import Deadline
from optsched.errors import NotSupportedError
from optsched.problems.pods import samples as ex
from optsched.problems.pods.counts import milp
from optsched.problems.pods.counts.structure import build_counts
from optsched.problems.pods.counts.symmetry import SYMMETRY
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.objects import Node, PodGroup

from .oracle import HAND, brute_force, instances, moved

MILP = ("highs", "cbc")
FAST = SolveParams(time_limit=10, workers=1, seed=0)


@pytest.mark.parametrize("solver", MILP)
@pytest.mark.parametrize(("factory", "optimum"), HAND, ids=lambda v: getattr(v, "__name__", ""))
def test_hand_solved(solver: str, factory: Callable[[], PodsInstance], optimum: int) -> None:
    """Each instance's docstring in ``oracle.py`` works out its optimum."""
    result = solve(factory(), solver, FAST)
    assert result.status is Status.OPTIMAL and result.verified
    assert result.objective == optimum
    assert result.stats["fallback"] is None


def test_cbc_with_one_worker_does_not_wait_out_its_limit() -> None:
    """Given "threads 1", the bundled CBC 2.10.3 left its one worker thread unstarted in
    about 2 % of the solves of ``fragmented`` (7 of 300 measured), waited out the whole
    limit and reported "Stopped on time", so the status was feasible. With one worker it
    now runs serially: 150 solves must all be proven optimal (the old behaviour fails
    this with probability about 1 - 0.98^150 = 95 %)."""
    for _ in range(150):
        result = solve(ex.fragmented(), "cbc", FAST)
        assert result.status is Status.OPTIMAL and result.objective == 1


@pytest.mark.parametrize("solver", MILP)
@pytest.mark.parametrize("symmetry", SYMMETRY)
def test_symmetry_modes_on_identical_nodes(solver: str, symmetry: str) -> None:
    """Four identical 4-cpu nodes, pods of 3, 2.5, 3.5 cpu and two of 2 cpu: 13 of the
    16 cpu, one pod per node plus the pair on the fourth; nothing pending, objective 0."""
    instance = ex.instance([ex.node(f"n{j}") for j in range(4)],
                           [ex.pod("a", "3"), ex.pod("b", "2500m"), ex.pod("c", "3500m"),
                            ex.pod("pair", "2", replicas=2)], name="identical")
    params = SolveParams(time_limit=10, workers=1, seed=0, model={"symmetry": symmetry})
    result = solve(instance, solver, params)
    assert result.status is Status.OPTIMAL and result.objective == 0


@pytest.mark.parametrize("solver", MILP)
@settings(max_examples=30, deadline=None, derandomize=True)
@given(instance=instances())
def test_matches_the_oracle(solver: str, instance: PodsInstance) -> None:
    """Optimal, objective = brute-force optimum, verified by the checker."""
    optimum, _ = brute_force(instance)
    result = solve(instance, solver, FAST)
    assert result.status is Status.OPTIMAL and result.verified
    assert result.objective == optimum


def _moved_and_fillers(fillers: int) -> PodsInstance:
    """``moved`` (``a``, ``b`` running on n1, n2, ``high`` pending) plus ``fillers`` single
    100m pods of distinct priorities 20, 21, ... that fit n3 exactly.

    Weights: move 1, eviction 3, priority 0: 9, priority 10: 27, then filler
    ``i``: ``54 * 2^i``; the largest objective is ``54 * 2^fillers - 1``. The
    optimum places every filler on n3 and moves ``a`` or ``b``: objective 1,
    its only nonzero digit the lowest.
    """
    base = moved()
    nodes = (*base.nodes, Node("n3", {"cpu": 100 * fillers, "pods": 110}))
    groups = (*base.groups, *(PodGroup(f"f{i}", {"cpu": 100}, priority=20 + i)
                              for i in range(fillers)))
    return PodsInstance(nodes, groups, {}, name=f"fillers{fillers}")


@pytest.mark.parametrize("solver", MILP)
def test_lowest_digit_is_exact_near_the_limit(solver: str) -> None:
    """34 fillers: largest objective ``54 * 2^34 - 1``, just below 2^40, so the filler
    weights reach ``54 * 2^33``, about 4.6e11; the optimum is still the single move."""
    instance = _moved_and_fillers(34)
    assert 2**39 < build_counts(instance).top <= milp.OBJECTIVE_LIMIT == 2**40
    result = solve(instance, solver, FAST)
    assert result.status is Status.OPTIMAL and result.verified
    assert result.objective == 1 and result.stats["fallback"] is None


def test_objective_beyond_the_limit_is_not_supported() -> None:
    """35 fillers: largest objective ``54 * 2^35 - 1``, beyond 2^40: a clear refusal
    naming the field (the MILP solvers' doubles and tolerances would blur the lowest
    digits); CP-SAT solves it."""
    instance = _moved_and_fillers(35)
    assert build_counts(instance).top > 2**40
    with pytest.raises(NotSupportedError, match="objective: .*2\\^40.*cpsat"):
        milp.build(instance, FAST, Deadline(None))
    with pytest.raises(NotSupportedError, match="objective"):
        solve(instance, "highs", FAST)
    assert solve(instance, "cpsat", FAST).objective == 1


@pytest.mark.parametrize("solver", ("cpsat", *MILP))
def test_huge_amounts_do_not_wrap(solver: str) -> None:
    """Four nodes with 3Ei of memory each (``12 * 2^60`` bytes in all, beyond int64) and pods
    asking 1 and 2 bytes (gcd 1, so the amounts stay in bytes). Each node's capacity is
    clamped to what the pods ask for in all (5 bytes), no knapsack row is needed (an int64
    sum would wrap negative and make it infeasible), and every pod is placed: objective 0."""
    instance = ex.instance([ex.node(f"n{j}", memory="3Ei") for j in range(4)],
                           [{"name": "a", "requests": {"cpu": "1", "memory": "1"},
                             "replicas": 3},
                            {"name": "b", "requests": {"cpu": "1", "memory": "2"}}],
                           name="huge")
    counts = build_counts(instance)
    assert counts.demand[instance.resources.index("memory")] == 5
    assert counts.capacity.max() <= max(counts.demand)
    assert counts.aggregate == []
    result = solve(instance, solver, FAST)
    assert result.status is Status.OPTIMAL and result.objective == 0


def test_staged_is_not_a_milp_option() -> None:
    """The staged objective is CP-SAT's; the MILP says so."""
    with pytest.raises(NotSupportedError, match="staged|weighted objective only"):
        milp.build(ex.fragmented(), SolveParams(model={"objective": "staged"}),
                   Deadline(None))
