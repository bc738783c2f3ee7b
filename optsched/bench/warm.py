"""Imported once by the fork server, so that each job's child starts with solvers loaded."""

from __future__ import annotations

import contextlib

from optsched.registry import families

for _family in families().values():
    for _model in (_family.cp, _family.milp):
        if _model is not None:
            with contextlib.suppress(ImportError):
                _model.load()
    if _family.warm is not None:
        with contextlib.suppress(Exception):
            _family.warm()
