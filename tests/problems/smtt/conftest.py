"""smtt's solver fixture: a test taking ``solver`` runs once per installed exact smtt solver."""

from __future__ import annotations

import pytest

from optsched.family import Kind

from ...conftest import installed


@pytest.fixture(params=installed("smtt", Kind.EXACT))
def solver(request: pytest.FixtureRequest) -> str:
    """Every installed exact solver of smtt, one test run each."""
    return str(request.param)
