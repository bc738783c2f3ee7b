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
    ("options not an object", _pods(options=[]), "options"),
    ("pods request", _pod(requests={"cpu": "1", "pods": 5}), "pods[2].requests.pods"),
    ("too many replicas", _pod(replicas=10**9), "pods[2].replicas"),
    ("priority beyond 32 bits", _pod(priority_class=None, priority=2**31),
     "pods[2].priority"),
    ("label not a string", _pods(nodes=[{**PODS["nodes"][0], "labels": {"zone": 1}}]),
     "nodes[0].labels.zone"),
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
    assert len(res.out.splitlines()) == 1 and len(list(out.iterdir())) == 1  # the good one


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
    assert result["stats"]["metrics"]["never_placeable"] == ["big"]
    assert result["status"] == "optimal" and result["bound"] == result["objective"]


def test_manifests_and_comparison(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``big`` (4 cpu, priority 1000) fits only on an emptied node. Neither running pod can
    move (n2 has 1 cpu free, n1 2), so the optimum evicts one low pod: placed vector
    (1, 1) against the non-preempting default's (0, 2), which is better. The preempting
    default evicts too: equal. The manifests: one Eviction, then one Binding of ``big``."""
    path = write_json(tmp_path / "ex.json", PODS)
    res = run(capsys, "solve", path, "--solver", "cpsat", "--time-limit", "10", "--json",
              "--compare", "--manifests", tmp_path / "m")
    assert res.code == 0, res
    result = json.loads(res.out)
    assert result["status"] == "optimal"
    compare = result["stats"]["compare"]
    assert (compare["placed_by_priority"], compare["default"]) == ([1, 1], [0, 2])
    assert (compare["vs_default"], compare["vs_default_preempt"]) == ("better", "equal")
    (evicted,) = result["solution"]["evicted"]
    node = result["solution"]["assignment"]["big"]
    assert node == PODS["pods"][[p["name"] for p in PODS["pods"]].index(evicted)]["node"]
    docs = list(yaml.safe_load_all((tmp_path / "m" / "ex.cpsat.yaml").read_text()))
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [("Eviction", evicted),
                                                                   ("Binding", "big")]
    assert docs[1]["target"]["name"] == node


def test_moved_pods_are_evicted_with_their_target(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """``old`` (2 cpu) runs on n1 and ``mid`` (2 cpu) on n2; ``big`` needs a whole 4-cpu
    node. Moving one of them next to the other (2 + 2 = 4) frees a node: vector (1, 2),
    no eviction, one move -- better than any eviction. One Eviction annotated with the
    target node, then one Binding of ``big`` to the freed node."""
    mid = {**PODS["pods"][0], "name": "mid", "node": "n2"}
    data = _pods(pods=[PODS["pods"][0], mid, PODS["pods"][2]])
    path = write_json(tmp_path / "ex.json", data)
    res = run(capsys, "solve", path, "--solver", "cpsat", "--json", "--manifests",
              tmp_path / "m")
    result = json.loads(res.out)
    assert result["status"] == "optimal" and result["solution"]["evicted"] == []
    (moved,) = result["solution"]["moved"]
    target = result["solution"]["assignment"][moved]
    docs = list(yaml.safe_load_all((tmp_path / "m" / "ex.cpsat.yaml").read_text()))
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [("Eviction", moved),
                                                                   ("Binding", "big")]
    assert docs[0]["metadata"]["annotations"] == {"optsched.io/target-node": target}
    assert docs[1]["target"]["name"] != target


def test_yaml_label_key_that_is_not_a_string(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """YAML reads ``yes:`` as the boolean true: one line naming the labels, not a traceback."""
    path = tmp_path / "c.yaml"
    path.write_text("apiVersion: v1\nkind: Node\nmetadata: {name: n1, labels: {yes: a}}\n"
                    "status: {allocatable: {cpu: '4', memory: 4Gi}}\n")
    res = run(capsys, "solve", path, "--solver", "cpsat")
    assert res.code == 2 and "Traceback" not in res.err, res
    assert len(res.err.strip().splitlines()) == 1 and "labels" in res.err, res.err


def test_yaml_of_an_unknown_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Service is not a kind optsched reads: one line naming the document and kind."""
    path = tmp_path / "c.yaml"
    path.write_text("apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n"
                    "status: {allocatable: {cpu: '4'}}\n---\n"
                    "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n")
    res = run(capsys, "solve", path, "--solver", "cpsat")
    assert res.code == 2 and "Traceback" not in res.err, res
    assert len(res.err.strip().splitlines()) == 1 and "Service" in res.err, res.err
    assert "documents[1].kind" in res.err, res.err
