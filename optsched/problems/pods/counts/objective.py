"""The lexicographic objective of the pods count models, digit by digit.

:attr:`PodsInstance.weights` is a mixed radix: unplaced pods per priority
level (highest first), then evictions, then moves. Each digit is a
:class:`Term`, a linear function of the per-class placed counts and the
per-class staying counts (the count of a running class on its own node), so
the objective, or any block of consecutive digits, is one weighted sum over
the :class:`~.structure.Counts` variables.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from optsched.compiled import IntArray

if TYPE_CHECKING:
    from optsched.problems.pods.counts.structure import Counts, PodClass
    from optsched.problems.pods.instance import PodsInstance


@dataclass(frozen=True)
class Term:
    """One digit of the lexicographic objective: ``weight * (constant + sum coef * var)``.

    ``placed[c]`` multiplies the pods of class ``c`` that are placed,
    ``stay[c]`` the ones that stay on their node; ``top`` is the largest value.
    """

    name: str
    weight: int
    constant: int
    placed: tuple[int, ...]
    stay: tuple[int, ...]
    top: int


def make_terms(instance: PodsInstance, classes: Sequence[PodClass]) -> tuple[Term, ...]:
    """The digits of :attr:`PodsInstance.weights` as functions of placed and staying counts.

    Level ``l`` counts its unplaced pods: the decided ones not placed plus the
    fixed ones (always placed, so none). Evictions are the running pods not
    placed; moves are the running pods placed but not on their own node.
    """
    levels, evict, move = instance.weights
    totals = Counter(g.priority for g in instance.groups for _ in g.pod_names)
    zeros = (0,) * len(classes)
    terms = []
    for i, (weight, priority) in enumerate(zip(levels, instance.priorities, strict=True)):
        mine = [k.level == i for k in classes]
        terms.append(Term(f"pending[{priority}]", weight,
                          sum(k.size for k, m in zip(classes, mine, strict=True) if m),
                          tuple(-int(m) for m in mine), zeros, totals[priority]))
    running = [k.home is not None for k in classes]
    movable = sum(g.replicas for g in instance.groups if g.node is not None and not g.protected)
    terms.append(Term("evicted", evict,
                      sum(k.size for k, r in zip(classes, running, strict=True) if r),
                      tuple(-int(r) for r in running), zeros, movable))
    terms.append(Term("moved", move, 0, tuple(int(r) for r in running),
                      tuple(-int(r) for r in running), movable))
    return tuple(terms)


def objective(counts: Counts, terms: tuple[Term, ...] | None = None
              ) -> tuple[int, list[int], list[int]]:
    """``(constant, per-class placed coefficient, per-class stay coefficient)``.

    Parameters
    ----------
    counts
        The count structure.
    terms
        A block of consecutive terms (default all); the weights are divided
        by the block's last weight, so the block's value is in units of its
        least significant digit.
    """
    block = counts.terms if terms is None else terms
    unit = block[-1].weight
    n_classes = len(counts.classes)
    constant = sum(t.weight // unit * t.constant for t in block)
    placed = [sum(t.weight // unit * t.placed[c] for t in block) for c in range(n_classes)]
    stay = [sum(t.weight // unit * t.stay[c] for t in block) for c in range(n_classes)]
    return constant, placed, stay


def value(counts: Counts, x: IntArray, terms: tuple[Term, ...] | None = None) -> int:
    """The objective (or a block's value, see :func:`objective`) of per-pair counts ``x``."""
    constant, placed, stay = objective(counts, terms)
    per_class = np.bincount(counts.pair_class, weights=x, minlength=len(counts.classes))
    total = constant + sum(int(k) * p for k, p in zip(per_class.astype(np.int64).tolist(),
                                                      placed, strict=True))
    for c, pair in counts.stay_pair.items():
        total += int(x[pair]) * stay[c]
    return total


def blocks(terms: tuple[Term, ...], limit: int) -> list[tuple[Term, ...]]:
    """Split the terms into consecutive blocks whose values stay at most ``limit``.

    A block's value is ``sum (weight / last weight) * term``, at most the
    product of ``top + 1`` over its terms minus one (mixed radix). A term
    wider than ``limit`` on its own gets a block of its own.
    """
    out: list[list[Term]] = []
    span = 1
    for term in terms:
        if out and span * (term.top + 1) <= limit + 1:
            out[-1].append(term)
            span *= term.top + 1
        else:
            out.append([term])
            span = term.top + 1
    return [tuple(b) for b in out]


def radix(ranges: Sequence[int], limit: int) -> list[int]:
    """Weights for digits (most significant first) that each change by at most ``ranges``.

    Each weight exceeds what all lower digits can change together (a mixed radix), so
    minimising the weighted sum minimises the digits lexicographically. While the
    weighted ranges together pass ``limit``, the least significant digits left get
    weight 0 (dropped); the weights of the digits kept are then exact for them.
    """
    kept = len(ranges)
    while kept:
        weights = [0] * len(ranges)
        unit = 1
        for d in reversed(range(kept)):
            weights[d] = unit
            unit *= ranges[d] + 1
        if unit - 1 <= limit:
            return weights
        kept -= 1
    return [0] * len(ranges)
