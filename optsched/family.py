"""What a problem family provides: :class:`Family`, typed over its instance and solution.

A family is a package under ``optsched/problems/`` (or a package named by an
``optsched.families`` entry point) whose ``FAMILY`` attribute is a
:class:`Family`; the registry finds it, so adding one edits no central file.
``docs/adding-a-family.md`` walks through a small one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from optsched.deadline import Deadline
from optsched.errors import InputError
from optsched.fields import excerpt
from optsched.options import NONE, OptionSet
from optsched.params import SolveParams
from optsched.result import Result, Solution

if TYPE_CHECKING:
    from optsched.backends.cpsat import CpFormulation
    from optsched.backends.milp import MilpFormulation


class Instance(Protocol):
    """An instance of any family: a frozen, validated dataclass."""

    @property
    def name(self) -> str:
        """The instance's name (used in results and file names)."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON fields of the instance, without ``family`` and ``format``."""
        ...


I = TypeVar("I", bound=Instance)  # noqa: E741 - the instance type, as in the docs
S = TypeVar("S", bound=Solution)
I_in = TypeVar("I_in", bound=Instance, contravariant=True)
S_in = TypeVar("S_in", bound=Solution, contravariant=True)
I_out = TypeVar("I_out", bound=Instance, covariant=True)
S_out = TypeVar("S_out", bound=Solution, covariant=True)
F_out = TypeVar("F_out", covariant=True)
F = TypeVar("F")


class Kind(StrEnum):
    """Whether a solver proves optimality (``exact``) or only finds solutions."""

    EXACT = "exact"
    HEURISTIC = "heuristic"


@dataclass(frozen=True)
class Evaluation:
    """What a family's independent checker found.

    ``objective`` is None when the solution is too broken to price.
    """

    objective: int | float | None
    violations: tuple[str, ...] = ()
    metrics: Mapping[str, Any] = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        """True when the checker found no violation."""
        return not self.violations


class ReadInstance(Protocol[I_out]):
    """Reads an instance's JSON object (its ``family`` and ``format`` already checked)."""

    def __call__(self, obj: Mapping[str, Any], /) -> I_out:
        """Return the validated instance; bad input raises :class:`InstanceError`."""


class ReadSolution(Protocol[S_out]):
    """Reads a solution's JSON value."""

    def __call__(self, obj: object, /) -> S_out:
        """Return the solution; bad input raises :class:`InputError` naming the field."""


class Check(Protocol[I_in, S_in]):
    """The family's independent checker, shared by no solver."""

    def __call__(self, instance: I_in, solution: S_in, /) -> Evaluation:
        """Recompute the objective and list every violation."""


class LowerBound(Protocol[I_in]):
    """A cheap valid lower bound of the objective (it gives heuristics a gap)."""

    def __call__(self, instance: I_in, /) -> int | float:
        """Return the bound."""


class NativeRun(Protocol[I_in]):
    """A family's own algorithm."""

    def __call__(self, instance: I_in, params: SolveParams, deadline: Deadline, /
                 ) -> Result:
        """Solve: ``params.options`` holds every declared option (defaults filled in).

        The result's objective is the solver's claim; it may start from
        ``params.hint`` (a verified solution) and must end soon once
        ``deadline`` expires (a stop request expires it too).
        """


class Choose(Protocol[I_in]):
    """The family's pick for ``solver="auto"``, from what it knows of the instance."""

    def __call__(self, instance: I_in, params: SolveParams, /) -> tuple[str, str]:
        """Return the solver's name and the reason, in a few words."""


class Supports(Protocol[I_in]):
    """A solver's refusal of an instance it cannot solve, made before any work."""

    def __call__(self, instance: I_in, /) -> None:
        """Raise :class:`NotSupportedError` naming the field, or return."""


class Build(Protocol[I_in, F_out]):
    """Builds a formulation of an instance for a backend."""

    def __call__(self, instance: I_in, params: SolveParams, deadline: Deadline, /
                 ) -> F_out:
        """Return the formulation; building counts against ``deadline``."""


class Generate(Protocol[I]):
    """A seeded instance generator."""

    def __call__(self, *args: Any, **params: Any) -> list[I]:
        """Return the instances for the keyword parameters of its :class:`GeneratorParam`."""


@dataclass(frozen=True)
class NativeSolver(Generic[I]):
    """A heuristic or exact algorithm a family implements itself."""

    run: NativeRun[I]
    kind: Kind
    summary: str
    options: OptionSet = NONE
    supports: Supports[I] | None = None
    """Refuses, before any work, an instance the solver cannot solve (e.g. smtt-bb and
    weights); the conformance suite accepts a refusal only when this gives it."""
    load: Callable[[], object] | None = None
    """Imports the modules the solver runs when they are heavy (pods-lns: its CP-SAT
    models), for a caller to do before a time limit starts; None: nothing worth it."""


