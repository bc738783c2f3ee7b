"""The deadline a solve carries: ``while_time`` for loops whose partial result is valid."""

from __future__ import annotations

from optsched.deadline import Deadline, StopRequest, while_time


def test_while_time_without_a_deadline_yields_everything() -> None:
    assert list(while_time(range(5), None)) == [0, 1, 2, 3, 4]
    assert list(while_time(range(5), Deadline(None))) == [0, 1, 2, 3, 4]


def test_while_time_stops_before_the_next_item() -> None:
    """The stop is set while item 2 is worked on: 3 is not yielded. A deadline already
    passed yields nothing."""
    stop = StopRequest()
    seen = []
    for item in while_time(range(5), Deadline(60.0, stop)):
        seen.append(item)
        if item == 2:
            stop.set()
    assert seen == [0, 1, 2]
    assert list(while_time(range(5), Deadline(60.0, stop))) == []
    assert list(while_time(range(5), Deadline(1e-9))) == []
