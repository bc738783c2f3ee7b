"""A family is a folder: found, listed, solved, checked and benchmarked with no central edit.

The toy family ``tests/toy/makespan`` is added the two ways a user adds one:
as a folder beside ``optsched/problems/*`` (in this process) and as an
installed package with an ``optsched.families`` entry point (in a child
process, with a benchmark run). Removing it leaves every other test green.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

import optsched.problems
from optsched import solve
from optsched.family import Family
from optsched.registry import RegistryError, families, get_family, registry, reset, solvers

from . import conformance as c
from .cli.helpers import run, write_json
from .toy import install

TOY = Path(__file__).parent / "toy"


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Family[Any, Any]]:
    """The makespan family, found as a folder of ``optsched.problems``."""
    monkeypatch.setattr(optsched.problems, "__path__", [*optsched.problems.__path__, str(TOY)])
    reset()
    yield get_family("makespan")
    reset()


def test_the_folder_is_found_listed_and_keeps_the_contract(
        toy: Family[Any, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert list(families()) == ["makespan", "memalloc", "moe", "parplan", "pods", "smtt"]
    assert list(solvers(toy)) == ["cpsat", "list", "lpt"]
    assert "makespan: jobs onto identical machines" in run(capsys, "families").out
    listing = run(capsys, "solvers", "--family", "makespan").out
    assert "-o reverse=false  (a boolean) list the jobs last to first" in listing
    c.check_entry(toy)
    c.check_round_trip(toy)
    for name in solvers(toy):
        c.check_solver(toy, name)
        c.check_options_refused(toy, name)


def test_the_folder_family_on_the_command_line(
        toy: Family[Any, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Generate, solve, validate; the sample ``even`` has optimum 6 (see its docstring)."""
    res = run(capsys, "generate", "makespan", "--jobs", "8", "--count", "2", "--out",
              tmp_path / "gen")
    assert res.code == 0, res.err
    res = run(capsys, "solve", *sorted((tmp_path / "gen").iterdir()), "-s", "cpsat", "-t", "10",
              "-w", "1", "--json", "--out", tmp_path / "out")
    rows = [json.loads(line) for line in res.out.splitlines()]
    assert res.code == 0 and [r["status"] for r in rows] == ["optimal", "optimal"]
    even = write_json(tmp_path / "even.json", {"family": "makespan", "format": 1, "name": "even",
                                               "times": [3, 3, 2, 2, 2], "machines": 2})
    res = run(capsys, "solve", even, "-s", "lpt", "--out", tmp_path / "out")
    assert res.code == 0 and "objective=7" in res.out
    res = run(capsys, "validate", even, tmp_path / "out" / "even.lpt.json")
    assert res.code == 0 and "objective=7" in res.out
    res = run(capsys, "solve", even, "-s", "list", "-o", "reverse=maybe")
    assert res.code == 2 and "options.reverse: must be true or false" in res.err


def test_without_the_folder_it_is_gone() -> None:
    assert "makespan" not in families()


CLASH: Family[Any, Any] | None = None
"""A family installed by an entry point in :func:`test_a_solver_name_of_another_family`."""


def _install(monkeypatch: pytest.MonkeyPatch, family: Family[Any, Any]) -> None:
    global CLASH
    CLASH = family
    point = EntryPoint("clash", f"{__name__}:CLASH", "optsched.families")
    monkeypatch.setattr("optsched.registry.entry_points", lambda group: [point])
    reset()


