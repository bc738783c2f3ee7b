"""Which compiled annealing drop-and-pack runs: the C extension, else numba's.

The search itself is :func:`.pack_kernel.anneal` (numba) and ``_anneal.c`` (C), the
same moves in both; its driver is :mod:`.pack`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np

from optsched.compiled import LOADING, BoolArray, FloatArray, IntArray
from optsched.deadline import Deadline

Kernel = Callable[[IntArray, IntArray, IntArray, IntArray, IntArray, FloatArray, IntArray,
                   IntArray, BoolArray, IntArray, IntArray, int, float, int], tuple[int, int]]
"""The annealing's signature (:func:`.pack_kernel.anneal` documents it)."""


def kernel() -> Kernel:
    """The annealing: the C extension ``_anneal`` when the install built it, else numba's.

    Both run the same search (:mod:`.pack_kernel`). The C one exists for fresh
    processes: it imports in about a millisecond, where numba and its cached kernel
    take about 0.9 s, most of a 1 s limit. Without a C compiler at install the
    extension is not built (``setup.py``) and numba's kernel is used.
    """
    native = _native()
    if native is not None:
        return native
    from optsched.problems.pods.counts import pack_kernel

    return pack_kernel.anneal


@cache
def _native() -> Kernel | None:
    """The C extension's annealing, or None when it was not built."""
    try:
        from optsched.problems.pods.counts._anneal import anneal
    except ImportError:
        return None
    return anneal


def ready(deadline: Deadline) -> bool:
    """True when the annealing can run now: the C one always, numba's once loaded.

    numba's is loaded in this call when enough time is left (:data:`LOADING`).
    """
    return _native() is not None or LOADING.ready("pods-pack", load, deadline)


def load() -> None:
    """Load the kernel (numba's is compiled or read from its cache) with a run on a tiny state."""
    zero, square = np.zeros(1, dtype=np.int64), np.ones((1, 1), dtype=np.int64)
    kernel()(zero, zero, square, square, square, np.ones(2), zero - 1,
             np.zeros((1, 0), dtype=np.int64), np.ones((1, 1), dtype=np.bool_),
             np.array([0, 1], dtype=np.int64), zero, 10, 1.0, 0)
