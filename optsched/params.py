"""Solve parameters shared by every backend."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from optsched.errors import InputError
from optsched.result import Solution

MAX_SEED = 2**31 - 1


def available_cores() -> int:
    """Return the number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class SolveParams:
    """How to run a solver.

    Parameters
    ----------
    time_limit
        Wall-clock seconds for the whole solve (hint and model building
        included), or None for no limit.
    workers
        Threads the solver may use; defaults to the cores available.
    seed
        Random seed, so that runs with the same seed and workers repeat.
    log
        Let the solver print its log to standard output.
    hint
        A solution of the instance's family to start from.
    options
        Native solver parameters passed straight through (a CP-SAT parameter,
        a HiGHS option, a CBC option or a heuristic's own setting).
    model
        Options of the family's formulation, e.g. ``{"formulation": "time-indexed"}``.
    fallback
        When an exact solver finds nothing in time, return the family's
        heuristic solution instead (marked in ``Result.stats["fallback"]``).
    """

    time_limit: float | None = None
    workers: int = field(default_factory=available_cores)
    seed: int = 0
    log: bool = False
    hint: Solution | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    model: Mapping[str, Any] = field(default_factory=dict)
    fallback: bool = True

    def __post_init__(self) -> None:
        tl = self.time_limit
        if tl is not None and (
            isinstance(tl, bool)
            or not isinstance(tl, int | float)
            or not math.isfinite(tl)
            or tl <= 0
        ):
            raise InputError("time_limit", f"must be a positive number of seconds, got {tl!r}")
        if not _is_int(self.workers) or self.workers < 1:
            raise InputError("workers", f"must be an integer >= 1, got {self.workers!r}")
        if not _is_int(self.seed) or not 0 <= self.seed <= MAX_SEED:
            raise InputError("seed", f"must be an integer in [0, {MAX_SEED}], got {self.seed!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
