"""The scratchpad kind's JSON: reading it (each bad field named) and writing it back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from optsched.errors import InstanceError
from optsched.fields import excerpt, require_keys, require_str, type_name
from optsched.problems.memalloc.scratchpad.instance import Operator, ScratchpadInstance, Tensor


def is_scratchpad(obj: Mapping[str, Any]) -> bool:
    """True for the JSON object of a scratchpad instance (``operators``, or its ``kind``)."""
    return "operators" in obj or obj.get("kind") == "scratchpad"


def from_dict(obj: Mapping[str, Any]) -> ScratchpadInstance:
    """Build an instance from its JSON object; a bad field raises naming it."""
    data = require_keys(obj, "", ("capacity", "tensors", "operators"),
                        ("family", "format", "kind", "name", "inputs", "outputs", "order",
                         "stream_weights", "meta"))
    if data.get("kind", "scratchpad") != "scratchpad":
        raise InstanceError("kind", f"must be \"scratchpad\" for an instance with operators, "
                                    f"got {excerpt(data.get('kind'))}")
    tensors = tuple(_tensor(t, i) for i, t in enumerate(_list(data["tensors"], "tensors")))
    operators = tuple(_operator(o, i) for i, o in enumerate(_list(data["operators"],
                                                                  "operators")))
    outputs = data.get("outputs")
    weights = data.get("stream_weights", False)
    if not isinstance(weights, bool):
        raise InstanceError("stream_weights", f"must be true or false, got {type_name(weights)}")
    meta = data.get("meta", {})
    if not isinstance(meta, Mapping):
        raise InstanceError("meta", f"must be an object, got {type_name(meta)}")
    return ScratchpadInstance(
        tensors, operators, data["capacity"], _names(data.get("inputs", []), "inputs"),
        None if outputs is None else _names(outputs, "outputs"),
        require_str(data.get("order", "listed"), "order"), weights,
        require_str(data.get("name", ""), "name"), dict(meta))


def _list(value: object, where: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise InstanceError(where, f"must be a list, got {type_name(value)}")
    return value


def _names(value: object, where: str) -> tuple[str, ...]:
    items = _list(value, where)
    for k, v in enumerate(items):
        require_str(v, f"{where}[{k}]")
    return tuple(items)


def _tensor(obj: object, i: int) -> Tensor:
    data = require_keys(obj, f"tensors[{i}]", ("id", "size"))
    return Tensor(require_str(data["id"], f"tensors[{i}].id"), data["size"])


def _operator(obj: object, i: int) -> Operator:
    where = f"operators[{i}]"
    data = require_keys(obj, where, ("id", "outputs"), ("inputs", "weights"))
    return Operator(require_str(data["id"], f"{where}.id"),
                    _names(data.get("inputs", []), f"{where}.inputs"),
                    _names(data["outputs"], f"{where}.outputs"), data.get("weights", 0))


def to_dict(inst: ScratchpadInstance) -> dict[str, Any]:
    """The instance's JSON object, without ``family`` and ``format``."""
    out: dict[str, Any] = {"kind": "scratchpad", "name": inst.name, "capacity": inst.capacity,
                           "order": inst.order}
    if inst.stream_weights:
        out["stream_weights"] = True
    out["inputs"] = list(inst.inputs)
    if inst.outputs is not None:
        out["outputs"] = list(inst.outputs)
    out["tensors"] = [{"id": t.id, "size": t.size} for t in inst.tensors]
    out["operators"] = [{"id": o.id, "inputs": list(o.inputs), "outputs": list(o.outputs),
                         **({"weights": o.weights} if o.weights else {})}
                        for o in inst.operators]
    if inst.meta:
        out["meta"] = dict(inst.meta)
    return out
