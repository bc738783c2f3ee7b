"""Option parsing and checks shared by the commands."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from optsched.errors import InputError
from optsched.fields import excerpt
from optsched.reading import parse_json

MAX_VALUE_CHARS = 10_000
"""Longest ``-o``/``-m`` value (a list of CP-SAT subsolvers is a few hundred)."""


def key_values(pairs: tuple[str, ...], option: str) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` pairs; values are read as JSON when they parse, else as strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InputError(option, f"expects KEY=VALUE, got {excerpt(pair)}")
        if len(raw) > MAX_VALUE_CHARS:
            raise InputError(f"{option} {key}", f"the value has {len(raw)} characters "
                                                f"(at most {MAX_VALUE_CHARS})")
        try:
            json.loads(raw, parse_constant=_not_json)
        except json.JSONDecodeError:
            out[key] = raw  # not JSON (NaN is not either): a string
            continue
        except (RecursionError, ValueError):
            pass  # JSON the bounded parser refuses, with its message
        out[key] = parse_json(raw, f"{option} {key}")
    return out


def _not_json(constant: str) -> Any:
    raise json.JSONDecodeError(f"{constant} is not JSON", constant, 0)


def ensure_folder(folder: Path, flag: str) -> None:
    """Create ``folder`` if needed and check that files can be written in it, before any work."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(flag, f"cannot create {folder}: {exc.strerror or exc}") from None
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(flag, f"{folder} is not a folder this user can write in")


MAX_MESSAGE = 1000
"""Longest error line, in characters: a message quoting hostile input stays readable."""


def one_line(message: str) -> str:
    """``message`` on one line of at most :data:`MAX_MESSAGE` characters."""
    text = " ".join(message.split())
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 3] + "..."
