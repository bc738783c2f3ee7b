"""The instance (job times, machine count) and the solution (a machine per job)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from optsched.errors import InputError, InstanceError
from optsched.fields import require_int, require_int_list, require_keys, require_str


@dataclass(frozen=True)
class MakespanInstance:
    """``times[j]`` units of work for job ``j`` on any of ``machines`` identical machines."""

    times: tuple[int, ...]
    machines: int
    name: str = ""

    def __post_init__(self) -> None:
        require_int_list(self.times, "times", minimum=1)
        require_int(self.machines, "machines", minimum=1)
        if not self.times:
            raise InstanceError("times", "must list at least one job")

    def to_dict(self) -> dict[str, Any]:
        """The JSON fields (without ``family`` and ``format``)."""
        return {"name": self.name, "times": list(self.times), "machines": self.machines}


@dataclass(frozen=True)
class MakespanSolution:
    """``machine[j]`` runs job ``j``."""

    machine: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"machine": [...]}``."""
        return {"machine": list(self.machine)}


def read_instance(obj: Mapping[str, Any]) -> MakespanInstance:
    """Build an instance from its JSON object; a bad field raises naming it."""
    require_keys(obj, "", ("times", "machines"), ("family", "format", "name"))
    return MakespanInstance(times=require_int_list(obj["times"], "times", minimum=1),
                            machines=require_int(obj["machines"], "machines", minimum=1),
                            name=require_str(obj.get("name", ""), "name"))


def read_solution(obj: object) -> MakespanSolution:
    """Build a solution from ``{"machine": [...]}``."""
    data = require_keys(obj, "solution", ("machine",), error=InputError)
    return MakespanSolution(require_int_list(data["machine"], "solution.machine",
                                             error=InputError))
