"""matplotlib, imported when a plot is asked for (the ``plots`` extra)."""

from __future__ import annotations

from typing import Any

from optsched.errors import InputError


def pyplot(field: str) -> Any:
    """``matplotlib.pyplot`` with the file-only backend; without it an error naming ``field``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError(field, "matplotlib is not installed; install it with "
                                "pip install 'optsched[plots]'") from None
    return plt
