"""Write torch.save-format zip files without torch (for the tests only).

The layout follows torch/serialization.py ``_save``: members ``<name>/data.pkl``
(pickle protocol 2), ``<name>/byteorder``, ``<name>/data/<key>`` per storage and
``<name>/version``. The pickle is emitted opcode by opcode, because the standard
pickler cannot name ``torch._utils._rebuild_tensor_v2`` without importing torch. A
tensor is ``_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())``
with the persistent id ``('storage', torch.<T>Storage, key, 'cpu', numel)``; dtypes
torch only saves through untyped storages (uint16/32/64) use ``_rebuild_tensor_v3``.
"""

from __future__ import annotations

import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

STORAGES = {"int64": "LongStorage", "int32": "IntStorage", "int16": "ShortStorage",
            "int8": "CharStorage", "uint8": "ByteStorage", "float64": "DoubleStorage",
            "float32": "FloatStorage", "float16": "HalfStorage", "bool": "BoolStorage"}
V3_DTYPES = ("uint16", "uint32", "uint64")


@dataclass(frozen=True)
class Global:
    """A pickled reference ``module.name`` (GLOBAL opcode)."""

    module: str
    name: str


@dataclass(frozen=True)
class Call:
    """``func(*args)`` in the pickle (GLOBAL, argument tuple, REDUCE)."""

    func: Global
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Persistent:
    """A persistent id (the tuple, then BINPERSID), as torch emits for storages."""

    pid: tuple[Any, ...]


@dataclass(frozen=True, eq=False)
class Tensor:
    """A tensor view: a 1-D storage and size, stride and offset in elements."""

    storage: npt.NDArray[Any]
    size: tuple[int, ...]
    stride: tuple[int, ...]
    offset: int = 0
    storage_class: str | None = None  # override, e.g. "BFloat16Storage" for raw bits


def tensor(values: Any, dtype: str = "int32") -> Tensor:
    """A contiguous tensor holding ``values``."""
    array = np.ascontiguousarray(values, dtype=dtype)
    stride = tuple(s // array.itemsize for s in array.strides) if array.size else \
        (0,) * array.ndim
    return Tensor(array.reshape(-1), tuple(array.shape), stride)


class _Writer:
    def __init__(self, byteorder: str) -> None:
        self.out = bytearray(b"\x80\x02")  # PROTO 2
        self.order: Literal["<", ">"] = "<" if byteorder == "little" else ">"
        self.storages: dict[int, tuple[str, bytes]] = {}

    def save(self, obj: Any) -> None:
        out = self.out
        if obj is None:
            out += b"N"
        elif obj is True or obj is False:
            out += b"\x88" if obj else b"\x89"
        elif isinstance(obj, int):
            self.integer(obj)
        elif isinstance(obj, float):
            out += b"G" + struct.pack(">d", obj)
        elif isinstance(obj, str):
            data = obj.encode("utf-8")
            out += b"X" + struct.pack("<I", len(data)) + data
        elif isinstance(obj, Global):
            out += f"c{obj.module}\n{obj.name}\n".encode()
        elif isinstance(obj, Call):
            self.save(obj.func)
            self.save(obj.args)
            out += b"R"
        elif isinstance(obj, Persistent):
            self.save(obj.pid)
            out += b"Q"
        elif isinstance(obj, tuple):
            self.sequence(obj, b"(", b"t", b")")
        elif isinstance(obj, list):
            out += b"]"
            if obj:
                self.sequence(obj, b"(", b"e", b"")
        elif isinstance(obj, OrderedDict):
            self.save(Call(Global("collections", "OrderedDict"), ()))
            self.items(obj)
        elif isinstance(obj, dict):
            out += b"}"
            self.items(obj)
        elif isinstance(obj, Tensor):
            self.tensor(obj)
        else:
            raise TypeError(f"ptwriter cannot write {type(obj).__name__}")

    def integer(self, value: int) -> None:
        if 0 <= value < 256:
            self.out += b"K" + bytes([value])
        elif 0 <= value < 65536:
            self.out += b"M" + struct.pack("<H", value)
        elif -(2**31) <= value < 2**31:
            self.out += b"J" + struct.pack("<i", value)
        else:
            data = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
            self.out += b"\x8a" + bytes([len(data)]) + data

    def sequence(self, items: tuple[Any, ...] | list[Any], mark: bytes, end: bytes,
                 empty: bytes) -> None:
        if not items:
            self.out += empty
            return
        self.out += mark
        for item in items:
            self.save(item)
        self.out += end

    def items(self, mapping: dict[Any, Any]) -> None:
        if mapping:
            self.out += b"("
            for key, value in mapping.items():
                self.save(key)
                self.save(value)
            self.out += b"u"

    def tensor(self, t: Tensor) -> None:
        dtype = str(t.storage.dtype)
        entry = self.storages.setdefault(
            id(t.storage), (str(len(self.storages)),
                            t.storage.astype(t.storage.dtype.newbyteorder(self.order)).tobytes()))
        key = entry[0]
        hooks: OrderedDict[Any, Any] = OrderedDict()
        head = (t.offset, t.size, t.stride, False, hooks)
        if t.storage_class is None and dtype in V3_DTYPES:
            pid = ("storage", Global("torch.storage", "UntypedStorage"), key, "cpu",
                   t.storage.nbytes)
            self.save(Global("torch._utils", "_rebuild_tensor_v3"))
            self.persistent_call(pid, (*head, Global("torch", dtype)))
        else:
            kind = t.storage_class or STORAGES[dtype]
            pid = ("storage", Global("torch", kind), key, "cpu", t.storage.size)
            self.save(Global("torch._utils", "_rebuild_tensor_v2"))
            self.persistent_call(pid, head)

    def persistent_call(self, pid: tuple[Any, ...], rest: tuple[Any, ...]) -> None:
        self.out += b"("
        self.save(pid)
        self.out += b"Q"  # BINPERSID
        for item in rest:
            self.save(item)
        self.out += b"tR"


def dumps(obj: Any, byteorder: str = "little") -> tuple[bytes, dict[str, bytes]]:
    """Return the pickle of ``obj`` and the storages' bytes by key."""
    writer = _Writer(byteorder)
    writer.save(obj)
    writer.out += b"."
    return bytes(writer.out), dict(writer.storages.values())


def write_pt(path: Path, obj: Any, byteorder: str | None = "little",
             pickle_bytes: bytes | None = None, extra: dict[str, bytes] | None = None) -> Path:
    """Write ``obj`` as torch.save would; ``pickle_bytes`` replaces the generated pickle.

    ``byteorder=None`` omits the byteorder member (readers then assume little endian).
    """
    data, storages = dumps(obj, byteorder or "little")
    name = path.name.rsplit(".", 1)[0] or "archive"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{name}/data.pkl", pickle_bytes if pickle_bytes is not None else data)
        if byteorder is not None:
            archive.writestr(f"{name}/byteorder", byteorder)
        for key in sorted(storages):
            archive.writestr(f"{name}/data/{key}", storages[key])
        for member, content in (extra or {}).items():
            archive.writestr(f"{name}/{member}", content)
        archive.writestr(f"{name}/version", "3\n")
    return path
