"""An smtt solution: the order in which the machine processes the jobs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from optsched.errors import InputError
from optsched.fields import require_int_list, require_keys


@dataclass(frozen=True)
class SmttSolution:
    """A processing order: 0-based job indices, first job first.

    Well-formedness (a list of integers) is checked here; whether it is a
    permutation of the instance's jobs is the checker's business, so that
    ``optsched validate`` can list what is wrong.
    """

    sequence: tuple[int, ...]

    def __post_init__(self) -> None:
        seq = require_int_list(self.sequence, "solution.sequence", error=InputError)
        object.__setattr__(self, "sequence", seq)

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"sequence": [...]}``."""
        return {"sequence": list(self.sequence)}


def from_dict(obj: object) -> SmttSolution:
    """Read ``{"sequence": [...]}``; a bare list of job indices is accepted too."""
    if isinstance(obj, list):
        return SmttSolution(tuple(obj))
    if not isinstance(obj, Mapping):
        raise InputError("solution", "must be an object with a 'sequence' list of job indices")
    require_keys(obj, "solution", ("sequence",), error=InputError)
    return SmttSolution(obj["sequence"])
