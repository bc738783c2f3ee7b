"""SmttInstance validation names the bad field; round trips through JSON objects."""

from __future__ import annotations

from typing import Any

import pytest

from optsched import InstanceError, SmttInstance, instance_from_dict, instance_to_dict

BASE: dict[str, Any] = {"family": "smtt", "format": 1, "name": "x",
                        "processing_times": [3, 5, 2], "due_dates": [4, 6, 3],
                        "weights": [1, 2, 1]}


@pytest.mark.parametrize(("change", "field"), [
    ({"processing_times": [3, 0, 2]}, "processing_times[1]"),
    ({"processing_times": [3, -3, 2]}, "processing_times[1]"),
    ({"processing_times": [3, 5.0, 2]}, "processing_times[1]"),
    ({"processing_times": [3, "5", 2]}, "processing_times[1]"),
    ({"processing_times": [3, True, 2]}, "processing_times[1]"),
    ({"processing_times": "352"}, "processing_times"),
    ({"processing_times": [], "due_dates": [], "weights": []}, "processing_times"),
    ({"due_dates": [4, 6]}, "due_dates"),
    ({"due_dates": [4, None, 3]}, "due_dates[1]"),
    ({"weights": [1, -2, 1]}, "weights[1]"),
    ({"weights": [1, 2]}, "weights"),
    ({"processing_times": [2**62, 2**62, 1]}, "processing_times"),
    ({"due_dates": [4, -(2**60), 3]}, "due_dates[1]"),
    ({"processing_times": [2**40, 1, 1], "weights": [2**20, 1, 1]}, "weights"),
    ({"name": 7}, "name"),
    ({"colour": "red"}, "colour"),
    ({"family": "pods-x"}, "family"),
    ({"format": 2}, "format"),
    ({"format": "1"}, "format"),
    ({"reference": {"value": 3}}, "reference.status"),
    ({"reference": {"value": 3, "status": "guess"}}, "reference.status"),
])
def test_bad_fields_are_named(change: dict[str, Any], field: str) -> None:
    """Each malformed field raises InstanceError whose message starts with its name."""
    with pytest.raises(InstanceError) as info:
        instance_from_dict({**BASE, **change})
    assert str(info.value).startswith(f"{field}: "), str(info.value)


@pytest.mark.parametrize("key", ["processing_times", "due_dates", "family", "format"])
def test_missing_key_is_named(key: str) -> None:
    """A missing required key is reported by name."""
    obj = {k: v for k, v in BASE.items() if k != key}
    with pytest.raises(InstanceError, match=f"^{key}: .*missing"):
        instance_from_dict(obj)


def test_round_trip_and_defaults() -> None:
    """to_dict/from_dict round-trips; absent weights mean the unweighted problem."""
    inst = instance_from_dict(BASE)
    assert instance_from_dict(instance_to_dict(inst)) == inst
    plain = SmttInstance((3, 5), (1, 2))
    assert not plain.weighted and plain.w == (1, 1) and plain.horizon == 8
    assert "weights" not in instance_to_dict(plain)


def test_negative_due_dates_are_allowed() -> None:
    """formats.md: a negative due date is legal (the job is always tardy)."""
    assert SmttInstance((1, 2), (-5, 3)).due_dates == (-5, 3)
