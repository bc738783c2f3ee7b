"""Hold a solver to its deadline even when it does not watch it.

A solver runs in a thread of its own while the caller waits. Past the
deadline by :data:`GRACE_S` (or once a stop was requested) the solver is asked
to stop; if it has not ended :data:`STOP_WAIT_S` later, the caller goes on
without it (the thread is left to end on its own, with its stop request set).
So a solve returns within its limit plus about a second whatever the solver
does: a compiled search compiling on a cold cache, a model too big to build
in time, a native solver that ignores the limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from optsched.deadline import Deadline

T = TypeVar("T")
GRACE_S = 0.35
"""Seconds a solver may run past its deadline before it is asked to stop."""
STOP_WAIT_S = 0.3
"""Seconds between the stop request and going on without the solver."""
POLL_S = 0.02


class _Outcome(Generic[T]):
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: T | None = None
        self.error: BaseException | None = None


def bounded(run: Callable[[], T], deadline: Deadline, name: str, grace: float = GRACE_S,
            wait: float = STOP_WAIT_S) -> T | None:
    """``run()``, or None when it did not end in time (see the module docstring).

    ``grace`` and ``wait`` replace :data:`GRACE_S` and :data:`STOP_WAIT_S`.
    Exceptions of ``run`` are raised here, in the caller's thread.
    """
    outcome: _Outcome[T] = _Outcome()

    def work() -> None:
        try:
            outcome.value = run()
        except BaseException as exc:  # handed to the caller
            outcome.error = exc
        finally:
            outcome.done.set()

    thread = threading.Thread(target=work, name=f"optsched-{name}", daemon=True)
    thread.start()
    asked: float | None = None
    while not outcome.done.wait(POLL_S):
        now = time.perf_counter()
        end = deadline.ends_at()
        if asked is None and (deadline.stop.is_set()
                              or (end is not None and now > end + grace)):
            deadline.stop.set()
            asked = now
        if asked is not None and now >= asked + wait:
            return None
    if outcome.error is not None:
        raise outcome.error
    return outcome.value
