"""The CP-SAT count model: hand-solved instances, the oracle, hints and the staged objective."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from ortools.sat.python import cp_model

from optsched import SolveParams, Status, solve
from optsched.deadline import Deadline
from optsched.errors import InputError
from optsched.problems.pods import samples as ex
from optsched.problems.pods.counts import cp
from optsched.problems.pods.counts.objective import blocks, value
from optsched.problems.pods.counts.structure import build_counts
from optsched.problems.pods.counts.symmetry import (
    SYMMETRY,
    decode,
    fixed_to_zero,
    hint_counts,
    load_cuts,
)
from optsched.problems.pods.evaluate import evaluate
from optsched.problems.pods.generate import generate, scenario
from optsched.problems.pods.greedy import first_fit
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.objects import Node, PodGroup
from optsched.problems.pods.solution import PodsSolution, make

from .oracle import HAND, brute_force, instances, moved

FAST = SolveParams(time_limit=10, workers=1, seed=0)


@pytest.mark.parametrize(("factory", "optimum"), HAND, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("symmetry", SYMMETRY)
def test_hand_solved(factory: Callable[[], PodsInstance], optimum: int, symmetry: str) -> None:
    """Each instance's docstring in ``oracle.py`` works out its optimum."""
    params = SolveParams(time_limit=10, workers=1, seed=0, model={"symmetry": symmetry})
    result = solve(factory(), "cpsat", params)
    assert result.status is Status.OPTIMAL and result.verified
    assert result.objective == optimum and result.bound == optimum
    assert result.stats["fallback"] is None


def test_moves_the_blocking_pod() -> None:
    """``moved``: ``b`` joins ``a`` on n1 (or ``a`` joins ``b``), ``high`` takes the freed node."""
    result = solve(moved(), "cpsat", FAST)
    assert isinstance(result.solution, PodsSolution)
    assignment = result.solution.assignment
    assert assignment["high"] is not None
    assert result.solution.moved in (("a",), ("b",)) and result.solution.evicted == ()


@settings(max_examples=80, deadline=None, derandomize=True)
@given(instances())
def test_matches_the_oracle(instance: PodsInstance) -> None:
    """Optimal, objective = bound = brute-force optimum, verified by the checker."""
    optimum, _ = brute_force(instance)
    result = solve(instance, "cpsat", FAST)
    assert result.status is Status.OPTIMAL and result.verified
    assert result.objective == optimum and result.bound == optimum


@settings(max_examples=25, deadline=None, derandomize=True)
@given(instances())
def test_staged_matches_the_oracle(instance: PodsInstance) -> None:
    """One digit per stage (priority levels, evictions, moves) reaches the same optimum."""
    optimum, _ = brute_force(instance)
    params = SolveParams(time_limit=10, workers=1, seed=0, model={"objective": "staged"})
    result = solve(instance, "cpsat", params)
    assert result.status is Status.OPTIMAL and result.objective == optimum


def _identical() -> tuple[PodsInstance, PodsSolution]:
    """Four identical empty 4-cpu nodes; ``a``, ``b``, ``c`` (one pod each, 3, 2.5 and 3.5
    cpu: three classes of one pod) and
    ``pair`` (two 2-cpu pods). The hint puts ``a`` on n3, ``b`` on n2, ``c`` on n1 and
    the pair on n0: the fixing wants ``a`` on n0, ``b`` on n0..n1, ``c`` on n0..n2.
    """
    instance = ex.instance([ex.node(f"n{j}") for j in range(4)],
                           [ex.pod("a", "3"), ex.pod("b", "2500m"), ex.pod("c", "3500m"),
                            ex.pod("pair", "2", replicas=2)], name="identical")
    hint = make(instance, {"a": "n3", "b": "n2", "c": "n1", "pair-0": "n0", "pair-1": "n0"})
    return instance, hint


def _solve_fixed_to_hint(instance: PodsInstance, hint: PodsSolution, symmetry: str
                         ) -> tuple[str, float]:
    """Solve the built model with every variable fixed to its hinted value."""
    params = SolveParams(workers=1, seed=0, hint=hint, model={"symmetry": symmetry, "pack": 0})
    form = cp.build(instance, params, Deadline(None))
    assert form.stats["hint"] == "used"
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.fix_variables_to_their_hinted_value = True
    status = solver.status_name(solver.solve(form.model))
    return status, solver.objective_value + form.offset


@pytest.mark.parametrize("symmetry", SYMMETRY)
def test_hint_satisfies_the_symmetry_breaking(symmetry: str) -> None:
    """With every variable fixed to the hint the model stays feasible, at the hint's objective.

    The raw hint breaks the ``fix`` rule (``a`` on n3), so the test would fail
    without the reordering. Objective: one level, no running pod, weight 1,
    nothing pending: 0.
    """
    instance, hint = _identical()
    counts = build_counts(instance)
    zero = fixed_to_zero(counts)
    raw = np.zeros(len(counts.pair_class), dtype=np.int64)
    node_of = {n.name: j for j, n in enumerate(instance.nodes)}
    for pod, node in hint.assignment.items():
        assert node is not None
        c = next(i for i, k in enumerate(counts.classes) if pod in k.pods)
        raw[counts.index[c, node_of[node]]] += 1
    assert raw[zero].any()
    status, objective = _solve_fixed_to_hint(instance, hint, symmetry)
    assert status == "OPTIMAL" and objective == 0
    reordered = hint_counts(counts, hint, symmetry)
    assert reordered is not None
    if symmetry == "fix":
        assert not reordered[zero].any()
    if symmetry == "load":
        for pairs, coeffs in load_cuts(counts):
            assert int(coeffs @ reordered[pairs]) >= 0
    assert evaluate(instance, decode(counts, reordered)).objective == 0


