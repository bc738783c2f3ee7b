"""The first things a new user runs: every ``cli/*.sh`` workflow runs in a scratch folder
and prints what it promises, and every file of ``instances/`` solves to the optimum
that ``instances/README.md`` records."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

import optsched

from .conftest import REPO

CLI = REPO / "cli"
INSTANCES = REPO / "instances"
SCRIPTS = ("01-solve-and-validate.sh", "02-generate-and-compare.sh", "03-pods-plan.sh",
           "04-bench-and-report.sh", "05-memalloc-offsets.sh", "06-moe-placement.sh",
           "07-parplan-plan.sh", "08-service.sh")
SERVICE = importlib.util.find_spec("fastapi") is not None and \
    importlib.util.find_spec("uvicorn") is not None
"""The service extra is installed (CI runs the service workflow's test again with it)."""

OPTIMA: dict[str, float] = {
    "smtt/example.json": 8,
    "smtt/unweighted-10.json": 473,
    "smtt/weighted-12.json": 1147,
    "pods/fragmented.json": 1,
    "pods/running.json": 12,
    "pods/cluster.yaml": 1,
    "memalloc/example.json": 40,
    "memalloc/gaps.csv": 96,
    "memalloc/packed-100.json": 4096,
    "moe/example.json": 107.75,
    "parplan/llama3-70b-8xh100.json": -5313.80581648702,
    "parplan/mixed-h100-a100-l40s.json": -6225.897759275289,
    "parplan/mixtral-8x7b-8xh100.json": -32009.942421436397,
    "parplan/llama31-405b-32xh100.json": -2240.9765798547987,
    "parplan/deepseek-v3-16xh200-fp8.json": -7222.520475621281,
}
"""The optimal objective of every file of ``instances/``, as ``instances/README.md`` records it.

smtt/example.json: worked out by hand over all six orders (2, 1, 0 gives 0 + 2 + 6 = 8).
The two generated smtt instances: proven by smtt-bb or smtt-ssdp (``auto``) and by cpsat,
highs and cbc alike. The pods samples: worked out by hand in the docstrings of
``optsched/problems/pods/samples.py``; cluster.yaml: worked out by hand in the README.
The memalloc files: each optimum is its live peak (worked out in instances/README.md),
which packs exactly. moe/example.json: layer 0 at its mean bound (worked out there),
layer 1 proven by the exact models (HiGHS, CBC and CP-SAT agree).
The parplan files: minus the tokens per second of the plan parplan-exact (``auto``) proves
optimal under the cost model's default constants (its bound equals the objective); the
8xH100 one is worked out in the README from the cost model's prices of every TP/PP shape.
The parplan optima are floats, so they are compared to a relative 1e-9.
"""

PODS_PLANS: dict[str, tuple[list[int], int, int]] = {
    "pods/fragmented.json": ([4, 0], 0, 0),
    "pods/running.json": ([1, 1], 1, 0),
    "pods/cluster.yaml": ([4, 3], 0, 1),
}
"""Placed pods by priority (highest first), evictions and moves of each pods optimum
(instances/README.md); every optimum of these instances has the same counts."""


def _run(script: str, scratch: Path, path: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``bash cli/SCRIPT SCRATCH`` with this interpreter's ``optsched`` first on the PATH."""
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": os.pathsep.join(
        p for p in (path, bin_dir, os.environ.get("PATH", "")) if p)}
    return subprocess.run(["bash", str(CLI / script), str(scratch)], capture_output=True,
                          text=True, env=env, timeout=180, check=False)


