"""Seeded instances, and the tiny samples of the conformance suite."""

from __future__ import annotations

import random

from optsched.errors import InputError

from .instance import MakespanInstance


def generate(jobs: int = 10, machines: int = 3, count: int = 1, seed: int = 0
             ) -> list[MakespanInstance]:
    """``count`` instances of ``jobs`` jobs with times drawn from 1..20."""
    for field, value in (("jobs", jobs), ("machines", machines), ("count", count)):
        if value < 1:
            raise InputError(field, f"must be an integer >= 1, got {value}")
    out = []
    for k in range(count):
        rng = random.Random(f"{seed}-{k}")
        out.append(MakespanInstance(tuple(rng.randint(1, 20) for _ in range(jobs)), machines,
                                    name=f"makespan-j{jobs}-m{machines}-s{seed}-{k}"))
    return out


def samples() -> list[MakespanInstance]:
    """Two tiny instances.

    ``(3, 3, 2, 2, 2)`` on 2 machines: 12 units of work, so at least 6, and
    3 + 3 | 2 + 2 + 2 reaches it. LPT puts 3, 3 apart, then 2 with each, then
    the last 2: 7. ``(5, 4, 3)`` on 3 machines: the longest job, 5.
    """
    return [MakespanInstance((3, 3, 2, 2, 2), 2, name="even"),
            MakespanInstance((5, 4, 3), 3, name="spread")]
