"""OR-Library weighted tardiness files (``wt40.txt``, ``wt50.txt``, ``wt100.txt``).

Each file holds 125 instances back to back: n processing times, n weights,
n due dates. Reference values are read from ``wtopt<n>.txt`` (optimal) or
``wtbest<n>b.txt`` (best known) beside the file, when present.
"""

from __future__ import annotations

import re
from pathlib import Path

from optsched.errors import InstanceError
from optsched.problems.smtt.instance import Reference, SmttInstance

_NAME = re.compile(r"^wt(\d+)\.txt$")
_REFERENCES = (("wtopt{n}.txt", "optimal"), ("wtbest{n}b.txt", "best_known"))


def claims(path: Path) -> bool:
    """True for OR-Library weighted tardiness file names, ``wt<n>.txt``."""
    return _NAME.match(path.name) is not None


def read_orlib(path: Path, n: int | None = None) -> list[SmttInstance]:
    """Read every instance of an OR-Library ``wt<n>.txt`` file, named ``wt<n>-001`` on."""
    if n is None:
        match = _NAME.match(path.name)
        if match is None:
            raise InstanceError(str(path), "name must be wt<n>.txt, or pass the job count n")
        n = int(match.group(1))
    values = _integers(path)
    if not values or len(values) % (3 * n):
        raise InstanceError(str(path), f"holds {len(values)} integers, not a whole number of "
                                       f"{n}-job instances ({3 * n} integers each)")
    count = len(values) // (3 * n)
    references = _references(path, n, count)
    out = []
    for k in range(count):
        block = values[3 * n * k: 3 * n * (k + 1)]
        name = f"wt{n}-{k + 1:03d}"
        try:
            out.append(SmttInstance(processing_times=tuple(block[:n]),
                                    weights=tuple(block[n:2 * n]),
                                    due_dates=tuple(block[2 * n:]),
                                    name=name, reference=references[k]))
        except InstanceError as exc:
            raise exc.within(f"{path} instance {k + 1}") from None
    return out


def _integers(path: Path) -> list[int]:
    out = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        for token in line.split():
            try:
                out.append(int(token))
            except ValueError:
                raise InstanceError(f"{path} line {lineno}",
                                    f"{token!r} is not an integer") from None
    return out


def _references(path: Path, n: int, count: int) -> list[Reference | None]:
    for pattern, status in _REFERENCES:
        ref = path.with_name(pattern.format(n=n))
        if ref.is_file():
            values = _integers(ref)
            if len(values) != count:
                raise InstanceError(str(ref), f"holds {len(values)} values for {count} "
                                              "instances")
            return [Reference(v, status) for v in values]
    return [None] * count
