"""Run the command line in-process and capture its exit status and output."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from optsched.cli.main import main

EXAMPLE: dict[str, Any] = {"family": "smtt", "format": 1, "name": "example",
                           "processing_times": [3, 5, 2], "due_dates": [4, 6, 3],
                           "weights": [1, 2, 1]}
"""The formats.md example; its optimum is 8 (sequence 2, 1, 0: C = 2, 7, 10)."""


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> Run:
    """Call ``optsched ARGS...`` and return what a shell would see."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main([str(a) for a in args])
    captured = capsys.readouterr()
    code = stop.value.code
    return Run(code if isinstance(code, int) else 0, captured.out, captured.err)


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def one_json(res: Run) -> dict[str, Any]:
    """Exit 0 and exactly one JSON line on standard output: that object."""
    assert res.code == 0, res.err
    (line,) = res.out.splitlines()
    row: dict[str, Any] = json.loads(line)
    return row


def one_error(res: Run, *words: str) -> str:
    """Exit 2, nothing on standard output, one line on standard error holding every word,
    no traceback: that line."""
    assert res.code == 2, res
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("optsched: error: "), res.err
    assert "Traceback" not in res.err and res.out == ""
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]
