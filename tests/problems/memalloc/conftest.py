"""memalloc's solver fixture: a test taking ``solver`` runs once per installed exact solver."""

from __future__ import annotations

import pytest

from optsched.family import Kind

from ...conftest import installed


@pytest.fixture(params=installed("memalloc", Kind.EXACT))
def solver(request: pytest.FixtureRequest) -> str:
    """Every installed exact solver of memalloc (memalloc-bb, CP-SAT, the MILPs), one run each."""
    return str(request.param)
