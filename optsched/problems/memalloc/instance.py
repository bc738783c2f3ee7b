"""A memalloc instance: buffers with lifetimes and sizes, and an optional capacity.

A buffer is live over the half-open steps ``[lower, upper)`` except inside
its gaps; a gap with a window keeps only bytes ``[lo, hi)`` of the buffer
live during the gap (MiniMalloc's ``lo-hi@lo:hi``). Two buffers live at one
step may not share an address. Every offset is a multiple of the buffer's
alignment; a buffer with an ``offset`` is pinned there.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from optsched.errors import InstanceError
from optsched.fields import excerpt, is_int, or_default, require_keys, require_str, type_name

if TYPE_CHECKING:
    from optsched.problems.memalloc.arrays import Arrays

MAX_VALUE = 1 << 52
"""Largest step, size, alignment or offset (exact in a double, far from int64 overflow)."""
MAX_TOTAL = 1 << 60
"""Largest sum of all sizes and alignment paddings: every address a solver computes stays
below 2^62."""
BUFFER_KEYS = ("id", "lower", "upper", "size")
OPTIONAL_KEYS = ("alignment", "gaps", "offset", "hint")


class ColumnError(InstanceError):
    """A bad buffer: ``index`` is its position, ``column`` the field at fault.

    Readers turn it into their own place: ``buffers[3].size`` in JSON,
    ``line 5 column size`` in CSV.
    """

    def __init__(self, index: int, column: str, problem: str) -> None:
        super().__init__(f"buffers[{index}].{column}", problem)
        self.index = index
        self.column = column

    def within(self, prefix: str) -> InstanceError:
        """The error as a plain :class:`InstanceError` with ``prefix`` before the field."""
        return InstanceError(f"{prefix}: {self.field}", self.problem)


@dataclass(frozen=True, slots=True)
class Gap:
    """Steps ``[lower, upper)`` inside a buffer's lifetime when it is not live.

    With a ``window`` ``(lo, hi)`` the bytes ``[lo, hi)`` of the buffer stay
    live during the gap.
    """

    lower: int
    upper: int
    window: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class Buffer:
    """One buffer: live over ``[lower, upper)``, ``size`` bytes, at a multiple of ``alignment``."""

    id: str
    lower: int
    upper: int
    size: int
    alignment: int = 1
    gaps: tuple[Gap, ...] = ()
    offset: int | None = None
    """The address the buffer is pinned at (None: the solver chooses)."""
    hint: int | None = None
    """MiniMalloc's ``hint`` column: a suggested offset, kept and written back."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the buffer; optional fields only when set."""
        out: dict[str, Any] = {"id": self.id, "lower": self.lower, "upper": self.upper,
                               "size": self.size}
        if self.alignment != 1:
            out["alignment"] = self.alignment
        if self.gaps:
            out["gaps"] = [[g.lower, g.upper, *(g.window or ())] for g in self.gaps]
        if self.offset is not None:
            out["offset"] = self.offset
        if self.hint is not None:
            out["hint"] = self.hint
        return out


