"""The families optsched finds, and each family's solvers, keyed by (family, name).

Families are discovered, not listed: every package under ``optsched/problems/``
whose ``FAMILY`` is a :class:`~optsched.family.Family`, then every entry point
of the group ``optsched.families``. Each family's solver table holds the
backends whose formulation it defines and its own native solvers, so the same
solver name in two families never collides. Every entry is checked when it is
found; a family that breaks the contract raises :class:`RegistryError`. Until
something asks for every family, a question about one built-in family's instance
(:func:`family_of`, :func:`solvers`) imports that family's package alone.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from optsched.backends import BACKENDS, INSTALL, Backend
from optsched.backends.native import timed
from optsched.deadline import Deadline, OutOfTimeError
from optsched.errors import (
    InputError,
    NotSupportedError,
    OptschedError,
    SolverUnavailableError,
    UnknownSolverError,
)
from optsched.family import Family, Generator, Kind, NativeSolver
from optsched.fields import excerpt
from optsched.options import NONE, OptionSet
from optsched.params import SolveParams
from optsched.result import Result, Status

ENTRY_POINTS = "optsched.families"
AUTO = "auto"
NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
"""Family and solver names: lower case words joined by ``-`` or ``_``."""

AnyFamily = Family[Any, Any]


class RegistryError(OptschedError):
    """A family breaks the contract of :class:`~optsched.family.Family` (a developer's error)."""


@dataclass(frozen=True)
class SolverSpec:
    """One solver of one family: a backend on the family's formulation, or a native solver."""

    family: str
    name: str
    kind: Kind
    summary: str
    run: Callable[[Any, SolveParams, Deadline], Result]
    options: Callable[[], OptionSet]
    """The solver's options (``-o``), loaded on first use for backends."""
    model_options: OptionSet = NONE
    """The formulation's options (``-m``); native solvers have none."""
    supports: Callable[[Any], None] | None = None
    packages: tuple[str, ...] = ()
    install: str = ""
    load: Callable[[], object] | None = None
    """Imports what the solver runs (a backend: its formulation's module and modeling
    library), for a caller to do before a time limit starts; None: nothing to import."""

    def installed(self) -> bool:
        """True when every package the solver needs can be imported."""
        return all(importlib.util.find_spec(p) is not None for p in self.packages)

    @property
    def label(self) -> str:
        """``family/name``, as messages name it."""
        return f"{self.family}/{self.name}"


@dataclass(frozen=True)
class Registry:
    """The checked tables: families by name and, per family, its solvers by name."""

    families: Mapping[str, AnyFamily]
    solvers: Mapping[str, dict[str, SolverSpec]]
    sources: Mapping[str, str]


@cache
def registry() -> Registry:
    """Find and check every family (once per process; :func:`reset` forgets them)."""
    found: dict[str, AnyFamily] = {}
    sources: dict[str, str] = {}
    tables: dict[str, dict[str, SolverSpec]] = {}
    for source, family, table in _discover():
        if family.name in found:
            raise RegistryError(f"two families are called {excerpt(family.name)}: "
                                f"{sources[family.name]} and {source}")
        for other in found.values():
            for mine in family.instance_types:
                for theirs in other.instance_types:
                    if issubclass(mine, theirs) or issubclass(theirs, mine):
                        raise RegistryError(f"{family.name} and {other.name} share the "
                                            f"instance type {mine.__name__}")
        found[family.name] = family
        sources[family.name] = source
        tables[family.name] = table
    taken: dict[str, str] = {}
    for family in found.values():
        for generator in _generator_names(family):
            if generator in taken:
                raise RegistryError(f"the generator name {excerpt(generator)} of {family.name} is "
                                    f"also one of {taken[generator]}")
            taken[generator] = family.name
    return Registry(found, tables, sources)


def reset() -> None:
    """Forget the families found, so that the next use discovers them again (tests)."""
    registry.cache_clear()
    _package.cache_clear()


def entry_points(group: str) -> Any:
    """The installed entry points of ``group``.

    importlib.metadata is imported here: 40 ms of every start that never asks for them
    (the plugin script's).
    """
    from importlib.metadata import entry_points as installed

    return installed(group=group)


def _discover() -> list[tuple[str, AnyFamily, dict[str, SolverSpec]]]:
    import optsched.problems as problems

    out = []
    for info in sorted(pkgutil.iter_modules(problems.__path__), key=lambda i: i.name):
        if info.ispkg and not info.name.startswith("_"):
            out.append((f"optsched.problems.{info.name}", *_package(info.name)))
    for point in entry_points(group=ENTRY_POINTS):
        source = f"entry point {point.name} = {point.value}"
        try:
            family = point.load()
        except Exception as exc:
            raise RegistryError(f"{source} does not load: {type(exc).__name__}: {exc}"
                                ) from exc
        _check_family(family, source)
        out.append((source, family, _table(family)))
    return out


@cache
def _package(name: str) -> tuple[AnyFamily, dict[str, SolverSpec]]:
    """The family of the package ``optsched.problems.<name>``, checked, and its solvers."""
    module = f"optsched.problems.{name}"
    family = getattr(importlib.import_module(module), "FAMILY", None)
    if family is None:
        raise RegistryError(f"{module} has no FAMILY (a family package defines one)")
    if getattr(family, "name", None) != name:
        raise RegistryError(f"{module}: FAMILY.name must be the folder's name "
                            f"{excerpt(name)}, got {excerpt(getattr(family, 'name', None))}")
    _check_family(family, module)
    return family, _table(family)


def _own(kind: type) -> tuple[AnyFamily, dict[str, SolverSpec]] | None:
    """The family package that defines ``kind``, before every family is found, else None.

    A process that solves one family (the plugin's script, at every decision) then
    imports only it: the others took 0.1-0.2 s to import. :func:`registry` still checks
    every family against the others whenever it is asked for.
    """
    if registry.cache_info().currsize:
        return None
    parts = kind.__module__.split(".")
    if len(parts) < 3 or parts[:2] != ["optsched", "problems"] or parts[2].startswith("_"):
        return None
    return _package(parts[2])


def _check_family(family: object, source: str) -> None:
    if not isinstance(family, Family):
        raise RegistryError(f"{source}: FAMILY must be an optsched.family.Family, "
                            f"got {type(family).__name__}")
    if not NAME.match(family.name):
        raise RegistryError(f"{source}: family name {excerpt(family.name)} must be lower-case "
                            "words "
                            "joined by - or _")
    backends = {b.name for b in BACKENDS}
    for name, native in family.solvers.items():
        if name in backends or name == AUTO:
            raise RegistryError(f"{family.name}: the native solver {excerpt(name)} has the name "
                                "of a "
                                "backend; name it within the family (e.g. "
                                f"{family.name}-{name})")
        if not NAME.match(name):
            raise RegistryError(f"{family.name}: solver name {excerpt(name)} must be lower-case "
                                "words "
                                "joined by - or _")
        if not isinstance(native, NativeSolver):
            raise RegistryError(f"{family.name}: solver {excerpt(name)} must be a NativeSolver")
    hint = family.solvers.get(family.hint_solver)
    if hint is None or hint.kind is not Kind.HEURISTIC:
        raise RegistryError(f"{family.name}: hint_solver {excerpt(family.hint_solver)} must be "
                            "one "
                            f"of its heuristics ({', '.join(family.solvers)})")
    try:
        hint.options.check(family.hint_options, "hint_options", family.hint_solver)
    except InputError as exc:
        raise RegistryError(f"{family.name}: {exc}") from None
    settings = family.instance_options
    if settings is not None:
        for model in (family.cp, family.milp):
            shared = [o.name for o in settings.options.options
                      if model is not None and model.options.get(o.name)]
            if shared:
                raise RegistryError(f"{family.name}: {excerpt(shared[0])} is both an instance "
                                    "option and a formulation option")
    usable = [*family.solvers, *(b.name for b in BACKENDS if b.formulation(family))]
    for kind in family.kinds:
        hint = family.solvers.get(kind.hint_solver)
        if hint is None or hint.kind is not Kind.HEURISTIC:
            raise RegistryError(f"{family.name}: the hint_solver {excerpt(kind.hint_solver)} of "
                                f"its {kind.name} kind must be one of its heuristics")
    for default in (family.default_solver, *(k.default_solver for k in family.kinds)):
        if default not in usable:
            raise RegistryError(f"{family.name}: default_solver {excerpt(default)} is not "
                                f"one of its solvers ({', '.join(usable)})")


def _generator_names(family: AnyFamily) -> list[str]:
    named = [family.name] if family.generator is not None else []
    return [*named, *(f"{family.name}-{k}" for k in family.variants)]


def _table(family: AnyFamily) -> dict[str, SolverSpec]:
    table = {b.name: _backend(family, b) for b in BACKENDS if b.formulation(family)}
    table.update({name: _native(family, name, native)
                  for name, native in family.solvers.items()})
    return table


def _backend(family: AnyFamily, backend: Backend) -> SolverSpec:
    model = backend.formulation(family)
    assert model is not None

    def run(instance: Any, params: SolveParams, deadline: Deadline) -> Result:
        params = replace(params, model=model.options.resolve(params.model))
        try:
            form = model.load()(instance, params, deadline)
        except OutOfTimeError:
            return Result(status=Status.NO_SOLUTION, solver=backend.name,
                          stats={"build": "the limit came before the model was built"})
        return backend.run(form, backend.name, params, deadline)

    return SolverSpec(family.name, backend.name, Kind.EXACT, backend.summary, run,
                      backend.options, model.options, model.supports, backend.packages,
                      INSTALL, model.load)


def _native(family: AnyFamily, name: str, native: NativeSolver[Any]) -> SolverSpec:
    def run(instance: Any, params: SolveParams, deadline: Deadline) -> Result:
        params = replace(params, options=native.options.resolve(params.options))
        return timed(native.run, name, instance, params, deadline)

    return SolverSpec(family.name, name, native.kind, native.summary, run,
                      lambda: native.options, NONE, native.supports, load=native.load)


def families() -> Mapping[str, AnyFamily]:
    """Every family found, by name."""
    return registry().families


def solvers(family: AnyFamily | str) -> dict[str, SolverSpec]:
    """The solver table of ``family``: backends first, then its native solvers."""
    if not isinstance(family, str):
        own = _own(family.instance_type)
        if own is not None and own[0] is family:
            return own[1]
    return registry().solvers[family if isinstance(family, str) else family.name]


def family_of(instance: object) -> AnyFamily:
    """The family whose instance type ``instance`` is (its own package's first)."""
    own = _own(type(instance))
    if own is not None and isinstance(instance, own[0].instance_types):
        return own[0]
    for family in families().values():
        if isinstance(instance, family.instance_types):
            return family
    raise InputError("instance", f"{type(instance).__name__} is not an instance of any family "
                                 f"({', '.join(families())})")


def get_family(name: str) -> AnyFamily:
    """The family called ``name``; the error lists the known ones."""
    try:
        return families()[name]
    except KeyError:
        raise InputError("family", f"unknown family {excerpt(name)} (known: "
                                   f"{', '.join(families())})"
                         ) from None


def get_solver(name: str, family: AnyFamily) -> SolverSpec:
    """The solver ``name`` of ``family`` (its default for ``"auto"``), checked to be usable."""
    table = solvers(family)
    spec = table.get(family.default_solver if name == AUTO else name)
    if spec is None:
        choices = f"choose from {AUTO}, {', '.join(table)}"
        if name in {b.name for b in BACKENDS}:
            raise NotSupportedError("solver", f"{family.name} has no formulation that {name} "
                                              f"runs ({choices})")
        elsewhere = [f for f, t in registry().solvers.items() if name in t]
        if elsewhere:
            raise NotSupportedError("solver", f"{excerpt(name)} does not solve {family.name}: "
                                              "it is a "
                                              f"solver of {', '.join(elsewhere)} ({choices})")
        raise UnknownSolverError("solver", f"unknown solver {excerpt(name)} ({choices})")
    if not spec.installed():
        raise SolverUnavailableError("solver", f"{excerpt(name)} needs "
                                               f"{', '.join(spec.packages)}: "
                                               f"{spec.install}")
    return spec


def generators() -> dict[str, tuple[AnyFamily, Generator[Any]]]:
    """Every instance generator by name: the family's own, then ``<family>-<variant>``."""
    out: dict[str, tuple[AnyFamily, Generator[Any]]] = {}
    for family in families().values():
        if family.generator is not None:
            out[family.name] = (family, family.generator)
        out.update({f"{family.name}-{k}": (family, g) for k, g in family.variants.items()})
    return out


__all__ = ["AUTO", "RegistryError", "SolverSpec", "families",
           "family_of", "generators", "get_family", "get_solver", "registry", "reset",
           "solvers"]