def _ok(script: str, scratch: Path) -> subprocess.CompletedProcess[str]:
    done = _run(script, scratch)
    assert done.returncode == 0, f"{script} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_the_scripts_are_runnable_and_listed() -> None:
    """Every script is here, executable, strict bash, and has its line in cli/README.md."""
    assert sorted(p.name for p in CLI.glob("*.sh")) == list(SCRIPTS)
    readme = (CLI / "README.md").read_text(encoding="utf-8")
    for script in SCRIPTS:
        path = CLI / script
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines[0] == "#!/usr/bin/env bash", script
        assert "set -euo pipefail" in lines, script
        assert path.stat().st_mode & stat.S_IXUSR, f"{script} is not executable"
        assert f"`{script}" in readme, f"cli/README.md does not describe {script}"


def test_solve_and_validate(tmp_path: Path) -> None:
    """The example's optimum 8 from auto and cpsat, both result files written and feasible."""
    done = _ok("01-solve-and-validate.sh", tmp_path)
    solves = [line for line in done.stdout.splitlines() if "  optimal  " in line]
    assert len(solves) == 2 and all("objective=8 " in line for line in solves), done.stdout
    written = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert len(written) == 2 and "example.cpsat.json" in written, written  # and auto's pick
    checks = [line for line in done.stdout.splitlines() if line.startswith("example  feasible")]
    assert len(checks) == 2 and all("objective=8 " in line for line in checks), done.stdout


def test_generate_and_compare(tmp_path: Path) -> None:
    """Three instances, each solved by atc and smtt-ssdp; the exact one is optimal and no worse."""
    done = _ok("02-generate-and-compare.sh", tmp_path)
    results = _json_lines(done.stdout)
    assert len(results) == len(done.stdout.splitlines()) == 6, done.stdout
    assert len(list((tmp_path / "generated").glob("*.json"))) == 3
    by_instance: dict[str, dict[str, dict[str, Any]]] = {}
    for result in results:
        assert result["verified"] is True, result
        by_instance.setdefault(result["instance"], {})[result["solver"]] = result
    assert len(by_instance) == 3
    for pair in by_instance.values():
        assert set(pair) == {"atc", "smtt-ssdp"}
        assert pair["smtt-ssdp"]["status"] == "optimal"
        assert pair["smtt-ssdp"]["objective"] <= pair["atc"]["objective"]


def test_pods_plan(tmp_path: Path) -> None:
    """The cluster is read without warnings; the plan moves nightly-report, beats kube-scheduler
    without preemption, is written as manifests and validates as feasible."""
    done = _ok("03-pods-plan.sh", tmp_path)
    assert "Warning" not in done.stderr, done.stderr
    [result] = _json_lines(done.stdout)
    assert (result["status"], result["objective"]) == ("optimal", 1)
    assert result["solution"]["moved"] == ["nightly-report"]
    assert result["solution"]["evicted"] == []
    assert result["stats"]["compare"]["vs_default"] == "better"
    manifests = (tmp_path / "plan" / "cluster.cpsat.yaml").read_text(encoding="utf-8")
    assert "kind: Eviction" in manifests and "name: database" in manifests
    last = done.stdout.splitlines()[-1]
    assert last.startswith("cluster  feasible  objective=1 "), done.stdout


