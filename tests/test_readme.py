"""The README's Python example runs and its assertions hold."""

from __future__ import annotations

import re

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
