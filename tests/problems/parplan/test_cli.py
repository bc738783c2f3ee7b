"""parplan on the command line: solve, the rules, --export, validate, -m, bad input, generate,
plot."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ...cli.helpers import one_error, one_json, run, write_json
from ...conftest import extra

EXAMPLE: dict[str, Any] = {
    "family": "parplan", "format": 1, "name": "llama3-70b-8xh100", "model": "llama-3-70b",
    "precision": {"weights": "bf16", "kv": "bf16"},
    "cluster": {"nodes": [{"gpu": "H100-SXM-80GB", "count": 8, "gpus_per_node": 8}]},
    "workload": {"prompt_tokens": 1024, "output_tokens": 256},
    "slo": {"tpot_ms": 50, "ttft_ms": 2000}, "objective": "max_throughput"}
"""instances/parplan/llama3-70b-8xh100.json: Llama-3-70B on one DGX H100. Its optimum
(instances/README.md) is 2 replicas of TP 4 at batch 128: 48.18 ms per token, 5313.8
tokens/s; batch 256 would take 89 ms, over the 50 ms TPOT."""

OPTIMUM = -5313.80581648702
FAST = ("-t", "10", "-w", "1")


def _example(tmp_path: Path, data: dict[str, Any] | None = None) -> Path:
    return write_json(tmp_path / "example.json", EXAMPLE if data is None else data)


def _shape(group: dict[str, Any]) -> tuple[int, int, int, int]:
    """count, TP, stages, batch of a replica group."""
    return (group["count"], group["stages"][0]["tp"], len(group["stages"]), group["batch"])


def test_solve_the_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The default solver proves the plan: optimal, verified, gap 0, bound = objective; what
    stops a larger batch is the TPOT."""
    row = one_json(run(capsys, "solve", _example(tmp_path), *FAST, "--json"))
    assert (row["family"], row["instance"], row["solver"]) == (
        "parplan", "llama3-70b-8xh100", "parplan-exact")
    assert (row["status"], row["verified"], row["gap"]) == ("optimal", True, 0.0)
    assert row["objective"] == pytest.approx(OPTIMUM, rel=1e-9)
    assert row["bound"] == pytest.approx(row["objective"], rel=1e-12)
    [group] = row["solution"]["replicas"]
    assert _shape(group) == (2, 4, 1, 128)
    assert group["stages"][0]["layers"] == [0, 80]
    metrics = row["stats"]["metrics"]
    assert metrics["tokens_per_s"] == pytest.approx(-row["objective"])
    assert metrics["gpus_used"] == {"H100-SXM-80GB": 8}
    assert metrics["binding"].startswith("TPOT (89.0 ms at batch 256)")
    assert row["stats"]["enumeration_complete"] is True


def test_text_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A person's line: instance, solver, status, objective, then tokens/s and the binding."""
    res = run(capsys, "solve", _example(tmp_path), *FAST)
    assert res.code == 0, res.err
    assert res.out.startswith(f"llama3-70b-8xh100  parplan-exact  optimal  objective={OPTIMUM}")
    assert "5313.81 tokens/s, worst TPOT 48.18 ms" in res.out
    assert "binding: TPOT" in res.out


def test_export_and_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--export DIR writes DIR/<instance>.<solver>.launch.json: per replica group the plan,
    its vllm/sglang lines (one stage: no layer partition) and the predictions; validate
    reads it back to the same objective."""
    path, out = _example(tmp_path), tmp_path / "out"
    row = one_json(run(capsys, "solve", path, *FAST, "--json", "--export", out))
    (exported,) = out.iterdir()
    assert exported.name == "llama3-70b-8xh100.parplan-exact.launch.json"
    doc = json.loads(exported.read_text(encoding="utf-8"))
    assert doc["instance"] == "llama3-70b-8xh100"
    [group] = doc["replicas"]
    assert _shape(group) == (2, 4, 1, 128)
    launch = group["launch"]
    assert launch["vllm"].startswith("vllm serve meta-llama/Meta-Llama-3-70B ")
    assert "--tensor-parallel-size 4 --pipeline-parallel-size 1 --max-num-seqs 128" \
        in launch["vllm"]
    assert "--tp-size 4" in launch["sglang"]
    assert launch["env"] == {}
    assert group["predicted"]["tpot_ms"] == pytest.approx(48.176, abs=1e-3)
    res = run(capsys, "validate", path, exported)
    assert res.code == 0, res.err
    assert res.out.startswith(f"llama3-70b-8xh100  feasible  objective={row['objective']}")
    report = json.loads(run(capsys, "validate", "--json", path, exported).out)
    assert (report["feasible"], report["violations"]) == (True, [])
    assert report["objective"] == pytest.approx(row["objective"])


def test_export_of_a_pipeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """max-pp without a TPOT limit: one replica of 8 stages of TP 1, 10 layers each; its
    export carries the partition in VLLM_PP_LAYER_PARTITION. validate takes the same -m;
    without it, the 50 ms TPOT is violated (exit 1)."""
    path, out = _example(tmp_path), tmp_path / "out"
    row = one_json(run(capsys, "solve", path, "-s", "max-pp", *FAST, "-m", "tpot_ms=0",
                       "--json", "--export", out))
    assert row["verified"] is True
    (exported,) = out.iterdir()
    assert exported.name == "llama3-70b-8xh100.max-pp.launch.json"
    [group] = json.loads(exported.read_text(encoding="utf-8"))["replicas"]
    assert _shape(group)[:3] == (1, 1, 8)
    launch = group["launch"]
    assert "--tensor-parallel-size 1 --pipeline-parallel-size 8" in launch["vllm"]
    assert launch["env"]["VLLM_PP_LAYER_PARTITION"] == ",".join(["10"] * 8)
    assert launch["env"]["SGLANG_PP_LAYER_PARTITION"] == ",".join(["10"] * 8)
    assert len(launch["placement"]) == 8
    res = run(capsys, "validate", "-m", "tpot_ms=0", path, exported)
    assert res.code == 0, res.out + res.err
    assert f"feasible  objective={row['objective']}" in res.out
    res = run(capsys, "validate", path, exported)
    assert res.code == 1
    assert res.out.startswith("violation: replicas[0]: TPOT ") and "exceeds the SLO 50" in res.out


def test_validate_finds_too_many_gpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Three TP-4 replicas need 12 of the 8 H100: a violation, exit 1."""
    plan = write_json(tmp_path / "plan.json", {"replicas": [{
        "count": 3, "batch": 128,
        "stages": [{"gpu": "H100-SXM-80GB", "tp": 4, "layers": [0, 80]}]}]})
    res = run(capsys, "validate", _example(tmp_path), plan)
    assert res.code == 1
    assert res.out == "violation: cluster.nodes[0]: the plan uses 12 H100-SXM-80GB GPUs of 8\n"


