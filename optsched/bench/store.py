"""The results file: a header line, then one JSON row per finished job, appended as they end.

A row is written with one ``write`` of a whole line and flushed, so a killed
batch loses at most the line being written. When a batch is started again the
rows already present are kept, their jobs are not run again, and an unfinished
last line (no newline: the writer was killed) is reported and cut off so that
its job runs again. Any other unreadable line is an error naming its line
number: rows are never dropped silently.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from optsched.errors import InputError

FORMAT = 1


@dataclass(frozen=True)
class Results:
    """A results file as read: its header, its rows, and what was repaired."""

    header: dict[str, Any]
    rows: list[dict[str, Any]]
    truncated_line: int | None = None
    line_numbers: tuple[int, ...] = ()
    """The file line of each row, for messages."""


def read_results(path: str | Path, unfinished: Literal["error", "skip", "cut"] = "error"
                 ) -> Results:
    """Read a results file; an unfinished last line is an error, skipped, or cut off."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot be read ({exc.strerror or exc})") from None
    lines = raw.split(b"\n")
    truncated = None
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        truncated = len(lines)
        if unfinished == "error":
            raise InputError(f"{path}:{truncated}", "the last line is unfinished (a batch "
                             "was killed while writing it); run the batch again to redo it")
        keep = len(raw) - len(lines.pop())
        if unfinished == "cut":
            with path.open("r+b") as fh:
                fh.truncate(keep)
    if not lines:
        raise InputError(str(path), "is empty: not a results file")
    header = _parse(path, 1, lines[0])
    if not isinstance(header.get("header"), dict) or header.get("format") != FORMAT:
        raise InputError(f"{path}:1", "is not an optsched results header")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        row = _parse(path, number, line)
        if not isinstance(row.get("key"), str) or "status" not in row:
            raise InputError(f"{path}:{number}", "is not a result row (no key or status)")
        rows.append(row)
    return Results(header["header"], rows, truncated, tuple(range(2, len(rows) + 2)))


def _parse(path: Path, number: int, line: bytes) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}:{number}", f"is not valid JSON ({exc}); fix or remove "
                                             "this line, no row is dropped silently") from None
    if not isinstance(value, dict):
        raise InputError(f"{path}:{number}", "is not a JSON object")
    return value


def create(path: Path, header: dict[str, Any]) -> None:
    """Start a new results file with ``header``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": FORMAT, "header": header}) + "\n", encoding="utf-8")


@contextmanager
def appender(path: Path) -> Iterator[IO[str]]:
    """An append handle, locked so that two batches cannot write the same file."""
    with path.open("a", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InputError(str(path), "another batch is writing this file") from None
        yield fh


def append(fh: IO[str], row: dict[str, Any]) -> None:
    """Write one row as one line and push it to the disk."""
    fh.write(json.dumps(row, separators=(",", ":")) + "\n")
    fh.flush()
    os.fsync(fh.fileno())
