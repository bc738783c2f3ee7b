"""What one solve carries down to every step: its deadline and its own stop request."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager


class StopRequest:
    """A request to stop a solve, made from any thread (or a signal handler).

    Each solve has its own (``solve(..., stop=...)``; one is made when none
    is given), so that stopping one solve leaves every other solve of the
    process running, and a request never outlives the solves it was given
    to. The solve's :class:`Deadline` watches it; a solver running in native
    code registers how to interrupt itself with :meth:`hook`.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.RLock()
        self._hooks: dict[int, Callable[[], None]] = {}
        self._keys = itertools.count()

    def set(self) -> None:
        """Ask the solve to stop: it ends soon, keeping the best solution it has."""
        with self._lock:
            self._event.set()
            hooks = list(self._hooks.values())
        for stop in hooks:
            stop()

    def is_set(self) -> bool:
        """True once :meth:`set` was called."""
        return self._event.is_set()

    @contextmanager
    def hook(self, stop: Callable[[], None]) -> Iterator[None]:
        """Call ``stop`` on :meth:`set` while the block runs (at once if already set)."""
        with self._lock:
            key = next(self._keys)
            self._hooks[key] = stop
            already = self._event.is_set()
        if already:
            stop()
        try:
            yield
        finally:
            with self._lock:
                self._hooks.pop(key, None)


class Deadline:
    """Seconds left of a time limit that started when the object was made, and its stop.

    A stop request ends the time: once ``stop`` is set, :meth:`expired` is
    true and :meth:`remaining` is 0, so every loop that watches the deadline
    also obeys the stop.

    Parameters
    ----------
    time_limit
        Seconds from now, or None for no limit.
    stop
        The solve's stop request; a new one when None.
    """

    def __init__(self, time_limit: float | None, stop: StopRequest | None = None) -> None:
        self.start = time.perf_counter()
        self.time_limit = time_limit
        self.stop = stop if stop is not None else StopRequest()

    def elapsed(self) -> float:
        """Seconds since the deadline was set."""
        return time.perf_counter() - self.start

    def remaining(self) -> float | None:
        """Seconds left (0 once stopped, never negative), or None when there is no limit."""
        if self.stop.is_set():
            return 0.0
        if self.time_limit is None:
            return None
        return max(0.0, self.time_limit - self.elapsed())

    def expired(self) -> bool:
        """True once the limit has passed or a stop was requested."""
        left = self.remaining()
        return left is not None and left <= 0.0

    def share(self, fraction: float) -> float | None:
        """A fraction of the time left, or None when there is no limit."""
        left = self.remaining()
        return None if left is None else left * fraction

    def part(self, fraction: float) -> Deadline:
        """A deadline ``fraction`` of the time left from now, obeying the same stop."""
        return Deadline(self.share(fraction), self.stop)

    def on_stop(self, stop: Callable[[], None]) -> AbstractContextManager[None]:
        """Call ``stop`` if a stop is requested while the block runs (:meth:`StopRequest.hook`)."""
        return self.stop.hook(stop)