@pytest.mark.parametrize(("solver", "args", "shape"), [
    ("vllm", (), (1, 8, 1, 128)),            # TP = GPUs per node; batch 256 would take 58 ms
    ("enumerate", (), (2, 4, 1, 128)),       # the optimum is a homogeneous, even plan here
    ("min-tp", (), (4, 2, 1, 16)),           # TP 2 leaves KV room for 16 sequences only
    ("max-pp", ("-m", "tpot_ms=0"), (1, 1, 8, 128)),  # TP 1 x 8 stages needs > 50 ms
])
def test_the_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str], solver: str,
                   args: tuple[str, ...], shape: tuple[int, int, int, int]) -> None:
    """Each rule's plan is feasible and verified, of the expected shape, and (under the
    instance's own SLOs) no better than the optimum."""
    row = one_json(run(capsys, "solve", _example(tmp_path), "-s", solver, *FAST, *args,
                       "--json"))
    assert (row["solver"], row["status"], row["verified"]) == (solver, "feasible", True)
    [group] = row["solution"]["replicas"]
    assert _shape(group) == shape
    assert row["bound"] <= row["objective"] < 0
    if not args:
        assert row["objective"] >= OPTIMUM - 1e-6
    if solver == "vllm":
        assert row["objective"] == pytest.approx(-3854.3457115824017, rel=1e-9)
    if solver == "enumerate":
        assert row["objective"] == pytest.approx(OPTIMUM, rel=1e-9)


def test_a_tpot_no_plan_meets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """-m tpot_ms=1: no plan is that fast. Infeasible is an answer (exit 0), and stats name
    the binding constraint."""
    row = one_json(run(capsys, "solve", _example(tmp_path), *FAST, "-m", "tpot_ms=1",
                       "--json"))
    assert (row["status"], row["objective"], row["solution"]) == ("infeasible", None, None)
    assert row["stats"]["binding"].startswith("TPOT: ")
    assert "the SLO is 1.0 ms" in row["stats"]["binding"]


def test_generate_then_solve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A generated 8-GPU homogeneous instance is a format-1 parplan file that the default
    solver plans to a proven optimum."""
    res = run(capsys, "generate", "parplan", "--gpus", "8", "--seed", "2", "--out",
              tmp_path / "gen")
    assert res.code == 0, res.err
    (path,) = (tmp_path / "gen").glob("*.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert (data["family"], data["format"], data["model"]) == ("parplan", 1, "llama-3-70b")
    assert sum(node["count"] for node in data["cluster"]["nodes"]) == 8
    row = one_json(run(capsys, "solve", path, *FAST, "--json"))
    assert (row["instance"], row["status"], row["verified"]) == (data["name"], "optimal", True)
    assert row["gap"] == 0.0


@pytest.mark.parametrize(("args", "words"), [
    (("--cluster", "mesh"), ("cluster", "homogeneous or heterogeneous", "mesh")),
    (("--cluster", "heterogeneous", "--types", "9"), ("types", "9")),
], ids=["cluster-kind", "types-9"])
def test_generate_with_bad_parameters(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      args: tuple[str, ...], words: tuple[str, ...]) -> None:
    """An unknown cluster kind and more GPU types than the table holds: exit 2, one line."""
    one_error(run(capsys, "generate", "parplan", *args, "--out", tmp_path / "gen"), *words)
    assert not (tmp_path / "gen").exists() or not any((tmp_path / "gen").iterdir())


def test_plot_writes_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The priced templates and the plan on TPOT against tokens/s per GPU, as a PNG."""
    extra("matplotlib")
    path, out = _example(tmp_path), tmp_path / "out"
    assert run(capsys, "solve", path, *FAST, "--export", out).code == 0
    (exported,) = out.iterdir()
    image = tmp_path / "frontier.png"
    res = run(capsys, "plot", path, exported, "-o", image)
    assert res.code == 0, res.err
    assert res.out == f"wrote {image}\n"
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_not_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"family": "parplan", "format": 1,', encoding="utf-8")
    one_error(run(capsys, "solve", path, *FAST), str(path), "is not valid JSON")


