"""The command line on good input: solve, validate, generate, families, solvers."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from optsched.registry import solvers
from optsched.result import Result, Status

from .helpers import EXAMPLE, run, write_json


def test_solve_json_prints_one_verified_result_per_instance(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two files, the example (optimum 8) and a 2-job instance p=(2,1), d=(1,1).

    Second: 1 then 0 gives C = 1, 3 and T = 0 + 2 = 2; 0 then 1 gives 1 + 2 = 3.
    """
    a = write_json(tmp_path / "a.json", EXAMPLE)
    b = write_json(tmp_path / "b.json", {"family": "smtt", "format": 1,
                                         "processing_times": [2, 1], "due_dates": [1, 1]})
    res = run(capsys, "solve", a, b, "--solver", "cpsat", "-t", "10", "-w", "1", "--json",
              "--out", tmp_path / "out")
    assert res.code == 0, res.err
    rows = [json.loads(line) for line in res.out.splitlines()]
    assert [(r["instance"], r["status"], r["objective"], r["verified"]) for r in rows] == [
        ("example", "optimal", 8, True), ("b", "optimal", 2, True)]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "b.cpsat.json", "example.cpsat.json"]


def test_solve_text_line_and_heuristic(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    a = write_json(tmp_path / "a.json", EXAMPLE)
    res = run(capsys, "solve", a, "--solver", "wspt")
    assert res.code == 0
    assert res.out.startswith("example  wspt  feasible  objective=8  bound=")


def test_solve_orlib_file_reads_every_instance(data_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = data_dir / "smtt" / "orlib" / "wt40.txt"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    res = run(capsys, "solve", path, "--solver", "edd", "--json")
    rows = [json.loads(line) for line in res.out.splitlines()]
    assert res.code == 0 and len(rows) == 125
    assert rows[0]["instance"] == "wt40-001" and all(r["verified"] for r in rows)


def test_exit_3_when_nothing_is_found(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    table = solvers("smtt")

    def nothing(*_: object) -> Result:
        return Result(status=Status.NO_SOLUTION, solver="cpsat")

    monkeypatch.setitem(table, "cpsat", dataclasses.replace(table["cpsat"], run=nothing))
    a = write_json(tmp_path / "a.json", EXAMPLE)
    res = run(capsys, "solve", a, "--solver", "cpsat", "--no-fallback")
    assert res.code == 3 and "no_solution" in res.out
    res = run(capsys, "solve", a, "--solver", "cpsat")
    assert res.code == 0 and "fallback" in res.out


def test_a_backend_is_imported_before_the_first_instance(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two smtt files: with ``cpsat`` its formulation (and OR-Tools) is imported once,
    before either is solved, so no instance's limit pays for it; with ``wspt`` (native)
    nothing is; a library that cannot be imported leaves the solve to say so."""
    import optsched.cli.solve as cli_solve

    events: list[str] = []
    table = solvers("smtt")
    monkeypatch.setitem(table, "cpsat", dataclasses.replace(
        table["cpsat"], load=lambda: events.append("load")))
    real = cli_solve.solve_instance  # type: ignore[attr-defined]

    def solve(*args: Any, **kwargs: Any) -> Result:
        events.append("solve")
        return real(*args, **kwargs)

    monkeypatch.setattr(cli_solve, "solve_instance", solve)
    a = write_json(tmp_path / "a.json", EXAMPLE)
    b = write_json(tmp_path / "b.json", EXAMPLE)
    assert run(capsys, "solve", a, b, "-s", "cpsat", "-t", "5", "-w", "1").code == 0
    assert events == ["load", "solve", "solve"]
    events.clear()
    assert run(capsys, "solve", a, "-s", "wspt").code == 0
    assert events == ["solve"]

    def missing() -> object:
        raise ImportError("no such library")

    monkeypatch.setitem(table, "cpsat", dataclasses.replace(table["cpsat"], load=missing))
    events.clear()
    assert run(capsys, "solve", a, "-s", "cpsat", "-t", "5", "-w", "1").code == 0
    assert events == ["solve"]


def test_validate_good_solution_and_result_file(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    inst = write_json(tmp_path / "i.json", EXAMPLE)
    sol = write_json(tmp_path / "s.json", {"sequence": [2, 1, 0]})
    res = run(capsys, "validate", inst, sol)
    assert res.code == 0 and "objective=8" in res.out
    run(capsys, "solve", inst, "--solver", "edd", "--out", tmp_path)
    res = run(capsys, "validate", inst, tmp_path / "example.edd.json", "--json")
    assert res.code == 0 and json.loads(res.out)["feasible"] is True


@pytest.mark.parametrize(("sequence", "word"), [
    ([0, 0, 1], "more than once"), ([0, 1], "missing"), ([2, 1, 5], "out of range"),
    ([2, 1, -1], "out of range")])
def test_validate_lists_violations_with_exit_1(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               sequence: list[int], word: str) -> None:
    inst = write_json(tmp_path / "i.json", EXAMPLE)
    sol = write_json(tmp_path / "s.json", sequence)
    res = run(capsys, "validate", inst, sol)
    assert res.code == 1
    assert res.out.startswith("violation:") and word in res.out.lower()


def test_generate_writes_readable_instances(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    res = run(capsys, "generate", "smtt", "--n", "6", "--count", "2", "--seed", "3",
              "--out", tmp_path / "gen")
    assert res.code == 0, res.err
    files = sorted((tmp_path / "gen").iterdir())
    assert len(files) == 2
    res = run(capsys, "solve", *files, "--solver", "mdd", "--json")
    assert res.code == 0 and len(res.out.splitlines()) == 2


def test_families_and_solvers(capsys: pytest.CaptureFixture[str]) -> None:
    """Each family's solvers with the options they declare, the backends' summed up."""
    families = run(capsys, "families").out
    assert "smtt: single-machine" in families and "generators: pods, pods-alibaba" in families
    out = run(capsys, "solvers").out
    assert all(name in out for name in ("cpsat", "highs", "cbc", "vnd", "mddc", "default"))
    assert "-o memo_mb=2048  (an integer >= 1)" in out
    assert "-o states_mb=1024" in out and "-o windows=1  (one of 0, 1)" in out
    assert "-m symmetry=fix  (one of fix, load, none)" in out
    assert "options from CP-SAT's SatParameters proto (--options lists them)" in out
    one = run(capsys, "solvers", "--family", "smtt", "cpsat").out
    assert "-o linearization_level=1  (an integer in" in one and "smtt-bb" not in one


@pytest.mark.parametrize(("change", "words"), [
    ({"objective": 7}, "it claims objective 7; the solution's objective is 8"),
    ({"status": "optimal", "bound": 7}, "it claims optimal, but its bound 7 does not meet"),
    ({"bound": 9}, "it claims bound 9, above the solution's objective 8"),
    ({"instance": "other"}, "the result is for instance 'other', not 'example'"),
    ({"family": "pods"}, "the result is for"),
    ({"gap": 0.5}, "it claims gap 0.5"),
])
def test_validate_believes_no_claim(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    change: dict[str, object], words: str) -> None:
    """A result of the example (optimum 8, order 2, 1, 0) with one claim tampered: exit 1."""
    inst = write_json(tmp_path / "i.json", EXAMPLE)
    run(capsys, "solve", inst, "--solver", "cpsat", "-w", "1", "--out", tmp_path)
    result = json.loads((tmp_path / "example.cpsat.json").read_text())
    assert (result["status"], result["objective"], result["bound"]) == ("optimal", 8, 8)
    tampered = write_json(tmp_path / "t.json", {**result, **change})
    res = run(capsys, "validate", inst, tampered)
    if change.get("family") == "pods":
        assert res.code == 2 and "family" in res.err
        return
    assert res.code == 1 and f"false claim: {words}" in res.out, res.out


def test_validate_against_the_reference_optimum(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """An instance whose known optimum is 8: a result claiming 'optimal' at 9 (order 2, 0, 1:
    C = 2, 5, 10, cost 0 + 1 + 2 * 4 = 9) with bound 9 makes two false claims."""
    inst = write_json(tmp_path / "i.json", {**EXAMPLE, "reference": {"value": 8,
                                                                     "status": "optimal"}})
    sol = {"family": "smtt", "instance": "example", "solver": "x", "status": "optimal",
           "objective": 9, "bound": 9, "gap": 0.0, "solution": {"sequence": [2, 0, 1]}}
    res = run(capsys, "validate", inst, write_json(tmp_path / "r.json", sol))
    assert res.code == 1 and "it claims bound 9, above the known optimum 8" in res.out
    assert "it claims optimal, but the known optimum is 8" in res.out


def test_validate_reads_pods_manifests(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """What ``solve --manifests`` wrote is read back: same objective as the solve's."""
    from optsched.io import write_instance
    from optsched.problems.pods.samples import running

    inst = tmp_path / "running.json"
    write_instance(running(), inst)
    res = run(capsys, "solve", inst, "-s", "cpsat", "-w", "1", "--json", "--manifests",
              tmp_path / "plan")
    objective = json.loads(res.out)["objective"]
    res = run(capsys, "validate", inst, tmp_path / "plan" / "running.cpsat.yaml")
    assert res.code == 0 and f"objective={objective}" in res.out, res.out + res.err
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Binding\nmetadata: {name: big}\ntarget: {name: nowhere}\n")
    res = run(capsys, "validate", inst, bad)
    assert res.code == 1 and "violation" in res.out


def test_python_dash_m_and_standard_input() -> None:
    """``python -m optsched solve -`` reads the instance from standard input.

    p = (3, 5, 2), d = (4, 6, 3), unit weights: 2, 0, 1 gives C = 2, 5, 10 and
    tardiness 0 + 1 + 4 = 5, the optimum.
    """
    import subprocess
    import sys

    data = json.dumps({**EXAMPLE, "weights": [1, 1, 1], "name": ""})
    done = subprocess.run([sys.executable, "-m", "optsched", "solve", "-", "-s", "cpsat", "-w",
                           "1", "--json"], input=data, capture_output=True, text=True,
                          timeout=120)
    row = json.loads(done.stdout)
    assert done.returncode == 0 and (row["instance"], row["objective"]) == ("stdin", 5)
