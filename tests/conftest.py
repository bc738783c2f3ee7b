"""Shared fixtures: the solver fixtures run a test on every installed backend."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from optsched import SolveParams, solve
from optsched.errors import NotSupportedError
from optsched.family import Kind
from optsched.registry import FAMILIES, SOLVERS
from optsched.result import Result

REPO = Path(__file__).resolve().parent.parent
DATA_ENV = "OPTSCHED_DATA"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--data-dir", default=None,
                     help=f"benchmark data directory (default: ${DATA_ENV} or ../shared/data)")


def _installed(kind: Kind) -> list[str]:
    return [s.name for s in SOLVERS.values() if s.kind is kind and s.installed()]


EXACT = _installed(Kind.EXACT)
HEURISTICS = _installed(Kind.HEURISTIC)


@pytest.fixture(params=EXACT)
def solver(request: pytest.FixtureRequest) -> str:
    """Every installed exact solver, one test run each."""
    return str(request.param)


def solve_unless_declined(instance: Any, solver: str, params: SolveParams) -> Result | None:
    """``solve()``, or None when the solver declines a weighted instance.

    Some exact solvers handle only the unweighted problem (smtt-bb); they
    must say so with :class:`NotSupportedError` naming ``weights``, and only
    for an instance that has unequal weights. Any other refusal fails the test.
    """
    try:
        return solve(instance, solver, params)
    except NotSupportedError as exc:
        weights = getattr(instance, "weights", None)
        if exc.field != "weights" or weights is None or len(set(weights)) < 2:
            raise
        return None


@pytest.fixture(params=HEURISTICS)
def heuristic(request: pytest.FixtureRequest) -> str:
    """Every heuristic solver."""
    return str(request.param)


@pytest.fixture(params=list(FAMILIES))
def family_name(request: pytest.FixtureRequest) -> str:
    """Every registered family."""
    return str(request.param)


@pytest.fixture(scope="session")
def data_dir(request: pytest.FixtureRequest) -> Path:
    """The shared benchmark data; tests that need it skip when it is absent."""
    given = request.config.getoption("--data-dir") or os.environ.get(DATA_ENV)
    path = Path(given) if given else REPO.parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"benchmark data not found at {path} (set --data-dir or ${DATA_ENV})")
    return path