@pytest.mark.parametrize("k", range(4))
def test_greedy_hint_is_kept_on_generated_scenarios(k: int) -> None:
    """First fit's placement of a generated scenario (8 identical nodes, 4 pods each,
    load 1.05) is a hint that the model with every variable fixed to it accepts, at
    first fit's objective, and that :func:`.counts_objective.value` prices like the checker."""
    instance = scenario(8, 4, 2, 1.05, seed=3, k=k)
    hint = first_fit(instance)
    status, objective = _solve_fixed_to_hint(instance, hint, "fix")
    assert status == "OPTIMAL"
    assert objective == evaluate(instance, hint).objective
    counts = build_counts(instance)
    reordered = hint_counts(counts, hint, "fix")
    assert reordered is not None and value(counts, reordered) == objective


@pytest.mark.parametrize("symmetry", ["fix", "load"])
@pytest.mark.parametrize("k", range(4))
def test_hint_survives_cpsat_presolve(symmetry: str, k: int) -> None:
    """CP-SAT's first solution is the complete hint, so its presolve kept it.

    16 identical nodes, 4 pods each, one priority, load 1.05. With symmetry
    ``none`` CP-SAT's presolve fixes an orbitope of its own and, on most of
    these scenarios, finds the hint infeasible and only repairs it.
    """
    instance = scenario(16, 4, 1, 1.05, seed=3, k=k)
    params = SolveParams(workers=1, seed=0, hint=first_fit(instance),
                         model={"symmetry": symmetry})
    form = cp.build(instance, params, Deadline(None))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.stop_after_first_solution = True
    solver.solve(form.model)
    assert solver.solution_info() == "complete_hint"


def _wide() -> PodsInstance:
    """64 single pods of distinct priorities 1..64 (1 cpu each) on two 20-cpu nodes.

    Each level holds one pod, so the weights are powers of two and the largest
    objective is ``2^64 - 1`` (beyond int64, and beyond the 2^53 that CP-SAT's
    double objective holds exactly): the model is solved staged, 53 levels
    then the other 11 with evictions and moves. The optimum places 40 pods,
    the 40 of highest priority; the 24 pending ones are priorities 1..24,
    weights ``2^0 .. 2^23``: objective ``2^24 - 1``.
    """
    groups = tuple(PodGroup(f"p{i}", {"cpu": 1000}, priority=i) for i in range(1, 65))
    nodes = tuple(Node(f"n{j}", {"cpu": 20_000, "pods": 110}) for j in range(2))
    return PodsInstance(nodes, groups, {}, name="wide")


def test_wide_objective_is_solved_staged() -> None:
    """The 64-level instance: staged automatically, optimal, objective 2^24 - 1."""
    instance = _wide()
    counts = build_counts(instance)
    assert counts.top == 2**64 - 1
    assert [len(b) for b in blocks(counts.terms, cp.OBJECTIVE_LIMIT)] == [53, 13]
    result = solve(instance, "cpsat", FAST)
    assert result.stats["stages"] == 2
    assert result.status is Status.OPTIMAL and result.objective == 2**24 - 1
    assert isinstance(result.solution, PodsSolution)
    pending = {p for p, n in result.solution.assignment.items() if n is None}
    assert pending == {f"p{i}" for i in range(1, 25)}


def test_staged_blocks_are_capped_by_the_best_known_solution() -> None:
    """``fragmented`` staged: blocks pending[10], pending[1], then evicted with moved.

    First fit leaves one priority-10 pod pending and places ``low``: the first
    block is capped at 1. Stage 1 places all four priority-10 pods (8 cpu, the
    nodes are full), so its optimum leaves ``low`` pending: the second block is
    capped at 1 by that solution, not at the hint's 0 (which would cut off the
    optimum). No running pod: evictions and moves are always 0 (one block, as wide as
    one digit). Objective 1.
    """
    instance = ex.fragmented()
    params = SolveParams(workers=1, seed=0, hint=first_fit(instance),
                         model={"objective": "staged", "pack": 0})  # first fit's own caps
    form = cp.build(instance, params, Deadline(None))
    assert form.stats["stage_caps"] == [1, 1, 0]
    result = solve(instance, "cpsat", replace(params, time_limit=10))
    assert result.status is Status.OPTIMAL and result.objective == 1


