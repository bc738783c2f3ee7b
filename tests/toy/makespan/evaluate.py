"""The independent checker and the lower bound."""

from __future__ import annotations

from optsched.family import Evaluation

from .instance import MakespanInstance, MakespanSolution


def evaluate(instance: MakespanInstance, solution: MakespanSolution) -> Evaluation:
    """The latest machine finish; a missing job or an unknown machine is a violation."""
    n, m = len(instance.times), instance.machines
    if len(solution.machine) != n:
        return Evaluation(None, (f"{len(solution.machine)} machines given for {n} jobs",))
    bad = [j for j, k in enumerate(solution.machine) if not 0 <= k < m]
    if bad:
        return Evaluation(None, tuple(f"job {j}: machine {solution.machine[j]} is not in "
                                      f"0..{m - 1}" for j in bad[:3]))
    load = [0] * m
    for j, k in enumerate(solution.machine):
        load[k] += instance.times[j]
    return Evaluation(max(load), metrics={"loads": load})


def lower_bound(instance: MakespanInstance) -> int:
    """The longest job, or the total work shared evenly (rounded up), whichever is larger."""
    total, m = sum(instance.times), instance.machines
    return max(max(instance.times), -(-total // m))
