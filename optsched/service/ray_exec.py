"""The service's jobs on a Ray cluster: ``optsched serve --executor ray``.

Each job is one Ray task with ``num_cpus`` equal to its workers (no retries),
and the task runs it exactly as :class:`.LocalExecutor` does: a child process
under :mod:`optsched.bench.child`'s watchdog, on the node Ray picked. The
task posts its verified incumbents and, at the end, its row to one mailbox
actor of the executor; the runner's thread empties the mailbox at most every
:data:`TICK_S` seconds with one call. A cancel is ``ray.cancel`` of the task:
Ray raises ``KeyboardInterrupt`` in it, the task asks its child to stop, and
the child reports the best solution it has, as on the server.

Capacity: the server's ``workers``, at most the cluster's CPUs when the
executor opens (a local Ray, ``address`` None, is started with ``workers``
CPUs). A job asking for more CPUs than the largest node has cannot start and
fails at once. A task that fails or is lost with its node ends its job
``failed`` with Ray's reason; one still running far past its limit (or past
its stop) is cancelled by force and fails the same way.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any

from optsched.bench import child
from optsched.bench.jobs import Job
from optsched.bench.ray_exec import DRIVER_MARGIN, connect, import_ray

TICK_S = 0.05
"""Most seconds between two looks at the mailbox (and at a task's child)."""
STOP_MARGIN = 10.0
"""Seconds past a stop's ``kill_after`` after which the driver cancels the task by force."""
TAKE_TIMEOUT = 10.0
"""Seconds the driver waits for the mailbox's answer."""


class Mailbox:
    """Messages from the tasks to the driver (a Ray actor, one per executor)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def put(self, message: dict[str, Any]) -> None:
        """Keep ``message`` for the driver."""
        self.messages.append(message)

    def take(self) -> list[dict[str, Any]]:
        """Every message since the last call, in order."""
        taken, self.messages = self.messages, []
        return taken


def run_task(job: Job, grace_s: float, kill_after: float, mailbox: Any) -> dict[str, Any]:
    """One job on a worker: its child process and watchdog; posts progress, then the row.

    ``KeyboardInterrupt`` (``ray.cancel``) asks the child to stop; the task goes on until
    the child's row. The row is returned too, for a mailbox that could not take it.
    """
    ray = import_ray()
    running = child.start(job, grace_s, kill_after)
    mailbox.put.remote({"key": job.key, "started": True})
    row = None
    while row is None:
        try:
            row = running.poll()
            found = running.take_progress()
            if found:
                mailbox.put.remote({"key": job.key, "progress": found})
            if row is None:
                wake = running.next_event() - time.monotonic()
                wait(running.waitables, timeout=max(0.01, min(TICK_S, wake)))
        except KeyboardInterrupt:
            running.stop()
    for _ in range(3):  # a second interrupt must not lose the row
        try:
            ray.get(mailbox.put.remote({"key": job.key, "row": row}))
            break
        except KeyboardInterrupt:
            continue
        except Exception:  # the mailbox is gone: the driver takes the returned row
            break
    return row


@dataclass
class RayRunning:
    """A job's Ray task as the runner sees it (a :class:`.Handle`)."""

    job: Job
    ref: Any
    grace_s: float
    kill_after: float
    started: float | None = None
    """When the task began on its node (None: Ray has not scheduled it yet)."""
    stopped_at: float | None = None
    row: dict[str, Any] | None = None
    progress: list[dict[str, Any]] = field(default_factory=list)
    forced: str | None = None
    """Why the driver cancelled the task by force (None: it did not)."""

    def poll(self) -> dict[str, Any] | None:
        """The job's row once the executor has it."""
        return self.row

    def take_progress(self) -> list[dict[str, Any]]:
        """The incumbents the task reported since the last call."""
        taken, self.progress = self.progress, []
        return taken

    def stop(self) -> None:
        """Cancel the task: it asks its child to stop (a queued task just ends)."""
        if self.stopped_at is None and self.row is None:
            self.stopped_at = time.monotonic()
            import_ray().cancel(self.ref)

    def overdue(self, now: float) -> str | None:
        """Why the task should be cancelled by force now, or None."""
        if self.stopped_at is not None:
            if now > self.stopped_at + self.kill_after + STOP_MARGIN:
                return f"still running {now - self.stopped_at:.0f} s after it was stopped"
        elif self.started is not None:
            limit = child.STARTUP_LIMIT + self.job.time_limit + self.grace_s + self.kill_after
            if now > self.started + limit + DRIVER_MARGIN:
                return f"still running {now - self.started:.0f} s after it started"
        return None


class RayExecutor:
    """Jobs as Ray tasks on the cluster at ``address`` (None: a local Ray); see the module.

    Parameters
    ----------
    address
        The cluster (``ray.init``'s address); None starts a local Ray with the
        server's workers as its CPUs, stopped again by :meth:`close`.
    """

    def __init__(self, address: str | None = None) -> None:
        import_ray()  # no ray: the command line's error now, not at the first job
        self.address = address
        self.running: dict[str, RayRunning] = {}
        self.largest = 0
        """CPUs of the cluster's largest node: no job may ask for more."""
        self._mailbox: Any = None
        self._remote: Any = None
        self._shutdown = False
        self._drained = 0.0

    def open(self, workers: int) -> int:
        """Connect (or start a local Ray); the smaller of ``workers`` and the cluster's CPUs."""
        ray = import_ray()
        self._shutdown = not ray.is_initialized()
        handler = signal.getsignal(signal.SIGTERM)
        connect(self.address, workers)
        if handler is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, handler)  # ray.init's sys.exit would skip close()
        self._mailbox = ray.remote(num_cpus=0)(Mailbox).remote()
        self._remote = ray.remote(run_task)
        nodes = [n["Resources"].get("CPU", 0) for n in ray.nodes() if n.get("Alive")]
        self.largest = int(max(nodes, default=0))
        return min(workers, int(ray.cluster_resources().get("CPU", 0)))

    def start(self, job: Job, grace_s: float, kill_after: float) -> RayRunning:
        """Submit the job's task (it waits in Ray's queue until a node has its CPUs)."""
        if job.workers > self.largest:
            raise ValueError(f"it asks for {job.workers} workers; the cluster's largest node "
                             f"has {self.largest} CPUs")
        ref = self._remote.options(num_cpus=job.workers, max_retries=0,
                                   name=f"optsched:{job.key}"
                                   ).remote(job, grace_s, kill_after, self._mailbox)
        self.running[job.key] = RayRunning(job, ref, grace_s, kill_after)
        return self.running[job.key]

    def wait(self, timeout: float) -> None:
        """Sleep until the next look (at most ``timeout``), then look: tasks ended, messages."""
        time.sleep(max(0.0, min(timeout, self._drained + TICK_S - time.monotonic())))
        if time.monotonic() < self._drained + TICK_S or not self.running:
            return
        ray = import_ray()
        refs = [r.ref for r in self.running.values()]
        ended, _ = ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=False)
        self._deliver(self._take(ray))  # after ray.wait: an ended task's row is in the mailbox
        self._drained = time.monotonic()
        done = set(ended)
        for key, r in list(self.running.items()):
            if r.row is None and r.ref in done:
                r.row = _collect(ray, r)
            if r.row is not None:
                del self.running[key]
            elif r.forced is None and (why := r.overdue(self._drained)) is not None:
                r.forced = f"cancelled by the server: {why}"
                ray.cancel(r.ref, force=True)

    def close(self) -> None:
        """Stop the running tasks, by force past ``kill_after``; stop a Ray it started."""
        ray = import_ray()
        if not ray.is_initialized():
            return
        if self.running:
            for r in self.running.values():
                r.stop()
            refs = [r.ref for r in self.running.values()]
            most = max(r.kill_after for r in self.running.values()) + 1.0
            _, left = ray.wait(refs, num_returns=len(refs), timeout=most, fetch_local=False)
            for ref in left:
                ray.cancel(ref, force=True)
            self.running.clear()
        if self._mailbox is not None:
            ray.kill(self._mailbox)
            self._mailbox = None
        if self._shutdown:
            ray.shutdown()

    def _take(self, ray: Any) -> list[dict[str, Any]]:
        try:
            taken: list[dict[str, Any]] = ray.get(self._mailbox.take.remote(),
                                                  timeout=TAKE_TIMEOUT)
            return taken
        except Exception:  # a lost mailbox: the tasks' returned rows still come
            return []

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            r = self.running.get(message["key"])
            if r is None or r.row is not None:
                continue  # a job that has ended (a row sent twice)
            if message.get("started"):
                r.started = time.monotonic()
            r.progress.extend(message.get("progress", []))
            if "row" in message:
                r.row = message["row"]


def _collect(ray: Any, r: RayRunning) -> dict[str, Any]:
    """The row an ended task returned, or its job's failed row with Ray's reason."""
    try:
        row: dict[str, Any] = ray.get(r.ref, timeout=TAKE_TIMEOUT)
        return row
    except Exception as exc:
        reason = r.forced or f"ray: {type(exc).__name__}: {exc}"
        return r.job.failed("lost", reason[:500])