def test_time_limit_counts_from_the_solver_start() -> None:
    """CP-SAT's limit is what is left when it starts, less the reserve for decoding and the
    checker: the whole solve (hint, build, search, check) stays within the limit plus a
    generous margin for a loaded machine."""
    instance = generate(nodes=16, pods_per_node=8, priorities=4, load=1.05, count=1, seed=3)[0]
    started = time.perf_counter()
    result = solve(instance, "cpsat", SolveParams(time_limit=0.5, workers=1))
    wall = time.perf_counter() - started
    assert result.build_s + result.solve_s + result.stats["hint_s"] <= 0.5 + 0.25
    assert wall <= 0.5 + 0.25
    assert result.verified


def test_unfinished_stage_falls_back_to_the_hint() -> None:
    """A stage stopped before its proof would leave the bound a guess: the build raises,
    and ``solve()`` returns the hint, saying so."""
    params = SolveParams(time_limit=10, workers=1, seed=0, model={"objective": "staged"},
                         options={"max_time_in_seconds": 0.0})
    result = solve(ex.fragmented(), "cpsat", params)
    assert result.stats["fallback"] == "best-greedy"
    assert "StageUnfinishedError" in result.stats["error"]


def test_a_build_past_its_deadline_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing a model of millions of pairs takes seconds: the build looks at the deadline
    (here after every variable) and raises OutOfTimeError once it has passed; the backend
    then answers "no solution" and ``solve()`` the hint, within the limit."""
    from optsched.deadline import OutOfTimeError

    monkeypatch.setattr(cp, "CHECK_EVERY", 1)
    with pytest.raises(OutOfTimeError):
        cp.build(ex.fragmented(), SolveParams(), Deadline(0.0))
    assert cp.build(ex.fragmented(), SolveParams(), Deadline(5.0)).model is not None
    def expired(self: object) -> None:
        raise OutOfTimeError

    monkeypatch.setattr(Deadline, "check", expired)
    result = solve(ex.fragmented(), "cpsat", SolveParams(time_limit=5, workers=1))
    assert result.stats["fallback"] == "best-greedy" and result.verified


def test_decode_keeps_staying_pods_and_names_moves() -> None:
    """``running`` at its optimum: one running pod evicted, the other stays, ``big`` placed."""
    result = solve(ex.running(), "cpsat", FAST)
    assert isinstance(result.solution, PodsSolution)
    assert len(result.solution.evicted) == 1 and result.solution.moved == ()
    kept = {"old", "fill"} - set(result.solution.evicted)
    home = {"old": "n1", "fill": "n2"}
    assert all(result.solution.assignment[p] == home[p] for p in kept)


def test_never_placeable_and_ineligible_pairs_are_dropped() -> None:
    """``huge`` (8 cpu) fits no 4-cpu node: no pair, a constant in the objective.
    ``train`` selects gpu=true, which only n1 has: one pair."""
    instance = ex.instance([ex.node("n1", labels={"gpu": "true"}), ex.node("n2")],
                           [ex.pod("huge", "8"), ex.pod("train", "1",
                                                        node_selector={"gpu": "true"})])
    counts = build_counts(instance)
    names = [k.pods[0] for k in counts.classes]
    per_class = np.bincount(counts.pair_class, minlength=len(names))
    assert dict(zip(names, per_class.tolist(), strict=True)) == {"huge": 0, "train": 1}
    result = solve(instance, "cpsat", FAST)
    assert result.objective == 1 and result.status is Status.OPTIMAL


def test_identical_pending_groups_share_a_class() -> None:
    """Two groups with the same spec become one class of 3 pods; another cpu, another class."""
    instance = ex.instance([ex.node("n1")], [ex.pod("a", "1", replicas=2), ex.pod("b", "1"),
                                             ex.pod("c", "2")])
    sizes = sorted(k.size for k in build_counts(instance).classes)
    assert sizes == [1, 3]


def test_build_is_fast_on_the_largest_grid_point() -> None:
    """32 nodes x 8 pods: classes compress the pods and the build takes well under 0.2 s."""
    instance = scenario(32, 8, 4, 1.0, seed=0, k=0)
    form = cp.build(instance, FAST, Deadline(1.0))
    assert form.build_s < 0.2
    assert form.stats["classes"] < instance.pod_count


def test_unknown_model_option_is_rejected() -> None:
    """A misspelt model option names the field."""
    with pytest.raises(InputError, match="model.symetry"):
        solve(ex.fragmented(), "cpsat", SolveParams(model={"symetry": "fix"}))
    with pytest.raises(InputError, match="model.symmetry"):
        solve(ex.fragmented(), "cpsat", SolveParams(model={"symmetry": "lex"}))


def test_the_reserve_for_the_checks_grows_with_the_pods_not_the_nodes() -> None:
    """The checks loop over pods (the never-placeable test once per spec): 3 pods keep
    0.05 + 3e-5 s back on 2 nodes and on 200 alike."""
    pods = [ex.pod("a", "1"), ex.pod("b", "1"), ex.pod("c", "2")]
    few = ex.instance([ex.node(f"n{i}") for i in range(2)], pods)
    many = ex.instance([ex.node(f"n{i}") for i in range(200)], pods)
    assert cp.reserve_s(few) == cp.reserve_s(many) == pytest.approx(0.05 + 3e-5)
