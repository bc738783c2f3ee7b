"""Proven gaps of pods results read on the pods placed as well as on those left pending.

The pods objective counts pending pods, each priority's above all lower ones together
(``formats.md``). When a solution places every pod of the higher priorities, its objective
is the count of the lowest priority's pending pods, and a proven bound ``b`` on it says that
no plan places more than ``pods - b`` pods; the "Priority Matters" paper maximises the pods
placed, so its gap reads ``(objective - b) / (pods - b)``. Rows with a pending pod of a
higher priority get no such reading (``-``). Each row's own bound is used.

Run (after ``optsched bench benchmarks/suites/pods-alibaba.toml --out DIR``)::

    python benchmarks/pods/placed_gap.py DIR/results.jsonl
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from optsched.bench.store import read_results
from optsched.errors import InputError

TARGET_PCT = 1.0
"""Issue 28's target: a proven gap of at most 1 %."""


def placed_gap(row: dict[str, Any]) -> float | None:
    """The row's proven gap on the pods placed, in percent (None: no such reading)."""
    metrics = (row.get("stats") or {}).get("metrics") or {}
    placed, pods = metrics.get("placed_by_priority"), metrics.get("pods_by_priority")
    bound = row.get("bound")
    if not placed or not pods or bound is None or not row.get("verified"):
        return None
    if placed[:-1] != pods[:-1] or row["objective"] != pods[-1] - placed[-1]:
        return None  # a higher priority left pods pending: the objective is mixed-radix
    low = float(bound)
    return 100.0 * (float(row["objective"]) - low) / max(float(sum(pods)) - low, 1.0)


def pending_gap(row: dict[str, Any]) -> float | None:
    """The row's proven gap on the objective itself, in percent."""
    bound = row.get("bound")
    if bound is None or row.get("objective") is None or not row.get("verified"):
        return None
    objective = float(row["objective"])
    return 100.0 * (objective - float(bound)) / max(objective, 1.0)


def _line(row: dict[str, Any], where: str) -> tuple[str, str, float | None] | None:
    """The row's solver, its table line and its gap on placed (None: no gap to show).

    Raises InputError, naming ``where``, for a row that is not a pods result.
    """
    try:
        on_pending, on_placed = pending_gap(row), placed_gap(row)
        if on_pending is None:
            return None
        solver = str(row["solver"])
        text = (f"| {row['instance']} | {solver} | {row['objective']:,} / {row['bound']:,} | "
                f"{on_pending:.1f} % | {'-' if on_placed is None else f'{on_placed:.2f} %'} |")
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(where, f"is not a pods result row ({type(exc).__name__}: {exc})"
                         ) from None
    return solver, text, on_placed


def main() -> None:
    """Print the table and, per solver, the rows within the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a bench run's results.jsonl")
    args = parser.parse_args()
    try:
        read = read_results(args.results)
        lines = [_line(row, f"{args.results}:{number}")
                 for row, number in zip(read.rows, read.line_numbers, strict=True)]
    except InputError as exc:  # one line, as optsched's commands give
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    met: dict[str, list[bool]] = defaultdict(list)
    print("| instance | solver | objective / bound | gap on pending | gap on placed |")
    print("|---|---|---|---|---|")
    for solver, text, on_placed in sorted((line for line in lines if line is not None),
                                          key=lambda line: line[1]):
        print(text)
        if on_placed is not None:
            met[solver].append(on_placed <= TARGET_PCT)
    for solver, hits in sorted(met.items()):
        print(f"{solver}: gap on placed at most {TARGET_PCT:g} % on {sum(hits)} of "
              f"{len(hits)} rows that have that reading")


if __name__ == "__main__":
    main()
