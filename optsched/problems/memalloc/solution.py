"""A memalloc solution: every buffer's offset."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from optsched.errors import InputError
from optsched.fields import excerpt, is_int, require_keys, type_name

if TYPE_CHECKING:
    from optsched.problems.memalloc.instance import MemallocInstance


@dataclass(frozen=True)
class MemallocSolution:
    """``offsets`` maps every buffer id to its first byte in the arena."""

    offsets: Mapping[str, int]

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"offsets": {id: offset, ...}}``."""
        return {"offsets": dict(self.offsets)}

    def in_order(self, instance: MemallocInstance) -> list[int]:
        """The offsets in the instance's buffer order (a missing one is -1)."""
        return [self.offsets.get(b.id, -1) for b in instance.buffers]


def make(instance: MemallocInstance, offsets: Iterable[int]) -> MemallocSolution:
    """The solution of offsets given in the instance's buffer order."""
    return MemallocSolution({b.id: int(o) for b, o in zip(instance.buffers, offsets,
                                                            strict=True)})


def from_dict(obj: object) -> MemallocSolution:
    """Read ``{"offsets": {id: offset, ...}}``."""
    data = require_keys(obj, "solution", ("offsets",), (), InputError)
    offsets = data["offsets"]
    if not isinstance(offsets, Mapping):
        raise InputError("solution.offsets", f"must be an object id -> offset, "
                                             f"got {type_name(offsets)}")
    for key, value in offsets.items():
        if not is_int(value):
            raise InputError(f"solution.offsets.{excerpt(key)}",
                             f"must be an integer, got {type_name(value)} {excerpt(value)}")
    return MemallocSolution({str(k): int(v) for k, v in offsets.items()})
