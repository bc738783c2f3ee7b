"""moe on the command line: generate, solve, -m settings, --export, validate, bad input."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ...cli.helpers import one_error, one_json, run, write_json
from ...conftest import extra
from .test_instance import EXAMPLE, IDENTITY


def _generated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """``optsched generate moe``: 2 layers of 4 experts, top-2, 100 tokens, on the default
    2 nodes x 2 GPUs with ceil(4 / 4) = 1 slot each (no spare slot)."""
    res = run(capsys, "generate", "moe", "--layers", "2", "--experts", "4", "--tokens", "100",
              "--seed", "1", "--out", tmp_path / "gen")
    assert res.code == 0, res.err
    (path,) = (tmp_path / "gen").iterdir()
    assert path.name == "moe-zipf-l2-e4-top2-t100-s1-0.json"
    return path


def test_generate_then_solve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The generated file is a moe instance (every layer's loads sum to 100 tokens x 2
    experts); moe-lns solves it, the checker verifies it, the bound is below."""
    path = _generated(tmp_path, capsys)
    data = json.loads(path.read_text())
    assert (data["family"], data["format"]) == ("moe", 1)
    assert [sum(row) for row in data["load"]] == [200, 200]
    row = one_json(run(capsys, "solve", path, "--solver", "moe-lns", "--time-limit", "5",
                    "--workers", "1", "--json"))
    assert (row["family"], row["instance"], row["solver"]) == (
        "moe", data["name"], "moe-lns")
    assert row["status"] in ("feasible", "optimal") and row["verified"] is True
    phy2log = row["solution"]["phy2log"]
    assert [sorted(layer) for layer in phy2log] == [[0, 1, 2, 3]] * 2
    metrics = row["stats"]["metrics"]
    assert row["objective"] == pytest.approx(metrics["time"])
    assert metrics["goal"] == "time"
    assert row["bound"] <= row["objective"]


