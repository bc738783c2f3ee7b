"""Cheap lower bounds on the total weighted tardiness.

Each is valid for every sequence; :func:`lower_bound` returns the largest.
They give heuristics a gap and let a solve that reaches one stop as optimal.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from optsched.problems.smtt.instance import SmttInstance


def own_lateness_bound(instance: SmttInstance) -> int:
    """``sum_j w_j max(0, p_j - d_j)``: a job cannot finish before its own length."""
    p, d, w = instance.arrays
    return int((w * np.maximum(0, p - d)).sum())


def sorted_pairing_bound(instance: SmttInstance) -> int:
    """``w_min * sum_k max(0, C_k - d_(k))`` with SPT completions and sorted due dates.

    In any sequence the k-th smallest completion time is at least the SPT
    completion time ``C_k``; pairing sorted completions with sorted due dates
    minimises a sum of ``max(0, C - d)`` terms (both are convex and sorted).
    """
    p, d, w = instance.arrays
    completions = np.cumsum(np.sort(p))
    return int(w.min() * np.maximum(0, completions - np.sort(d)).sum())


def weighted_completion_bound(instance: SmttInstance) -> int:
    """``min sum_j w_j C_j - sum_j w_j d_j``, the minimum taken by WSPT (Smith's rule).

    Tardiness is at least lateness, so ``sum w_j T_j >= sum w_j C_j - sum w_j d_j``.
    """
    p, d, w = instance.arrays
    order = wspt_order(instance)
    completions = np.cumsum(p[order])
    return max(0, int((w[order] * completions).sum() - (w * d).sum()))


def wspt_order(instance: SmttInstance) -> list[int]:
    """Jobs by non-decreasing ``p_j / w_j`` (exact ratios), zero weights last, ties by index.

    Sorted by the ratios as doubles (rounding keeps their order, equal ratios
    round alike), then every neighbouring pair is checked in exact integers;
    only if one is out of order are the ratios sorted as fractions.
    """
    p, _, w = instance.arrays
    n = instance.n
    weighted = w > 0
    ratio = np.where(weighted, p / np.where(weighted, w, 1), np.inf)
    order = np.lexsort((np.arange(n), ratio))
    first, then = order[:-1], order[1:]
    both = weighted[first] & weighted[then]
    if n < 2 or not both.any() or (int(p.max()) * int(w.max()) < 2**62 and bool(
            np.all(p[first[both]] * w[then[both]] <= p[then[both]] * w[first[both]]))):
        return [int(j) for j in order]
    pp, ww = instance.processing_times, instance.w
    return sorted(range(n), key=lambda j: (0, Fraction(pp[j], ww[j]), j) if ww[j]
                  else (1, Fraction(0), j))


def lower_bound(instance: SmttInstance) -> int:
    """The largest of the bounds in this module."""
    return max(own_lateness_bound(instance), sorted_pairing_bound(instance),
               weighted_completion_bound(instance))
