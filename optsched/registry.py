"""The two name tables: ``FAMILIES`` and ``SOLVERS``.

Family and solver names appear here (and in each family's own table of
native solvers) and nowhere else.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from optsched.backends import cpsat, heuristic, milp
from optsched.deadline import Deadline
from optsched.errors import (
    InputError,
    NotSupportedError,
    SolverUnavailableError,
    UnknownSolverError,
)
from optsched.family import Family, Generator, Kind
from optsched.params import SolveParams
from optsched.problems.pods import FAMILY as PODS
from optsched.problems.smtt import FAMILY as SMTT
from optsched.result import Result

FAMILIES: dict[str, Family] = {f.name: f for f in (SMTT, PODS)}

Run = Callable[[Family, Any, SolveParams, Deadline], Result]


@dataclass(frozen=True)
class SolverSpec:
    """One entry of the solver table."""

    name: str
    kind: Kind
    summary: str
    supports: Callable[[Family], bool]
    run: Run
    packages: tuple[str, ...] = ()
    install: str = ""

    def installed(self) -> bool:
        """True when every package the solver needs can be imported."""
        return all(importlib.util.find_spec(p) is not None for p in self.packages)

    def families(self) -> list[str]:
        """Names of the families this solver can solve."""
        return [name for name, fam in FAMILIES.items() if self.supports(fam)]


def _model_backend(attr: str, backend: Callable[..., Result], name: str) -> Run:
    def run(family: Family, instance: Any, params: SolveParams, deadline: Deadline) -> Result:
        module = importlib.import_module(getattr(family, attr))
        form = module.build(instance, params, deadline)
        return backend(form, name, params, deadline)

    return run


def _native(name: str) -> Run:
    def run(family: Family, instance: Any, params: SolveParams, deadline: Deadline) -> Result:
        return heuristic.run(family.solvers[name], name, instance, params, deadline)

    return run


def _backends() -> list[SolverSpec]:
    install = 'pip install "optsched" (it pins ortools, highspy and pulp)'
    return [
        SolverSpec("cpsat", Kind.EXACT, "OR-Tools CP-SAT on the family's CP model",
                   lambda f: f.cp_model is not None,
                   _model_backend("cp_model", cpsat.run, "cpsat"), ("ortools",), install),
        SolverSpec("highs", Kind.EXACT, "HiGHS (highspy) on the family's MILP model via PuLP",
                   lambda f: f.milp_model is not None,
                   _model_backend("milp_model", milp.run_highs, "highs"),
                   ("pulp", "highspy"), install),
        SolverSpec("cbc", Kind.EXACT, "CBC (bundled with PuLP) on the family's MILP model",
                   lambda f: f.milp_model is not None,
                   _model_backend("milp_model", milp.run_cbc, "cbc"), ("pulp",), install),
    ]


def _natives() -> list[SolverSpec]:
    specs: dict[str, SolverSpec] = {}
    for family in FAMILIES.values():
        for name, native in family.solvers.items():
            if name not in specs:
                specs[name] = SolverSpec(
                    name, native.kind, native.summary,
                    lambda f, name=name: name in f.solvers,  # type: ignore[misc]
                    _native(name))
    return list(specs.values())


SOLVERS: dict[str, SolverSpec] = {s.name: s for s in (*_backends(), *_natives())}
AUTO = "auto"


def family_of(instance: object) -> Family:
    """The family whose instance type ``instance`` is."""
    for family in FAMILIES.values():
        if isinstance(instance, family.instance_type):
            return family
    raise InputError("instance", f"{type(instance).__name__} is not an instance of any family "
                                 f"({', '.join(FAMILIES)})")


def generators() -> dict[str, tuple[Family, Generator]]:
    """Every instance generator by name: the family's own, then ``<family>-<variant>``."""
    out: dict[str, tuple[Family, Generator]] = {}
    for family in FAMILIES.values():
        if family.generator is not None:
            out[family.name] = (family, family.generator)
        out.update({f"{family.name}-{k}": (family, g) for k, g in family.variants.items()})
    return out


def get_family(name: str) -> Family:
    """The family called ``name``; the error lists the known ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise InputError("family", f"unknown family {name!r} (known: {', '.join(FAMILIES)})"
                         ) from None


def get_solver(name: str, family: Family) -> SolverSpec:
    """The solver ``name`` (or the family's default for ``"auto"``), checked to be usable."""
    if name == AUTO:
        name = family.default_solver
    spec = SOLVERS.get(name)
    if spec is None:
        raise UnknownSolverError("solver", f"unknown solver {name!r} (choose from {AUTO}, "
                                           f"{', '.join(SOLVERS)})")
    if not spec.supports(family):
        usable = [s.name for s in SOLVERS.values() if s.supports(family)]
        raise NotSupportedError("solver", f"{name!r} does not solve {family.name} "
                                          f"(choose from {', '.join(usable)})")
    if not spec.installed():
        raise SolverUnavailableError("solver", f"{name!r} needs {', '.join(spec.packages)}: "
                                               f"{spec.install}")
    return spec