@dataclass(frozen=True)
class Model(Generic[I, F]):
    """A formulation for a backend: its build function, loaded on first use, and options.

    ``load`` imports the module that builds it, so that the modeling library
    is imported only when a solve asks for it.
    """

    load: Callable[[], Build[I, F]]
    options: OptionSet = NONE
    supports: Supports[I] | None = None
    """Refuses, before any work, an instance the formulation cannot be built for in
    reasonable memory (checked by ``solve()`` for the backends that run it)."""


@dataclass(frozen=True)
class GeneratorParam:
    """One parameter of a family's instance generator (becomes a CLI option).

    ``low`` and ``high`` bound a number (inclusive); :meth:`Generator.check`
    applies them before anything is generated.
    """

    name: str
    type: type
    default: Any
    help: str
    is_flag: bool = False
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Generator(Generic[I]):
    """A seeded instance generator: ``make(**params) -> list of instances``."""

    make: Generate[I]
    params: tuple[GeneratorParam, ...]
    summary: str = ""
    max_items: int | None = None
    """Most items (jobs, pods) one call may generate in all, when ``size`` says how many."""
    size: Callable[[Mapping[str, Any]], int] | None = None
    """The number of items the parameters ask for (e.g. jobs times instances)."""

    def check(self, values: Mapping[str, Any]) -> None:
        """Refuse unknown parameters, wrong types and values out of bounds, before any work."""
        known = {p.name: p for p in self.params}
        for key, value in values.items():
            param = known.get(key)
            if param is None:
                raise InputError(key, f"is not a parameter of this generator (known: "
                                      f"{', '.join(known)})")
            if param.type is bool:
                if not isinstance(value, bool):
                    raise InputError(key, f"must be true or false, got {excerpt(value)}")
                continue
            if param.type is str:
                if not isinstance(value, str):
                    raise InputError(key, f"must be a string, got {excerpt(value)}")
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or (
                    param.type is int and not isinstance(value, int)) or not math.isfinite(
                    value):
                raise InputError(key, f"must be a{'n integer' if param.type is int else ' number'}"
                                      f", got {excerpt(value)}")
            if (param.low is not None and value < param.low) or (
                    param.high is not None and value > param.high):
                raise InputError(key, f"must be {_range(param.low, param.high)}, "
                                      f"got {excerpt(value)}")
        if self.size is not None and self.max_items is not None:
            full = {p.name: p.default for p in self.params} | dict(values)
            if self.size(full) > self.max_items:
                raise InputError("count", f"the parameters ask for {self.size(full)} items in "
                                          f"all; one call makes at most {self.max_items}")


@dataclass(frozen=True)
class InstanceOptions(Generic[I]):
    """Settings of the instance that a solve may change (``-m key=value``, e.g. a capacity).

    ``apply`` returns the instance with the checked values; it may raise
    :class:`InputError` naming ``model.<key>`` (the value does not fit the instance).
    """

    options: OptionSet
    apply: Callable[[I, Mapping[str, Any]], I]


@dataclass(frozen=True)
class OutsideFormat(Generic[I]):
    """A field's own file format the family reads (e.g. OR-Library), recognised by path."""

    name: str
    claims: Callable[[Path], bool]
    read: Callable[[Path], list[I]]
    example: Callable[[], Mapping[str, str]] | None = None
    """Small valid files of the format (file name -> text), the first the one to read: the
    seeds of the fuzz suite that every reader must pass."""


@dataclass(frozen=True)
class InstanceKind:
    """A further kind of instance a family takes, with its own types, hint and default.

    memalloc's second kind is the scratchpad schedule (operators, spills and
    reloads) beside its buffers. The family's functions (checker, bound,
    readers) take every kind; a solver that cannot take a kind refuses it by
    its ``supports``, before any work.
    """

    name: str
    instance_type: type[Any]
    solution_type: type[Any]
    hint_solver: str
    """The heuristic whose solution is the hint and fallback of exact solvers on this kind."""
    default_solver: str


