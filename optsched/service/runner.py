"""The service's executor: each job in its own child process, within the server's workers.

A scheduler thread takes queued jobs from the :class:`.JobStore` in order
while their workers fit the server's, runs each in a child process
(:mod:`optsched.bench.child`: the solve has its limit; ``grace_s`` past it
the child is asked to stop, SIGTERM, and it reports the best solution it
has; ``kill_after`` later it is killed), and writes the verified result back
before anyone can read it. A cancel asks the child to stop at once. On
start, jobs a crash left running are queued again with their last incumbent
(:meth:`.JobStore.recover`).
"""

from __future__ import annotations

import threading
import time
from multiprocessing.connection import wait
from typing import Any

from optsched.bench import child
from optsched.bench.jobs import Job as ChildJob
from optsched.service.store import Job, JobStore

RESULT_KEYS = ("status", "objective", "bound", "gap", "verified", "build_s", "solve_s",
               "solution", "stats", "compare", "outcome", "wall_s")
"""What a job's stored result keeps of its child's row."""
IDLE_S = 0.5
"""Seconds between looks at the queue when no job runs and nothing woke the runner."""


class Runner:
    """Runs the store's queued jobs; ``start()`` once, ``close()`` at shutdown.

    Parameters
    ----------
    store
        The job store.
    workers
        Threads all running jobs may use together; a job asks for its own
        (at most these).
    max_attempts
        Starts of one job before a crash-interrupted job is failed.
    grace_s, kill_after
        Seconds past a job's limit before it is asked to stop, and from
        then until it is killed.
    """

    def __init__(self, store: JobStore, workers: int = 1, max_attempts: int = 3,
                 grace_s: float = 0.5, kill_after: float = 1.0) -> None:
        self.store = store
        self.workers = workers
        self.max_attempts = max_attempts
        self.grace_s = grace_s
        self.kill_after = kill_after
        self.running: dict[str, child.Running] = {}
        self._closing = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="optsched-runner", daemon=True)

    def start(self) -> tuple[int, int]:
        """Recover what a crash left running, then start taking jobs; (re-queued, failed)."""
        recovered = self.store.recover(self.max_attempts)
        child.warm()
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
        for r in self.running.values():
            if r.process.is_alive():
                r.process.kill()
                r.process.join(timeout=5)

    def used(self) -> int:
        """Workers the running jobs hold."""
        return sum(r.job.workers for r in self.running.values())

    def _loop(self) -> None:
        while not self._closing.is_set():
            self._launch()
            self._cancel()
            waitables = [w for r in self.running.values() for w in r.waitables]
            timeout = 0.05
            if self.running:
                wake = min(r.next_event() for r in self.running.values())
                timeout = max(0.01, min(0.05, wake - time.monotonic()))
            if waitables:
                wait(waitables, timeout=timeout)
            else:  # idle: a submit or a cancel wakes the loop at once
                self._wake.wait(IDLE_S)
            self._wake.clear()
            for job_id, r in list(self.running.items()):
                row = r.poll()
                for found in r.take_progress():
                    self.store.incumbent(job_id, found["objective"], found["bound"],
                                         found["solution"])
                if row is not None:
                    del self.running[job_id]
                    self._finish(job_id, row)

    def _launch(self) -> None:
        while True:
            free = self.workers - self.used()
            job = self.store.claim(max_workers=free) if free > 0 else None
            if job is None:
                return
            try:
                self.running[job.id] = child.start(self._child_job(job), self.grace_s,
                                                   self.kill_after)
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
            if row.get("solution") is not None:
                self.store.incumbent(job_id, row.get("objective"), row.get("bound"),
                                     row["solution"])
            self.store.finish(job_id, "done", result)
