"""The contract of ``tests/conformance.py`` for every family found and each of its solvers."""

from __future__ import annotations

import pytest

from optsched.registry import families

from . import conformance as c

FAMILIES = list(families().values())
PAIRS = c.pairs(FAMILIES)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_family_entry(family: c.AnyFamily) -> None:
    c.check_entry(family)
    c.check_round_trip(family)


@pytest.mark.parametrize(("family", "solver"), PAIRS, ids=[f"{f}-{s}" for f, s in PAIRS])
def test_solver_contract(family: str, solver: str) -> None:
    c.check_solver(families()[family], solver)


@pytest.mark.parametrize(("family", "solver"), PAIRS, ids=[f"{f}-{s}" for f, s in PAIRS])
def test_options_are_checked(family: str, solver: str) -> None:
    c.check_options_refused(families()[family], solver)
