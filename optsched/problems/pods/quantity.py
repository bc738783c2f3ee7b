"""Kubernetes resource quantities: the grammar of ``k8s.io/apimachinery`` ``resource.Quantity``.

::

    <quantity>      ::= <signedNumber><suffix>
    <suffix>        ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>      ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>     ::= m | "" | k | M | G | T | P | E      (and n, u)
    <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>

So ``"1.5Gi"``, ``"500m"``, ``"1e3"`` and ``"128974848"`` are quantities and
``"100MB"``, ``"1 Gi"`` and ``"1gi"`` are not. Inside optsched every amount
is an integer: cpu in millicores, everything else in its base unit (bytes,
pods, devices), rounded up as Kubernetes rounds requests.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import lru_cache

from optsched.errors import InstanceError
from optsched.fields import excerpt, is_int, type_name

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
            "": Fraction(1), "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9),
            "T": Fraction(10**12), "P": Fraction(10**15), "E": Fraction(10**18)}
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?:(?P<binary>Ki|Mi|Gi|Ti|Pi|Ei)|[eE](?P<exponent>[+-]?\d+)|(?P<decimal>[numkMGTPE]?))",
    re.ASCII)  # \d is 0-9 only: "١" is not a quantity
MAX_AMOUNT = 2**62
"""Largest amount (in base units) optsched accepts: the solvers compute in 64-bit integers."""

CPU = "cpu"
PODS = "pods"


def parse(value: object, field: str) -> Fraction:
    """Read one quantity: a string in Kubernetes syntax, or a bare number (plain units).

    Raises
    ------
    InstanceError
        Naming ``field`` when the text is not a quantity or the amount is negative.
    """
    if is_int(value):
        amount = Fraction(int(value))  # type: ignore[call-overload]
    elif isinstance(value, float) and math.isfinite(value):
        amount = Fraction(repr(value)) if "e" not in repr(value) else Fraction(value)
    elif isinstance(value, str):
        match = _QUANTITY.fullmatch(value)
        if match is None:
            raise InstanceError(field, f"{excerpt(value)} is not a Kubernetes quantity (e.g. "
                                       "'500m', "
                                       "'2', '1.5Gi', '128974848'; units: m k M G T P E, "
                                       "Ki Mi Gi Ti Pi Ei)")
        amount = Fraction(match["number"])
        if match["binary"]:
            amount *= _BINARY[match["binary"]]
        elif match["exponent"] is not None:
            exponent = int(match["exponent"])
            if abs(exponent) > 30:
                raise InstanceError(field, f"{excerpt(value)}: exponent out of range")
            amount *= Fraction(10**exponent) if exponent >= 0 else Fraction(1, 10**-exponent)
        else:
            amount *= _DECIMAL[match["decimal"]]
    else:
        raise InstanceError(field, f"must be a quantity string like '500m' or '1Gi', "
                                   f"got {type_name(value)}")
    if amount < 0:
        raise InstanceError(field, f"must not be negative, got {excerpt(value)}")
    return amount


def amount(resource: str, value: object, field: str) -> int:
    """A quantity of ``resource`` as an integer: millicores for cpu, base units otherwise.

    Kubernetes rounds a request up to the resource's precision; so does this.
    Extended resources and ``pods`` must be whole numbers.
    """
    if type(value) is int and 0 <= value <= MAX_AMOUNT and resource != CPU:
        return value  # the common case of a large cluster, without fractions
    if (type(value) is str and resource == CPU and value.endswith("m")
            and value[:-1].isascii() and value[:-1].isdigit()
            and int(value[:-1]) <= MAX_AMOUNT):
        return int(value[:-1])  # millicores, as the scheduler plugin's requests are
    if type(value) is str and len(value) <= MAX_CACHED_TEXT:
        try:
            return _text_amount(resource, value)
        except InstanceError:
            pass  # read again below, to name the field
    return _amount(resource, value, field)


MAX_CACHED_TEXT = 32
"""Longest quantity text whose amount is remembered (:func:`_text_amount`)."""


@lru_cache(maxsize=4096)
def _text_amount(resource: str, value: str) -> int:
    """:func:`_amount` of a quantity text, remembered.

    A snapshot of 150,000 pods writes a few hundred distinct texts, and reading each
    with fractions took most of the time of reading it.
    """
    return _amount(resource, value, resource)


def _amount(resource: str, value: object, field: str) -> int:
    quantity = parse(value, field)
    scaled = quantity * 1000 if resource == CPU else quantity
    if resource != CPU and resource != "memory" and scaled.denominator != 1 \
            and not resource.startswith(("hugepages-", "ephemeral-storage")):
        raise InstanceError(field, f"{resource} must be a whole number, got {excerpt(value)}")
    result = math.ceil(scaled)
    if result > MAX_AMOUNT:
        raise InstanceError(field, f"{excerpt(value)} is too large (at most 2^62 base units)")
    return result


def format_amount(resource: str, value: int) -> str:
    """The Kubernetes text of an integer amount (``"1500m"``, ``"2Gi"``, ``"3"``)."""
    if resource == CPU:
        return f"{value // 1000}" if value % 1000 == 0 else f"{value}m"
    if resource == "memory" and value:
        for suffix in ("Gi", "Mi", "Ki"):
            if value % _BINARY[suffix] == 0:
                return f"{value // _BINARY[suffix]}{suffix}"
    return str(value)
