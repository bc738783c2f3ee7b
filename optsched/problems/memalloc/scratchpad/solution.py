"""A scratchpad solution: the operator order and every residency segment of every tensor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from optsched.errors import InputError
from optsched.fields import is_int, require_keys, require_str, type_name


@dataclass(frozen=True, slots=True)
class Segment:
    """Tensor ``tensor`` resident at ``offset`` over the steps ``start..end`` (inclusive)."""

    tensor: str
    start: int
    end: int
    offset: int


@dataclass(frozen=True)
class ScratchpadSolution:
    """The order (operator ids, first first) and the residency segments.

    A segment that starts at the step of the tensor's writer creates it; any
    other segment is a load from DRAM (a graph input's first load is
    compulsory, every other one a reload).
    """

    order: tuple[str, ...]
    segments: tuple[Segment, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"order": [...], "segments": [{"tensor", "start", "end", "offset"}]}``."""
        return {"order": list(self.order),
                "segments": [{"tensor": s.tensor, "start": s.start, "end": s.end,
                              "offset": s.offset} for s in self.segments]}


def from_dict(obj: object) -> ScratchpadSolution:
    """Read the solution's JSON object; a bad field raises naming it."""
    data = require_keys(obj, "solution", ("order", "segments"), (), InputError)
    order, raw = data["order"], data["segments"]
    if not isinstance(order, Sequence) or isinstance(order, str):
        raise InputError("solution.order", f"must be a list of operator ids, got "
                                           f"{type_name(order)}")
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise InputError("solution.segments", f"must be a list, got {type_name(raw)}")
    segments = []
    for i, item in enumerate(raw):
        where = f"solution.segments[{i}]"
        seg = require_keys(item, where, ("tensor", "start", "end", "offset"), (), InputError)
        for key in ("start", "end", "offset"):
            if not is_int(seg[key]):
                raise InputError(f"{where}.{key}", f"must be an integer, got "
                                                   f"{type_name(seg[key])}")
        segments.append(Segment(require_str(seg["tensor"], f"{where}.tensor", InputError),
                                int(seg["start"]), int(seg["end"]), int(seg["offset"])))
    return ScratchpadSolution(tuple(require_str(o, f"solution.order[{k}]", InputError)
                                    for k, o in enumerate(order)), tuple(segments))
