"""The benchmark fork server's warm-up of smtt's compiled solvers."""

from __future__ import annotations

from optsched.problems.smtt import FAMILY
from optsched.problems.smtt.solvers import warm


def test_warm_runs_the_compiled_solvers() -> None:
    """It solves two tiny instances without error and is what the family offers."""
    warm()
    assert FAMILY.warm is warm
