"""Progress of a batch: a one-line bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from optsched.bench.jobs import Job

FAILED = ("error", "no_solution")


class Progress:
    """Counts of done, running and failed jobs, shown as they change."""

    def __init__(self, total: int, done: int = 0, stream: IO[str] | None = None) -> None:
        self.total, self.done, self.running, self.failed = total, done, 0, 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()

    def _elapsed(self) -> str:
        s = int(time.monotonic() - self.started)
        return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}"

    def _bar(self) -> None:
        width = 30
        filled = width * self.done // max(self.total, 1)
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}"
                          f" done, {self.running} running, {self.failed} failed, "
                          f"{self._elapsed()} ")
        self.stream.flush()

    def started_job(self, job: Job) -> None:
        """A job has started."""
        self.running += 1
        if self.tty:
            self._bar()

    def finished(self, row: dict[str, Any]) -> None:
        """A job has ended with ``row``."""
        self.running = max(0, self.running - 1)
        self.done += 1
        self.failed += row.get("status") in FAILED
        if self.tty:
            self._bar()
        else:
            self.stream.write(f"{self.done}/{self.total} {row['instance']} {row['solver']} "
                              f"rep {row['rep']}: {row['status']} objective={row.get('objective')}"
                              f" ({row.get('wall_s', 0):.2f}s) [{self._elapsed()}]\n")
            self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.tty:
            self._bar()
            self.stream.write("\n")
            self.stream.flush()
