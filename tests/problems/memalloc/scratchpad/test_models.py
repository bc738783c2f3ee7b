"""The MILP of a fixed order, the free-order CP-SAT model, and the kind inside the family."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from optsched import Result, SolveParams, Status, read_instances, solve
from optsched.errors import NotSupportedError
from optsched.problems.memalloc.scratchpad import timeline
from optsched.problems.memalloc.scratchpad.evaluate import evaluate
from optsched.problems.memalloc.scratchpad.instance import (
    Operator,
    ScratchpadInstance,
    Tensor,
)
from optsched.problems.memalloc.scratchpad.reading import to_dict
from optsched.problems.memalloc.scratchpad.samples import branches, skip
from optsched.problems.memalloc.scratchpad.solution import ScratchpadSolution
from optsched.registry import family_of

from ....cli.helpers import run, write_json

PARAMS = SolveParams(time_limit=20, workers=1)


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_milp_proves_the_skip_sample(solver: str) -> None:
    """skip (samples.py): a must leave across step 2 and come back, reload 4 + store 4."""
    result = solve(skip(), solver, PARAMS)
    assert (result.status, result.objective, result.bound) == (Status.OPTIMAL, 8, 8)


def fragmented() -> ScratchpadInstance:
    """Capacity 8, the listed order, every step full: the packing must chain exactly.

    op0 reads x (2, an input) and writes p (4) and q (2); op1 reads p and writes r (2);
    op2 reads q and r and writes s (4). Step 0 holds x, p, q (8 bytes); step 1 p, r and
    q waiting (8; x is gone); step 2 q, r, s (8; p is gone). Whatever the step-0
    arrangement, r fits exactly where x was and s where p was, so nothing moves:
    optimum 0, with no slack for a wrong address.
    """
    t = (Tensor("x", 2), Tensor("p", 4), Tensor("q", 2), Tensor("r", 2), Tensor("s", 4))
    ops = (Operator("op0", ("x",), ("p", "q")), Operator("op1", ("p",), ("r",)),
           Operator("op2", ("q", "r"), ("s",)))
    return ScratchpadInstance(t, ops, 8, inputs=("x",), name="fragmented")


@pytest.mark.parametrize("solver", ["cpsat", "highs"])
def test_models_agree_on_a_tight_packing(solver: str) -> None:
    """See :func:`fragmented`: optimum 0, proven."""
    result = solve(fragmented(), solver, PARAMS)
    assert (result.status, result.objective) == (Status.OPTIMAL, 0)


def test_free_order_finds_the_better_order() -> None:
    """branches (samples.py): 8 in the listed order, 0 in the order A, C, B, D, E; the
    free-order CP-SAT model proves 0 (B, D, A, C, E is as good: 5, 7, 7, 8, 5 bytes)."""
    result = solve(branches(), "cpsat", PARAMS)
    assert (result.status, result.objective) == (Status.OPTIMAL, 0)
    assert result.solution is not None
    listed = solve(dataclasses.replace(branches(), order="listed"), "cpsat", PARAMS)
    assert listed.objective == 8


def test_free_order_with_one_order_equals_the_fixed_model() -> None:
    """skip is a chain with one residual: its only order is the listed one, so the
    free-order model must prove the fixed optimum 8 as well."""
    result = solve(dataclasses.replace(skip(), order="free"), "cpsat", PARAMS)
    assert (result.status, result.objective) == (Status.OPTIMAL, 8)


def test_windows_follow_the_graph() -> None:
    """branches: A and B have no ancestor (earliest 0); C follows A (earliest 1), D
    follows B; E follows all four (earliest 4, latest 4). A precedes C and E: latest
    2 of 5 steps (0..4); C precedes only E: latest 3."""
    early, late = timeline.windows(branches())
    assert early == [0, 0, 1, 1, 4]
    assert late == [2, 2, 3, 3, 4]


def test_the_milp_declines_a_free_order() -> None:
    with pytest.raises(NotSupportedError) as caught:
        solve(branches(), "highs", PARAMS)
    assert caught.value.field == "order"


def test_buffers_solvers_decline_schedules() -> None:
    with pytest.raises(NotSupportedError) as caught:
        solve(skip(), "memalloc-bb", PARAMS)
    assert caught.value.field == "operators"


def test_auto_picks_by_kind_and_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both orders go to cpsat; a free order over the cells limit to the memory-aware
    Belady."""
    assert solve(skip(), "auto", PARAMS).solver == "cpsat"
    assert solve(branches(), "auto", PARAMS).solver == "cpsat"
    monkeypatch.setattr(timeline, "MAX_CELLS", timeline.cells(branches()) - 1)
    assert solve(branches(), "auto", PARAMS).solver == "scratchpad-memorder"


def test_incumbents_of_the_kind_are_checked() -> None:
    """A fixed solve's hint is Belady's (listed order): for skip it is already 8."""
    told: list[Result] = []
    result = solve(skip(), "cpsat", PARAMS, on_progress=told.append)
    assert told and all(isinstance(r.solution, ScratchpadSolution) and
                        evaluate(skip(), r.solution).objective == r.objective for r in told)
    assert result.stats["hint"] == "scratchpad-belady"


def test_cli_solves_and_validates_a_schedule(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    """The JSON of skip through the command line: optimum 8, written, validated."""
    path = write_json(tmp_path / "skip.json", {"family": "memalloc", "format": 1,
                                               **to_dict(skip())})
    done = run(capsys, "solve", path, "-t", "10", "--out", tmp_path / "out")
    assert done.code == 0 and "objective=8 " in done.out, done.out + done.err
    [written] = (tmp_path / "out").glob("*.json")
    checked = run(capsys, "validate", path, written)
    assert checked.code == 0 and "feasible  objective=8 " in checked.out, checked.out
    instance = read_instances(path)[0]
    assert family_of(instance).name == "memalloc"


def test_generator_variant_builds_budgets(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    """memalloc-scratchpad --network transformer_block --budget min: the capacity is M_R,
    491,520 bytes: FFN1 reads 128 x 768 = 98,304 bytes and writes 128 x 3072 = 393,216
    (more than the attention scores' step: Q and K 98,304 each, scores 12 x 128 x 128 =
    196,608)."""
    done = run(capsys, "generate", "memalloc-scratchpad", "--network", "transformer_block",
               "--budget", "min", "--out", tmp_path)
    assert done.code == 0, done.err
    [path] = tmp_path.glob("*.json")
    [instance] = read_instances(path)
    assert isinstance(instance, ScratchpadInstance)
    assert instance.capacity == instance.meta["M_R"] == 491_520
    bad = run(capsys, "generate", "memalloc-scratchpad", "--network", "alexnet",
              "--out", tmp_path)
    assert bad.code == 2 and "network" in bad.err
