"""Declared options of solvers (``-o``) and formulations (``-m``).

Every native solver and every family model declares its options once, as an
:class:`OptionSet`; the backends derive theirs from their library (CP-SAT's
parameter proto, HiGHS' option table, CBC's parameter list). :func:`optsched.solve`
checks ``SolveParams.options`` and ``SolveParams.model`` against them before
any work, ``optsched solvers`` prints them, and :meth:`OptionSet.schema` is the
JSON schema the service publishes.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from optsched.errors import InputError
from optsched.fields import excerpt, is_int, type_name

OptionType = type[bool] | type[int] | type[float] | type[str] | type[list[str]]
_TYPE_NAMES: dict[type, str] = {bool: "boolean", int: "integer", float: "number",
                                str: "string", list: "list of strings"}
LISTED = 24
"""Option sets up to this size are listed in full in an error message; larger ones by the
closest names and the command that lists them all."""


@dataclass(frozen=True)
class Option:
    """One option: its name, type, default, allowed values and a line of help.

    ``low`` and ``high`` bound numbers (inclusive); ``choices`` lists the
    allowed values of a string (or of each item of a list). A ``None``
    default means "not set": the solver decides.
    """

    name: str
    type: OptionType
    default: Any
    help: str
    choices: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None

    def check(self, value: object, field: str) -> Any:
        """Return ``value`` (an int for a number becomes a float); raise naming ``field``."""
        kind = self.type
        if kind is bool:
            if not isinstance(value, bool):
                raise InputError(field, f"must be true or false, got {_shown(value)}")
        elif kind is int:
            if not is_int(value):
                raise InputError(field, f"must be an integer, got {_shown(value)}")
            value = int(value)  # type: ignore[call-overload]
        elif kind is float:
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                    value):
                raise InputError(field, f"must be a finite number, got {_shown(value)}")
            value = float(value)
        elif kind is str:
            if not isinstance(value, str):
                raise InputError(field, f"must be a string, got {_shown(value)}")
        elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(field, f"must be a list of strings, got {_shown(value)}")
        if kind in (int, float):
            self._in_range(value, field)  # type: ignore[arg-type]
        items = value if isinstance(value, list) else [value]
        for item in items:
            if self.choices and item not in self.choices:
                raise InputError(field, f"must be one of {', '.join(map(str, self.choices))}, "
                                        f"got {_shown(item)}")
        return value

    def _in_range(self, value: float, field: str) -> None:
        if (self.low is not None and value < self.low) or (
                self.high is not None and value > self.high):
            raise InputError(field, f"must be {self.range_text()}, got {excerpt(value)}")

    def range_text(self) -> str:
        """The allowed values in words, e.g. ``an integer >= 1``."""
        what = f"a {_TYPE_NAMES[self.type]}" if self.type is not int else "an integer"
        if self.low is not None and self.high is not None:
            return f"{what} in [{_num(self.low)}, {_num(self.high)}]"
        if self.low is not None:
            return f"{what} >= {_num(self.low)}"
        if self.high is not None:
            return f"{what} <= {_num(self.high)}"
        if self.choices:
            return f"one of {', '.join(map(str, self.choices))}"
        return what

    def describe(self) -> str:
        """One line for ``optsched solvers``: name, default, allowed values, help."""
        default = "unset" if self.default is None else _json(self.default)
        return f"{self.name}={default}  ({self.range_text()}) {self.help}".rstrip()

    def schema(self) -> dict[str, Any]:
        """The JSON schema of the option's value."""
        kinds = {bool: "boolean", int: "integer", float: "number", str: "string",
                 list: "array"}
        out: dict[str, Any] = {"type": kinds[self.type], "description": self.help}
        if self.default is not None:
            out["default"] = self.default
        if self.type is list:
            out["items"] = {"type": "string", **({"enum": list(self.choices)}
                                                 if self.choices else {})}
        elif self.choices:
            out["enum"] = list(self.choices)
        if self.low is not None:
            out["minimum"] = self.low
        if self.high is not None:
            out["maximum"] = self.high
        return out


ValueCheck = Callable[[str, Any], str | None]
"""A library's own check of one value (e.g. HiGHS' option ranges): a problem or None."""


@dataclass(frozen=True)
class OptionSet:
    """The options of one solver or formulation.

    ``reserved`` names options that optsched sets itself, with what sets
    them (``"--time-limit"``); ``library_check`` asks the solver library
    about a value when the declaration alone cannot (HiGHS' ranges).
    """

    options: tuple[Option, ...] = ()
    reserved: Mapping[str, str] = field(default_factory=dict)
    library_check: ValueCheck | None = None
    source: str = ""
    """Where the declaration comes from, for listings (e.g. "CP-SAT's SatParameters")."""

    def __post_init__(self) -> None:
        names = [o.name for o in self.options]
        if len(set(names)) != len(names):
            raise ValueError(f"option declared twice: {sorted(names)}")

    def __len__(self) -> int:
        return len(self.options)

    def get(self, name: str) -> Option | None:
        """The option called ``name``, or None."""
        return next((o for o in self.options if o.name == name), None)

    def check(self, given: Mapping[str, Any], kind: str, owner: str) -> dict[str, Any]:
        """Check ``given`` (``kind`` is ``options`` or ``model``); return the checked values.

        Raises
        ------
        InputError
            An unknown or reserved key, or a bad value, naming ``kind.key``
            and listing the valid options or values.
        """
        out: dict[str, Any] = {}
        for key, value in given.items():
            where = f"{kind}.{key}"
            if key in self.reserved:
                raise InputError(where, f"is set by optsched for {owner}: use "
                                        f"{self.reserved[key]}")
            option = self.get(key)
            if option is None:
                raise InputError(where, f"is not an option of {owner} ({self.valid_text(key)})")
            out[key] = option.check(value, where)
            problem = self.library_check(key, out[key]) if self.library_check else None
            if problem:
                raise InputError(where, problem)
        return out

    def resolve(self, checked: Mapping[str, Any]) -> dict[str, Any]:
        """Every option's value: the checked ones, the defaults for the others."""
        return {o.name: checked.get(o.name, o.default) for o in self.options}

    def valid_text(self, key: str = "") -> str:
        """The valid options in words, for an error about ``key``."""
        if not self.options:
            return "it takes none"
        names = [o.name for o in self.options]
        if len(names) <= LISTED:
            return f"valid: {', '.join(names)}"
        close = difflib.get_close_matches(key, names, n=5, cutoff=0.6)
        near = f"closest: {', '.join(close)}; " if close else ""
        return f"{near}{len(names)} valid ones, listed by `optsched solvers --options`"

    def schema(self) -> dict[str, Any]:
        """The JSON schema of a mapping of these options."""
        return {"type": "object", "additionalProperties": False,
                "properties": {o.name: o.schema() for o in self.options}}


NONE = OptionSet()
"""No options: any key is an error."""


def _shown(value: object) -> str:
    return f"{type_name(value)} {excerpt(value)}"


def _json(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ",".join(map(str, value)) + "]"
    return str(value)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)