def test_bench_and_report(tmp_path: Path) -> None:
    """Six jobs (3 instances x 2 solvers) in results.jsonl, and a table row for each solver."""
    done = _ok("04-bench-and-report.sh", tmp_path)
    rows = (tmp_path / "runs" / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 + 6  # the header, then one row per job
    table = done.stdout.splitlines()
    assert any(line.startswith("| family | solver | class |") for line in table), done.stdout
    for solver, optimal in (("mdd", "0"), ("smtt-bb", "3")):
        [row] = [line for line in table if line.startswith(f"| smtt | {solver} | n12 |")]
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[3:6] == ["3", "3", optimal], row  # rows, solved, optimal


def test_memalloc_offsets(tmp_path: Path) -> None:
    """Both solvers reach the peak 96; the exported CSV carries the offsets 0, 64, 64 and
    validates; the map is drawn when matplotlib is there."""
    done = _ok("05-memalloc-offsets.sh", tmp_path)
    solves = [line for line in done.stdout.splitlines() if line.startswith("gaps  ")]
    assert len(solves) == 3 and all("objective=96 " in line for line in solves), done.stdout
    rows = (tmp_path / "offsets" / "gaps.memalloc-bb.csv").read_text(encoding="utf-8")
    assert [row.rsplit(",", 1)[1] for row in rows.splitlines()] == ["offset", "0", "64", "64"]
    assert (tmp_path / "offsets" / "gaps.png").exists() == ("== memory map:" in done.stdout)


def test_moe_placement(tmp_path: Path) -> None:
    """Three placements priced; moe-lns holds the cap; the export carries the map of 8
    layers x 20 slots (16 experts + one spare slot on each of 4 GPUs) and validates."""
    done = _ok("06-moe-placement.sh", tmp_path)
    solves = [line for line in done.stdout.splitlines()
              if line.startswith("moe-zipf-l8-e16-top2-t2048-s7-0  ")]
    assert [line.split()[1] for line in solves[:3]] == ["contiguous", "eplb", "moe-lns"]
    assert all(" feasible " in line for line in solves), done.stdout
    exported = tmp_path / "plan" / "moe-zipf-l8-e16-top2-t2048-s7-0.moe-lns.placement.json"
    doc = json.loads(exported.read_text(encoding="utf-8"))
    assert [len(row) for row in doc["physical_to_logical_map"]] == [20] * 8
    assert len(doc["gpus"]) == 4 and len(doc["traffic_tokens"]) == 4
    assert (tmp_path / "plan" / "heat.png").exists() == ("== heat map:" in done.stdout)


def test_parplan_plan(tmp_path: Path) -> None:
    """The exact plan of Llama-3-70B on 8 H100 (2 x TP4 at batch 128) beats vLLM's rule (TP8);
    the export carries the vllm serve line and validates; the generated heterogeneous
    cluster is planned optimally and no worse than the rule; the frontier is drawn when
    matplotlib is there."""
    done = _ok("07-parplan-plan.sh", tmp_path)
    lines = [line.split() for line in done.stdout.splitlines()
             if line.startswith("llama3-70b-8xh100  ")]
    assert [line[1:4] for line in lines[::2]] == [
        ["parplan-exact", "optimal", "objective=-5313.80581648702"],
        ["vllm", "feasible", "objective=-3854.3457115824017"]], done.stdout
    assert len(lines) == 3 and lines[1][1:3] == ["feasible", "objective=-5313.80581648702"]
    exported = tmp_path / "plan" / "llama3-70b-8xh100.parplan-exact.launch.json"
    [group] = json.loads(exported.read_text(encoding="utf-8"))["replicas"]
    assert (group["count"], group["batch"]) == (2, 128)
    assert "--tensor-parallel-size 4 " in group["launch"]["vllm"]
    assert "2 x vllm serve meta-llama/Meta-Llama-3-70B --tensor-parallel-size 4" in done.stdout
    [generated] = (tmp_path / "generated").glob("*.json")
    het = {line.split()[1]: line.split() for line in done.stdout.splitlines()
           if line.startswith(f"{generated.stem}  ")}
    assert set(het) == {"parplan-exact", "vllm"}, done.stdout
    assert het["parplan-exact"][2] == "optimal" and het["vllm"][2] == "feasible"
    exact, rule = (float(het[s][3].removeprefix("objective=")) for s in ("parplan-exact", "vllm"))
    assert exact <= rule < 0
    assert (tmp_path / "plan" / "frontier.png").exists() == ("== frontier:" in done.stdout)


def test_service(tmp_path: Path) -> None:
    """Both files solved to their optima (8 and 12, instances/README.md); the CP-SAT job's
    incumbents stream in, each better than the one before, then its verified end; one
    Idempotency-Key gives one job; after kill -9 and a restart the store holds all 4 jobs,
    done. Without the service extra the script says how to get it and stops cleanly."""
    done = _ok("08-service.sh", tmp_path)
    if not SERVICE:
        assert "== no service: pip install" in done.stdout, done.stdout
        return
    lines = done.stdout.splitlines()
    solved = [line.split("  ") for line in lines if line.endswith(tuple("0123456789abcdef"))
              and "objective=" in line and line.startswith("/")]
    assert [(p[0].rsplit("/", 1)[1], p[2], p[3]) for p in solved] == [
        ("example.json", "optimal", "objective=8"), ("running.json", "optimal", "objective=12")]
    found = [float(line.split("objective=")[1].split()[0]) for line in lines
             if line.startswith("incumbent  ")]
    assert found and found == sorted(found, reverse=True), done.stdout
    [end] = [line for line in lines if line.startswith("end  done  ")]
    assert end.endswith("verified=True") and float(end.split("objective=")[1].split()[0]) \
        <= found[-1]
    ids = [line for line in lines if len(line) == 32 and line.isalnum()]
    assert len(ids) == 2 and ids[0] == ids[1], done.stdout
    kept = [line.split("  ") for line in lines if line.startswith("kept  ")]
    assert len(kept) == 4 and {k[3] for k in kept} == {"done"}, done.stdout
    assert ids[0] in {k[1] for k in kept}


@pytest.mark.parametrize(("script", "command"), [
    ("01-solve-and-validate.sh", "validate"), ("02-generate-and-compare.sh", "solve"),
    ("03-pods-plan.sh", "validate"), ("04-bench-and-report.sh", "report"),
    ("05-memalloc-offsets.sh", "validate"), ("06-moe-placement.sh", "validate"),
    ("07-parplan-plan.sh", "validate"),
    pytest.param("08-service.sh", "submit", marks=pytest.mark.skipif(
        not SERVICE, reason="the service extra is not installed"))])
def test_a_failing_command_fails_the_script(tmp_path: Path, script: str, command: str) -> None:
    """With ``optsched COMMAND`` failing (exit 42), the script stops with its exit status."""
    real = Path(sys.executable).parent / "optsched"
    stub = tmp_path / "bin" / "optsched"
    stub.parent.mkdir()
    stub.write_text(f'#!/usr/bin/env bash\nif [ "$1" = {command} ]; then exit 42; fi\n'
                    f'exec "{real}" "$@"\n', encoding="utf-8")
    stub.chmod(0o755)
    done = _run(script, tmp_path / "scratch", path=str(stub.parent))
    assert done.returncode == 42, f"{done.stdout}\n{done.stderr}"


def _instance_files() -> list[str]:
    return sorted(str(p.relative_to(INSTANCES)) for p in INSTANCES.rglob("*")
                  if p.is_file() and p.name != "README.md")


def test_every_instance_has_a_recorded_optimum() -> None:
    assert _instance_files() == sorted(OPTIMA)
    readme = (INSTANCES / "README.md").read_text(encoding="utf-8")
    for name, optimum in OPTIMA.items():
        [row] = [line for line in readme.splitlines() if line.startswith(f"| `{name}` |")]
        assert row.split("|")[4].strip().startswith(f"{optimum}"), row


@pytest.mark.parametrize("name", sorted(OPTIMA))
def test_instance_solves_to_its_recorded_optimum(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no unmodelled-field warnings in the examples
        instances = optsched.read_instances(INSTANCES / name)
    assert len(instances) == 1
    result = optsched.solve(instances[0], "auto", optsched.SolveParams(time_limit=10, workers=1))
    assert result.verified
    assert result.status is optsched.Status.OPTIMAL, result
    assert result.objective == pytest.approx(OPTIMA[name], rel=1e-9, abs=0)
    if name in PODS_PLANS:
        metrics = result.stats["metrics"]
        assert (metrics["placed_by_priority"], metrics["evicted"], metrics["moved"]) \
            == PODS_PLANS[name]
