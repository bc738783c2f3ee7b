"""The service's scheduler: queued jobs, in order, within the server's workers, on an executor.

A scheduler thread takes queued jobs from the :class:`.JobStore` in order
while their workers fit the server's, and hands each to an :class:`Executor`:
:class:`LocalExecutor` (the default) runs it in a child process on this
machine, :class:`optsched.service.ray_exec.RayExecutor` in the same child
process on a node of a Ray cluster. Either way the job runs under
:mod:`optsched.bench.child`'s watchdog (the solve has its limit; ``grace_s``
past it the child is asked to stop, SIGTERM, and it reports the best solution
it has; ``kill_after`` later it is killed), its verified incumbents are stored
as they come, and its verified result is written back before anyone can read
it. A cancel asks the child to stop at once. On start, jobs a crash left
running are queued again with their last incumbent (:meth:`.JobStore.recover`).
"""

from __future__ import annotations

import threading
import time
from multiprocessing.connection import wait
from typing import Any, Protocol

from optsched.bench import child
from optsched.bench.jobs import Job as ChildJob
from optsched.errors import InputError
from optsched.service.store import Job, JobStore

RESULT_KEYS = ("status", "objective", "bound", "gap", "verified", "build_s", "solve_s",
               "solution", "stats", "compare", "outcome", "wall_s")
"""What a job's stored result keeps of its child's row."""
IDLE_S = 0.5
"""Seconds between looks at the queue when no job runs and nothing woke the runner."""
TICK_S = 0.05
"""Most seconds the runner waits for news of running jobs before it looks again."""
EXECUTORS = ("local", "ray")


class Handle(Protocol):
    """A started job as the runner sees it (:class:`.child.Running` is one)."""

    job: ChildJob
    stopped_at: float | None
    """When the job was asked to stop (None: not yet)."""

    def poll(self) -> dict[str, Any] | None:
        """The job's row once it has ended, else None."""

    def take_progress(self) -> list[dict[str, Any]]:
        """The verified incumbents reported since the last call."""

    def stop(self) -> None:
        """Ask the job to stop now: its solve ends with the best solution it has."""


class Executor(Protocol):
    """Where jobs run; used by the runner's thread only (after :meth:`open`)."""

    def open(self, workers: int) -> int:
        """Get ready; the workers all running jobs may use together (at most ``workers``)."""

    def start(self, job: ChildJob, grace_s: float, kill_after: float) -> Handle:
        """Start ``job`` under the three-stage stop (see :func:`.child.start`)."""

    def wait(self, timeout: float) -> None:
        """Return when a started job may have news, or after at most ``timeout`` seconds."""

    def close(self) -> None:
        """Stop the jobs still running, at shutdown (they are queued again on restart)."""


class LocalExecutor:
    """Each job in a child process of this one (:mod:`optsched.bench.child`)."""

    def __init__(self) -> None:
        self.started: list[child.Running] = []

    def open(self, workers: int) -> int:
        """Start the fork server (so the first job starts fast); all ``workers`` are ours."""
        child.warm()
        return workers

    def start(self, job: ChildJob, grace_s: float, kill_after: float) -> child.Running:
        """The job in a new child process."""
        running = child.start(job, grace_s, kill_after)
        self.started.append(running)
        return running

    def wait(self, timeout: float) -> None:
        """Wait for a child's message or end, or its watchdog's next step."""
        self.started = [r for r in self.started if r.process.exitcode is None]
        if not self.started:
            return
        wake = min(r.next_event() for r in self.started) - time.monotonic()
        wait([w for r in self.started for w in r.waitables],
             timeout=max(0.01, min(timeout, wake)))

    def close(self) -> None:
        """Kill the children still alive."""
        for r in self.started:
            if r.process.is_alive():
                r.process.kill()
                r.process.join(timeout=5)


def make_executor(name: str, ray_address: str | None = None) -> Executor:
    """The executor ``name`` (one of :data:`EXECUTORS`); ``ray_address`` is Ray's cluster."""
    if name == "ray":
        from optsched.service.ray_exec import RayExecutor

        return RayExecutor(ray_address)
    if name != "local":
        raise InputError("--executor", f"must be one of {', '.join(EXECUTORS)}, got {name!r}")
    return LocalExecutor()


