"""Progress of a batch: a rich progress bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as Bar

from optsched.bench.jobs import Job

FAILED = ("error", "no_solution")


class Progress:
    """Counts of done, running and failed jobs, shown as they change."""

    def __init__(self, total: int, done: int = 0, stream: IO[str] | None = None) -> None:
        self.total, self.done, self.running, self.failed = total, done, 0, 0
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.bar: Bar | None = None
        if self.stream.isatty():
            self.bar = Bar(BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                           TimeElapsedColumn(), console=Console(file=self.stream))
            self.task = self.bar.add_task(self._counts(), total=total, completed=done)
            self.bar.start()

    def _counts(self) -> str:
        return f"done, {self.running} running, {self.failed} failed"

    def _show(self) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, description=self._counts())

    def started_job(self, job: Job) -> None:
        """A job has started."""
        self.running += 1
        self._show()

    def finished(self, row: dict[str, Any]) -> None:
        """A job has ended with ``row``."""
        self.running = max(0, self.running - 1)
        self.done += 1
        self.failed += row.get("status") in FAILED
        if self.bar is not None:
            self._show()
            return
        s = int(time.monotonic() - self.started)
        self.stream.write(f"{self.done}/{self.total} {row['instance']} {row['solver']} "
                          f"rep {row['rep']}: {row['status']} objective={row.get('objective')}"
                          f" ({row.get('wall_s', 0):.2f}s) [{s // 3600:d}:{s // 60 % 60:02d}:"
                          f"{s % 60:02d}]\n")
        self.stream.flush()

    def close(self) -> None:
        """End the bar."""
        if self.bar is not None:
            self._show()
            self.bar.stop()
