"""Gap tables from result rows: what a paper's results section reports.

The reference of an instance is its published value (``reference`` in the
instance: optimal or best known) or, when none is known, the best bound any
row proved. A row's gap is ``(objective - reference) / max(reference, 1)``.
A row that beats an optimal reference or a proven bound is a data error: it
is counted under ``flagged`` and left out of every average.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from optsched.errors import InputError
from optsched.fields import excerpt

GROUP_KEYS = ("family", "solver", "class", "instance", "time_limit", "workers")
SOLVED = ("optimal", "feasible")


@dataclass(frozen=True)
class Reference:
    """What an instance's gaps are measured against."""

    value: float
    basis: str  # "optimal", "best_known" or "bound"

    @property
    def exact(self) -> bool:
        """Nothing may be below an optimum or a proven bound."""
        return self.basis != "best_known"


def references(rows: Iterable[dict[str, Any]]) -> dict[tuple[str, str], Reference]:
    """(family, instance) -> reference, from published values or the best proven bound."""
    published: dict[tuple[str, str], Reference] = {}
    bounds: dict[tuple[str, str], float] = {}
    for row in rows:
        key = (row["family"], row["instance"])
        ref = row.get("reference")
        if ref:
            published[key] = Reference(ref["value"], ref["status"])
        if row.get("bound") is not None and row.get("verified"):
            bounds[key] = max(bounds.get(key, float("-inf")), row["bound"])
    return {**{k: Reference(v, "bound") for k, v in bounds.items()}, **published}


def gap(objective: float, ref: Reference) -> float:
    """Relative gap of ``objective`` to ``ref``, as in formats.md."""
    return (objective - ref.value) / max(abs(ref.value), 1.0)


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def solved(row: dict[str, Any]) -> bool:
    """A verified solution: the rows gaps are computed for."""
    return row["status"] in SOLVED and bool(row.get("verified"))


def row_time(row: dict[str, Any]) -> float:
    """Wall seconds of the solve: ``solve()`` as the child timed it, else the job's wall time.

    Rows without either (older files) take build plus solve time.
    """
    return float(row.get("solve_wall_s") or row.get("wall_s")
                 or (row.get("build_s") or 0) + (row.get("solve_s") or 0))


def summarize(rows: Sequence[dict[str, Any]], by: Sequence[str]) -> list[dict[str, Any]]:
    """One line per group: counts, gaps (percent) and times."""
    for name in by:
        if name not in GROUP_KEYS:
            raise InputError("--by", f"{excerpt(name)} is not one of {', '.join(GROUP_KEYS)}")
    refs = references(rows)
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(row.get(k) for k in by)].append(row)
    baselines = sorted({k[3:] for r in rows for k in r.get("compare") or {}
                        if k.startswith("vs_")})
    out = []
    for key in sorted(groups, key=lambda k: tuple(str(x) for x in k)):
        out.append({**dict(zip(by, key, strict=True)), **_line(groups[key], refs),
                    **_versus(groups[key], baselines)})
    return out


def _versus(rows: list[dict[str, Any]], baselines: Sequence[str]) -> dict[str, Any]:
    """Per baseline: the share of rows whose solution is better, and how many are worse.

    A row without a comparison (no solution) counts as not better.
    """
    out: dict[str, Any] = {}
    for name in baselines:
        verdicts = [(r.get("compare") or {}).get(f"vs_{name}") for r in rows]
        out[f"better_vs_{name}_pct"] = _pct(verdicts.count("better") / len(rows))
        out[f"worse_vs_{name}"] = verdicts.count("worse")
    return out


def _line(rows: list[dict[str, Any]], refs: dict[tuple[str, str], Reference]
          ) -> dict[str, Any]:
    done = [r for r in rows if solved(r)]
    gaps, nonzero, objs, ref_sum, flagged = [], [], 0.0, 0.0, 0
    for row in done:
        ref = refs.get((row["family"], row["instance"]))
        if ref is None:
            continue
        if ref.exact and row["objective"] < ref.value - 1e-9:
            flagged += 1
            continue
        gaps.append(gap(row["objective"], ref))
        objs += row["objective"]
        ref_sum += ref.value
        if ref.value > 0:
            nonzero.append((row["objective"] - ref.value) / ref.value)
    times = [row_time(r) for r in rows]
    return {
        "rows": len(rows),
        "solved": len(done),
        "optimal": sum(r["status"] == "optimal" for r in done),
        "errors": sum(r["status"] == "error" for r in rows),
        "flagged": flagged,
        "mean_gap_pct": _pct(statistics.fmean(gaps)) if gaps else None,
        "aggregate_gap_pct": _pct((objs - ref_sum) / ref_sum) if ref_sum > 0 else None,
        "mean_gap_nonzero_pct": _pct(statistics.fmean(nonzero)) if nonzero else None,
        "nonzero": len(nonzero),
        "time_median_s": round(statistics.median(times), 3) if times else None,
        "time_p90_s": round(_percentile(times, 0.9), 3) if times else None,
    }


def _pct(x: float) -> float:
    return round(100 * x, 3)


def stamp(headers: Sequence[dict[str, Any]]) -> list[str]:
    """Lines saying where and how the rows were made."""
    out = []
    for h in headers:
        m = h.get("machine", {})
        versions = ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items())
        out.append(f"suite {h.get('suite')}: time limit {h.get('time_limit')} s, "
                   f"{h.get('workers')} worker(s) per job, {h.get('repetitions')} "
                   f"repetition(s); {m.get('cpu')}, {m.get('cores')} cores, "
                   f"{m.get('memory_gib')} GiB, Python {m.get('python')}; {versions}")
    return out


def to_markdown(lines: Sequence[dict[str, Any]], headers: Sequence[dict[str, Any]]) -> str:
    """A markdown table with the machine and settings stated above it."""
    if not lines:
        return "no rows\n"
    cols = list(lines[0])
    text = [f"Made with {s}." for s in stamp(headers)]
    text += ["", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    text += ["| " + " | ".join("" if v is None else str(v) for v in line.values()) + " |"
             for line in lines]
    return "\n".join(text) + "\n"


def to_csv(lines: Sequence[dict[str, Any]], headers: Sequence[dict[str, Any]]) -> str:
    """CSV with the machine and settings as leading ``#`` comment lines."""
    buf = io.StringIO()
    for s in stamp(headers):
        buf.write(f"# {s}\n")
    if lines:
        writer = csv.DictWriter(buf, fieldnames=list(lines[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(lines)
    return buf.getvalue()
