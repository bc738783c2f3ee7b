"""The reproducers of the hostile-input issue: each is one line and exit 2, or handled."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from .helpers import EXAMPLE, Run, run, write_json


def _one_line(res: Run, words: str) -> None:
    code, err = res.code, res.err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("optsched: error:"), err
    assert words in lines[0] and "Traceback" not in err


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/abs-optsched", "a/b", "..", ".hidden"])
def test_names_stay_inside_the_output_folder(tmp_path: Path, name: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Whatever the name, the result file lands in --out, under a safe stem."""
    inst = write_json(tmp_path / "i.json", {**EXAMPLE, "name": name})
    out = tmp_path / "runs" / "x"
    assert run(capsys, "solve", inst, "-s", "edd", "--out", out).code == 0
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert sorted(p.parent for p in files if p.name != "i.json") == [out]
    assert not Path("/tmp/abs-optsched.edd.json").exists()


@pytest.mark.parametrize(("name", "words"), [("a\u0000b", "control character U+0000"),
                                             ("x" * 300, "has 300 characters")])
def test_names_that_cannot_be_names(tmp_path: Path, name: str, words: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    inst = write_json(tmp_path / "i.json", {**EXAMPLE, "name": name})
    _one_line(run(capsys, "solve", inst, "-s", "edd"), words)


@pytest.mark.parametrize(("text", "words"), [
    ('{"family": "smtt", "format": 1, "processing_times": [' + "9" * 5000 + '], '
     '"due_dates": [1]}', "integer of 5000 digits"),
    ("[" * 100_000 + "]" * 100_000, "nests deeper"),
    ('{"family": "smtt", "format": 1, "processing_times": [NaN], "due_dates": [1]}', "NaN"),
])
def test_bounded_json(tmp_path: Path, text: str, words: str,
                      capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "i.json"
    path.write_text(text)
    _one_line(run(capsys, "solve", path, "-s", "edd"), words)


def test_bounded_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A billion laughs in ``kind``, and YAML nested 100,000 deep: refused at once."""
    bomb = tmp_path / "bomb.yaml"
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 9)}]" for k in range(1, 10)]
    bomb.write_text("\n".join(lines) + "\nkind: *a9\n")
    started = time.perf_counter()
    _one_line(run(capsys, "solve", bomb, "-s", "first-fit"), "more than 64 aliases")
    assert time.perf_counter() - started < 5
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    _one_line(run(capsys, "solve", deep, "-s", "first-fit"), "nested deeper than 64")


def test_bounded_toml_and_option_values(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    res = run(capsys, "bench", suite, "--check")
    assert res.code == 2 and "s.toml" in res.err and "Traceback" not in res.err
    inst = write_json(tmp_path / "i.json", EXAMPLE)
    _one_line(run(capsys, "solve", inst, "-s", "cpsat", "-o", "name=" + "[" * 5000),
              "nests deeper")


def test_devices_and_pipes_are_not_read(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """/dev/zero never ends and a FIFO blocks forever: both refused before opening."""
    _one_line(run(capsys, "solve", "/dev/zero", "-s", "edd"), "not a regular file")
    fifo = tmp_path / "x.json"
    os.mkfifo(fifo)
    started = time.perf_counter()
    _one_line(run(capsys, "solve", fifo, "-s", "edd"), "not a regular file")
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(("name", "text", "words"), [
    ("wt3.txt", "3 5 2\n1 2 1\n4 6 \xff\n", "not UTF-8"),
    ("wt0.txt", "1 2 3\n", "needs n in 1..1000000"),
    ("wt1.txt", "\u0663 1 1\n", "is not an integer"),
    ("wt1.txt", "1_0 1 1\n", "is not an integer"),
    ("wt1.txt", "+5 1 1\n", "is not an integer"),
])
def test_or_library_numbers(tmp_path: Path, name: str, text: str, words: str,
                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8", "surrogateescape") if "\xff" not in text
                     else text.encode("latin-1"))
    _one_line(run(capsys, "solve", path, "-s", "edd"), words)


def test_an_or_library_reference_names_its_file(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "wt1.txt").write_text("3 1 4\n")
    (tmp_path / "wtopt1.txt").write_text("-5\n")
    _one_line(run(capsys, "solve", tmp_path / "wt1.txt", "-s", "edd"), "wtopt1.txt")


@pytest.mark.parametrize(("change", "words"), [
    ({"taints": ""}, "taints: must be a list"),
    ({"labels": 0}, "labels: must be an object"),
])
def test_falsy_values_of_the_wrong_type(tmp_path: Path, change: dict[str, object], words: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    data = {"family": "pods", "format": 1,
            "nodes": [{"name": "n", "allocatable": {"cpu": "1"}, **change}],
            "pods": [{"name": "p", "requests": {"cpu": "\u0661"}}]}
    _one_line(run(capsys, "solve", write_json(tmp_path / "p.json", data), "-s", "first-fit"),
              words)


def test_unicode_digits_are_not_a_quantity(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    data = {"family": "pods", "format": 1, "nodes": [{"name": "n", "allocatable": {"cpu": "1"}}],
            "pods": [{"name": "p", "requests": {"cpu": "\u0661"}}]}
    _one_line(run(capsys, "solve", write_json(tmp_path / "p.json", data), "-s", "first-fit"),
              "is not a Kubernetes quantity")


def test_replicas_are_counted_before_they_are_named(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A StatefulSet of 10^9 replicas with one running pod: refused at once."""
    path = tmp_path / "big.yaml"
    path.write_text(
        "kind: Node\napiVersion: v1\nmetadata: {name: n1}\nstatus: {allocatable: {cpu: '4'}}\n"
        "---\nkind: StatefulSet\napiVersion: apps/v1\nmetadata: {name: db, uid: u1}\n"
        "spec: {replicas: 1000000000, template: {spec: {containers: [{name: c}]}}}\n---\n"
        "kind: Pod\napiVersion: v1\nmetadata: {name: db-0, ownerReferences: [{uid: u1, "
        "kind: StatefulSet, name: db}]}\nspec: {nodeName: n1, containers: [{name: c}]}\n")
    started = time.perf_counter()
    _one_line(run(capsys, "solve", path, "-s", "first-fit"), "optsched takes at most 1000000")
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(("args", "words"), [
    (["generate", "smtt", "--n", str(10**30)], "n: must be in [1, 1000000]"),
    (["generate", "smtt", "--pmax", str(2**62)], "pmax: must be in"),
    (["generate", "smtt", "--n", "1000000", "--count", "100"], "items in all"),
    (["generate", "pods", "--pods-per-node", str(10**12)], "pods_per_node: must be in"),
])
def test_generator_sizes_are_checked_first(args: list[str], words: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    _one_line(run(capsys, *args), words)


@pytest.mark.parametrize(("extra", "words"), [
    ("repetitions = 100000000\n", "repetitions: must be at most"),
    ("seed = 3000000000\n", "seed: must be at most"),
    ('[[instances]]\ngenerator = "smtt"\nparams = {n = 10000000}\n', "n: must be in"),
    ('[[instances]]\ngenerator = "smtt"\nparams = {count = 1000000000}\n', "count: must be in"),
    ('[[instances]]\ngenerator = "smtt"\nparams = 5\n', "params: must be a table"),
    ('[[instances]]\ngenerator = "smtt"\ngrid = "ab"\n', "grid: must be a table"),
    ('[[instances]]\ngenerator = "smtt"\nparams = [["n", 5]]\n', "params: must be a table"),
    ('[[solvers]]\nname = "cpsat"\nlabel = "c2"\noptions = {num_workers = -1}\n',
     "options.num_workers: is set by optsched"),
    ('[[solvers]]\nname = "cpsat"\nlabel = "c2"\nmodel = {bogus = 1}\n', "model.bogus"),
    ('[[instances]]\ngenerator = "smtt"\nparams = {weighted = true, n = 5}\n'
     '[[solvers]]\nname = "smtt-bb"\n', "weights"),
])
def test_suites_are_checked_before_any_job(tmp_path: Path, extra: str, words: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from ..bench.helpers import write_suite

    path = write_suite(tmp_path)
    text = path.read_text()
    if extra.startswith("[["):  # another table
        path.write_text(text + extra)
    else:  # a top-level key, in place of the tiny suite's own
        key = extra.split(" =")[0]
        kept = [line for line in text.splitlines() if not line.startswith(f"{key} =")]
        path.write_text(extra + "\n".join(kept) + "\n")
    _one_line(run(capsys, "bench", path, "--check"), words)


@pytest.mark.parametrize(("args", "words"), [
    (["-s", "cpsat", "-o", "num_workers=-1"], "--workers"),
    (["-s", "cpsat", "-o", "max_time_in_seconds=NaN"], "must be a finite number"),
    (["-s", "cbc", "-o", "bogus=1"], "options.bogus: is not an option"),
    (["-s", "cpsat", "-m", "bogus=1"], "model.bogus"),
    (["-s", "edd", "-m", "formulation=time-indexed"], "it takes none"),
])
def test_options_are_checked_before_any_work(tmp_path: Path, args: list[str], words: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    inst = write_json(tmp_path / "i.json", EXAMPLE)
    started = time.perf_counter()
    _one_line(run(capsys, "solve", inst, "-t", "20", *args), words)
    assert time.perf_counter() - started < 5


def test_result_files_are_strict_json(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    inst = write_json(tmp_path / "i.json", {**EXAMPLE, "weights": [2, 1, 3]})
    res = run(capsys, "solve", inst, "-s", "smtt-ssdp", "--json")
    json.loads(res.out, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
