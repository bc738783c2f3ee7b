"""Kubernetes quantities: the grammar of ``resource.Quantity``, units and rounding."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from optsched.errors import InstanceError
from optsched.problems.pods.quantity import amount, format_amount, parse


@pytest.mark.parametrize(("text", "value"), [
    ("500m", Fraction(1, 2)),          # milli: 500 / 1000
    ("2", Fraction(2)),
    (".5", Fraction(1, 2)),            # a number may start with the point
    ("1.", Fraction(1)),               # ... or end with it
    ("+3", Fraction(3)),               # signed numbers are in the grammar
    ("1.5Gi", Fraction(3 * 2**29)),    # 1.5 * 2^30
    ("128974848", Fraction(128974848)),
    ("129e6", Fraction(129 * 10**6)),  # decimal exponent
    ("1e3", Fraction(1000)),
    ("1E3", Fraction(1000)),           # "E" then digits is an exponent ...
    ("1E", Fraction(10**18)),          # ... "E" alone is exa
    ("2k", Fraction(2000)),
    ("100M", Fraction(10**8)),         # M is 10^6, not 2^20
    ("100Mi", Fraction(100 * 2**20)),
    ("5n", Fraction(5, 10**9)),
    (3, Fraction(3)),                  # YAML integers are plain units
    (0.25, Fraction(1, 4)),            # YAML floats too
])
def test_accepted(text: object, value: Fraction) -> None:
    assert parse(text, "f") == value


@pytest.mark.parametrize("text", [
    "100MB", "1 Gi", "1gi", "Gi", "", "1.5.2", "0x10", "1e", "1Ki5", "m", "1mi", "1KiB",
])
def test_rejected_forms_name_the_field(text: str) -> None:
    with pytest.raises(InstanceError, match=r"^spec\.memory: .* is not a Kubernetes quantity"):
        parse(text, "spec.memory")


@pytest.mark.parametrize("value", ["-1", "-500m", -2])
def test_negative_is_rejected(value: object) -> None:
    with pytest.raises(InstanceError, match=r"^requests\.cpu: must not be negative"):
        parse(value, "requests.cpu")


@pytest.mark.parametrize("value", [True, None, [1], {"a": 1}])
def test_other_types_are_rejected(value: object) -> None:
    with pytest.raises(InstanceError, match=r"^x: must be a quantity string"):
        parse(value, "x")


def test_amounts_in_base_units() -> None:
    """cpu in millicores ("2" -> 2000, "1e3" -> 10^6, ".5" -> 500), memory in bytes
    ("1.5Gi" -> 1.5 * 2^30 = 1610612736), extended resources in devices."""
    assert amount("cpu", "2", "f") == 2000
    assert amount("cpu", "1e3", "f") == 1_000_000
    assert amount("cpu", ".5", "f") == 500
    assert amount("memory", "1.5Gi", "f") == 1610612736
    assert amount("memory", "500M", "f") == 500_000_000
    assert amount("nvidia.com/gpu", "2", "f") == 2


def test_the_plain_forms_read_without_fractions_read_the_same() -> None:
    """Whole millicores ("1500m") and integer amounts of other resources skip the general
    parser; the answers and the errors are the same: 1500, 0, 4096, 2 GPUs; "-5m", "١m"
    (not ASCII), a bool and 2^62 + 1 are refused as before."""
    assert amount("cpu", "1500m", "f") == 1500 and amount("cpu", "0m", "f") == 0
    assert amount("memory", 4096, "f") == 4096 and amount("nvidia.com/gpu", 2, "f") == 2
    with pytest.raises(InstanceError, match=r"^f: must not be negative"):
        amount("cpu", "-5m", "f")
    with pytest.raises(InstanceError, match=r"^f: .* is not a Kubernetes quantity"):
        amount("cpu", "\u0661m", "f")
    with pytest.raises(InstanceError, match=r"^f: must be a quantity string"):
        amount("memory", True, "f")
    with pytest.raises(InstanceError, match=r"^f: .* is too large"):
        amount("memory", 2**62 + 1, "f")
    with pytest.raises(InstanceError, match=r"^f: .* is too large"):
        amount("cpu", f"{2**62 + 1}m", "f")


def test_requests_round_up() -> None:
    """0.1m of cpu rounds up to 1 millicore; 0.5 bytes of memory up to 1 byte."""
    assert amount("cpu", "0.1m", "f") == 1
    assert amount("memory", "500m", "f") == 1


def test_extended_resources_are_whole() -> None:
    with pytest.raises(InstanceError, match=r"^f: nvidia.com/gpu must be a whole number"):
        amount("nvidia.com/gpu", "1.5", "f")


def test_remembered_texts_read_alike_and_failures_name_each_field() -> None:
    """A text read twice gives the same amount (1.5Gi = 1,610,612,736 bytes; 250m of cpu
    = 250, via its fraction: "0.25" = 250 millicores). A bad text fails each time and
    names the field of that call; one longer than the remembered texts still reads."""
    for _ in range(2):
        assert amount("memory", "1.5Gi", "a") == 1_610_612_736
        assert amount("cpu", "0.25", "a") == 250
    for field in ("pods[0].requests.gpu", "pods[1].requests.gpu"):
        with pytest.raises(InstanceError, match=rf"^{re.escape(field)}: nvidia.com/gpu must"):
            amount("nvidia.com/gpu", "1.5", field)
    long = "0" * 40 + "3Ki"
    assert amount("memory", long, "a") == 3072


@pytest.mark.parametrize(("resource", "value", "text"), [
    ("cpu", 1500, "1500m"), ("cpu", 2000, "2"), ("memory", 2**31, "2Gi"),
    ("memory", 1536 * 2**20, "1536Mi"), ("memory", 10**8, "100000000"), ("pods", 110, "110"),
])
def test_format_round_trips(resource: str, value: int, text: str) -> None:
    assert format_amount(resource, value) == text
    assert amount(resource, text, "f") == value
