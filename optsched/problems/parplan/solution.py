"""A parallel plan: replicas of pipelines of TP groups, each with its layers and batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from optsched.errors import InputError
from optsched.fields import excerpt, is_int, require_keys, require_str

MAX_REPLICAS = 4096


@dataclass(frozen=True)
class StagePlan:
    """A pipeline stage: ``tp`` GPUs of type ``gpu`` run layers ``[layers[0], layers[1])``."""

    gpu: str
    tp: int
    layers: tuple[int, int]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object."""
        return {"gpu": self.gpu, "tp": self.tp, "layers": list(self.layers)}


@dataclass(frozen=True)
class ReplicaPlan:
    """``count`` identical replicas: their stages, micro-batch and expert parallelism."""

    count: int
    batch: int
    stages: tuple[StagePlan, ...]
    ep: bool = False

    @property
    def tp(self) -> int:
        """The TP size (the first stage's; the checker requires one per replica)."""
        return self.stages[0].tp

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (``ep`` only when true)."""
        out: dict[str, Any] = {"count": self.count, "stages": [s.to_dict() for s in self.stages],
                               "batch": self.batch}
        if self.ep:
            out["ep"] = True
        return out


@dataclass(frozen=True)
class ParplanSolution:
    """The replicas of a plan."""

    replicas: tuple[ReplicaPlan, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``docs/formats.md``."""
        return {"replicas": [r.to_dict() for r in self.replicas]}


def _int(value: object, where: str, low: int, high: int) -> int:
    if not is_int(value) or not low <= int(value) <= high:  # type: ignore[call-overload]
        raise InputError(where, f"must be an integer in [{low}, {high}], got {excerpt(value)}")
    number: int = int(value)  # type: ignore[call-overload]
    return number


def _stage(obj: object, where: str) -> StagePlan:
    stage = require_keys(obj, where, ("gpu", "tp", "layers"), error=InputError)
    layers = stage["layers"]
    if not isinstance(layers, list) or len(layers) != 2:
        raise InputError(f"{where}.layers", f"must be [first, end], got {excerpt(layers)}")
    first = _int(layers[0], f"{where}.layers[0]", 0, 1 << 20)
    end = _int(layers[1], f"{where}.layers[1]", 0, 1 << 20)
    return StagePlan(require_str(stage["gpu"], f"{where}.gpu", InputError),
                     _int(stage["tp"], f"{where}.tp", 1, 1 << 16), (first, end))


def _replica(obj: object, where: str) -> ReplicaPlan:
    rep = require_keys(obj, where, ("count", "stages", "batch"), ("ep",), error=InputError)
    stages = rep["stages"]
    if not isinstance(stages, list) or not stages or len(stages) > 1024:
        raise InputError(f"{where}.stages", "must be a list of 1 to 1024 stages")
    ep = rep.get("ep", False)
    if not isinstance(ep, bool):
        raise InputError(f"{where}.ep", f"must be true or false, got {excerpt(ep)}")
    return ReplicaPlan(_int(rep["count"], f"{where}.count", 1, 1 << 20),
                       _int(rep["batch"], f"{where}.batch", 1, 1 << 20),
                       tuple(_stage(s, f"{where}.stages[{i}]") for i, s in enumerate(stages)),
                       ep)


def from_dict(obj: object) -> ParplanSolution:
    """Read a plan's JSON object; bad input names the field."""
    plan = require_keys(obj, "solution", ("replicas",), error=InputError)
    replicas = plan["replicas"]
    if not isinstance(replicas, list) or len(replicas) > MAX_REPLICAS:
        raise InputError("solution.replicas", f"must be a list of at most {MAX_REPLICAS} "
                                              "replica groups")
    return ParplanSolution(tuple(_replica(r, f"solution.replicas[{i}]")
                                 for i, r in enumerate(replicas)))