def check_buffer(b: Buffer, index: int) -> None:
    """Raise :class:`ColumnError` naming the first bad field of ``b``."""
    if not isinstance(b.id, str) or not b.id:
        raise ColumnError(index, "id", "must be a non-empty string")
    if b.id != b.id.strip() or any(c in b.id for c in ",\r\n"):
        raise ColumnError(index, "id", f"{excerpt(b.id)} may not hold a comma or a line break, "
                                       "or start or end with a space (MiniMalloc's CSV has no "
                                       "quoting)")
    for name in ("lower", "upper"):
        value = getattr(b, name)
        if not is_int(value) or abs(value) > MAX_VALUE:
            raise ColumnError(index, name, f"must be an integer of magnitude at most 2^52, "
                                           f"got {excerpt(value)}")
    if b.lower >= b.upper:
        raise ColumnError(index, "upper", f"must be above lower ({b.lower}), got {b.upper}")
    for name in ("size", "alignment"):
        value = getattr(b, name)
        if not is_int(value) or not 1 <= value <= MAX_VALUE:
            raise ColumnError(index, name, f"must be a positive integer (at most 2^52), "
                                           f"got {excerpt(value)}")
    for gap in b.gaps:
        if not (isinstance(gap, Gap) and is_int(gap.lower) and is_int(gap.upper)) or not (
                b.lower <= gap.lower < gap.upper <= b.upper):
            what = (f"{excerpt(gap.lower)}-{excerpt(gap.upper)}" if isinstance(gap, Gap)
                    else excerpt(gap))
            raise ColumnError(index, "gaps", f"gap {what} must be non-empty and inside the "
                                             f"lifetime [{b.lower}, {b.upper})")
        if gap.window is not None:
            lo, hi = gap.window
            if not (is_int(lo) and is_int(hi)) or not 0 <= lo < hi <= b.size:
                raise ColumnError(index, "gaps", f"window {lo}:{hi} of gap {gap.lower}-"
                                                 f"{gap.upper} must be within [0, size {b.size}]"
                                                 " and non-empty")
    ordered = sorted(b.gaps, key=lambda g: g.lower)
    for before, after in itertools.pairwise(ordered):
        if after.lower < before.upper:
            raise ColumnError(index, "gaps", f"gaps {before.lower}-{before.upper} and "
                                             f"{after.lower}-{after.upper} overlap")
    idle = sum(g.upper - g.lower for g in b.gaps if g.window is None)
    if idle == b.upper - b.lower:
        raise ColumnError(index, "gaps", f"leave nothing of the lifetime [{b.lower}, "
                                         f"{b.upper}) live")
    for name in ("offset", "hint"):
        value = getattr(b, name)
        if value is None:
            continue
        if not is_int(value) or not 0 <= value <= MAX_VALUE:
            raise ColumnError(index, name, f"must be an integer in [0, 2^52], "
                                           f"got {excerpt(value)}")
        if name == "offset" and value % b.alignment:
            raise ColumnError(index, name, f"{value} is not a multiple of the alignment "
                                           f"{b.alignment}")


@dataclass(frozen=True)
class MemallocInstance:
    """Buffers to place in one arena, within ``capacity`` bytes when it is given.

    Without a capacity the smallest peak (``max(offset + size)``) is sought;
    with one, offsets whose peak fits (and the smallest peak with
    ``mode=min-peak``).
    """

    buffers: tuple[Buffer, ...]
    capacity: int | None = None
    name: str = ""
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.buffers, tuple) or not self.buffers:
            raise InstanceError("buffers", "must list at least one buffer")
        if self.capacity is not None and (not is_int(self.capacity) or not
                                          1 <= self.capacity <= MAX_TOTAL):
            raise InstanceError("capacity", f"must be a positive integer or null, got "
                                            f"{excerpt(self.capacity)}")
        index: dict[str, int] = {}
        total = 0
        for i, b in enumerate(self.buffers):
            if not isinstance(b, Buffer):
                raise InstanceError(f"buffers[{i}]", f"must be a Buffer, got {type_name(b)}")
            check_buffer(b, i)
            if index.setdefault(b.id, i) != i:
                raise ColumnError(i, "id", f"{excerpt(b.id)} is also buffer {index[b.id]}'s id")
            total += b.size + b.alignment - 1
            if b.offset is not None and self.capacity is not None and (
                    b.offset + b.size > self.capacity):
                raise ColumnError(i, "offset", f"the pinned buffer ends at {b.offset + b.size}, "
                                               f"above the capacity {self.capacity}")
        if total > MAX_TOTAL:
            raise InstanceError("buffers", f"the sizes (with alignment padding) add up to "
                                           f"{total}, above 2^60")
        object.__setattr__(self, "_index", index)
        self._check_pinned()

    def _check_pinned(self) -> None:
        from optsched.problems.memalloc.overlap import first_collision

        pinned = [i for i, b in enumerate(self.buffers) if b.offset is not None]
        if len(pinned) < 2:
            return
        hit = first_collision([self.buffers[i] for i in pinned],
                              [self.buffers[i].offset or 0 for i in pinned])
        if hit is not None:
            a, b = pinned[hit[0]], pinned[hit[1]]
            raise ColumnError(max(a, b), "offset", f"the pinned buffers "
                                                   f"{excerpt(self.buffers[a].id)} and "
                                                   f"{excerpt(self.buffers[b].id)} overlap")

    @property
    def n(self) -> int:
        """The number of buffers."""
        return len(self.buffers)

    def index(self, buffer_id: str) -> int | None:
        """The position of the buffer called ``buffer_id``, or None."""
        return self._index.get(buffer_id)

    @cached_property
    def arrays(self) -> Arrays:
        """The instance as integer arrays, for solvers (built once)."""
        from optsched.problems.memalloc.arrays import build

        return build(self)

    def to_dict(self) -> dict[str, Any]:
        """The JSON fields (without ``family`` and ``format``)."""
        return {"name": self.name, "capacity": self.capacity,
                "buffers": [b.to_dict() for b in self.buffers]}


