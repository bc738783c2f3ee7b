"""Shared fixtures and helpers; the solver fixtures live with each family's tests."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import pytest

from optsched.errors import NotSupportedError
from optsched.family import Kind
from optsched.registry import family_of, get_family, get_solver, solvers

REPO = Path(__file__).resolve().parent.parent
DATA_ENV = "OPTSCHED_DATA"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--data-dir", default=None,
                     help=f"benchmark data directory (default: ${DATA_ENV} or ../shared/data)")


def extra(module: str) -> Any:
    """Import an optional extra's module; skip without it, unless CI asks for the extras
    (``OPTSCHED_REQUIRE_EXTRAS=1``): then a missing one fails."""
    if os.environ.get("OPTSCHED_REQUIRE_EXTRAS"):
        return importlib.import_module(module)
    return pytest.importorskip(module)


def installed(family: str, kind: Kind) -> list[str]:
    """The installed solvers of one family of one kind."""
    return [s.name for s in solvers(get_family(family)).values()
            if s.kind is kind and s.installed()]


def declined(instance: object, solver: str) -> bool:
    """True when ``solver`` declares (its ``supports``) that it cannot take ``instance``."""
    spec = get_solver(solver, family_of(instance))
    if spec.supports is None:
        return False
    try:
        spec.supports(instance)
    except NotSupportedError:
        return True
    return False


@pytest.fixture(scope="session")
def data_dir(request: pytest.FixtureRequest) -> Path:
    """The shared benchmark data; tests that need it skip when it is absent."""
    given = request.config.getoption("--data-dir") or os.environ.get(DATA_ENV)
    path = Path(given) if given else REPO.parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"benchmark data not found at {path} (set --data-dir or ${DATA_ENV})")
    return path
