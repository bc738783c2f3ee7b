"""The ``parplan-draft`` generator: the shared data's v0 drafts as format-1 instances."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import optsched
from optsched.errors import InstanceError
from optsched.params import SolveParams
from optsched.problems.parplan.draft import from_draft
from optsched.result import Status

CLUSTERS = {"clusters": {"two-dgx": {"nodes": [
    {"gpu": "H100-SXM-80GB", "count": 2, "gpus_per_node": 8, "intra": "nvswitch",
     "inter": "IB-HDR-200"}]}}}
DRAFT: dict[str, Any] = {
    "schema": "optsched.parplan.instance/v0", "mode": "serve", "id": "toy",
    "model": {"ref": "models.json#llama-3-8b"},
    "precision": {"weights": "fp8_blockwise", "kv": "bf16", "act": "bf16"},
    "cluster": {"ref": "clusters.json#two-dgx"},
    "workload": {"kind": "trace_summary", "prompt_tokens": {"mean": 61.6, "p50": 17},
                 "output_tokens": {"mean": 162, "max": 761}},
    "slo": {"ttft_ms": {"p90": 200}, "tpot_ms": {"p90": 30}, "attainment": 0.9},
    "search_space": {"tp": [1, 2, 4, 8]},
    "cost_model": {"eff_hbm": 0.81, "overhead_ms_per_iter": 6.0}}


def _write(tmp_path: Path, draft: dict[str, Any]) -> Path:
    """The draft in ``instances/`` with ``clusters.json`` beside that folder, as shared."""
    (tmp_path / "instances").mkdir(exist_ok=True)
    (tmp_path / "clusters.json").write_text(json.dumps(CLUSTERS))
    path = tmp_path / "instances" / "toy.json"
    path.write_text(json.dumps(draft))
    return path


def test_a_draft_becomes_format_one(tmp_path: Path) -> None:
    """2 nodes of 8 in the draft are 16 GPUs in nodes of 8; HDR-200 is 25 GB/s and 5 us
    (models/gpus.json); the mean lengths 61.6 and 162 round to 62 and 162; p90 limits
    become the limits; fp8_blockwise weights are fp8; the draft's cost model is dropped."""
    (inst,) = from_draft(str(_write(tmp_path, DRAFT)))
    (pool,) = inst.pools
    assert (inst.name, inst.model.name, inst.weights, inst.kv) == ("toy", "llama-3-8b", "fp8",
                                                                   "bf16")
    assert (pool.count, pool.gpus_per_node, pool.inter_GBps, pool.inter_latency_us) == (
        16, 8, 25.0, 5.0)
    assert (inst.prompt_tokens, inst.output_tokens) == (62, 162)
    assert (inst.tpot_ms, inst.ttft_ms, inst.search.tp) == (30.0, 200.0, (1, 2, 4, 8))
    assert inst.cost.eff_hbm == 0.80


def test_steady_state_decode(tmp_path: Path) -> None:
    """A fixed context of 2048 is the prompt, the output is the parameter's, the
    micro-batch choices the batch sizes; a maximum TPOT is the limit."""
    draft = {**DRAFT, "workload": {"kind": "steady_state_decode", "context_tokens": 2048,
                                   "decode_microbatch_choices": [8, 64]},
             "slo": {"tpot_ms": {"max": 100}}}
    (inst,) = from_draft(str(_write(tmp_path, draft)), output_tokens=128)
    assert (inst.prompt_tokens, inst.output_tokens, inst.batch_sizes) == (2048, 128, (8, 64))
    assert (inst.tpot_ms, inst.ttft_ms) == (100.0, None)


@pytest.mark.parametrize(("change", "field"), [
    ({"mode": "train"}, "mode"),
    ({"schema": "optsched.parplan.instance/v9"}, "schema"),
    ({"workload": {"kind": "trace_file", "path": "x.jsonl"}}, "workload.kind"),
    ({"workload": {"kind": "synthetic", "prompt_tokens": {"mean": "long"},
                   "output_tokens": {"mean": 5}}}, "workload.prompt_tokens.mean"),
    ({"cluster": {"ref": "clusters.json#nowhere"}}, "cluster.ref"),
    ({"model": {"ref": "models.json#gpt-5"}}, "model"),
    ({"slo": {"tpot_ms": {"p42": 3}}}, "slo.tpot_ms"),
])
def test_bad_drafts_name_the_field(tmp_path: Path, change: dict[str, Any], field: str) -> None:
    with pytest.raises(InstanceError, match=f"^{field.replace('.', '[.]')}"):
        from_draft(str(_write(tmp_path, {**DRAFT, **change})))


@pytest.mark.data
def test_the_shared_serving_drafts_solve(data_dir: Path) -> None:
    """The four serving drafts whose lengths the draft gives convert and are proven
    optimal; the training draft and the one naming a trace file are refused."""
    folder = data_dir / "parplan" / "instances"
    solved = refused = 0
    for path in sorted(folder.glob("*.json")):
        try:
            (inst,) = from_draft(str(path))
        except InstanceError as exc:
            assert exc.field in ("mode", "workload.kind"), exc
            refused += 1
            continue
        result = optsched.solve(inst, params=SolveParams(time_limit=30))
        assert result.status is Status.OPTIMAL and result.verified, (path.name, result.status)
        solved += 1
    assert (solved, refused) == (4, 2)
