"""A moe solution: per layer, the logical expert in every physical slot (``phy2log``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from optsched.errors import InputError
from optsched.fields import excerpt, is_int, require_keys, type_name

MAX_ROWS = 1024
MAX_ROW = 1 << 16


@dataclass(frozen=True, eq=False)
class MoeSolution:
    """``phy2log[l][s]``: the expert in slot ``s`` of layer ``l``.

    GPU ``g`` holds slots ``g * slots_per_gpu`` to ``(g + 1) * slots_per_gpu
    - 1`` (EPLB's, vLLM's and SGLang's ``physical_to_logical_map``).
    """

    phy2log: np.ndarray

    def __post_init__(self) -> None:
        self.phy2log.setflags(write=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MoeSolution):
            return NotImplemented
        return bool(np.array_equal(self.phy2log, other.phy2log))

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"phy2log": [[...], ...]}``."""
        return {"phy2log": self.phy2log.tolist()}


def make(rows: Any) -> MoeSolution:
    """A solution from any ``[layers, slots]`` integer array-like (copied)."""
    return MoeSolution(np.array(rows, dtype=np.int64, copy=True))


def from_dict(obj: object) -> MoeSolution:
    """Read ``{"phy2log": [[...], ...]}`` (the shape and ranges are the checker's to judge)."""
    data = require_keys(obj, "solution", ("phy2log",), (), InputError)
    rows = data["phy2log"]
    if not isinstance(rows, list) or not rows or len(rows) > MAX_ROWS:
        raise InputError("solution.phy2log", f"must be a list of 1 to {MAX_ROWS} rows, got "
                                             f"{type_name(rows)}")
    width = None
    for i, row in enumerate(rows):
        if not isinstance(row, list) or not row or len(row) > MAX_ROW:
            raise InputError(f"solution.phy2log[{i}]", f"must be a list of 1 to {MAX_ROW} "
                                                       f"experts, got {type_name(row)}")
        if width is not None and len(row) != width:
            raise InputError(f"solution.phy2log[{i}]", f"has {len(row)} slots, row 0 has "
                                                       f"{width}")
        width = len(row)
        for j, value in enumerate(row):
            if not is_int(value) or not -1 <= value < 1 << 31:
                raise InputError(f"solution.phy2log[{i}][{j}]", f"must be an expert index, "
                                                                f"got {excerpt(value)}")
    return make(rows)
