"""MiniMalloc's CSV: read and written exactly.

Header ``id,lower,upper,size[,alignment][,hint][,gaps][,offset]`` in any
order, with MiniMalloc's aliases: ``buffer`` and ``buffer_id`` for ``id``,
``begin`` and ``start`` for ``lower``, ``end`` for an upper bound that is
inclusive (one is added to it and to the gaps' ends). ``gaps`` holds
space-separated ``lo-hi`` or ``lo-hi@wlo:whi`` (a window); an ``offset`` pins
its buffer (empty: not pinned); a ``hint`` of -1 or empty is none. The
capacity comes from a ``.N.csv`` suffix of the file name (``A.1048576.csv``).
A solution is the same CSV with an ``offset`` column.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from optsched.errors import InputError, InstanceError
from optsched.fields import excerpt
from optsched.problems.memalloc.instance import (
    MAX_TOTAL,
    Buffer,
    ColumnError,
    Gap,
    MemallocInstance,
    check_buffer,
)
from optsched.reading import ascii_int, read_text

ALIASES = {"buffer": "id", "buffer_id": "id", "begin": "lower", "start": "lower",
           "end": "upper"}
COLUMNS = ("id", "lower", "upper", "size", "alignment", "hint", "gaps", "offset")
REQUIRED = COLUMNS[:4]
_GAP = re.compile(r"(-?[0-9]+)-(-?[0-9]+)(?:@(-?[0-9]+):(-?[0-9]+))?", re.ASCII)
_NAME = re.compile(r"(?P<stem>.+)\.(?P<suffix>[^.]+)\.csv", re.ASCII | re.IGNORECASE)
_NUMBER_LIKE = re.compile(r"[+-]?[0-9][0-9_.eE+-]*|[+-][0-9].*", re.ASCII)


def claims(path: Path) -> bool:
    """True for ``*.csv`` files."""
    return path.suffix.lower() == ".csv"


def capacity_of(path: Path) -> tuple[str, int | None]:
    """The instance name and capacity that a file name gives (``A.1048576.csv``: A, 2^20).

    A suffix of ASCII digits is the capacity; one that looks like another
    kind of number (``A.1e6.csv``, ``A.-5.csv``) is an error; any other
    (``model.v2.csv``) is part of the name.
    """
    match = _NAME.fullmatch(path.name)
    if match is None:
        return path.stem, None
    stem, suffix = match.group("stem"), match.group("suffix")
    if suffix.isascii() and suffix.isdigit():
        digits = suffix.lstrip("0") or "0"
        capacity = int(digits) if len(digits) <= 19 else 0
        if not 1 <= capacity <= MAX_TOTAL:
            raise InstanceError(str(path), f"the capacity suffix {excerpt(suffix)} must be an "
                                           "integer in [1, 2^60]")
        return stem, capacity
    if _NUMBER_LIKE.fullmatch(suffix):
        raise InstanceError(str(path), f"the capacity suffix {excerpt(suffix)} is not an "
                                       "integer (ASCII digits)")
    return path.stem, None


def read(path: Path) -> list[MemallocInstance]:
    """The instance of a MiniMalloc CSV file (one per file)."""
    name, capacity = capacity_of(path)
    buffers, _, lines = parse(read_text(path, InstanceError), str(path))
    try:
        return [MemallocInstance(tuple(buffers), capacity, name)]
    except ColumnError as exc:
        raise InstanceError(f"{path} line {lines[exc.index]} column {exc.column}",
                            exc.problem) from None
    except InstanceError as exc:
        raise exc.within(str(path)) from None


def parse(text: str, where: str) -> tuple[list[Buffer], list[str], list[int]]:
    """The buffers of a CSV text, its columns (canonical names) and each buffer's line.

    Each row is checked on its own; errors name ``where``, the line and the column.
    """
    lines = text.removeprefix("\ufeff").split("\n")
    header_at = next((k for k, line in enumerate(lines) if line.strip()), None)
    if header_at is None:
        raise InstanceError(where, "is empty: a header line id,lower,upper,size is needed")
    columns = _header(lines[header_at], f"{where} line {header_at + 1}")
    inclusive = "end" in [c.strip() for c in lines[header_at].split(",")]
    place = {c: k for k, c in enumerate(columns)}
    buffers: list[Buffer] = []
    rows: list[int] = []
    for k in range(header_at + 1, len(lines)):
        line = lines[k].rstrip("\r")
        if not line.strip():
            continue
        at = f"{where} line {k + 1}"
        fields = line.split(",")
        if len(fields) != len(columns):
            raise InstanceError(at, f"has {len(fields)} fields, the header has {len(columns)}")
        try:
            buffers.append(_row([f.strip() for f in fields], place, inclusive))
        except ColumnError as exc:
            raise InstanceError(f"{at} column {exc.column}", exc.problem) from None
        rows.append(k + 1)
    if not buffers:
        raise InstanceError(where, "holds no buffers (only a header)")
    return buffers, columns, rows


def _header(line: str, at: str) -> list[str]:
    out: list[str] = []
    for raw in line.rstrip("\r").split(","):
        name = ALIASES.get(raw.strip(), raw.strip())
        if name not in COLUMNS:
            raise InstanceError(f"{at} column {excerpt(raw.strip())}",
                                f"is not a known column (known: {', '.join(COLUMNS)}, and "
                                f"the aliases {', '.join(ALIASES)})")
        if name in out:
            raise InstanceError(f"{at} column {name}", "appears twice")
        out.append(name)
    missing = [c for c in REQUIRED if c not in out]
    if missing:
        raise InstanceError(f"{at} column {missing[0]}", "is missing (needed: "
                                                         f"{', '.join(REQUIRED)})")
    return out


def _row(fields: Sequence[str], place: dict[str, int], inclusive: bool) -> Buffer:
    def number(column: str, empty: int | None = None) -> int | None:
        text = fields[place[column]] if column in place else ""
        if not text:
            if empty is None and column in REQUIRED:
                raise ColumnError(0, column, "is empty")
            return empty
        value = ascii_int(text)
        if value is None:
            raise ColumnError(0, column, f"{excerpt(text)} is not an integer (ASCII digits)")
        return value

    ident = fields[place["id"]]
    if not ident:
        raise ColumnError(0, "id", "is empty")
    lower, upper, size = number("lower"), number("upper"), number("size")
    alignment, hint = number("alignment", 1), number("hint", -1)
    assert lower is not None and upper is not None and size is not None
    assert alignment is not None
    add = 1 if inclusive else 0
    buffer = Buffer(ident, lower, upper + add, size, alignment,
                    _gaps(fields[place["gaps"]] if "gaps" in place else "", add),
                    number("offset"), None if hint == -1 else hint)
    check_buffer(buffer, 0)
    return buffer


def _gaps(text: str, add: int) -> tuple[Gap, ...]:
    out = []
    for token in text.split():
        match = _GAP.fullmatch(token)
        if match is None or any(len(g.lstrip("-")) > 19 for g in match.groups() if g):
            raise ColumnError(0, "gaps", f"{excerpt(token)} is not lo-hi or lo-hi@lo:hi "
                                         "(ASCII integers)")
        lo, hi, w0, w1 = match.groups()
        window = None if w0 is None else (int(w0), int(w1))
        out.append(Gap(int(lo), int(hi) + add, window))
    return tuple(out)


def write(instance: MemallocInstance, offsets: Sequence[int] | None = None) -> str:
    """The instance as MiniMalloc CSV, with an ``offset`` column when ``offsets`` is given.

    Columns as MiniMalloc writes them: id, lower, upper, size, then alignment,
    hint and gaps when any buffer has one, then offset (the solution's, or
    the pins when no solution is given and some buffer is pinned).
    """
    bs = instance.buffers
    extra = [c for c, used in (("alignment", any(b.alignment != 1 for b in bs)),
                               ("hint", any(b.hint is not None for b in bs)),
                               ("gaps", any(b.gaps for b in bs))) if used]
    pins = offsets is None and any(b.offset is not None for b in bs)
    header = ["id", "lower", "upper", "size", *extra,
              *(["offset"] if offsets is not None or pins else [])]
    lines = [",".join(header)]
    for i, b in enumerate(bs):
        row = [b.id, str(b.lower), str(b.upper), str(b.size)]
        if "alignment" in extra:
            row.append(str(b.alignment))
        if "hint" in extra:
            row.append(str(-1 if b.hint is None else b.hint))
        if "gaps" in extra:
            row.append(" ".join(_gap_text(g) for g in b.gaps))
        if offsets is not None:
            row.append(str(offsets[i]))
        elif pins:
            row.append("" if b.offset is None else str(b.offset))
        lines.append(",".join(row))
    return "\n".join(lines) + "\n"


def _gap_text(gap: Gap) -> str:
    text = f"{gap.lower}-{gap.upper}"
    return text if gap.window is None else f"{text}@{gap.window[0]}:{gap.window[1]}"


def read_solution(instance: MemallocInstance, text: str, where: str = "solution") -> dict[
        str, int]:
    """The offsets of a solution CSV (the instance's rows with an ``offset`` column).

    Every row must be one of the instance's buffers, unchanged but for the offset.
    """
    buffers, columns, _ = parse(text, where)
    if "offset" not in columns:
        raise InputError(where, "has no offset column")
    out: dict[str, int] = {}
    for b in buffers:
        k = instance.index(b.id)
        if k is None:
            raise InputError(f"{where} buffer {excerpt(b.id)}", "is not in the instance")
        mine = instance.buffers[k]
        for key in ("lower", "upper", "size"):
            if getattr(b, key) != getattr(mine, key):
                raise InputError(f"{where} buffer {excerpt(b.id)} column {key}",
                                 f"is {getattr(b, key)}, the instance has {getattr(mine, key)}")
        if b.offset is None:
            raise InputError(f"{where} buffer {excerpt(b.id)} column offset", "is empty")
        if b.id in out:
            raise InputError(f"{where} buffer {excerpt(b.id)}", "appears twice")
        out[b.id] = b.offset
    return out


def example() -> dict[str, str]:
    """MiniMalloc's README example (capacity 12, five buffers) and a trace with gaps.

    ``input.12.csv``: b1 [0,3) 4, b2 [3,9) 4, b3 [0,9) 4, b4 [9,21) 4, b5 [0,21) 4;
    at step 0 b1, b3 and b5 are live: 12 bytes, the capacity, and MiniMalloc
    packs it at exactly 12.
    """
    return {"input.12.csv": "id,lower,upper,size\nb1,0,3,4\nb2,3,9,4\nb3,0,9,4\nb4,9,21,4\n"
                            "b5,0,21,4\n",
            "gaps.csv": "id,start,end,size,alignment,gaps\n0,0,9,64,32,3-4\n1,2,5,32,32,\n"
                        "2,6,11,16,16,8-8@0:8\n"}
