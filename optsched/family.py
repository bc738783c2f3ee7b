"""What a problem family provides: the entry type of ``registry.FAMILIES``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from optsched.deadline import Deadline
from optsched.params import SolveParams
from optsched.result import Result, Solution


class Instance(Protocol):
    """An instance of any family: a frozen, validated dataclass."""

    @property
    def name(self) -> str:
        """The instance's name (used in results and file names)."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON fields of the instance, without ``family`` and ``format``."""
        ...


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


NativeRun = Callable[[Any, SolveParams, Deadline], Result]
"""A family's own algorithm: (instance, params, deadline) -> Result (objective as claimed)."""


@dataclass(frozen=True)
class NativeSolver:
    """A heuristic or exact algorithm a family implements itself."""

    run: NativeRun
    kind: Kind
    summary: str


@dataclass(frozen=True)
class GeneratorParam:
    """One parameter of a family's instance generator (becomes a CLI option)."""

    name: str
    type: type
    default: Any
    help: str
    is_flag: bool = False


@dataclass(frozen=True)
class Generator:
    """A seeded instance generator: ``make(**params) -> list of instances``."""

    make: Callable[..., list[Any]]
    params: tuple[GeneratorParam, ...]
    summary: str = ""


@dataclass(frozen=True)
class OutsideFormat:
    """A field's own file format the family reads (e.g. OR-Library)."""

    name: str
    claims: Callable[[Path], bool]
    read: Callable[[Path], list[Any]]


@dataclass(frozen=True)
class Family:
    """Everything optsched needs to know about one problem family.

    ``cp_model`` and ``milp_model`` name modules with a ``build`` function;
    they are imported only when used, so a missing solver package costs
    nothing until it is asked for.
    """

    name: str
    summary: str
    instance_type: type
    format: int
    read_instance: Callable[[Mapping[str, Any]], Any]
    read_solution: Callable[[Any], Solution]
    evaluate: Callable[[Any, Any], Evaluation]
    lower_bound: Callable[[Any], int | float]
    solvers: Mapping[str, NativeSolver]
    hint_solver: str
    default_solver: str
    hint_options: Mapping[str, Any] = field(default_factory=dict)
    """Options of ``hint_solver`` when it makes a hint (e.g. a short search)."""
    integral: bool = True
    cp_model: str | None = None
    milp_model: str | None = None
    generator: Generator | None = None
    variants: Mapping[str, Generator] = field(default_factory=dict)
    """Further generators, called ``<family>-<variant>`` in suites and on the command line."""
    outside_formats: Sequence[OutsideFormat] = ()
    compare: Callable[[Any, Any], Mapping[str, Any]] | None = None
    """Measures a verified solution against the field's own baselines (``vs_<name>`` keys
    say ``better``, ``equal`` or ``worse``); benchmark rows and ``solve --compare`` carry it."""
    warm: Callable[[], None] | None = None
    """Loads the family's compiled code (numba) ahead of time; the benchmark fork server
    calls it once, so that no job's time limit pays for it."""
    manifests: Callable[[Any, Any], str] | None = None
    """The text that applies a solution in the field's own system (``solve --manifests``)."""
