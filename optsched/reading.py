"""Bounded reading of untrusted input: files, JSON, YAML, TOML and integers.

Every reader of optsched goes through here, so that hostile input (huge,
endless, deeply nested, aliased, not UTF-8) is refused before it costs memory
or time, with one :class:`InputError` naming the file. The limits are
documented in ``docs/formats.md`` (Limits on input).
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from optsched.errors import InputError

MAX_BYTES = 128 << 20
"""Largest input read, in bytes (128 MiB: a 2,000,000-job smtt instance takes about 30, a
DeepSeek-V3 moe instance with every transition about 100)."""
MAX_DEPTH = 64
"""Deepest nesting of JSON, YAML or TOML values (instances need 6 or so)."""
MAX_INT_DIGITS = 30
"""Longest integer literal (2^63 has 19 digits; every count and size fits)."""
MAX_ALIASES = 64
"""Most YAML aliases in one stream: enough for hand-written anchors, too few for a bomb."""
STDIN = "-"
_ASCII_INT = re.compile(r"-?[0-9]+", re.ASCII)


def read_text(path: str | Path, error: type[InputError] = InputError) -> str:
    """The UTF-8 text of a regular file (or ``-``: standard input), at most :data:`MAX_BYTES`.

    Devices (``/dev/zero``), pipes and sockets are refused before they are
    opened: reading one could block forever or never end.
    """
    name = str(path)
    if name == STDIN:
        data = sys.stdin.buffer.read(MAX_BYTES + 1)
    else:
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise error(name, "no such file") from None
        except OSError as exc:
            raise error(name, f"cannot be read: {exc.strerror or exc}") from None
        if stat.S_ISDIR(info.st_mode):
            raise error(name, "is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise error(name, "is not a regular file (a device, a pipe or a socket)")
        if info.st_size > MAX_BYTES:
            raise error(name, f"is {info.st_size} bytes; at most {MAX_BYTES} are read")
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_BYTES + 1)
        except OSError as exc:
            raise error(name, f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise error(name, f"holds more than {MAX_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(name, f"is not UTF-8 text (byte {exc.start})") from None


def parse_json(text: str, where: str, error: type[InputError] = InputError) -> Any:
    """Parse JSON within the limits.

    No NaN or Infinity, integers of at most :data:`MAX_INT_DIGITS` digits,
    nesting at most :data:`MAX_DEPTH` deep.
    """
    try:
        value = json.loads(text, parse_int=_json_int, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise error(where, f"is not valid JSON: {exc.msg} at line {exc.lineno} column "
                           f"{exc.colno}") from None
    except RecursionError:
        raise error(where, f"nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # from the hooks below
        raise error(where, str(exc)) from None
    _check_depth(value, where, error)
    return value


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"has an integer of {len(text)} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _no_constant(text: str) -> Any:
    raise ValueError(f"has {text}, which is not a number in JSON")


def parse_yaml_all(text: str, where: str, error: type[InputError] = InputError) -> list[Any]:
    """Every document of a YAML stream (safe types only), with bounded aliases and depth."""
    import yaml  # here: 27 ms of every start that reads no YAML (the plugin script's)

    try:
        return [doc for doc in yaml.load_all(text, Loader=_bounded_loader())
                if doc is not None]
    except RecursionError:
        raise error(where, f"nests deeper than {MAX_DEPTH} levels") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())[:200]
        at = "" if mark is None else f" at line {mark.line + 1} column {mark.column + 1}"
        raise error(where, f"is not valid YAML: {problem}{at}") from None


@cache
def _bounded_loader() -> type[Any]:
    """PyYAML's safe loader, refusing more than :data:`MAX_ALIASES` aliases or deep nesting."""
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self._aliases = 0
            self._depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                self._aliases += 1
                if self._aliases > MAX_ALIASES:
                    raise yaml.YAMLError(f"more than {MAX_ALIASES} aliases")
            self._depth += 1
            try:
                if self._depth > MAX_DEPTH:
                    raise yaml.YAMLError(f"nested deeper than {MAX_DEPTH} levels")
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

    return BoundedLoader


def parse_toml(text: str, where: str, error: type[InputError] = InputError) -> dict[str, Any]:
    """A TOML document, nested at most :data:`MAX_DEPTH` deep."""
    try:
        value = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(where, f"is not valid TOML: {exc}") from None
    except RecursionError:
        raise error(where, f"nests deeper than {MAX_DEPTH} levels") from None
    _check_depth(value, where, error)
    return value


def _check_depth(value: Any, where: str, error: type[InputError]) -> None:
    """Refuse values nested deeper than :data:`MAX_DEPTH` (iteratively: no recursion).

    One level at a time, the containers of the next gathered by comprehension: 0.6 s on
    a 44 MB snapshot of 150,000 pods, where a stack of (item, depth) pairs took 2.3 s.
    The parsers make plain dicts and lists only.
    """
    level = [value] if type(value) is dict or type(value) is list else []
    depth = 1
    while level:
        if depth > MAX_DEPTH:
            raise error(where, f"nests deeper than {MAX_DEPTH} levels")
        below: list[Any] = []
        for item in level:
            below += [child for child in (item.values() if type(item) is dict else item)
                      if type(child) is dict or type(child) is list]
        level = below
        depth += 1


def ascii_int(token: str) -> int | None:
    """``token`` as an integer if it is ASCII digits with an optional minus, else None.

    Python's ``int`` also takes ``"١"``, ``"1_0"`` and ``"+5"``; a file format does not.
    """
    if _ASCII_INT.fullmatch(token) is None or len(token.lstrip("-")) > MAX_INT_DIGITS:
        return None
    return int(token)
