"""What every family's compiled (numba) kernels share: the ``jit`` decorator and array types.

A kernel module keeps all of its compiled functions to itself: numba's disk
cache watches only the file that defines a function, so a kernel calling a
function of another file could run stale code after that file changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt

from optsched.deadline import Deadline

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
F = TypeVar("F", bound=Callable[..., Any])


def jit(fn: F) -> F:
    """Compile ``fn`` in nopython mode, cached on disk, without the interpreter lock.

    ``nogil`` lets solves in other threads of the process run while a kernel
    does; kernels only touch the arrays of their own solve. numba is imported
    here, on the first kernel module's import, not with optsched.
    """
    import numba

    return cast(F, numba.njit(cache=True, nogil=True)(fn))


LOAD_MIN_S = 0.5
"""Least time left for which a solver starts loading its kernels: from numba's disk cache
that takes a fraction of a second; with less time left it takes a pure-Python path."""


class _Loading:
    """Which kernels this process has loaded (numba's compiled code lives per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._done: set[str] = set()

    def ready(self, name: str, load: Callable[[], None], deadline: Deadline) -> bool:
        """True once ``load`` has run in this process.

        Loads now, in the calling thread, when at least :data:`LOAD_MIN_S` is
        left (a cold cache compiles for seconds: the caller's watchdog then goes
        on without it, and the loading ends in its thread); otherwise, or while
        another thread loads, returns False rather than wait past ``deadline``.
        """
        if name in self._done:
            return True
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        left = deadline.remaining()
        if (left is not None and left < LOAD_MIN_S) or not lock.acquire(blocking=False):
            return False
        try:
            if name not in self._done:
                load()
                self._done.add(name)
        finally:
            lock.release()
        return True


LOADING = _Loading()
"""The kernels loaded in this process (see :meth:`_Loading.ready`)."""
