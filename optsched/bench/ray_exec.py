"""Run jobs on a Ray cluster: one task per job with ``num_cpus`` equal to its workers.

Each task runs the job exactly as the local executor does (a child process
under the watchdog), so rows are the same. Tasks lost with a worker are
retried by Ray (``max_retries``); a task that still fails, or that the
driver has to cancel, becomes a row with status ``error``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from optsched.bench import child
from optsched.bench.jobs import Job
from optsched.bench.local import OnRow, OnStart
from optsched.errors import InputError

MAX_RETRIES = 2
DRIVER_MARGIN = 60.0
"""Seconds past a job's watchdog after which the driver cancels its task outright."""


def _task(job: Job) -> dict[str, Any]:
    return child.run_blocking(job)


def import_ray() -> Any:
    """The ``ray`` module; an :class:`.InputError` on ``--executor`` when it is not installed."""
    try:
        import ray
    except ImportError:
        raise InputError("--executor", "ray is not installed; install it with "
                         "pip install 'optsched[ray]'") from None
    return ray


def connect(address: str | None, cores: int) -> Any:
    """The ``ray`` module, connected to the cluster at ``address``.

    None starts a local Ray with ``cores`` CPUs; an initialized Ray is used as it is.
    """
    ray = import_ray()
    if not ray.is_initialized():
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                   "logging_level": "WARNING"}
        if address is None:
            options["num_cpus"] = cores
        ray.init(address=address, **options)
    return ray


def run_ray(jobs: Sequence[Job], address: str | None, cores: int, max_jobs: int,
            on_row: OnRow, on_start: OnStart | None = None) -> None:
    """Run ``jobs`` on the cluster at ``address`` (None: a local Ray with ``cores`` CPUs)."""
    ray = connect(address, cores)
    capacity = int(ray.cluster_resources().get("CPU", cores))
    too_big = [j for j in jobs if j.workers > capacity]
    if too_big:
        raise InputError("workers", f"{too_big[0].workers} workers per job exceed the "
                                    f"cluster's {capacity} CPUs")
    remote = ray.remote(_task)
    pending = deque(jobs)
    flying: dict[Any, tuple[Job, float]] = {}
    try:
        while pending or flying:
            used = sum(job.workers for job, _ in flying.values())
            while pending and len(flying) < max_jobs and used + pending[0].workers <= capacity:
                job = pending.popleft()
                ref = remote.options(num_cpus=job.workers, max_retries=MAX_RETRIES,
                                     name=f"optsched:{job.key}").remote(job)
                flying[ref] = (job, time.monotonic())
                used += job.workers
                if on_start is not None:
                    on_start(job)
            ready, _ = ray.wait(list(flying), num_returns=1, timeout=1.0)
            for ref in ready:
                job, _ = flying.pop(ref)
                on_row(_collect(ray, ref, job))
            _cancel_overdue(ray, flying)
    except BaseException:
        for ref in flying:
            ray.cancel(ref, force=True)
        raise


def _collect(ray: Any, ref: Any, job: Job) -> dict[str, Any]:
    try:
        row: dict[str, Any] = ray.get(ref)
        return row
    except Exception as exc:
        return job.failed("lost", f"ray: {type(exc).__name__}: {exc}"[:500])


def _cancel_overdue(ray: Any, flying: dict[Any, tuple[Job, float]]) -> None:
    now = time.monotonic()
    for ref, (job, submitted) in flying.items():
        limit = (child.STARTUP_LIMIT + job.time_limit + child.grace(job.time_limit)
                 + child.KILL_AFTER)
        if now - submitted > limit + DRIVER_MARGIN:
            ray.cancel(ref, force=True)
