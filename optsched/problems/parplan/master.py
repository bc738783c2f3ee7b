"""The integer master: how many replicas of each column, within the GPUs of each pool.

``max sum_j r_j x_j  s.t.  sum_j a_jk x_j <= N_k  (every pool k),  x_j in Z+``:
a multi-dimensional knapsack over the columns of :mod:`.templates`, solved
by HiGHS (``mip_rel_gap = 0``); its dual bound is the plan's bound. The
greedy mix (columns by tokens/s per GPU) is HiGHS' first incumbent and the
answer when HiGHS finds nothing better in time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from optsched.deadline import Deadline
from optsched.problems.parplan.split import Template


@dataclass(frozen=True)
class Mix:
    """Replica counts per column, the plan's throughput and the master's upper bound."""

    counts: tuple[tuple[Template, int], ...]
    throughput: float
    bound: float
    optimal: bool


def greedy(columns: list[tuple[tuple[int, ...], Template]], capacity: tuple[int, ...]) -> Mix:
    """Columns by throughput per GPU, each as often as it fits: the master's first incumbent."""
    left = list(capacity)
    counts = []
    ranked = sorted(columns, key=lambda c: -c[1].throughput / max(1, sum(c[0])))
    for use, template in ranked:
        n = min((left[k] // u for k, u in enumerate(use) if u), default=0)
        if n > 0:
            counts.append((template, n))
            left = [c - n * u for c, u in zip(left, use, strict=True)]
    total = sum(t.throughput * n for t, n in counts)
    return Mix(tuple(counts), total, math.inf, False)


def solve(columns: list[tuple[tuple[int, ...], Template]], capacity: tuple[int, ...],
          deadline: Deadline, threads: int = 1) -> Mix:
    """The best integer mix of ``columns`` (usage vector, template) within ``capacity``."""
    start = greedy(columns, capacity)
    if not columns:
        return Mix((), 0.0, 0.0, True)
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", max(1, threads))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 1e-9)
    left = deadline.remaining()
    if left is not None:
        h.setOptionValue("time_limit", max(0.01, left))
    inf = highspy.kHighsInf
    for use, template in columns:
        upper = min(capacity[k] // u for k, u in enumerate(use) if u)
        h.addVar(0.0, float(upper))
        h.changeColCost(h.getNumCol() - 1, -template.throughput)
    h.changeColsIntegrality(len(columns), list(range(len(columns))),
                            [highspy.HighsVarType.kInteger] * len(columns))
    for k, cap in enumerate(capacity):
        index = [j for j, (use, _) in enumerate(columns) if use[k]]
        if index:
            h.addRow(-inf, float(cap), len(index), index, [float(columns[j][0][k])
                                                          for j in index])
    _hint(h, columns, start)
    h.run()
    info = h.getInfo()
    values = list(h.getSolution().col_value) if info.primal_solution_status else []
    counts = tuple((columns[j][1], round(v)) for j, v in enumerate(values) if round(v) > 0)
    total = sum(t.throughput * n for t, n in counts)
    bound = -float(info.mip_dual_bound) if math.isfinite(info.mip_dual_bound) else math.inf
    optimal = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    if not counts or total < start.throughput:
        return Mix(start.counts, start.throughput, max(bound, start.throughput), False)
    return Mix(counts, total, max(bound, total), optimal)


def _hint(h: object, columns: list[tuple[tuple[int, ...], Template]], start: Mix) -> None:
    """Give HiGHS the greedy mix as its first incumbent."""
    chosen = {id(t): n for t, n in start.counts}
    values = [float(chosen.get(id(t), 0)) for _, t in columns]
    h.setSolution(len(values), list(range(len(values))), values)  # type: ignore[attr-defined]
