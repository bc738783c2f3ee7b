"""A wall-clock deadline shared by every step of one solve."""

from __future__ import annotations

import time


class Deadline:
    """Seconds left of a time limit that started when the object was made.

    Parameters
    ----------
    time_limit
        Seconds from now, or None for no limit.
    """

    def __init__(self, time_limit: float | None) -> None:
        self.start = time.perf_counter()
        self.time_limit = time_limit

    def elapsed(self) -> float:
        """Seconds since the deadline was set."""
        return time.perf_counter() - self.start

    def remaining(self) -> float | None:
        """Seconds left (never negative), or None when there is no limit."""
        if self.time_limit is None:
            return None
        return max(0.0, self.time_limit - self.elapsed())

    def expired(self) -> bool:
        """True once the limit has passed."""
        left = self.remaining()
        return left is not None and left <= 0.0

    def share(self, fraction: float) -> float | None:
        """A fraction of the time left, or None when there is no limit."""
        left = self.remaining()
        return None if left is None else left * fraction