def test_a_solver_name_of_another_family(toy: Family[Any, Any],
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A family whose heuristic is called ``edd`` changes nothing for smtt's ``edd``."""
    edd = toy.solvers["lpt"]
    clash = dataclasses.replace(toy, name="clash", solvers={**toy.solvers, "edd": edd},
                                instance_type=type("ClashInstance", (), {}))
    _install(monkeypatch, clash)
    assert solvers("clash")["edd"].summary == edd.summary
    assert solvers("smtt")["edd"].summary == "earliest due date"
    smtt = get_family("smtt").samples()[0]
    assert solve(smtt, "edd").stats["rule"] == "edd"
    listing = run(capsys, "solvers", "edd").out
    assert "longest processing time" in listing and "earliest due date" in listing


@pytest.mark.parametrize(("change", "words"), [
    ({"solvers": {"cpsat": None}}, "the native solver 'cpsat' has the name of a backend"),
    ({"default_solver": "gurobi"}, "default_solver 'gurobi' is not one of its solvers"),
    ({"hint_solver": "cpsat"}, "hint_solver 'cpsat' must be one of its heuristics"),
    ({"hint_options": {"reverse": 1}}, "hint_options.reverse: must be true or false"),
    ({"name": "pods"}, "two families are called 'pods'"),
    ({"name": "Bad Name"}, "must be lower-case words"),
])
def test_a_family_that_breaks_the_contract_is_refused(
        toy: Family[Any, Any], monkeypatch: pytest.MonkeyPatch, change: dict[str, Any],
        words: str) -> None:
    """Registration checks every entry and names the problem (no silent replacement)."""
    if change.get("solvers") == {"cpsat": None}:
        change = {"solvers": {**toy.solvers, "cpsat": toy.solvers["lpt"]}}
    if "hint_options" in change:
        change["hint_solver"] = "list"
    bad = dataclasses.replace(toy, **change)
    if "name" not in change or change["name"] == "Bad Name":
        bad = dataclasses.replace(bad, name=change.get("name", "clash"),
                                  instance_type=type("Other", (), {}))
    _install(monkeypatch, bad)
    with pytest.raises(RegistryError, match=words):
        registry()


def test_a_shared_instance_type_is_refused(toy: Family[Any, Any],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, dataclasses.replace(toy, name="clash"))
    with pytest.raises(RegistryError, match="share the instance type MakespanInstance"):
        registry()


def test_a_path_two_families_claim_needs_the_family(
        toy: Family[Any, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A family that also claims ``.yaml``: reading one is an error until the family is named."""
    from optsched.family import OutsideFormat

    def read(path: Path) -> list[Any]:
        return list(toy.samples())

    yaml_too = OutsideFormat("makespan YAML", lambda p: p.suffix == ".yaml", read)
    clash = dataclasses.replace(toy, name="clash", outside_formats=(yaml_too,),
                                instance_type=type("Other", (), {}))
    _install(monkeypatch, clash)
    path = tmp_path / "cluster.yaml"
    path.write_text("kind: Node\napiVersion: v1\nmetadata: {name: n1}\n"
                    "status: {allocatable: {cpu: '1', memory: 1Gi}}\n")
    res = run(capsys, "solve", path, "-s", "best-greedy")
    assert res.code == 2 and "several families: pods (Kubernetes YAML" in res.err
    assert "clash (makespan YAML); name the family (--family)" in res.err
    res = run(capsys, "solve", path, "-s", "best-greedy", "--family", "pods")
    assert res.code == 0, res.err


def test_an_installed_family_is_benchmarked(tmp_path: Path) -> None:
    """The toy as an installed package with an entry point, in a fresh process: the bench
    runner's children find it too; every row is verified and LPT never beats CP-SAT."""
    site = tmp_path / "site"
    install(site, "optsched-makespan", "optsched_makespan:FAMILY")
    suite = tmp_path / "suite.toml"
    suite.write_text('name = "makespan"\ntime_limit = 5\nworkers = 1\n\n[[instances]]\n'
                     'generator = "makespan"\nparams = {jobs = 9, count = 2}\n'
                     'grid = {machines = [2, 3]}\n\n[[solvers]]\nname = "lpt"\n\n'
                     '[[solvers]]\nname = "cpsat"\n')
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}

    def cli(*args: str | Path) -> str:
        done = subprocess.run([sys.executable, "-m", "optsched.cli", *map(str, args)],
                              capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "makespan" in cli("families")
    cli("bench", suite, "--out", tmp_path / "runs", "--cores", "2")
    rows = [json.loads(line) for line in (tmp_path / "runs" / "results.jsonl").read_text()
            .splitlines() if '"key"' in line]
    assert len(rows) == 8 and all(r["verified"] for r in rows)
    best = {r["instance"]: r["objective"] for r in rows if r["solver"] == "cpsat"}
    assert all(r["objective"] >= best[r["instance"]] for r in rows)
    assert "makespan" in cli("report", tmp_path / "runs")
