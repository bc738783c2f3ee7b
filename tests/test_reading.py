"""The readers' limits: nesting depth, counted as the error message says."""

from __future__ import annotations

import pytest

from optsched.errors import InputError
from optsched.reading import MAX_DEPTH, parse_json, parse_toml


def _nested(depth: int) -> str:
    """JSON ``depth`` containers deep: objects outside, lists inside, a number at the core."""
    half = depth // 2
    rest = depth - half
    return '{"a": ' * half + "[" * rest + "1" + "]" * rest + "}" * half


def test_json_nested_to_the_limit_is_read_and_one_more_refused() -> None:
    """64 containers (32 objects around 32 lists) are read, their core is 1; 65 are
    refused with one line naming the input."""
    assert MAX_DEPTH == 64
    value = parse_json(_nested(64), "file")
    for _ in range(32):
        value = value["a"]
    for _ in range(32):
        value = value[0]
    assert value == 1
    with pytest.raises(InputError, match="^file: nests deeper than 64 levels$"):
        parse_json(_nested(65), "file")


def test_a_deep_branch_beside_shallow_ones_is_found() -> None:
    """The depth is that of the deepest branch: many shallow siblings do not hide it."""
    shallow = ", ".join(f'"k{i}": {{"x": [1]}}' for i in range(100))
    with pytest.raises(InputError, match="nests deeper"):
        parse_json("{" + shallow + ', "deep": ' + _nested(64) + "}", "file")
    assert len(parse_json("{" + shallow + ', "deep": ' + _nested(63) + "}", "file")) == 101


def test_toml_tables_count_as_levels() -> None:
    """A TOML document of 65 nested tables is refused like JSON."""
    with pytest.raises(InputError, match="nests deeper"):
        parse_toml("[" + ".".join(["t"] * 65) + "]\nx = 1\n", "suite")
    assert parse_toml("[" + ".".join(["t"] * 63) + "]\nx = 1\n", "suite")["t"]["t"]
