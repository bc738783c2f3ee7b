"""What every family's compiled (numba) kernels share: the ``jit`` decorator and array types.

A kernel module keeps all of its compiled functions to itself: numba's disk
cache watches only the file that defines a function, so a kernel calling a
function of another file could run stale code after that file changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt

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
