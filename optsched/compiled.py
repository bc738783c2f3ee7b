"""What every family's compiled (numba) kernels share: the ``jit`` decorator and array types.

A kernel module keeps all of its compiled functions to itself: numba's disk
cache watches only the file that defines a function, so a kernel calling a
function of another file could run stale code after that file changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    on a kernel's first call, not when its module is imported: a process that
    runs no kernel (a fresh ``optsched solve`` of another family, the plugin's
    script) does not pay for it. That call compiles every kernel of the module
    (:class:`_Lazy`).
    """
    return cast(F, _Lazy(fn))


_COMPILING = threading.Lock()


class _Lazy:
    """A kernel not compiled yet: the first call compiles its whole module, then runs it.

    Compiling replaces each kernel of the defining module, in that module's
    globals, by its numba dispatcher, so that kernels calling kernels find
    dispatchers when numba types them; this object then forwards to its own.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.compiled: Callable[..., Any] | None = None
        self.__name__ = fn.__name__
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        compiled = self.compiled
        if compiled is None:
            compiled = self._compile()
        return compiled(*args, **kwargs)

    def _compile(self) -> Callable[..., Any]:
        import numba

        with _COMPILING:
            names = self.fn.__globals__
            for name, value in list(names.items()):
                if isinstance(value, _Lazy):
                    if value.compiled is None:
                        value.compiled = numba.njit(cache=True, nogil=True)(value.fn)
                    names[name] = value.compiled
            if self.compiled is None:  # not a global of its module (a local function)
                self.compiled = numba.njit(cache=True, nogil=True)(self.fn)
        return self.compiled


LOAD_MIN_S = 0.5
"""Least time left for which a solver starts loading its kernels; with less time left it
takes a pure-Python path. From numba's disk cache, with numba's import, loading takes
0.3-0.9 s on the 2-core machine (a trivial kernel 0.55 s, pods' packing kernel 0.9 s):
it may run past the caller's share, which the caller's limit and watchdog bound. Loading
from 0.5 s left still proved more at 1 s in fresh processes than not loading
(``benchmarks/README.md``, pods, "Fresh processes": measured before pods' packing
kernel had its C twin, which loads at once)."""


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


@contextmanager
def stop_cell(deadline: Deadline | None) -> Iterator[IntArray]:
    """A one-cell array that becomes 1 once ``deadline`` passes or its stop is requested.

    For kernels, which see no clock: they read the cell (a memory load) between units
    of work and return what they have. A timer thread sets it; the kernels release
    the interpreter lock, so the timer runs while they do.
    """
    cell = np.zeros(1, np.int64)
    if deadline is None:
        yield cell
        return

    def stop() -> None:
        cell[0] = 1

    left = deadline.remaining()
    timer = None if left is None else threading.Timer(left, stop)
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        with deadline.on_stop(stop):
            yield cell
    finally:
        if timer is not None:
            timer.cancel()