def test_load_objective_from_the_command_line(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """-m objective=load: one expert per GPU, so each layer's heaviest GPU carries its
    largest expert whatever the placement; the optimum is the sum of the rows' maxima,
    which is also the token bound (largest expert + 0 more slots): proven optimal."""
    path = _generated(tmp_path, capsys)
    load = json.loads(path.read_text())["load"]
    row = one_json(run(capsys, "solve", path, "-s", "moe-lns", "-t", "5", "-w", "1", "-m",
                    "objective=load", "--json"))
    expected = float(sum(max(layer) for layer in load))
    assert (row["status"], row["objective"], row["bound"]) == ("optimal", expected, expected)
    assert row["stats"]["metrics"]["goal"] == "load"


def test_text_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A person's line: instance, solver, status, objective, and the load headline."""
    path = _generated(tmp_path, capsys)
    res = run(capsys, "solve", path, "-s", "lpt", "-w", "1", "-m", "objective=load")
    assert res.code == 0, res.err
    assert res.out.startswith("moe-zipf-l2-e4-top2-t100-s1-0  lpt  optimal  objective=")
    assert "tokens (bound" in res.out and "imbalance 1" in res.out


def test_export_and_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--export DIR writes DIR/<instance>.<solver>.placement.json with the runtimes'
    physical_to_logical_map (the solution's phy2log), one replica per expert here;
    validate reads it back and recomputes the same objective."""
    path = _generated(tmp_path, capsys)
    out = tmp_path / "out"
    row = one_json(run(capsys, "solve", path, "-s", "moe-lns", "-t", "5", "-w", "1", "--json",
                    "--export", out))
    (exported,) = out.iterdir()
    assert exported.name == "moe-zipf-l2-e4-top2-t100-s1-0.moe-lns.placement.json"
    doc = json.loads(exported.read_text())
    assert doc["physical_to_logical_map"] == row["solution"]["phy2log"]
    assert doc["logical_replica_count"] == [[1, 1, 1, 1]] * 2
    assert len(doc["gpus"]) == 4 and len(doc["traffic_tokens"]) == 4
    res = run(capsys, "validate", path, exported)
    assert res.code == 0, res.err
    assert res.out.startswith(f"moe-zipf-l2-e4-top2-t100-s1-0  feasible  objective="
                              f"{row['objective']}")
    report = json.loads(run(capsys, "validate", "--json", path, exported).out)
    assert (report["feasible"], report["violations"]) == (True, [])
    assert report["objective"] == pytest.approx(row["objective"])


def test_validate_a_solution_and_a_result(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A plain {"phy2log": ...} file and a result written by --out validate too (both are
    .json, like the export)."""
    path = _generated(tmp_path, capsys)
    results = tmp_path / "results"
    row = one_json(run(capsys, "solve", path, "-s", "lpt", "-w", "1", "--json", "--out",
                    results))
    (result_file,) = results.iterdir()
    res = run(capsys, "validate", path, result_file)
    assert res.code == 0, res.out + res.err
    solution = write_json(tmp_path / "mine.json", row["solution"])
    res = run(capsys, "validate", path, solution)
    assert res.code == 0, res.out + res.err
    assert f"objective={row['objective']}" in res.out


def test_validate_reports_a_missing_expert(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Expert 3 has no slot in layer 0: a violation, exit 1."""
    path = _generated(tmp_path, capsys)
    solution = write_json(tmp_path / "bad.json", {"phy2log": [[0, 1, 2, 2], [0, 1, 2, 3]]})
    res = run(capsys, "validate", path, solution)
    assert res.code == 1
    assert res.out == "violation: layer 0: expert 3 has no slot (1 expert(s) missing)\n"


def test_validate_with_a_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """validate -m objective=load prices the same placement in tokens: the sum of the
    layers' largest experts (one expert per GPU)."""
    path = _generated(tmp_path, capsys)
    load = json.loads(path.read_text())["load"]
    solution = write_json(tmp_path / "mine.json", {"phy2log": [[0, 1, 2, 3]] * 2})
    report = json.loads(run(capsys, "validate", "--json", "-m", "objective=load", path,
                            solution).out)
    assert report["objective"] == float(sum(max(layer) for layer in load))


def test_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The heat map of tokens per GPU and layer is a PNG."""
    extra("matplotlib")
    path = _generated(tmp_path, capsys)
    solution = write_json(tmp_path / "mine.json", {"phy2log": [[0, 1, 2, 3]] * 2})
    image = tmp_path / "heat.png"
    res = run(capsys, "plot", path, solution, "-o", image)
    assert res.code == 0, res.err
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


BAD_FILES: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("load row wrong length", lambda d: d["load"].__setitem__(1, [80, 70, 20]),
     "load[1]: must have 4 entries, got 3"),
    ("negative count", lambda d: d["load"][0].__setitem__(2, -1),
     "load[0][2]: must be an integer in [0, 1099511627776], got -1"),
    ("fewer slots than experts", lambda d: d["cluster"].update(nodes=1, gpus_per_node=1),
     "cluster.slots_per_gpu: 1 GPUs x 3 slots = 3 slots, fewer than the 4 experts"),
    ("transition from the last layer", lambda d: d["transitions"].append([1, 0, 1, 5]),
     "transitions[2]: layer must be a layer in [0, 0]"),
    ("transition to a missing expert",
     lambda d: d["transitions"].extend([[0, 1, 1, 1], [0, 4, 1, 5]]),
     "transitions[3]: e must be an expert in [0, 3]"),
    ("previous expert without a slot",
     lambda d: d.__setitem__("previous", [IDENTITY, [0, 1, 2, 0] * 3]),
     "previous[1]: expert 3 has no slot"),
    ("previous expert out of range",
     lambda d: d.__setitem__("previous", [[0, 1, 2, 3, 0, 5, 0, 0, 0, 0, 0, 0], IDENTITY]),
     "previous[0][5]: must be an integer in [0, 3], got 5"),
    ("previous row too short", lambda d: d.__setitem__("previous", [IDENTITY, [0, 1]]),
     "previous[1]: must have 12 entries, got 2"),
    ("coactivation pair repeated", lambda d: d["coactivation"].append([0, 2, 0, 5]),
     "coactivation[1]: repeats the layer and experts of entry 0"),
    ("unknown key", lambda d: d.__setitem__("colour", 3), "colour: is not a known key"),
]


@pytest.mark.parametrize(("change", "words"), [b[1:] for b in BAD_FILES],
                         ids=[b[0] for b in BAD_FILES])
def test_bad_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              change: Callable[[dict[str, Any]], object], words: str) -> None:
    """Exit 2 and one line: the file, the field with its index, the problem."""
    data = copy.deepcopy(EXAMPLE)
    change(data)
    path = write_json(tmp_path / "bad.json", data)
    one_error(run(capsys, "solve", path, "-s", "moe-lns", "-t", "1", "-w", "1"),
               f"error: {path}: {words}")


@pytest.mark.parametrize(("args", "words"), [
    (("-m", "colour=3"), "model.colour: is not an option of moe/moe-lns or of moe's "
                         "instances (valid: objective, imbalance, max_moved)"),
    (("-m", "objective=speed"), "model.objective: must be one of time, load"),
    (("-m", "imbalance=0.5"), "model.imbalance: must be a number >= 1"),
    (("-m", "max_moved=0.1"), "model.max_moved: needs a previous placement"),
    (("-s", "nope"), "solver: unknown solver 'nope'"),
    (("-s", "cpsat"), "objective: the exact models take the load objective"),
    (("-s", "eplb-hierarchical"), "model.groups: EPLB's hierarchical policy needs"),
], ids=["unknown-option", "objective", "imbalance", "max-moved", "unknown-solver",
        "cpsat-time", "hierarchical"])
def test_bad_option_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                args: tuple[str, ...], words: str) -> None:
    """A setting or solver the instance cannot take: exit 2, one line naming it."""
    path = write_json(tmp_path / "example.json", EXAMPLE)
    one_error(run(capsys, "solve", path, "-w", "1", "-t", "1", *args),
               f"error: {path}: {words}")


def test_bad_export_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An export without physical_to_logical_map: exit 2, one line naming the file."""
    path = write_json(tmp_path / "example.json", EXAMPLE)
    exported = write_json(tmp_path / "x.placement.json", {"phy2log": [[0, 1, 2, 3]]})
    one_error(run(capsys, "validate", path, exported),
               f"{exported}: export: must be an object with physical_to_logical_map")


def test_generate_from_a_routing_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``moe-recorder`` on SGLang's JSON ``logical_count`` [passes, layers, experts]: two
    passes of 2 layers x 4 experts summed, [[6, 3, 0, 4], [2, 6, 3, 3]], on 1 node of 2 GPUs
    with ceil(4 / 2) = 2 slots each; top-k from the parameter."""
    log = write_json(tmp_path / "log.json", {"logical_count": [
        [[5, 3, 0, 1], [2, 2, 2, 2]], [[1, 0, 0, 3], [0, 4, 1, 1]]]})
    res = run(capsys, "generate", "moe-recorder", "--path", log, "--nodes", "1",
              "--gpus-per-node", "2", "--top-k", "2", "--out", tmp_path / "gen")
    assert res.code == 0, res.err
    (path,) = (tmp_path / "gen").glob("*.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["load"] == [[6, 3, 0, 4], [2, 6, 3, 3]]
    assert doc["cluster"]["slots_per_gpu"] == 2 and doc["model"]["top_k"] == 2


@pytest.mark.parametrize(("args", "words"), [
    ((), ("path", "is required")),
    (("--path", "missing.pt"), ("missing.pt", "cannot read the file")),
    (("--path", "log.json", "--previous"), ("previous", "no physical-to-logical map")),
])
def test_generate_from_a_bad_routing_log(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         args: tuple[str, ...], words: tuple[str, ...]) -> None:
    """No path, a file that is not there, and --previous for a log without a map: one line
    naming the field, exit 2."""
    write_json(tmp_path / "log.json", {"logical_count": [[1, 2], [3, 4]]})
    paths = [str(tmp_path / a) if a.endswith((".pt", ".json")) else a for a in args]
    one_error(run(capsys, "generate", "moe-recorder", *paths, "--out", tmp_path / "gen"),
              *words)
