"""Generators: reproducible, in range, and parameters checked."""

from __future__ import annotations

import pytest

from optsched import InputError
from optsched.problems.smtt.generate import generate


def test_reproducible_and_independent_of_count() -> None:
    """Instance k depends only on (seed, k): the first of 3 equals the only one of 1."""
    three = generate(n=12, tf=0.4, rdd=0.8, weighted=True, count=3, seed=5)
    assert generate(n=12, tf=0.4, rdd=0.8, weighted=True, count=1, seed=5)[0] == three[0]
    assert three[0] != three[1]
    assert generate(n=12, tf=0.4, rdd=0.8, weighted=True, count=3, seed=5) == three


def test_values_follow_the_recipe() -> None:
    """p in 1..pmax, w in 1..wmax, d in [max(0, P(1-TF-RDD/2)), P(1-TF+RDD/2)] (rounded)."""
    for inst in generate(n=50, tf=0.2, rdd=0.6, weighted=True, count=5, seed=1, pmax=30,
                         wmax=4):
        total = inst.horizon
        assert all(1 <= p <= 30 for p in inst.processing_times)
        assert inst.weights is not None and all(1 <= w <= 4 for w in inst.weights)
        low, high = max(0, round(total * 0.5)), round(total * 1.1)
        assert all(low <= d <= high for d in inst.due_dates)
    unweighted = generate(n=5, seed=2)[0]
    assert unweighted.weights is None


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"n": 0}, "n"), ({"tf": 1.5}, "tf"), ({"rdd": -0.1}, "rdd"), ({"count": 0}, "count"),
    ({"seed": -1}, "seed"), ({"pmax": 0}, "pmax"), ({"n": 2.5}, "n"),
])
def test_out_of_range_parameters(kwargs: dict[str, object], field: str) -> None:
    """A parameter out of range names itself."""
    with pytest.raises(InputError, match=f"^{field}: "):
        generate(**kwargs)  # type: ignore[arg-type]
