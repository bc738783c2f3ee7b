"""The independent checker and cost model of smtt.

Deliberately plain Python, sharing no code with the heuristics or the
formulations, so that it can catch their mistakes.
"""

from __future__ import annotations

from optsched.family import Evaluation
from optsched.problems.smtt.instance import SmttInstance
from optsched.problems.smtt.solution import SmttSolution


def violations(instance: SmttInstance, solution: SmttSolution) -> list[str]:
    """List why ``solution`` is not a permutation of the instance's jobs."""
    n = instance.n
    seq = solution.sequence
    found: list[str] = []
    out_of_range = [j for j in seq if not 0 <= j < n]
    if out_of_range:
        found.append(f"job index {out_of_range[0]} is out of range 0..{n - 1}")
    seen: set[int] = set()
    for j in seq:
        if j in seen:
            found.append(f"job {j} appears more than once")
        seen.add(j)
    missing = [j for j in range(n) if j not in seen]
    if missing:
        found.append(f"{len(missing)} job(s) missing, first {missing[0]}")
    return found


def evaluate(instance: SmttInstance, solution: SmttSolution) -> Evaluation:
    """Recompute the objective and the usual tardiness metrics.

    The objective is the total weighted tardiness ``sum_j w_j max(0, C_j - d_j)``
    with the machine starting at 0 and never idle.
    """
    found = violations(instance, solution)
    if found:
        return Evaluation(objective=None, violations=tuple(found))
    p, d, w = instance.processing_times, instance.due_dates, instance.w
    t = 0
    weighted = total = tardy = worst = flow = 0
    for j in solution.sequence:
        t += p[j]
        late = max(0, t - d[j])
        weighted += w[j] * late
        total += late
        tardy += late > 0
        worst = max(worst, late)
        flow += t
    metrics = {"weighted_tardiness": weighted, "total_tardiness": total,
               "tardy_jobs": tardy, "max_tardiness": worst, "total_completion": flow}
    return Evaluation(objective=weighted, metrics=metrics)
