"""OR-Library weighted tardiness files (``wt40.txt``, ``wt50.txt``, ``wt100.txt``).

Each file holds 125 instances back to back: n processing times, n weights,
n due dates. Reference values are read from ``wtopt<n>.txt`` (optimal) or
``wtbest<n>b.txt`` (best known) beside the file, when present.
"""

from __future__ import annotations

import re
from pathlib import Path

from optsched.errors import InstanceError
from optsched.fields import excerpt
from optsched.problems.smtt.instance import Reference, SmttInstance
from optsched.reading import ascii_int, read_text

_NAME = re.compile(r"^wt([0-9]+)\.txt$", re.ASCII)
MAX_JOBS = 1_000_000
"""Most jobs per instance that an OR-Library file name may announce."""
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
    if not 1 <= n <= MAX_JOBS:
        raise InstanceError(str(path), f"names {n} jobs per instance; wt<n>.txt needs n in "
                                       f"1..{MAX_JOBS}")
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
    for lineno, line in enumerate(read_text(path, InstanceError).splitlines(), 1):
        for token in line.split():
            value = ascii_int(token)
            if value is None:
                raise InstanceError(f"{path} line {lineno}",
                                    f"{excerpt(token)} is not an integer (ASCII digits)")
            out.append(value)
    return out


def example() -> dict[str, str]:
    """A ``wt3.txt`` of two 3-job instances and its ``wtopt3.txt``.

    The first is the README's example (optimum 8); the second has p = (2, 2, 2),
    unit weights and d = (1, 3, 4): in index order the jobs end at 2, 4, 6,
    tardy by 1, 1 and 2, and no order does better than 4.
    """
    return {"wt3.txt": "3 5 2\n1 2 1\n4 6 3\n2 2 2\n1 1 1\n1 3 4\n",
            "wtopt3.txt": "8\n4\n"}


def _references(path: Path, n: int, count: int) -> list[Reference | None]:
    for pattern, status in _REFERENCES:
        ref = path.with_name(pattern.format(n=n))
        if ref.is_file():
            values = _integers(ref)
            if len(values) != count:
                raise InstanceError(str(ref), f"holds {len(values)} values for {count} "
                                              "instances")
            try:
                return [Reference(v, status) for v in values]
            except InstanceError as exc:
                raise exc.within(str(ref)) from None
    return [None] * count
