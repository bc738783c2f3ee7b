"""The MILP count model through PuLP (HiGHS and CBC): hand-solved instances and the oracle."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings

from optsched import SolveParams, Status, solve
from optsched.deadline import Deadline
from optsched.errors import NotSupportedError
from optsched.problems.pods import milp
from optsched.problems.pods.counts import SYMMETRY, build_counts
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.objects import Node, PodGroup

from . import examples as ex
from .oracle import HAND, brute_force, instances

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


def test_objective_beyond_doubles_is_not_supported() -> None:
    """54 single pods of distinct priorities: weights 2^0 .. 2^53, largest objective
    2^54 - 1, which doubles do not hold exactly: a clear refusal naming the field."""
    groups = tuple(PodGroup(f"p{i}", {"cpu": 1000}, priority=i) for i in range(1, 55))
    instance = PodsInstance((Node("n1", {"cpu": 20_000, "pods": 110}),), groups, {})
    assert build_counts(instance).top == 2**54 - 1
    with pytest.raises(NotSupportedError, match="objective: .*2\\^53.*cpsat"):
        milp.build(instance, FAST, Deadline(None))
    with pytest.raises(NotSupportedError, match="objective"):
        solve(instance, "highs", FAST)


def test_staged_is_not_a_milp_option() -> None:
    """The staged objective is CP-SAT's; the MILP says so."""
    with pytest.raises(NotSupportedError, match="staged|weighted objective only"):
        milp.build(ex.fragmented(), SolveParams(model={"objective": "staged"}),
                   Deadline(None))
