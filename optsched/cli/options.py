"""Option parsing and checks shared by the commands."""

from __future__ import annotations

import json
import os
from pathlib import Path
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


def ensure_folder(folder: Path, flag: str) -> None:
    """Create ``folder`` if needed and check that files can be written in it, before any work."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(flag, f"cannot create {folder}: {exc.strerror or exc}") from None
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(flag, f"{folder} is not a folder this user can write in")
