"""What one solve carries down to every step: its deadline and its own stop request."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

Found = Callable[[Any, float | None, float | None], None]
"""A listener of a solve's incumbents: ``(solution, claimed objective, claimed bound)``."""
T = TypeVar("T")


class StopRequest:
    """A request to stop a solve, made from any thread (or a signal handler).

    Each solve has its own (``solve(..., stop=...)``; one is made when none
    is given), so that stopping one solve leaves every other solve of the
    process running, and a request never outlives the solves it was given
    to. The solve's :class:`Deadline` watches it; a solver running in native
    code registers how to interrupt itself with :meth:`hook`.

    Parameters
    ----------
    parent
        A request whose stop also stops this one (see :meth:`child`).
    """

    def __init__(self, parent: StopRequest | None = None) -> None:
        self._event = threading.Event()
        self._lock = threading.RLock()
        self._hooks: dict[int, Callable[[], None]] = {}
        self._keys = itertools.count()
        self._parent = parent

    def set(self) -> None:
        """Ask the solve to stop: it ends soon, keeping the best solution it has."""
        with self._lock:
            self._event.set()
            hooks = list(self._hooks.values())
        for stop in hooks:
            stop()

    def is_set(self) -> bool:
        """True once :meth:`set` was called, here or on the parent."""
        return self._event.is_set() or (self._parent is not None and self._parent.is_set())

    def child(self) -> StopRequest:
        """A request that can be set alone, and is set too when this one is.

        For a part of a solve that may be stopped alone (the hint), while a stop
        of the whole solve still reaches it.
        """
        return StopRequest(self)

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
            if self._parent is None:
                yield
            else:
                with self._parent.hook(stop):
                    yield
        finally:
            with self._lock:
                self._hooks.pop(key, None)


class OutOfTimeError(Exception):
    """Raised by :meth:`Deadline.check` in a long build once the deadline has passed."""


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
    found
        The solve's listener of incumbents (see :meth:`report`); None: nobody listens.
        Only a deadline of the whole instance carries it: :meth:`part` passes it on, a
        deadline made for a sub-problem has none.
    start
        When the time started (``time.perf_counter()``); now when None.
    """

    def __init__(self, time_limit: float | None, stop: StopRequest | None = None,
                 found: Found | None = None, start: float | None = None) -> None:
        self.start = time.perf_counter() if start is None else start
        self.time_limit = time_limit
        self.stop = stop if stop is not None else StopRequest()
        self.found = found

    @property
    def listening(self) -> bool:
        """True when someone wants the incumbents (a solver may skip decoding them if not)."""
        return self.found is not None

    def report(self, solution: Any, objective: int | float | None = None,
               bound: int | float | None = None) -> None:
        """Offer an incumbent of the whole instance found before the end of the solve.

        ``objective`` and ``bound`` are the solver's claims. ``solve()``
        verifies the solution with the family's checker before anyone hears
        of it, and drops what fails or does not improve; a failure of the
        listener never reaches the solver.
        """
        if self.found is not None:
            self.found(solution, objective, bound)

    def elapsed(self) -> float:
        """Seconds since the deadline was set."""
        return time.perf_counter() - self.start

    def ends_at(self) -> float | None:
        """The ``time.perf_counter()`` value at which the limit passes, or None."""
        return None if self.time_limit is None else self.start + self.time_limit

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

    def check(self) -> None:
        """Raise :class:`OutOfTimeError` once expired (for loops that build a model)."""
        if self.expired():
            raise OutOfTimeError

    def share(self, fraction: float) -> float | None:
        """A fraction of the time left, or None when there is no limit."""
        left = self.remaining()
        return None if left is None else left * fraction

    def part(self, fraction: float, own_stop: bool = False) -> Deadline:
        """A deadline ``fraction`` of the time left from now, obeying the same stop.

        With ``own_stop`` its stop request is a :meth:`StopRequest.child`: it
        can be stopped alone.
        """
        return Deadline(self.share(fraction), self.stop.child() if own_stop else self.stop,
                        self.found)

    def on_stop(self, stop: Callable[[], None]) -> AbstractContextManager[None]:
        """Call ``stop`` if a stop is requested while the block runs (:meth:`StopRequest.hook`)."""
        return self.stop.hook(stop)


def while_time(items: Iterable[T], deadline: Deadline | None) -> Iterator[T]:
    """``items`` one by one while ``deadline`` has time left (all of them without one).

    For the loops of greedy rules, whose partial result is a valid one: the
    deadline is looked at before each item, so a rule stops within one item's
    work of its limit or stop request.
    """
    if deadline is None:
        yield from items
        return
    for item in items:
        if deadline.expired():
            return
        yield item
