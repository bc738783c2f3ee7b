"""Run one job in a child process under a watchdog.

The watchdog gives the solver its own limit plus a grace period, then sends
SIGTERM (the child sets the solve's stop request and reports the best
solution it has), then SIGKILL. The solve runs in a thread of the child so
that its main thread can take the signal while a solver is inside C++.
Whatever happens, the job ends as exactly one row.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from optsched.bench.jobs import Job
from optsched.deadline import StopRequest
from optsched.incumbents import Progress
from optsched.result import Result

KILL_AFTER = 5.0
"""Seconds between SIGTERM and SIGKILL."""
STARTUP_LIMIT = 120.0
"""Seconds a child may take to start (imports on a loaded machine) before its clock runs."""


def grace(time_limit: float) -> float:
    """Seconds a job may overrun its limit before it is asked to stop."""
    return 2.0 + 0.1 * time_limit


def _context() -> Any:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["optsched.bench.warm"])
    return ctx


def _solve(job: Job, stop: StopRequest, on_progress: Progress | None = None
           ) -> dict[str, Any]:
    from optsched.io import instance_from_dict
    from optsched.params import SolveParams
    from optsched.registry import get_family
    from optsched.solve import solve

    instance = instance_from_dict(job.data)
    family = get_family(job.family)
    hint = None if job.hint is None else family.read_solution(job.hint)
    params = SolveParams(time_limit=job.time_limit, workers=job.workers, seed=job.seed,
                         options=job.options, model=job.model, hint=hint)
    started = time.perf_counter()
    result = solve(instance, job.solver, params, stop=stop, on_progress=on_progress)
    row = result.to_dict()
    out = {k: row[k] for k in ("status", "objective", "bound", "gap", "verified",
                               "build_s", "solve_s", "solution", "stats")}
    out["solve_wall_s"] = round(time.perf_counter() - started, 6)
    compare = family.compare
    if compare is not None and result.solution is not None:
        out["compare"] = dict(compare(instance, result.solution))
    return out


def _child(job: Job, conn: Connection) -> None:
    stop = StopRequest()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    conn.send({"ready": True})  # the job's clock starts now, not when the process was made
    out: dict[str, Any] = {}

    def progress(found: Result) -> None:
        conn.send({"progress": {"objective": found.objective, "bound": found.bound,
                                "by": _by(found),
                                "solution": None if found.solution is None
                                else found.solution.to_dict()}})

    def work() -> None:
        try:
            out.update(_solve(job, stop, progress))
        except Exception as exc:
            out.update(status="error", error=f"{type(exc).__name__}: {exc}",
                       trace=traceback.format_exc(limit=8))

    thread = threading.Thread(target=work, name="solve", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.05)
    conn.send(out)
    conn.close()


def _by(found: Result) -> str:
    """Who found an incumbent, and whose claim its bound is when that is someone else."""
    bound_by = found.stats.get("bound_by")
    return found.solver if bound_by in (None, found.solver) else \
        f"{found.solver} (bound: {bound_by})"


@dataclass
class Running:
    """A job in its child process, and what the watchdog has done to it."""

    job: Job
    process: BaseProcess
    conn: Connection
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    stopped_at: float | None = None
    killed: bool = False
    message: dict[str, Any] | None = None
    progress: list[dict[str, Any]] = field(default_factory=list)
    """Verified incumbents the child reported, not yet taken (:meth:`take_progress`)."""
    grace_s: float | None = None
    """Seconds past the limit before SIGTERM (None: :func:`grace` of the limit)."""
    kill_after: float = KILL_AFTER
    """Seconds between SIGTERM and SIGKILL."""

    @property
    def waitables(self) -> list[Any]:
        """What :func:`multiprocessing.connection.wait` should watch."""
        return [self.conn, self.process.sentinel]

    def next_event(self) -> float:
        """Monotonic time of the watchdog's next step."""
        if self.stopped_at is not None:
            return self.stopped_at + self.kill_after
        if self.started is None:
            return self.created + STARTUP_LIMIT
        extra = grace(self.job.time_limit) if self.grace_s is None else self.grace_s
        return self.started + self.job.time_limit + extra

    def poll(self) -> dict[str, Any] | None:
        """Advance the watchdog; return the job's row once it has ended."""
        self._drain()
        if self.process.is_alive():
            now = time.monotonic()
            if now >= self.next_event():
                if self.stopped_at is None:
                    self.stopped_at = now
                    self.process.terminate()
                else:
                    self.killed = True
                    self.process.kill()
            return None
        self.process.join()
        self._drain()  # the child may have sent its result just before it ended
        self.conn.close()
        return self._row()

    def _drain(self) -> None:
        while self.message is None and self._readable():
            try:
                got = self.conn.recv()
            except (EOFError, OSError):
                return
            if got.get("ready"):
                self.started = time.monotonic()
            elif "progress" in got:
                self.progress.append(got["progress"])
            else:
                self.message = got

    def _readable(self) -> bool:
        try:
            return bool(self.conn.poll())
        except (EOFError, OSError):
            return False

    def _row(self) -> dict[str, Any]:
        wall = round(time.monotonic() - (self.started or self.created), 3)
        if self.message is not None:
            outcome = "stopped" if self.stopped_at is not None else "finished"
            return {**self.job.describe(), **self.message, "outcome": outcome, "wall_s": wall}
        how = (f"killed {self.kill_after:g} s after SIGTERM" if self.killed
               else f"stopped by the watchdog (exit code {self.process.exitcode})"
               if self.stopped_at is not None
               else f"child exited with code {self.process.exitcode}")
        outcome = "killed" if self.stopped_at is not None else "crashed"
        return {**self.job.failed(outcome, how), "wall_s": wall}

    def take_progress(self) -> list[dict[str, Any]]:
        """The incumbents reported since the last call (after :meth:`poll`)."""
        taken, self.progress = self.progress, []
        return taken

    def stop(self) -> None:
        """Ask the child to stop now (SIGTERM); the watchdog kills it if it lingers."""
        if self.stopped_at is None and self.process.is_alive():
            self.stopped_at = time.monotonic()
            self.process.terminate()


def _nothing() -> None:
    """A child that does nothing: starting it starts the fork server."""


def warm() -> None:
    """Start the fork server now (it imports optsched once), so the first job starts fast."""
    process = _context().Process(target=_nothing, daemon=True)
    process.start()
    process.join(STARTUP_LIMIT)


def start(job: Job, grace_s: float | None = None, kill_after: float = KILL_AFTER) -> Running:
    """Start ``job`` in a new child process (``grace_s`` and ``kill_after``: see Running)."""
    ctx = _context()
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(job, sender), name=f"optsched-{job.key}",
                          daemon=True)
    process.start()
    sender.close()
    return Running(job, process, receiver, grace_s=grace_s, kill_after=kill_after)


def run_blocking(job: Job) -> dict[str, Any]:
    """Run one job to its row in the calling process (used by Ray tasks)."""
    running = start(job)
    while True:
        row = running.poll()
        if row is not None:
            return row
        wait(running.waitables, timeout=max(0.01, running.next_event() - time.monotonic()))
