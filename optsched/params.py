"""Solve parameters shared by every backend."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from optsched.errors import InputError
from optsched.fields import excerpt
from optsched.result import Solution
from optsched.threads import available_cores

MAX_SEED = 2**31 - 1
MAX_TIME_LIMIT = 1e7
"""Longest time limit, in seconds: solvers read larger ones as none (HiGHS runs unbounded)."""


@dataclass(frozen=True)
class SolveParams:
    """How to run a solver.

    Parameters
    ----------
    time_limit
        Wall-clock seconds for the whole solve (hint and model building
        included), or None for no limit.
    workers
        Threads the solver may use. None (the default): :func:`optsched.solve`
        leases the cores its thread budget has free, at least one (see
        :class:`optsched.threads.ThreadBudget`), so solves running side by side
        share the machine instead of each taking every core.
    seed
        Random seed, so that runs with the same seed and workers repeat.
    log
        Let the solver print its log to standard output.
    hint
        A solution of the instance's family to start from.
    options
        The solver's options (a CP-SAT parameter, a HiGHS option, a CBC
        parameter or a native solver's own setting), checked against the
        solver's declaration before any work (``optsched solvers --options``).
    model
        Options of the family's formulation, e.g. ``{"formulation": "time-indexed"}``,
        checked the same way.
    fallback
        When an exact solver finds nothing in time, return the family's
        heuristic solution instead (marked in ``Result.stats["fallback"]``).
    """

    time_limit: float | None = None
    workers: int | None = None
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
            raise InputError("time_limit", "must be a positive number of seconds, got "
                                           f"{excerpt(tl)}")
        if tl is not None and tl > MAX_TIME_LIMIT:
            raise InputError("time_limit", f"must be at most {MAX_TIME_LIMIT:g} s (116 days; "
                                           f"leave it unset for no limit), got {excerpt(tl)}")
        if self.workers is not None and (not _is_int(self.workers) or self.workers < 1):
            raise InputError("workers", f"must be an integer >= 1, got {excerpt(self.workers)}")
        if not _is_int(self.seed) or not 0 <= self.seed <= MAX_SEED:
            raise InputError("seed", f"must be an integer in [0, {MAX_SEED}], got "
                                     f"{excerpt(self.seed)}")

    @property
    def threads(self) -> int:
        """The solver's thread count: ``workers``, or the cores available when unset.

        Inside :func:`optsched.solve` ``workers`` is always set (leased).
        """
        return self.workers if self.workers is not None else available_cores()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
