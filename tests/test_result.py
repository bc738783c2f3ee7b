"""Result: the gap and the JSON object of formats.md."""

from __future__ import annotations

import math

from optsched import Result, SmttSolution, Status
from optsched.result import relative_gap


def test_gap_is_relative_to_the_objective() -> None:
    """|913 - 900| / 913 = 0.014238...; objective 0 divides by 1; unknown bound gives None."""
    assert relative_gap(913, 900) == abs(913 - 900) / 913
    assert relative_gap(0, 0) == 0.0
    assert relative_gap(0.5, 0) == 0.5
    assert relative_gap(10, None) is None
    assert relative_gap(None, 3) is None


def test_to_dict_has_the_documented_keys_and_no_infinities() -> None:
    """Infinite bounds become null; the keys are those of formats.md."""
    result = Result(status=Status.FEASIBLE, solver="cpsat", family="smtt", instance="x",
                    solution=SmttSolution((1, 0)), objective=5, bound=-math.inf)
    obj = result.to_dict()
    assert list(obj) == ["family", "instance", "solver", "status", "objective", "bound", "gap",
                         "build_s", "solve_s", "verified", "solution", "stats"]
    assert obj["bound"] is None
    assert obj["gap"] is None
    assert obj["status"] == "feasible"
    assert obj["solution"] == {"sequence": [1, 0]}


def test_status_success() -> None:
    """Exit status 0 for a solution or proven infeasibility, 3 otherwise."""
    assert Status.OPTIMAL.is_success and Status.FEASIBLE.is_success
    assert Status.INFEASIBLE.is_success and not Status.INFEASIBLE.has_solution
    assert not Status.NO_SOLUTION.is_success and not Status.ERROR.is_success


def test_json_lines_are_strict() -> None:
    """A solver figure of -inf (smtt-ssdp's first bound before any step) becomes null."""
    import json

    from optsched.io import result_to_json

    line = result_to_json(Result(Status.FEASIBLE, "x", stats={"lb1": float("-inf"),
                                                             "deep": [float("nan"), 1.5]}))
    stats = json.loads(line)["stats"]
    assert stats == {"lb1": None, "deep": [None, 1.5]}
