"""Cooperative stop of running solves.

A backend registers how to stop its solver while the solve runs; a signal
handler (or any other thread) calls :func:`stop_all`, and each solver stops
gracefully, keeping its best solution so far.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_stoppers: dict[int, Callable[[], None]] = {}
_stopped = threading.Event()


@contextmanager
def stoppable(stop: Callable[[], None]) -> Iterator[None]:
    """Register ``stop`` for the duration of a solve; stop at once if a stop was requested."""
    key = id(stop)
    with _lock:
        _stoppers[key] = stop
    if _stopped.is_set():
        stop()
    try:
        yield
    finally:
        with _lock:
            _stoppers.pop(key, None)


def stop_all() -> None:
    """Ask every running solve to stop; solves started later stop at once too."""
    _stopped.set()
    with _lock:
        stoppers = list(_stoppers.values())
    for stop in stoppers:
        stop()


def stop_requested() -> bool:
    """True once :func:`stop_all` was called (heuristics poll this)."""
    return _stopped.is_set()


def reset() -> None:
    """Forget an earlier stop request (for long-lived processes and tests)."""
    _stopped.clear()
