"""SolveParams validation: each bad value names its field."""

from __future__ import annotations

import math

import pytest

from optsched import InputError, SolveParams


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"time_limit": -1}, "time_limit"),
    ({"time_limit": 0}, "time_limit"),
    ({"time_limit": math.inf}, "time_limit"),
    ({"time_limit": math.nan}, "time_limit"),
    ({"time_limit": "10"}, "time_limit"),
    ({"time_limit": True}, "time_limit"),
    ({"workers": 0}, "workers"),
    ({"workers": 1.5}, "workers"),
    ({"seed": -1}, "seed"),
    ({"seed": 2**31}, "seed"),
])
def test_bad_params_name_the_field(kwargs: dict[str, object], field: str) -> None:
    """A bad parameter raises InputError whose message starts with the field."""
    with pytest.raises(InputError) as info:
        SolveParams(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_defaults() -> None:
    """No time limit, workers leased by solve() (the cores available outside it), seed 0,
    fallback on."""
    params = SolveParams()
    assert params.time_limit is None
    assert params.workers is None and params.threads >= 1
    assert params.seed == 0
    assert params.fallback


def test_absurd_time_limits_are_refused() -> None:
    """1e12 s would let HiGHS run unbounded: anything above 1e7 s names the field."""
    with pytest.raises(InputError, match=r"^time_limit: must be at most 1e\+07 s"):
        SolveParams(time_limit=1e12)
    assert SolveParams(time_limit=1e7).time_limit == 1e7
