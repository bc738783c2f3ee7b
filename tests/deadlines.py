"""Deadlines for tests of loops that stop at theirs: no clock, so the tests are exact."""

from __future__ import annotations

from optsched.deadline import Deadline, StopRequest


class Looks(Deadline):
    """A deadline that passes after ``n`` looks at it, whatever the clock says."""

    def __init__(self, n: int) -> None:
        super().__init__(None)
        self.n = n

    def expired(self) -> bool:
        self.n -= 1
        return self.n < 0


def stopped() -> Deadline:
    """A deadline whose stop is already requested."""
    stop = StopRequest()
    stop.set()
    return Deadline(60.0, stop)
