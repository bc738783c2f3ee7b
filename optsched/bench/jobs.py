"""The jobs of a suite: one per (instance, solver, repetition), each with a stable key."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from optsched.bench.suite import Suite
from optsched.io import instance_to_dict
from optsched.registry import family_of


@dataclass(frozen=True)
class Job:
    """Everything a child process needs to run one solve; plain data, so it pickles."""

    key: str
    family: str
    instance: str
    group: str
    solver: str
    label: str
    rep: int
    data: dict[str, Any]
    time_limit: float
    workers: int
    seed: int
    options: dict[str, Any]
    model: dict[str, Any]
    reference: dict[str, Any] | None
    hint: dict[str, Any] | None = None
    """A solution to start from (the service's incumbent of an interrupted run)."""

    def describe(self) -> dict[str, Any]:
        """The fields a result row repeats, so that rows stand on their own."""
        return {"key": self.key, "family": self.family, "instance": self.instance,
                "class": self.group, "solver": self.label, "solver_name": self.solver,
                "rep": self.rep, "seed": self.seed, "time_limit": self.time_limit,
                "workers": self.workers, "reference": self.reference}

    def failed(self, outcome: str, error: str) -> dict[str, Any]:
        """The row of this job when it ended without a result (crashed, killed, lost)."""
        return {**self.describe(), "status": "error", "objective": None, "bound": None,
                "gap": None, "verified": False, "outcome": outcome, "error": error}


def make_jobs(suite: Suite) -> list[Job]:
    """Expand a suite, instances outermost, so that partial runs cover whole instances."""
    out = []
    for item in suite.instances:
        inst = item.instance
        data = instance_to_dict(inst)
        for solver in suite.solvers:
            for rep in range(suite.repetitions):
                out.append(Job(
                    key=f"{inst.name}|{solver.label}|{rep}", family=family_of(inst).name,
                    instance=inst.name, group=item.group, solver=solver.name,
                    label=solver.label, rep=rep, data=data, time_limit=suite.time_limit,
                    workers=suite.workers, seed=suite.seed + rep,
                    options=dict(solver.options), model=dict(solver.model),
                    reference=data.get("reference")))
    return out


def fingerprint(jobs: list[Job]) -> str:
    """A hash of every job's definition: a results file belongs to exactly one suite."""
    digest = hashlib.sha256()
    for job in jobs:
        digest.update(json.dumps(asdict(job), sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]
