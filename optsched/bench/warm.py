"""Imported once by the fork server, so that each job's child starts with solvers loaded."""

from __future__ import annotations

import contextlib
import importlib

from optsched.registry import FAMILIES

for _family in FAMILIES.values():
    for _module in (_family.cp_model, _family.milp_model):
        if _module is not None:
            with contextlib.suppress(ImportError):
                importlib.import_module(_module)
    if _family.warm is not None:
        with contextlib.suppress(Exception):
            _family.warm()
