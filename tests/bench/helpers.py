"""Suites written on the fly for the bench tests."""

from __future__ import annotations

import time
from pathlib import Path

TINY = """
name = "tiny"
time_limit = {limit}
workers = 1
repetitions = {reps}

[[instances]]
generator = "smtt"
params = {{n = {n}, count = {count}}}
grid = {{tf = [0.2, 0.6], rdd = [0.4]}}

[[solvers]]
name = "cpsat"

[[solvers]]
name = "mddc"
"""


def write_suite(tmp: Path, limit: float = 5, reps: int = 1, n: int = 7, count: int = 2,
                extra: str = "") -> Path:
    path = tmp / "suite.toml"
    path.write_text(TINY.format(limit=limit, reps=reps, n=n, count=count) + extra)
    return path


def sleeper(seconds: float) -> None:
    """A child that ignores its limit (for the watchdog test)."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(seconds)