BAD_FILES: list[tuple[str, Callable[[dict[str, Any]], object], tuple[str, ...]]] = [
    ("unknown model", lambda d: d.__setitem__("model", "llama-9"),
     ("model: unknown model 'llama-9'; known: ", "llama-3-70b", "mixtral-8x7b",
      "deepseek-v3")),
    ("unknown GPU", lambda d: d["cluster"]["nodes"][0].__setitem__("gpu", "RTX-9090"),
     ("cluster.nodes[0].gpu: unknown GPU 'RTX-9090'; known: ", "H100-SXM-80GB (H100)")),
    ("tp 3", lambda d: d.__setitem__("search", {"tp": [3]}),
     ("search.tp[0]: 3 does not divide the 64 attention heads of llama-3-70b",)),
    ("no node groups", lambda d: d["cluster"].__setitem__("nodes", []),
     ("cluster.nodes: must be a non-empty list",)),
    ("negative prompt", lambda d: d["workload"].__setitem__("prompt_tokens", -5),
     ("workload.prompt_tokens:", "-5")),
    ("no workload", lambda d: d.pop("workload"), ("workload: is missing",)),
]


@pytest.mark.parametrize(("change", "words"), [b[1:] for b in BAD_FILES],
                         ids=[b[0] for b in BAD_FILES])
def test_bad_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              change: Callable[[dict[str, Any]], object],
                              words: tuple[str, ...]) -> None:
    """Exit 2 and one line: the file, the field, the problem; no traceback."""
    data = copy.deepcopy(EXAMPLE)
    change(data)
    path = _example(tmp_path, data)
    line = one_error(run(capsys, "solve", path, *FAST), *words)
    assert line.startswith(f"optsched: error: {path}: ")


def test_compare_with_the_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--compare`` prices the rules beside the plan. On the example vLLM's rule runs TP 8
    at batch 128 (instances/README.md: 3854.3 tokens/s) against the optimum's 5313.8, so
    ``vs_vllm`` is better and the plan's figure is the optimum's."""
    row = one_json(run(capsys, "solve", _example(tmp_path), "--compare", "--json", *FAST))
    compared = row["stats"]["compare"]
    assert compared["tokens_per_s"] == pytest.approx(-OPTIMUM, rel=1e-9)
    assert compared["vllm_tokens_per_s"] == pytest.approx(3854.3457, rel=1e-6)
    assert compared["vs_vllm"] == "better"
    assert {compared[f"vs_{r}"] for r in ("vllm", "max_pp", "min_tp")} <= {"better", "equal"}


def test_generate_from_a_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    """``--model config.json`` reads a Hugging Face config: a Qwen3-MoE config (48 layers,
    128 experts, top-8) becomes the instance's inline model, named after its folder."""
    folder = tmp_path / "Qwen3-30B-A3B"
    folder.mkdir()
    write_json(folder / "config.json", {
        "model_type": "qwen3_moe", "hidden_size": 2048, "intermediate_size": 6144,
        "moe_intermediate_size": 768, "num_hidden_layers": 48, "num_attention_heads": 32,
        "num_key_value_heads": 4, "head_dim": 128, "vocab_size": 151936, "num_experts": 128,
        "num_experts_per_tok": 8})
    run(capsys, "generate", "parplan", "--model", folder / "config.json", "--out",
        tmp_path / "gen")
    (made,) = (tmp_path / "gen").glob("*.json")
    model = json.loads(made.read_text())["model"]
    assert (model["name"], model["num_hidden_layers"], model["experts"], model["top_k"]) == (
        "Qwen3-30B-A3B", 48, 128, 8)
    row = one_json(run(capsys, "solve", made, "--json", *FAST))
    assert row["status"] == "optimal" and row["verified"]


def test_generate_from_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A config without the head count, and a missing file: exit 2, the field or file named."""
    bad = write_json(tmp_path / "bad.json", {"model_type": "llama", "hidden_size": 4096})
    one_error(run(capsys, "generate", "parplan", "--model", bad), "num_attention_heads")
    one_error(run(capsys, "generate", "parplan", "--model", tmp_path / "none.json"),
              "none.json")
