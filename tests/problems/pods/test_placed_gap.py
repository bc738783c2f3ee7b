"""``benchmarks/pods/placed_gap.py``: the two readings of a pods result's proven gap."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "pods" / "placed_gap.py"
HEADER = {"format": 1, "header": {"suite": "t"}}


def _row(instance: str, objective: int, placed: list[int], pods: list[int]) -> dict[str, Any]:
    return {"key": f"{instance}|cpsat|0", "instance": instance, "solver": "cpsat",
            "status": "feasible", "verified": True, "objective": objective, "bound": 105,
            "stats": {"metrics": {"placed_by_priority": placed, "pods_by_priority": pods}}}


def _run(tmp_path: Path, lines: list[str]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "results.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    return subprocess.run([sys.executable, str(SCRIPT), str(path)], capture_output=True,
                          text=True, check=False)


def test_both_readings_by_hand(tmp_path: Path) -> None:
    """Alibaba snapshot 0's shape: 1,000 pods, bound 105. ``a`` places every pod of the
    higher tiers and leaves 113 of the 400 lowest pending: on pending (113 - 105) / 113 =
    7.1 %, on placed (113 - 105) / (1,000 - 105) = 8 / 895 = 0.89 %, within 1 %. ``b``
    leaves a pod of the second tier pending (objective 1,113 is mixed-radix): on pending
    (1,113 - 105) / 1,113 = 90.6 %, no reading on placed."""
    a = _row("a", 113, [1, 586, 13, 287], [1, 586, 13, 400])
    b = _row("b", 1113, [1, 585, 13, 287], [1, 586, 13, 400])
    done = _run(tmp_path, [json.dumps(HEADER), json.dumps(a), json.dumps(b)])
    assert done.returncode == 0, done.stderr
    assert "| a | cpsat | 113 / 105 | 7.1 % | 0.89 % |" in done.stdout
    assert "| b | cpsat | 1,113 / 105 | 90.6 % | - |" in done.stdout
    assert "cpsat: gap on placed at most 1 % on 1 of 1 rows" in done.stdout


@pytest.mark.parametrize(("lines", "says"), [
    ([json.dumps(HEADER), "{not json"], "results.jsonl:2: is not valid JSON"),
    (["[1, 2]"], "results.jsonl:1: is not a JSON object"),
    ([json.dumps(HEADER), json.dumps({**_row("a", 113, [1], [1]), "bound": "x"})],
     "results.jsonl:2: is not a pods result row"),
    ([json.dumps(HEADER), json.dumps({**_row("a", 113, [1], [1]), "stats": {
        "metrics": {"placed_by_priority": 3, "pods_by_priority": 4}}})],
     "results.jsonl:2: is not a pods result row"),
])
def test_bad_input_is_one_line_and_status_2(tmp_path: Path, lines: list[str],
                                            says: str) -> None:
    """Not JSON, not an object, a bound that is no number, metrics that are no lists:
    one line naming the file's line, exit status 2, no traceback."""
    done = _run(tmp_path, lines)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and says in done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_file(tmp_path: Path) -> None:
    """A path that does not exist: one line, status 2."""
    done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "none.jsonl")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "cannot be read" in done.stderr
