"""Constructive rules for smtt, each a plain function ``rule(instance) -> sequence``.

Sorting rules (EDD, SPT, WSPT) and dispatching rules that pick, at the
current time ``t``, the unscheduled job with the best priority (MDD, WMDD,
ATC, MDDC). Ties go to the lowest job index unless a rule says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from optsched.problems.smtt.instance import SmttInstance

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Priority = Callable[[int, IntArray], FloatArray]
"""``priority(t, remaining_jobs) -> values``; the smallest value is scheduled next."""


def cost(instance: SmttInstance, sequence: Sequence[int] | IntArray) -> int:
    """Total weighted tardiness of ``sequence`` (vectorised; the checker is separate)."""
    p, d, w = instance.arrays
    seq = np.asarray(sequence, dtype=np.int64)
    return int((w[seq] * np.maximum(0, np.cumsum(p[seq]) - d[seq])).sum())


def edd(instance: SmttInstance) -> list[int]:
    """Earliest due date first; ties by shorter processing time."""
    p, d = instance.processing_times, instance.due_dates
    return sorted(range(instance.n), key=lambda j: (d[j], p[j], j))


def spt(instance: SmttInstance) -> list[int]:
    """Shortest processing time first; ties by earlier due date."""
    p, d = instance.processing_times, instance.due_dates
    return sorted(range(instance.n), key=lambda j: (p[j], d[j], j))


def wspt(instance: SmttInstance) -> list[int]:
    """Smith's rule: non-decreasing ``p_j / w_j`` (exact ratios), zero weights last."""
    p, w = instance.processing_times, instance.w
    return sorted(range(instance.n),
                  key=lambda j: (0, Fraction(p[j], w[j]), j) if w[j] else (1, Fraction(0), j))


def dispatch(instance: SmttInstance, priority: Priority) -> list[int]:
    """Build a sequence by repeatedly scheduling the job of smallest priority."""
    p = instance.arrays[0]
    remaining = np.arange(instance.n)
    t = 0
    out = []
    while remaining.size:
        k = int(np.argmin(priority(t, remaining)))
        job = int(remaining[k])
        out.append(job)
        t += int(p[job])
        remaining = np.delete(remaining, k)
    return out


def mdd(instance: SmttInstance) -> list[int]:
    """Modified due date (Baker & Bertrand 1982): smallest ``max(t + p_j, d_j)``, ties by SPT."""
    p, d, _ = instance.arrays
    scale = float(p.max() + 1)

    def priority(t: int, jobs: IntArray) -> FloatArray:
        return np.maximum(t + p[jobs], d[jobs]) + p[jobs] / scale

    return dispatch(instance, priority)


def wmdd(instance: SmttInstance) -> list[int]:
    """Weighted MDD (Kanet & Li 2004): smallest ``max(p_j, d_j - t) / w_j``; zero weights last."""
    p, d, w = instance.arrays

    def priority(t: int, jobs: IntArray) -> FloatArray:
        wj = w[jobs].astype(np.float64)
        value = np.maximum(p[jobs], d[jobs] - t) / np.where(wj > 0, wj, 1.0)
        return np.where(wj > 0, value, np.inf)

    return dispatch(instance, priority)


def atc(instance: SmttInstance, k: float = 2.0) -> list[int]:
    """Apparent tardiness cost (Vepsalainen & Morton 1987) with look-ahead ``k``.

    Largest ``w_j / p_j * exp(-max(0, d_j - p_j - t) / (k * pbar))`` with
    ``pbar`` the mean processing time of the unscheduled jobs. Computed in
    logarithms so that a large slack cannot underflow to a tie.
    """
    p, d, w = instance.arrays

    def priority(t: int, jobs: IntArray) -> FloatArray:
        pbar = float(p[jobs].mean())
        with np.errstate(divide="ignore"):
            log_ratio = np.log(w[jobs] / p[jobs])
        slack = np.maximum(0, d[jobs] - p[jobs] - t)
        return -(log_ratio - slack / (k * pbar))  # type: ignore[no-any-return]

    return dispatch(instance, priority)


def atc_best(instance: SmttInstance, ks: tuple[float, ...] = (0.5, 1.0, 2.0, 3.0, 5.0)
             ) -> list[int]:
    """ATC with the best look-ahead ``k`` of a small grid (a common way to set ``k``)."""
    return min((atc(instance, k) for k in ks), key=lambda seq: cost(instance, seq))
