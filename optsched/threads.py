"""Thread budgets: how many solver threads the solves of a process may run at once."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def available_cores() -> int:
    """Return the number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


class ThreadBudget:
    """Cores shared by the solves that lease from the same budget.

    A solve that names its workers leases exactly that many (the caller
    decided); a solve that does not (``SolveParams(workers=None)``) leases
    the cores still free, at least one. So one solve alone gets every core,
    and solves started beside it do not multiply the threads of the machine.

    Parameters
    ----------
    cores
        Cores of the budget; the cores available to the process when None.
    """

    def __init__(self, cores: int | None = None) -> None:
        self.cores = cores if cores is not None else available_cores()
        self._used = 0
        self._lock = threading.Lock()

    @property
    def in_use(self) -> int:
        """Threads leased by the solves running now."""
        return self._used

    @contextmanager
    def lease(self, wanted: int | None) -> Iterator[int]:
        """Lease ``wanted`` threads (or the free ones, at least 1) for the block."""
        with self._lock:
            count = wanted if wanted is not None else max(1, self.cores - self._used)
            self._used += count
        try:
            yield count
        finally:
            with self._lock:
                self._used -= count


PROCESS = ThreadBudget()
"""The budget of the solves that name none: every such solve of this process shares it."""
