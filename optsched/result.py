"""Solve outcomes: :class:`Status` and :class:`Result`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Status(StrEnum):
    """What a solve achieved.

    ``no_solution`` means a limit was reached before anything was found;
    ``infeasible`` means infeasibility was proven.
    """

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    NO_SOLUTION = "no_solution"
    ERROR = "error"

    @property
    def has_solution(self) -> bool:
        """True for ``optimal`` and ``feasible``."""
        return self in (Status.OPTIMAL, Status.FEASIBLE)

    @property
    def is_success(self) -> bool:
        """True when a solution was found or infeasibility proven (CLI exit 0)."""
        return self.has_solution or self is Status.INFEASIBLE


class Solution(Protocol):
    """A family's decision in its natural terms."""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of the solution."""
        ...


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """Return ``|objective - bound| / max(|objective|, 1)``, or None if either is unknown."""
    if objective is None or bound is None:
        return None
    return abs(objective - bound) / max(abs(objective), 1.0)


@dataclass(frozen=True)
class Result:
    """The outcome of one solve.

    All families minimise, so ``bound <= objective`` whenever both are known.
    ``verified`` is set only by :func:`optsched.solve` after the family's
    independent checker recomputed ``objective`` from ``solution``.
    """

    status: Status
    solver: str
    family: str = ""
    instance: str = ""
    solution: Solution | None = None
    objective: int | float | None = None
    bound: int | float | None = None
    build_s: float = 0.0
    solve_s: float = 0.0
    verified: bool = False
    stats: Mapping[str, Any] = field(default_factory=dict)

    @property
    def gap(self) -> float | None:
        """Relative gap between objective and bound, None when either is unknown."""
        return relative_gap(_finite(self.objective), _finite(self.bound))

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object of ``formats.md`` (what ``solve --json`` prints)."""
        return {
            "family": self.family,
            "instance": self.instance,
            "solver": self.solver,
            "status": self.status.value,
            "objective": _finite(self.objective),
            "bound": _finite(self.bound),
            "gap": self.gap,
            "build_s": round(self.build_s, 6),
            "solve_s": round(self.solve_s, 6),
            "verified": self.verified,
            "solution": None if self.solution is None else self.solution.to_dict(),
            "stats": _plain(self.stats),
        }


def _plain(value: Any) -> Any:
    """``value`` with every non-finite float (a solver's "no bound yet") as None: strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _finite(value: int | float | None) -> int | float | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value
