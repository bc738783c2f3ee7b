"""Every kind of bad input: one line naming the field, exit status 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .helpers import EXAMPLE, run, write_json

BAD_INSTANCES: list[tuple[str, Any, str]] = [
    ("missing key", {k: v for k, v in EXAMPLE.items() if k != "due_dates"}, "due_dates"),
    ("unknown key", {**EXAMPLE, "deadline": [1, 2, 3]}, "deadline"),
    ("wrong family", {**EXAMPLE, "family": "smt"}, "family"),
    ("wrong format", {**EXAMPLE, "format": 2}, "format"),
    ("lengths differ", {**EXAMPLE, "due_dates": [4, 6]}, "due_dates"),
    ("zero processing time", {**EXAMPLE, "processing_times": [3, 0, 2]},
     "processing_times[1]"),
    ("negative processing time", {**EXAMPLE, "processing_times": [-3, 5, 2]},
     "processing_times[0]"),
    ("float", {**EXAMPLE, "due_dates": [4, 6.5, 3]}, "due_dates[1]"),
    ("string", {**EXAMPLE, "weights": [1, "2", 1]}, "weights[1]"),
    ("bool", {**EXAMPLE, "processing_times": [3, True, 2]}, "processing_times[1]"),
    ("horizon overflow", {**EXAMPLE, "processing_times": [3, 2**62, 2]}, "processing_times"),
    ("empty job list", {**EXAMPLE, "processing_times": [], "due_dates": [], "weights": []},
     "processing_times"),
    ("not an object", [1, 2, 3], "instance"),
]


def _check(res: Any, field: str, out: Path) -> None:
    assert res.code == 2, res
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("optsched: error:"), res.err
    assert field in lines[0] and "Traceback" not in res.err
    assert res.out == ""
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(("case", "data", "field"), BAD_INSTANCES,
                         ids=[c[0] for c in BAD_INSTANCES])
def test_bad_instance(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                      case: str, data: Any, field: str) -> None:
    """The bad file is one line naming it and the field; the good ones are still solved."""
    good = write_json(tmp_path / "good.json", EXAMPLE)
    bad = write_json(tmp_path / "bad.json", data)
    out = tmp_path / "out"
    res = run(capsys, "solve", good, bad, write_json(tmp_path / "also.json", EXAMPLE), "--out",
              out, "--solver", "edd")
    assert res.code == 2 and "Traceback" not in res.err
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"optsched: error: {bad}"), res.err
    assert field in lines[0]
    assert [line.split()[0] for line in res.out.splitlines()] == ["example", "example"]
    assert sorted(p.name for p in out.iterdir()) == ["example.edd-2.json", "example.edd.json"]


def test_every_bad_file_is_reported_in_json_too(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Two bad files and a good one: two error lines, and a JSON line per file."""
    good = write_json(tmp_path / "good.json", EXAMPLE)
    first = write_json(tmp_path / "a.json", {**EXAMPLE, "format": 2})
    second = tmp_path / "b.json"
    second.write_text("{")
    res = run(capsys, "solve", first, good, second, "-s", "edd", "--json")
    assert res.code == 2 and len(res.err.strip().splitlines()) == 2
    rows = [json.loads(line) for line in res.out.splitlines()]
    assert [r["status"] for r in rows] == ["error", "error", "feasible"]
    assert rows[0]["file"] == str(first) and "format" in rows[0]["error"]


@pytest.mark.parametrize("target", ["/dev/null", "file/under"])
def test_an_output_folder_that_cannot_be_written(tmp_path: Path, target: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Checked before solving: exit 2, one line naming --out."""
    good = write_json(tmp_path / "good.json", EXAMPLE)
    out = Path(target) if target.startswith("/") else tmp_path / "good.json" / "under"
    _check(run(capsys, "solve", good, "--out", out, "-s", "edd"), "--out", tmp_path / "none")


def test_file_that_is_not_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{'family': smtt")
    _check(run(capsys, "solve", bad, "--out", tmp_path / "out"), "bad.json", tmp_path / "out")


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _check(run(capsys, "solve", tmp_path / "nope.json"), "nope.json", tmp_path / "out")


@pytest.mark.parametrize(("args", "field"), [
    (["--solver", "cpsatt"], "solver"),
    (["--time-limit", "-1"], "time_limit"),
    (["--time-limit", "abc"], "time-limit"),
    (["--workers", "0"], "workers"),
    (["--option", "no_such_parameter=1", "--solver", "cpsat"], "no_such_parameter"),
    (["--option", "novalue", "--solver", "cpsat"], "--option"),
    (["--model", "formulation=magic", "--solver", "highs"], "formulation"),
    (["--option", "iterations=0", "--solver", "ils"], "iterations"),
    (["--model", "anything=1", "--solver", "cpsat"], "model.anything"),
    (["--option", "num_workers=2", "--solver", "cpsat"], "--workers"),
    (["--option", "kicks=many", "--solver", "dynasearch"], "options.kicks"),
    (["--option", "presolve=maybe", "--solver", "highs"], "options.presolve"),
    (["--option", "cutsOnOff=sometimes", "--solver", "cbc"], "options.cutsOnOff"),
    (["--option", "memo_mb=0", "--solver", "smtt-bb"], "options.memo_mb"),
    (["--solver", "smtt-bb"], "weights"),
    (["--solver", "default"], "it is a solver of pods"),
    (["--family", "nosuch"], "unknown family 'nosuch'"),
])
def test_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                     args: list[str], field: str) -> None:
    good = write_json(tmp_path / "good.json", EXAMPLE)
    out = tmp_path / "out"
    _check(run(capsys, "solve", good, "--out", out, *args), field, out)


@pytest.mark.parametrize(("solution", "field"), [
    ({"sequence": [2, 1, "0"]}, "sequence[2]"),
    ({"sequence": [2, 1, 0.0]}, "sequence[2]"),
    ({"order": [2, 1, 0]}, "sequence"),
    ("2 1 0", "sequence"),
])
def test_bad_solution_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           solution: Any, field: str) -> None:
    inst = write_json(tmp_path / "i.json", EXAMPLE)
    sol = write_json(tmp_path / "s.json", solution)
    _check(run(capsys, "validate", inst, sol), field, tmp_path / "out")


def test_unknown_command_and_option(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _check(run(capsys, "solvee"), "solvee", tmp_path / "out")
    _check(run(capsys, "solve", "--colour"), "--colour", tmp_path / "out")
