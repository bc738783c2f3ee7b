"""The service's job semantics in this process, without HTTP: :class:`Jobs`.

The same store and runner as ``optsched serve``: a job is checked before it is
stored, runs in its own child process (or Ray task: ``executor``) under the
three-stage stop, keeps its incumbents and result in the SQLite file
(``:memory:`` for a throw-away one), and a crash's interrupted jobs are
finished from their incumbent when the next :class:`Jobs` opens the file.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from optsched.io import instance_to_dict
from optsched.registry import family_of
from optsched.service.checks import check
from optsched.service.runner import Executor, Runner
from optsched.service.store import FINAL, Job, JobStore


class Jobs:
    """Submit, get, list, cancel and wait for jobs; ``close()`` (or ``with``) at the end.

    Parameters
    ----------
    db
        The job store's file (``":memory:"``: none).
    workers
        Threads all running jobs may use together.
    max_time_limit
        The largest limit a job may ask for.
    executor
        Where jobs run (default: child processes of this one; see
        :func:`optsched.service.runner.make_executor` for a Ray cluster's).
    """

    def __init__(self, db: str = ":memory:", workers: int = 1,
                 max_time_limit: float = 3600.0, executor: Executor | None = None) -> None:
        self.store = JobStore(db)
        self.runner = Runner(self.store, workers, executor=executor)
        self.workers = workers
        self.max_time_limit = max_time_limit
        self.runner.start()

    def __enter__(self) -> Jobs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the runner (running jobs are queued again when the file is reopened)."""
        self.runner.close()
        self.store.close()

    def submit(self, instance: Any, solver: str = "auto", time_limit: float | None = None,
               workers: int = 1, seed: int = 0, options: Mapping[str, Any] | None = None,
               model: Mapping[str, Any] | None = None,
               idempotency_key: str | None = None) -> Job:
        """Check and queue ``instance`` (an instance object); a used key returns its job.

        Raises :class:`optsched.errors.InputError` naming the field, as the service's 422.
        """
        if idempotency_key is not None and (found := self.store.by_key(idempotency_key)):
            return found
        family = family_of(instance).name
        family, data, params = check(family, instance_to_dict(instance), None, solver,
                                     time_limit, workers, seed, options or {}, model or {},
                                     self.runner.capacity, self.max_time_limit)
        job, _ = self.store.submit(family, solver, data, params, idempotency_key)
        self.runner.wake()
        return job

    def get(self, job_id: str) -> Job | None:
        """The job, or None."""
        return self.store.get(job_id)

    def jobs(self, status: str | None = None, family: str | None = None, limit: int = 50,
             after: str | None = None) -> list[Job]:
        """Jobs oldest first, filtered; ``after`` is the last id of the previous page."""
        return self.store.jobs(status, family, limit, after)

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a queued job, or ask a running one to stop (it keeps its best solution)."""
        job = self.store.cancel(job_id)
        self.runner.wake()
        return job

    def events(self, job_id: str, after: int = 0) -> list[dict[str, Any]]:
        """The job's events after ``after``: status changes and verified incumbents."""
        return self.store.events(job_id, after)

    def wait(self, job_id: str, timeout: float | None = None, poll: float = 0.05) -> Job:
        """The job once it has ended; TimeoutError after ``timeout`` seconds."""
        until = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.store.get(job_id)
            if job is None:
                raise KeyError(job_id)
            if job.status in FINAL:
                return job
            if until is not None and time.monotonic() > until:
                raise TimeoutError(f"job {job_id} is still {job.status}")
            time.sleep(poll)