@dataclass(frozen=True)
class Family(Generic[I, S]):
    """Everything optsched needs to know about one problem family.

    The registry checks the entry when it finds the family: the default and
    hint solvers exist, the hint options fit the hint solver, and no native
    solver takes a backend's name. ``optsched`` exports ``instance_type`` and
    ``solution_type`` under their class names.
    """

    name: str
    summary: str
    instance_type: type[I]
    solution_type: type[S]
    format: int
    read_instance: ReadInstance[I]
    read_solution: ReadSolution[S]
    evaluate: Check[I, S]
    lower_bound: LowerBound[I]
    solvers: Mapping[str, NativeSolver[I]]
    hint_solver: str
    """The heuristic whose solution is the hint, upper bound and fallback of exact solvers."""
    default_solver: str
    samples: Callable[[], Sequence[I]]
    """Tiny instances that every solver of the family solves within seconds: the
    conformance suite runs each solver on them, and exact solvers must agree."""
    hint_options: Mapping[str, Any] = field(default_factory=dict)
    """Options of ``hint_solver`` when it makes a hint (e.g. a short search)."""
    hint_seconds: Callable[[I], float] | None = None
    """Expected seconds of the hint's answer on an instance (pods: scale-fit and its check,
    then the greedy rules best-greedy runs first). ``solve()`` gives the hint that time, with
    a margin, up to half the limit (:func:`optsched.solve.hint_share`); without it the hint
    has a tenth."""
    trivial: Callable[[I], S] | None = None
    """A solution that needs no search (smtt: the jobs in index order; pods: the cluster as
    it is), the answer of last resort when nothing was found in time."""
    choose: Choose[I] | None = None
    """Picks the solver of ``solver="auto"`` for one instance; ``default_solver`` if None."""
    integral: bool = True
    cp: Model[I, CpFormulation] | None = None
    milp: Model[I, MilpFormulation] | None = None
    generator: Generator[I] | None = None
    variants: Mapping[str, Generator[I]] = field(default_factory=dict)
    """Further generators, called ``<family>-<variant>`` in suites and on the command line."""
    outside_formats: Sequence[OutsideFormat[I]] = ()
    compare: Callable[[I, S], Mapping[str, Any]] | None = None
    """Measures a verified solution against the field's own baselines (``vs_<name>`` keys
    say ``better``, ``equal`` or ``worse``); benchmark rows and ``solve --compare`` carry it."""
    warm: Callable[[], None] | None = None
    """Loads the family's compiled code (numba) ahead of time; the benchmark fork server
    calls it once, so that no job's time limit pays for it."""
    headline: Callable[[Mapping[str, Any]], str] | None = None
    """A few words from the checker's metrics of a solution, for the command line."""
    export: Callable[[I, S], str] | None = None
    """A solution as the field's own tools take it (``solve --export``): pods, the Kubernetes
    Eviction and Binding objects that apply it; memalloc, MiniMalloc's CSV with offsets."""
    read_export: Callable[[I, str], S] | None = None
    """Reads that text back into a solution (``validate INSTANCE EXPORTED``)."""
    export_suffixes: tuple[str, ...] = (".txt",)
    """File suffixes of the exported text, the first the one written."""
    instance_options: InstanceOptions[I] | None = None
    """Settings of the instance given with the solve (``-m``, beside the formulation's options)."""
    plot: Callable[[I, S, Path], None] | None = None
    """Draws a solution to an image file (``optsched plot``; needs the ``plots`` extra)."""
    kinds: tuple[InstanceKind, ...] = ()
    """Further kinds of instance (the first kind is ``instance_type``'s)."""

    @property
    def instance_types(self) -> tuple[type[Any], ...]:
        """The types of every kind of instance of the family."""
        return (self.instance_type, *(k.instance_type for k in self.kinds))

    def kind_of(self, instance: Any) -> InstanceKind | None:
        """The further kind ``instance`` is of, or None for the family's first kind."""
        return next((k for k in self.kinds if isinstance(instance, k.instance_type)), None)

    def hint_of(self, instance: Any) -> tuple[str, Mapping[str, Any]]:
        """The hint solver for ``instance``'s kind and its options."""
        kind = self.kind_of(instance)
        return (self.hint_solver, self.hint_options) if kind is None else (kind.hint_solver, {})

    def default_of(self, instance: Any) -> str:
        """The default solver for ``instance``'s kind (``auto`` without ``choose``)."""
        kind = self.kind_of(instance)
        return self.default_solver if kind is None else kind.default_solver

    def solution_type_of(self, instance: Any) -> type[Any]:
        """The solution type of ``instance``'s kind."""
        kind = self.kind_of(instance)
        return self.solution_type if kind is None else kind.solution_type


def _range(low: float | None, high: float | None) -> str:
    def num(value: float) -> str:
        return str(int(value)) if float(value).is_integer() else str(value)

    if low is not None and high is not None:
        return f"in [{num(low)}, {num(high)}]"
    return f">= {num(low)}" if low is not None else f"<= {num(high)}" if high is not None else ""
