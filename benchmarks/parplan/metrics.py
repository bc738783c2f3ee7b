"""The issue-25 figures from a parplan benchmark's results.jsonl.

Usage: ``python benchmarks/parplan/metrics.py benchmarks/results/parplan-*/results.jsonl``

Per class: instances, how often parplan-exact proved optimality and its
largest gap and time, the median and smallest ratio of its tokens/s to each
baseline's, and whether the exact method restricted to enumeration's space
(label ``exact-even-identical``) found enumeration's optimum.
"""

from __future__ import annotations

import collections
import json
import statistics
import sys
from typing import Any


def main(paths: list[str]) -> None:
    """Print the tables in Markdown."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    classes: dict[str, str] = {}
    for path in paths:
        with open(path) as handle:
            for line in handle:
                r = json.loads(line)
                if "instance" not in r:
                    continue
                rows[(r["instance"], r["solver"])] = r
                classes[r["instance"]] = r["class"]
    solvers = sorted({s for _, s in rows} - {"parplan-exact"})
    by_class: dict[str, list[str]] = collections.defaultdict(list)
    for inst, cls in classes.items():
        by_class[cls].append(inst)
    print("| class | n | exact optimal | worst gap | exact s (median / max) | "
          + " | ".join(f"x {s} (median / min)" for s in solvers) + " |")
    print("|---|---|---|---|---|" + "---|" * len(solvers))
    every: dict[str, list[float]] = collections.defaultdict(list)
    for cls in sorted(by_class):
        names = by_class[cls]
        exact = [rows.get((n, "parplan-exact")) for n in names]
        done = [r for r in exact if r is not None]
        optimal = sum(r["status"] in ("optimal", "infeasible") for r in done)
        gaps = [r["gap"] for r in done if r.get("gap") is not None]
        times = [r["solve_s"] + r["build_s"] for r in done]
        cells = []
        for s in solvers:
            ratios = []
            for n in names:
                e, b = rows.get((n, "parplan-exact")), rows.get((n, s))
                if e and b and e.get("objective") and b.get("objective"):
                    ratios.append(e["objective"] / b["objective"])
            every[s] += ratios
            cells.append(f"{statistics.median(ratios):.3f} / {min(ratios):.3f} ({len(ratios)})"
                         if ratios else "-")
        print(f"| {cls} | {len(names)} | {optimal}/{len(done)} | "
              f"{max(gaps, default=0):.1e} | {statistics.median(times):.2f} / {max(times):.2f} | "
              + " | ".join(cells) + " |")
    print()
    for s, ratios in every.items():
        if ratios:
            print(f"- exact / {s}: median {statistics.median(ratios):.3f}, smallest "
                  f"{min(ratios):.4f}, over {len(ratios)} instances with both feasible")
    same = [(n, r) for (n, s), r in rows.items() if s == "exact-even-identical"]
    if same:
        match = sum(1 for n, r in same if (e := rows.get((n, "enumerate"))) is not None
                    and _same(r.get("objective"), e.get("objective")))
        print(f"- exact restricted to enumeration's space: the same optimum as enumeration "
              f"on {match}/{len(same)} instances")
    statuses = collections.Counter(r["status"] for (n, s), r in rows.items()
                                   if s == "parplan-exact")
    print(f"- parplan-exact statuses: {dict(statuses)}")


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-9 * max(1.0, abs(a))


if __name__ == "__main__":
    main(sys.argv[1:])
