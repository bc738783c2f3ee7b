"""The pods family on the command line: bad input is one line and exit 2; manifests and
the comparison with kube-scheduler are written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from .helpers import run, write_json

PODS: dict[str, Any] = {
    "family": "pods", "format": 1, "name": "ex",
    "priority_classes": [{"name": "high", "value": 1000}, {"name": "low", "value": 10}],
    "nodes": [{"name": "n1", "allocatable": {"cpu": "4", "memory": "4Gi"}},
              {"name": "n2", "allocatable": {"cpu": "4", "memory": "4Gi"}}],
    "pods": [{"name": "old", "requests": {"cpu": "2", "memory": "1Gi"},
              "priority_class": "low", "node": "n1"},
             {"name": "fill", "requests": {"cpu": "3", "memory": "1Gi"},
              "priority_class": "low", "node": "n2"},
             {"name": "big", "requests": {"cpu": "4", "memory": "1Gi"},
              "priority_class": "high"}],
}
"""``big`` (4 cpu, high) fits only on an emptied node: the optimum evicts one low pod."""


def _pods(**changes: Any) -> dict[str, Any]:
    return {**PODS, **changes}


def _pod(**changes: Any) -> dict[str, Any]:
    return _pods(pods=[*PODS["pods"][:2], {**PODS["pods"][2], **changes}])


BAD: list[tuple[str, Any, str]] = [
    ("unknown unit", _pod(requests={"cpu": "4", "memory": "100MB"}),
     "pods[2].requests.memory"),
    ("negative request", _pod(requests={"cpu": "-1"}), "pods[2].requests.cpu"),
    ("missing priority class", _pod(priority_class="gold"), "pods[2].priority_class"),
    ("node without allocatable", _pods(nodes=[{"name": "n1"}]), "nodes[0].allocatable"),
    ("node with empty allocatable", _pods(nodes=[{"name": "n1", "allocatable": {}}]),
     "nodes[0].allocatable"),
    ("duplicate node", _pods(nodes=[PODS["nodes"][0], PODS["nodes"][0]]), "nodes[1].name"),
    ("duplicate pod", _pod(name="old"), "pods[2].name"),
    ("missing field", _pods(pods=[{"requests": {"cpu": "1"}}]), "pods[0].name"),
    ("unknown key", _pod(limits={"cpu": "1"}), "pods[2].limits"),
]


@pytest.mark.parametrize(("case", "data", "field"), BAD, ids=[c[0] for c in BAD])
def test_bad_pods_input(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                        case: str, data: Any, field: str) -> None:
    good = write_json(tmp_path / "good.json", PODS)
    bad = write_json(tmp_path / "bad.json", data)
    out = tmp_path / "out"
    res = run(capsys, "solve", good, bad, "--out", out, "--solver", "best-greedy")
    assert res.code == 2, res
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and field in lines[0] and "Traceback" not in res.err, res.err
    assert res.out == "" and not out.exists()


def test_never_placeable_pod_is_pending_not_a_failure(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 9-cpu pod fits no 4-cpu node even when empty: the solve succeeds (exit 0) with the
    pod pending, and the bound counts it (it is pending in every solution)."""
    data = _pod(requests={"cpu": "9"})
    path = write_json(tmp_path / "p.json", data)
    res = run(capsys, "solve", path, "--solver", "best-greedy", "--json")
    assert res.code == 0, res
    result = json.loads(res.out)
    assert result["solution"]["assignment"]["big"] is None
    assert result["status"] == "optimal" and result["bound"] == result["objective"]


def test_manifests_and_comparison(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The hint placing ``big`` after evicting ``old`` gives one Eviction and one Binding."""
    path = write_json(tmp_path / "ex.json", PODS)
    solution = write_json(tmp_path / "sol.json", {"assignment": {"old": None, "fill": "n2",
                                                                 "big": "n1"},
                                                  "evicted": ["old"], "moved": []})
    res = run(capsys, "validate", path, solution)
    assert res.code == 0, res
    res = run(capsys, "solve", path, "--solver", "best-greedy", "--json", "--compare",
              "--manifests", tmp_path / "m")
    assert res.code == 0, res
    result = json.loads(res.out)
    compare = result["stats"]["compare"]
    assert compare["default"] == [0, 2] and compare["vs_default"] in ("better", "equal")
    docs = list(yaml.safe_load_all((tmp_path / "m" / "ex.best-greedy.yaml").read_text()))
    kinds = sorted(d["kind"] for d in docs)
    placed = result["solution"]["assignment"]
    assert kinds.count("Binding") == sum(1 for p, n in placed.items()
                                         if n is not None and p == "big")
    assert kinds.count("Eviction") == len(result["solution"]["evicted"])
