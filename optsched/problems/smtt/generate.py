"""Seeded generators of smtt instances (Potts & Van Wassenhove's classes)."""

from __future__ import annotations

import numpy as np

from optsched.errors import InputError
from optsched.family import GeneratorParam
from optsched.fields import excerpt
from optsched.problems.smtt.instance import SmttInstance

PARAMS = (
    GeneratorParam("n", int, 20, "number of jobs", low=1, high=1_000_000),
    GeneratorParam("tf", float, 0.6, "tardiness factor TF in [0, 1]", low=0, high=1),
    GeneratorParam("rdd", float, 0.6, "relative range of due dates RDD in [0, 1]", low=0, high=1),
    GeneratorParam("weighted", bool, False, "draw weights in 1..wmax", is_flag=True),
    GeneratorParam("pmax", int, 100, "processing times are drawn from 1..pmax", low=1,
                   high=1_000_000),
    GeneratorParam("wmax", int, 10, "weights are drawn from 1..wmax", low=1, high=1_000_000),
    GeneratorParam("count", int, 1, "number of instances", low=1, high=100_000),
    GeneratorParam("seed", int, 0, "random seed; instance k uses the seed sequence (seed, k)",
                   low=0, high=2**63 - 1),
)
MAX_JOBS = 10_000_000
"""Most jobs of all instances one call generates."""


def generate(n: int = 20, tf: float = 0.6, rdd: float = 0.6, weighted: bool = False,
             pmax: int = 100, wmax: int = 10, count: int = 1, seed: int = 0
             ) -> list[SmttInstance]:
    """Instances of the class (TF, RDD) of Potts & Van Wassenhove (1985).

    ``p_j ~ U{1..pmax}``, ``w_j ~ U{1..wmax}`` (weighted only) and
    ``d_j = max(0, U{P(1 - TF - RDD/2) .. P(1 - TF + RDD/2)})`` with ``P = sum p_j``,
    the recipe of the OR-Library sets and of Shang, T'kindt & Della Croce.
    Instance ``k`` depends only on ``(seed, k)``.
    """
    for field, value, low in (("n", n, 1), ("pmax", pmax, 1), ("wmax", wmax, 1),
                              ("count", count, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InputError(field, f"must be an integer >= {low}, got {excerpt(value)}")
    for field, ratio in (("tf", tf), ("rdd", rdd)):
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
            raise InputError(field, f"must be a number in [0, 1], got {excerpt(ratio)}")
    out = []
    for k in range(count):
        rng = np.random.default_rng([seed, k])
        p = rng.integers(1, pmax + 1, size=n)
        w = rng.integers(1, wmax + 1, size=n) if weighted else None
        total = int(p.sum())
        low = round(total * (1 - tf - rdd / 2))
        high = round(total * (1 - tf + rdd / 2))
        d = np.maximum(0, rng.integers(low, high + 1, size=n))
        kind = "w" if weighted else "u"
        out.append(SmttInstance(
            processing_times=tuple(int(x) for x in p),
            due_dates=tuple(int(x) for x in d),
            weights=None if w is None else tuple(int(x) for x in w),
            name=f"smtt-{kind}{n}-tf{tf:g}-rdd{rdd:g}-s{seed}-{k}"))
    return out


def samples() -> list[SmttInstance]:
    """Tiny instances for the conformance suite: two unweighted, two weighted, 6 jobs each."""
    return [*generate(n=6, tf=0.6, rdd=0.4, count=2, seed=11),
            *generate(n=6, tf=0.4, rdd=0.8, weighted=True, count=2, seed=12)]