class Runner:
    """Runs the store's queued jobs; ``start()`` once, ``close()`` at shutdown.

    Parameters
    ----------
    store
        The job store.
    workers
        Threads all running jobs may use together; a job asks for its own
        (at most these). The executor may offer fewer (a Ray cluster with
        fewer CPUs): then :attr:`capacity` is what it offers.
    max_attempts
        Starts of one job before a crash-interrupted job is failed.
    grace_s, kill_after
        Seconds past a job's limit before it is asked to stop, and from
        then until it is killed.
    executor
        Where jobs run (default: a :class:`LocalExecutor`).
    """

    def __init__(self, store: JobStore, workers: int = 1, max_attempts: int = 3,
                 grace_s: float = 0.5, kill_after: float = 1.0,
                 executor: Executor | None = None) -> None:
        self.store = store
        self.workers = workers
        self.capacity = workers
        """Workers the running jobs may hold together (set by :meth:`start`)."""
        self.max_attempts = max_attempts
        self.grace_s = grace_s
        self.kill_after = kill_after
        self.executor = executor if executor is not None else LocalExecutor()
        self.running: dict[str, Handle] = {}
        self._closing = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="optsched-runner", daemon=True)

    def start(self) -> tuple[int, int]:
        """Recover what a crash left running, then start taking jobs; (re-queued, failed)."""
        recovered = self.store.recover(self.max_attempts)
        self.capacity = min(self.workers, self.executor.open(self.workers))
        self._thread.start()
        return recovered

    def wake(self) -> None:
        """Look at the queue and the cancel flags now (after a submit or a cancel)."""
        self._wake.set()

    def close(self) -> None:
        """Stop taking jobs and stop the running ones (they are queued again on restart)."""
        self._closing.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.executor.close()

    def used(self) -> int:
        """Workers the running jobs hold."""
        return sum(r.job.workers for r in self.running.values())

    def _loop(self) -> None:
        while not self._closing.is_set():
            self._launch()
            self._cancel()
            if self.running:
                self.executor.wait(TICK_S)
            else:  # idle: a submit or a cancel wakes the loop at once
                self._wake.wait(IDLE_S)
            self._wake.clear()
            for job_id, r in list(self.running.items()):
                row = r.poll()
                for found in r.take_progress():
                    self.store.incumbent(job_id, found["objective"], found["bound"],
                                         found["solution"], found.get("by"))
                if row is not None:
                    del self.running[job_id]
                    self._finish(job_id, row)

    def _launch(self) -> None:
        while True:
            free = self.capacity - self.used()
            # idle, the first job is taken whatever it asks: one too big fails, not waits forever
            job = self.store.claim(max_workers=free if self.running else None)
            if job is None:
                return
            try:
                task = self._child_job(job)
                if task.workers > self.capacity:
                    raise ValueError(f"it asks for {task.workers} workers, the server has "
                                     f"{self.capacity}")
                self.running[job.id] = self.executor.start(task, self.grace_s, self.kill_after)
            except Exception as exc:  # a job that cannot start fails; the others go on
                self.store.finish(job.id, "failed", error=f"could not start: {exc}")

    def _cancel(self) -> None:
        for job_id, r in self.running.items():
            if r.stopped_at is None:
                job = self.store.get(job_id)
                if job is not None and job.cancel:
                    r.stop()

    def _child_job(self, job: Job) -> ChildJob:
        p = job.params
        return ChildJob(key=job.id, family=job.family, instance=str(job.instance.get("name", "")),
                        group="", solver=job.solver, label=job.solver, rep=job.attempts,
                        data=job.instance, time_limit=float(p["time_limit"]),
                        workers=int(p.get("workers", 1)), seed=int(p.get("seed", 0)),
                        options=dict(p.get("options", {})), model=dict(p.get("model", {})),
                        reference=None, hint=job.hint)

    def _finish(self, job_id: str, row: dict[str, Any]) -> None:
        job = self.store.get(job_id)
        result = {k: row[k] for k in RESULT_KEYS if k in row}
        if job is not None and job.cancel:
            self.store.finish(job_id, "cancelled", result if row.get("solution") else None)
        elif row.get("status") == "error":
            self.store.finish(job_id, "failed", result, str(row.get("error", "")))
        else:
            told = job.objective if job is not None else None
            if row.get("solution") is not None and row.get("objective") != told:
                # a final solution better than the last incumbent told (e.g. from a solver
                # that reports none while it runs, CBC): its event names the solver
                self.store.incumbent(job_id, row.get("objective"), row.get("bound"),
                                     row["solution"], str(row.get("solver") or ""))
            self.store.finish(job_id, "done", result)
