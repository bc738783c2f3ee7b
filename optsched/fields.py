"""Checks of JSON-like input that name the offending field.

Every reader goes through these, so that each kind of bad input gets the same
one-line message: ``<field>: <problem>``.
"""

from __future__ import annotations

import numbers
import reprlib
from collections.abc import Collection, Mapping, Sequence
from typing import Any, TypeGuard, TypeVar, cast

from optsched.errors import InputError, InstanceError

T = TypeVar("T")


def or_default(value: T | None, default: T) -> T:
    """``value``, or ``default`` when it is null.

    A falsy value of another type (``""``) is kept, so that the type check
    after it names it.
    """
    return default if value is None else value


def is_int(value: object) -> bool:
    """True for an integer (Python or NumPy) that is not a boolean."""
    if type(value) is int:  # the common case, without the abstract class's check
        return True
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_mapping(value: object) -> TypeGuard[Mapping[Any, Any]]:
    """True for a mapping (a JSON object is a dict)."""
    return type(value) is dict or isinstance(value, Mapping)  # a dict: no abstract check


def require_keys(
    obj: object,
    where: str,
    required: Collection[str],
    optional: Collection[str] = (),
    error: type[InputError] = InstanceError,
) -> Mapping[str, Any]:
    """Check that ``obj`` is an object with exactly the allowed keys."""
    if not is_mapping(obj):
        raise error(where, f"must be a JSON object, got {type_name(obj)}")
    missing = [k for k in required if k not in obj]
    if missing:
        raise error(_join(where, missing[0]), "is missing")
    unknown = [k for k in obj if k not in required and k not in optional]
    if unknown:  # sorted only then: 150,000 pods' sorts of nothing took 0.5 s
        unknown.sort(key=str)
        allowed = ", ".join(sorted([*required, *optional]))
        raise error(_join(where, str(unknown[0])), f"is not a known key (allowed: {allowed})")
    return obj


def require_int(
    value: object,
    field: str,
    minimum: int | None = None,
    error: type[InputError] = InstanceError,
) -> int:
    """Return ``value`` if it is an integer >= ``minimum``; raise otherwise."""
    if not is_int(value):
        raise error(field, f"must be an integer, got {type_name(value)} {excerpt(value)}")
    number = int(cast(numbers.Integral, value))
    if minimum is not None and number < minimum:
        raise error(field, f"must be an integer >= {minimum}, got {number}")
    return number


def require_int_list(
    value: object,
    field: str,
    minimum: int | None = None,
    error: type[InputError] = InstanceError,
) -> tuple[int, ...]:
    """Return ``value`` as a tuple of integers >= ``minimum``; raise otherwise."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise error(field, f"must be a list of integers, got {type_name(value)}")
    return tuple(require_int(v, f"{field}[{i}]", minimum, error) for i, v in enumerate(value))


def require_str(value: object, field: str, error: type[InputError] = InstanceError) -> str:
    """Return ``value`` if it is a string; raise otherwise."""
    if not isinstance(value, str):
        raise error(field, f"must be a string, got {type_name(value)}")
    return value


def type_name(value: object) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


_REPR = reprlib.Repr()
_REPR.maxlevel = 2
_REPR.maxtuple = _REPR.maxlist = _REPR.maxdict = _REPR.maxset = _REPR.maxfrozenset = 4
_REPR.maxstring = _REPR.maxlong = _REPR.maxother = 40


def excerpt(value: object) -> str:
    """A short ``repr`` of ``value`` for messages: long or deep values are cut."""
    return _REPR.repr(value)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key

