"""How to run a built model: the backends, each reached through a family's formulation.

A backend knows time limits, status mapping, bounds and how to stop its
solver; it knows no family. Its options are declared by its library
(:func:`.cpsat_options.options`, :func:`.highs.options`, :data:`.cbc_options.OPTIONS`),
which is imported only when a solve or a listing asks for them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from optsched.deadline import Deadline
from optsched.family import Family, Model
from optsched.options import OptionSet
from optsched.params import SolveParams
from optsched.result import Result

INSTALL = 'pip install "optsched" (it pins ortools, highspy and pulp)'


@dataclass(frozen=True)
class Backend:
    """A solver library that runs the formulation ``formulation(family)`` gives, if any."""

    name: str
    summary: str
    formulation: Callable[[Family[Any, Any]], Model[Any, Any] | None]
    run: Callable[[Any, str, SolveParams, Deadline], Result]
    options: Callable[[], OptionSet]
    packages: tuple[str, ...]

    def installed(self) -> bool:
        """True when every package the backend needs can be imported."""
        return all(importlib.util.find_spec(p) is not None for p in self.packages)


def _cpsat(form: Any, name: str, params: SolveParams, deadline: Deadline) -> Result:
    from optsched.backends import cpsat

    return cpsat.run(form, name, params, deadline)


def _cpsat_options() -> OptionSet:
    from optsched.backends import cpsat_options

    return cpsat_options.options()


def _highs(form: Any, name: str, params: SolveParams, deadline: Deadline) -> Result:
    from optsched.backends import highs

    return highs.run(form, name, params, deadline)


def _highs_options() -> OptionSet:
    from optsched.backends import highs

    return highs.options()


def _cbc(form: Any, name: str, params: SolveParams, deadline: Deadline) -> Result:
    from optsched.backends import cbc

    return cbc.run(form, name, params, deadline)


def _cbc_options() -> OptionSet:
    from optsched.backends import cbc_options

    return cbc_options.OPTIONS


BACKENDS = (
    Backend("cpsat", "OR-Tools CP-SAT on the family's CP model", lambda f: f.cp, _cpsat,
            _cpsat_options, ("ortools",)),
    Backend("highs", "HiGHS (highspy) on the family's MILP model via PuLP", lambda f: f.milp,
            _highs, _highs_options, ("pulp", "highspy")),
    Backend("cbc", "CBC (bundled with PuLP) on the family's MILP model, as a child process",
            lambda f: f.milp, _cbc, _cbc_options, ("pulp",)),
)
"""Every backend; a family offers those whose formulation it defines."""
