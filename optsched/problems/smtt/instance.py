"""Single-machine (weighted) total tardiness instances."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from optsched.errors import InstanceError
from optsched.fields import require_int, require_int_list, require_keys, require_str

MAX_EXACT = 2**53
"""Largest magnitude any objective or time may reach: doubles (MILP) are exact up to here."""

REFERENCE_STATUSES = ("optimal", "best_known")


@dataclass(frozen=True)
class Reference:
    """A published objective value for a benchmark instance."""

    value: int
    status: str

    def __post_init__(self) -> None:
        require_int(self.value, "reference.value", 0)
        if self.status not in REFERENCE_STATUSES:
            raise InstanceError(
                "reference.status", f"must be one of {', '.join(REFERENCE_STATUSES)}"
            )


@dataclass(frozen=True)
class SmttInstance:
    """Jobs on one machine that starts at 0 and never idles.

    Parameters
    ----------
    processing_times
        Integers >= 1.
    due_dates
        Integers; a negative due date is allowed (the job is always tardy).
    weights
        Integers >= 0, or None for the unweighted problem (all weights 1).
    name
        Used in results and file names.
    reference
        A published optimum or best-known value, for benchmarks only.
    """

    processing_times: tuple[int, ...]
    due_dates: tuple[int, ...]
    weights: tuple[int, ...] | None = None
    name: str = ""
    reference: Reference | None = None

    def __post_init__(self) -> None:
        p = require_int_list(self.processing_times, "processing_times", 1)
        d = require_int_list(self.due_dates, "due_dates")
        if not p:
            raise InstanceError("processing_times", "must list at least one job")
        if len(d) != len(p):
            raise InstanceError(
                "due_dates", f"has {len(d)} entries but processing_times has {len(p)}"
            )
        w = None
        if self.weights is not None:
            w = require_int_list(self.weights, "weights", 0)
            if len(w) != len(p):
                raise InstanceError(
                    "weights", f"has {len(w)} entries but processing_times has {len(p)}"
                )
        require_str(self.name, "name")
        object.__setattr__(self, "processing_times", p)
        object.__setattr__(self, "due_dates", d)
        object.__setattr__(self, "weights", w)
        _check_magnitudes(p, d, w)

    @property
    def n(self) -> int:
        """Number of jobs."""
        return len(self.processing_times)

    @property
    def weighted(self) -> bool:
        """True unless all weights are implicitly 1."""
        return self.weights is not None

    @property
    def w(self) -> tuple[int, ...]:
        """The weights, all 1 for the unweighted problem."""
        return self.weights if self.weights is not None else (1,) * self.n

    @property
    def horizon(self) -> int:
        """Total processing time: the makespan of every no-idle sequence."""
        return sum(self.processing_times)

    @cached_property
    def arrays(self) -> tuple[npt.NDArray[np.int64], ...]:
        """``(p, d, w)`` as int64 arrays, for the heuristics."""
        return tuple(np.asarray(a, dtype=np.int64) for a in
                     (self.processing_times, self.due_dates, self.w))

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON fields of ``formats.md``."""
        out: dict[str, Any] = {"name": self.name,
                               "processing_times": list(self.processing_times),
                               "due_dates": list(self.due_dates)}
        if self.weights is not None:
            out["weights"] = list(self.weights)
        if self.reference is not None:
            out["reference"] = {"value": self.reference.value, "status": self.reference.status}
        return out


def from_dict(obj: Mapping[str, Any]) -> SmttInstance:
    """Build an instance from the JSON object of ``formats.md`` (format 1)."""
    require_keys(obj, "", ("processing_times", "due_dates"),
                 ("family", "format", "name", "weights", "reference"))
    ref = obj.get("reference")
    reference = None
    if ref is not None:
        require_keys(ref, "reference", ("value", "status"))
        reference = Reference(ref["value"], ref["status"])
    return SmttInstance(
        processing_times=obj["processing_times"],
        due_dates=obj["due_dates"],
        weights=obj.get("weights"),
        name=obj.get("name", ""),
        reference=reference,
    )


def _check_magnitudes(p: Sequence[int], d: Sequence[int], w: Sequence[int] | None) -> None:
    """Reject values whose times or objective leave exact solver arithmetic."""
    limit = "exceeds 2^53, the largest integer every solver represents exactly"
    total = sum(p)
    if total > MAX_EXACT:
        raise InstanceError("processing_times", f"sum {total} {limit}")
    for j, dj in enumerate(d):
        if abs(dj) > MAX_EXACT:
            raise InstanceError(f"due_dates[{j}]", f"{dj} {limit}")
    worst = sum((1 if w is None else w[j]) * max(0, total - dj) for j, dj in enumerate(d))
    if worst > MAX_EXACT:
        field = "due_dates" if w is None else "weights"
        raise InstanceError(field, f"the largest possible objective, {worst}, {limit}")
