"""What compiled kernels share: the stop cell they read between units of work."""

from __future__ import annotations

import time

from optsched.compiled import stop_cell
from optsched.deadline import Deadline, StopRequest


def test_the_stop_cell_follows_the_stop_request() -> None:
    stop = StopRequest()
    with stop_cell(Deadline(60.0, stop)) as cell:
        assert cell[0] == 0
        stop.set()
        assert cell[0] == 1


def test_the_stop_cell_is_set_when_the_limit_passes() -> None:
    """A 0.05 s limit: the timer sets the cell well within the 2 s waited for it."""
    with stop_cell(Deadline(0.05)) as cell:
        waited = time.monotonic() + 2.0
        while cell[0] == 0 and time.monotonic() < waited:
            time.sleep(0.01)
        assert cell[0] == 1


def test_without_a_limit_the_cell_stays_clear() -> None:
    with stop_cell(None) as cell, stop_cell(Deadline(None)) as other:
        time.sleep(0.05)
        assert cell[0] == 0 and other[0] == 0
