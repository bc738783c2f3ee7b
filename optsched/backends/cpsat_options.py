"""CP-SAT's options, declared by CP-SAT itself: the fields of its ``SatParameters`` proto."""

from __future__ import annotations

from functools import cache
from typing import Any

from optsched.options import Option, OptionSet

RESERVED = {"num_workers": "--workers (SolveParams.workers)",
            "num_search_workers": "--workers (SolveParams.workers)",
            "random_seed": "--seed (SolveParams.seed)",
            "log_search_progress": "--log (SolveParams.log)",
            "log_to_stdout": "--log (SolveParams.log)"}
_BOOL, _INT64, _INT32, _DOUBLE, _FLOAT, _STRING, _MESSAGE, _ENUM = 8, 3, 5, 1, 2, 9, 11, 14
_RANGE = {_INT32: (-(2**31), 2**31 - 1), _INT64: (-(2**63), 2**63 - 1)}


@cache
def options() -> OptionSet:
    """Every scalar and repeated string or enum field of ``SatParameters``.

    Enums take their value names (``"IN_REVERSE_ORDER"``); the fields optsched
    sets from ``SolveParams`` are reserved, but ``max_time_in_seconds`` may
    shorten the time limit; ``subsolver_params`` (a message) is not offered.
    """
    from ortools.sat import sat_parameters_pb2

    declared = []
    for f in sat_parameters_pb2.SatParameters.DESCRIPTOR.fields:
        if f.type == _MESSAGE or f.name in RESERVED:
            continue
        choices: tuple[Any, ...] = ()
        if f.type == _ENUM:
            choices = tuple(v.name for v in f.enum_type.values)
        low, high = _RANGE.get(f.type, (None, None))
        if f.is_repeated:
            declared.append(Option(f.name, list, [], "CP-SAT parameter (repeated)", choices))
            continue
        kind: Any = {_BOOL: bool, _INT32: int, _INT64: int, _DOUBLE: float, _FLOAT: float,
                     _STRING: str, _ENUM: str}[f.type]
        default = f.default_value
        if f.type == _ENUM:
            default = f.enum_type.values_by_number[default].name
        declared.append(Option(f.name, kind, default, "CP-SAT parameter", choices, low, high))
    return OptionSet(tuple(declared), RESERVED, source="CP-SAT's SatParameters proto")