def from_dict(obj: Mapping[str, Any]) -> MemallocInstance:
    """Build an instance from its JSON object; a bad field raises naming it."""
    data = require_keys(obj, "", ("buffers",), ("family", "format", "name", "capacity"))
    raw = data["buffers"]
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise InstanceError("buffers", f"must be a list of buffer objects, got {type_name(raw)}")
    buffers = tuple(_buffer(item, i) for i, item in enumerate(raw))
    return MemallocInstance(buffers, data.get("capacity"), require_str(data.get("name", ""),
                                                                       "name"))


def _buffer(item: object, i: int) -> Buffer:
    where = f"buffers[{i}]"
    data = require_keys(item, where, BUFFER_KEYS, OPTIONAL_KEYS)
    ident = data["id"]
    if is_int(ident):
        ident = str(ident)
    if not isinstance(ident, str):
        raise ColumnError(i, "id", f"must be a string, got {type_name(ident)}")
    for key in ("lower", "upper", "size"):
        if not is_int(data[key]):
            raise ColumnError(i, key, f"must be an integer, got {type_name(data[key])} "
                                      f"{excerpt(data[key])}")
    alignment = data.get("alignment", 1)
    if alignment is None:
        alignment = 1
    return Buffer(ident, data["lower"], data["upper"], data["size"], alignment,
                  _gaps(or_default(data.get("gaps"), []), i), data.get("offset"), data.get("hint"))


def _gaps(raw: object, i: int) -> tuple[Gap, ...]:
    if not isinstance(raw, list):
        raise ColumnError(i, "gaps", f"must be a list of [lower, upper] or "
                                     f"[lower, upper, lo, hi], got {type_name(raw)}")
    out = []
    for gap in raw:
        if not isinstance(gap, list) or len(gap) not in (2, 4) or not all(map(is_int, gap)):
            raise ColumnError(i, "gaps", f"each gap must be [lower, upper] or "
                                         f"[lower, upper, lo, hi] of integers, got "
                                         f"{excerpt(gap)}")
        out.append(Gap(gap[0], gap[1], (gap[2], gap[3]) if len(gap) == 4 else None))
    return tuple(out)


def with_capacity(instance: MemallocInstance, values: Mapping[str, Any]) -> MemallocInstance:
    """``instance`` with the capacity of ``-m capacity=N`` (0: none), checked against pins."""
    capacity = values.get("capacity", instance.capacity) or None
    try:
        return replace(instance, capacity=capacity)
    except ColumnError as exc:
        raise InstanceError("model.capacity", f"{capacity} is too small: {exc}") from None
