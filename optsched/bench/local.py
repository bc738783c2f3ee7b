"""Run jobs on this machine: one child process per job, never more workers than cores."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait
from typing import Any

from optsched.bench import child
from optsched.bench.jobs import Job

OnRow = Callable[[dict[str, Any]], None]
OnStart = Callable[[Job], None]


def run_local(jobs: Sequence[Job], cores: int, max_jobs: int, on_row: OnRow,
              on_start: OnStart | None = None) -> None:
    """Run ``jobs`` with at most ``max_jobs`` at once and their workers within ``cores``.

    Jobs start in order; a job waits until enough cores are free for its
    workers. On KeyboardInterrupt the running jobs are stopped and killed
    (their rows are not written, so a later run redoes them) and the
    interrupt propagates.
    """
    pending = deque(jobs)
    running: list[child.Running] = []
    try:
        while pending or running:
            used = sum(r.job.workers for r in running)
            while (pending and len(running) < max_jobs
                   and used + pending[0].workers <= cores):
                job = pending.popleft()
                running.append(child.start(job))
                used += job.workers
                if on_start is not None:
                    on_start(job)
            wake = min(r.next_event() for r in running)
            wait([w for r in running for w in r.waitables],
                 timeout=max(0.01, min(1.0, wake - time.monotonic())))
            for r in list(running):
                row = r.poll()
                if row is not None:
                    running.remove(r)
                    on_row(row)
    except BaseException:
        _shutdown(running)
        raise


def _shutdown(running: list[child.Running]) -> None:
    for r in running:
        r.stop()
    deadline = time.monotonic() + child.KILL_AFTER
    for r in running:
        r.process.join(max(0.0, deadline - time.monotonic()))
        if r.process.is_alive():
            r.process.kill()
            r.process.join()
