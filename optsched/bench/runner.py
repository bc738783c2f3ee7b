"""A batch: load a suite, resume its results file, run the missing jobs, append rows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optsched.bench import store
from optsched.bench.jobs import Job, fingerprint, make_jobs
from optsched.bench.local import run_local
from optsched.bench.machine import machine
from optsched.bench.progress import Progress
from optsched.bench.suite import Suite
from optsched.errors import InputError
from optsched.fields import excerpt

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Plan:
    """What a batch will do: its jobs, those already done, and where rows go."""

    suite: Suite
    jobs: list[Job]
    done: set[str]
    path: Path
    header: dict[str, Any]
    note: str = ""

    @property
    def todo(self) -> list[Job]:
        """The jobs without a row yet."""
        return [job for job in self.jobs if job.key not in self.done]


def plan(suite: Suite, out: Path, cores: int) -> Plan:
    """Check the suite against ``cores`` and an existing results file; start nothing."""
    jobs = make_jobs(suite)
    if suite.workers > cores:
        raise InputError("workers", f"{suite.workers} workers per job exceed the "
                                    f"{cores} cores given (--cores)")
    path = out / "results.jsonl"
    header = {"suite": suite.name, "fingerprint": fingerprint(jobs), "jobs": len(jobs),
              "time_limit": suite.time_limit, "workers": suite.workers,
              "repetitions": suite.repetitions, "machine": machine()}
    if not path.exists():
        return Plan(suite, jobs, set(), path, header)
    old = store.read_results(path, unfinished="skip")
    if (old.header.get("suite"), old.header.get("fingerprint")) != (
            header["suite"], header["fingerprint"]):
        raise InputError(str(path), f"belongs to suite {excerpt(old.header.get('suite'))} "
                         f"(fingerprint {old.header.get('fingerprint')}), not to this "
                         f"{excerpt(suite.name)} ({header['fingerprint']}); use another --out")
    keys = {job.key for job in jobs}
    seen: set[str] = set()
    for row, number in zip(old.rows, old.line_numbers, strict=True):
        if row["key"] not in keys:
            raise InputError(f"{path}:{number}", f"has a row for {excerpt(row['key'])}, which is "
                                                 "not a job of this suite")
        if row["key"] in seen:
            raise InputError(f"{path}:{number}", f"repeats the row for {excerpt(row['key'])}")
        seen.add(row["key"])
    note = "" if old.truncated_line is None else (
        f"{path}:{old.truncated_line}: an unfinished line left by an interrupted batch is "
        "removed; its job runs again")
    return Plan(suite, jobs, {row["key"] for row in old.rows}, path, old.header, note)


def execute(run: Plan, executor: str, cores: int, max_jobs: int, address: str | None,
            progress: Progress | None = None) -> int:
    """Run the missing jobs; return the number of rows written."""
    if not run.path.exists():
        store.create(run.path, run.header)
    elif run.note:
        store.read_results(run.path, unfinished="cut")
    written = 0
    with store.appender(run.path) as fh:
        def on_row(row: dict[str, Any]) -> None:
            nonlocal written
            store.append(fh, row)
            written += 1
            if progress is not None:
                progress.finished(row)

        on_start = progress.started_job if progress is not None else None
        if executor == "ray":
            from optsched.bench.ray_exec import run_ray

            run_ray(run.todo, address, cores, max_jobs, on_row, on_start)
        else:
            run_local(run.todo, cores, max_jobs, on_row, on_start)
    return written
