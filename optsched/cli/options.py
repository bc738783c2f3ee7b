"""Option parsing shared by the commands."""

from __future__ import annotations

import json
from typing import Any

from optsched.errors import InputError


def key_values(pairs: tuple[str, ...], option: str) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` pairs; values are read as JSON when they parse, else as strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InputError(option, f"expects KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out
