"""The README's Python example and quickstart run, and show what they say they do."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from .conftest import REPO


def test_python_example_runs() -> None:
    """Exec every ```python block of the README (they assert their own results)."""
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```$", text, flags=re.M | re.S)
    assert blocks, "the README has a Python example"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_readme_opens_with_the_two_commands() -> None:
    """The first ```sh block holds exactly the install and the test command (.ci/run reads it)."""
    text = (REPO / "README.md").read_text()
    first = re.search(r"^```sh\n(.*?)^```$", text, flags=re.M | re.S)
    assert first is not None
    assert first.group(1).splitlines() == ['pip install -e ".[dev]"', "python -m pytest"]


def _quickstart() -> list[tuple[str, list[str]]]:
    """The ```console block after '## Quickstart': each ``$ command`` with its output lines."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"^## Quickstart\n.*?^```console\n(.*?)^```$", text, flags=re.M | re.S)
    assert block is not None, "the README has a quickstart"
    steps: list[tuple[str, list[str]]] = []
    for line in block.group(1).splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


def _same(line: str) -> str:
    return re.sub(r"time=\d+\.\d+s", "time=", line)


def test_quickstart_runs_as_written(tmp_path: Path) -> None:
    """Seven commands, run from a folder that has the repository's instances/, print what the
    README shows (times aside)."""
    steps = _quickstart()
    assert len(steps) == 7
    (tmp_path / "instances").symlink_to(REPO / "instances")
    for command, shown in steps:
        done = subprocess.run([sys.executable, "-m", "optsched", *shlex.split(command)[1:]],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (command, done.stderr)
        assert [_same(x) for x in done.stdout.splitlines()] == [_same(x) for x in shown], command
