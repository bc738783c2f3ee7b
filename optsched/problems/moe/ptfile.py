"""Read ``torch.save`` files, and ``.npy``/``.npz`` arrays, without running stored code.

``torch.save`` layout (torch/serialization.py ``_save``, torch >= 1.6): a zip archive
whose members sit in one top folder ``<name>/`` (the saved file's stem, or
``archive``): ``data.pkl``, the object pickled with protocol 2; ``data/<key>``, the
raw bytes of each storage; ``byteorder`` (``little`` or ``big``, little when absent)
and ``version``. A tensor is pickled as the call ``torch._utils._rebuild_tensor_v2(
storage, offset, size, stride, requires_grad, backward_hooks[, metadata])``, or
``_rebuild_tensor_v3(..., backward_hooks, dtype[, metadata])`` on an untyped storage
for the newer dtypes (uint16/32/64); a storage is the persistent id ``('storage',
storage_type, key, location, numel)`` with ``storage_type`` a global such as
``torch.IntStorage`` (numel elements) or ``torch.storage.UntypedStorage`` (bytes);
``backward_hooks`` is an empty ``collections.OrderedDict``.

The unpickler resolves only those globals (and dtype objects such as ``torch.int32``)
and raises :class:`~optsched.errors.InputError` naming any other, so a crafted file
cannot run code. Tensors come back as C-contiguous numpy arrays in native byte order
(bfloat16 widened to float32). Limits: :data:`MAX_FILE_BYTES` per file,
:data:`MAX_PICKLE_BYTES` of pickle, :data:`MAX_MEMBERS` archive members and
:data:`MAX_ELEMENTS` tensor elements in all. The legacy (tar or bare pickle) format
of torch < 1.6 is refused. ``.npy`` data is read with ``allow_pickle=False`` after
checking that its header's shape fits the bytes present.
"""

from __future__ import annotations

import io
import math
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from optsched.errors import InputError

MAX_FILE_BYTES = 2 * 2**30
MAX_PICKLE_BYTES = 256 * 2**20
MAX_MEMBERS = 200_000
MAX_ELEMENTS = 2**27
MAX_DIMS = 16
ZIP_MAGIC = b"PK\x03\x04"
LEGACY = "legacy torch.save format (torch < 1.6); re-save with torch>=1.6"
PICKLE = "data.pkl"

# Element type codes: numpy codes, and "bf16" for bfloat16 (read as uint16 bits).
_STORAGES = {"Double": "f8", "Float": "f4", "Half": "f2", "BFloat16": "bf16", "Long": "i8",
             "Int": "i4", "Short": "i2", "Char": "i1", "Byte": "u1", "Bool": "b1"}
_DTYPES = {"float64": "f8", "float32": "f4", "float16": "f2", "bfloat16": "bf16",
           "int64": "i8", "int32": "i4", "int16": "i2", "int8": "i1", "uint8": "u1",
           "uint16": "u2", "uint32": "u4", "uint64": "u8", "bool": "b1"}


def _sealed(what: str) -> Callable[[object, object], None]:
    """A ``__setstate__`` refusing the pickle BUILD opcode, naming ``what``.

    It keeps a record the pickle may make from being modified by it. It must
    sit in the class body: a slotted dataclass adds its own unless the class
    defines one.
    """

    def refuse(self: object, state: object) -> None:
        raise InputError(PICKLE, f"the pickle tries to modify a {what}")

    return refuse


@dataclass(frozen=True, slots=True)
class _ElementType:
    """A pickled storage class or dtype object; only its element type is kept."""

    name: str
    code: str
    __setstate__ = _sealed("storage type")


@dataclass(frozen=True, slots=True, eq=False)
class _Storage:
    """The bytes of one ``data/<key>`` member and the element type it was saved with."""

    key: str
    raw: bytes
    code: str
    __setstate__ = _sealed("storage")


@dataclass(frozen=True, slots=True, eq=False)
class _Rebuild:
    """An allowlisted tensor rebuild function; the pickle can call it, not modify it."""

    run: Callable[..., npt.NDArray[Any]]
    __setstate__ = _sealed("rebuild function")

    def __call__(self, *args: object) -> npt.NDArray[Any]:
        """Rebuild a tensor from the pickled arguments."""
        return self.run(*args)


def check_size(path: Path, limit: int) -> int:
    """Return the size of ``path`` in bytes; raise if it cannot be read or exceeds ``limit``."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError("", f"cannot read the file: {exc.strerror}") from None
    if size > limit:
        raise InputError("", f"file of {size} bytes exceeds the limit of {limit} bytes")
    return size


def open_zip(path: Path) -> zipfile.ZipFile:
    """Open a zip archive after checking its size and its declared number of members."""
    size = check_size(path, MAX_FILE_BYTES)
    with path.open("rb") as fh:
        head = fh.read(len(ZIP_MAGIC))
        tail_start = max(0, size - 65_557)
        fh.seek(tail_start)
        tail = fh.read()
        at = tail.rfind(b"PK\x05\x06")
        if head != ZIP_MAGIC or at < 0 or len(tail) - at < 22:
            raise InputError("", "not a zip archive, or a truncated one (no end record)")
        members = struct.unpack_from("<H", tail, at + 10)[0]
        locator = at - 20
        if members == 0xFFFF and locator >= 0 and tail[locator:locator + 4] == b"PK\x06\x07":
            fh.seek(struct.unpack_from("<Q", tail, locator + 8)[0])
            record = fh.read(56)
            if len(record) == 56 and record[:4] == b"PK\x06\x06":
                members = struct.unpack_from("<Q", record, 32)[0]
    if members > MAX_MEMBERS:
        raise InputError("", f"zip archive declares {members} members, more than {MAX_MEMBERS}")
    try:
        return zipfile.ZipFile(path)
    except Exception as exc:  # zipfile raises many kinds on corrupt input
        raise InputError("", f"not a valid zip archive: {_line(exc)}") from None


def read_pt(path: Path) -> object:
    """Return the object ``torch.save`` wrote to ``path``, tensors as numpy arrays.

    Raises :class:`~optsched.errors.InputError` for a legacy, corrupt, oversize or
    unsafe file.
    """
    check_size(path, MAX_FILE_BYTES)
    try:
        with path.open("rb") as fh:
            head = fh.read(512)
        if head[:1] == b"\x80" or head[257:262] == b"ustar":
            raise InputError("", LEGACY)
        with open_zip(path) as archive:
            return load_archive(archive)
    except OSError as exc:
        raise InputError("", f"cannot read the file: {exc.strerror or exc}") from None


def load_archive(archive: zipfile.ZipFile) -> object:
    """Unpickle ``<name>/data.pkl`` of an open torch archive with the restricted unpickler."""
    names = archive.namelist()
    prefix = names[0].split("/", 1)[0] + "/" if names and "/" in names[0] else ""
    if not prefix or prefix + PICKLE not in names:
        raise InputError(PICKLE, "missing: not a torch.save archive (no <name>/data.pkl)")
    order = "<"
    if prefix + "byteorder" in names:
        mark = _member(archive, prefix + "byteorder", 16)
        if mark not in (b"little", b"big"):
            raise InputError("byteorder", f"must be 'little' or 'big', got {mark[:16]!r}")
        order = "<" if mark == b"little" else ">"
    data = _member(archive, prefix + PICKLE, MAX_PICKLE_BYTES)
    loader = _Loader(data, archive, prefix, order)
    try:
        return loader.load()
    except InputError:
        raise
    except Exception as exc:  # any failure of untrusted pickle data becomes one line
        raise InputError(PICKLE, f"unreadable pickle ({_line(exc)})") from None


def _member(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > limit:
        raise InputError(name, f"member of {info.file_size} bytes exceeds the limit of {limit}")
    try:
        return archive.read(info)
    except Exception as exc:  # corrupt, encrypted or unsupported member
        raise InputError(name, f"cannot read the archive member: {_line(exc)}") from None


class _Loader(pickle._Unpickler):
    """Unpickler that resolves only allowlisted globals and reads storages from the archive.

    It extends the pure-Python unpickler: the C one grows its memo to any index a
    LONG_BINPUT names (2**32 entries are 32 GiB), the pure-Python one keeps a dict.
    """

    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str, order: str) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8")
        self.archive, self.prefix, self.order = archive, prefix, order
        self.names = set(archive.namelist())
        self.storages: dict[str, _Storage] = {}
        self.read_bytes = 0
        self.elements = 0
        table: dict[str, object] = {
            "collections.OrderedDict": OrderedDict,
            "torch._utils._rebuild_tensor": _Rebuild(self.rebuild_v2),
            "torch._utils._rebuild_tensor_v2": _Rebuild(self.rebuild_v2),
            "torch._utils._rebuild_tensor_v3": _Rebuild(self.rebuild_v3),
        }
        for name, code in _STORAGES.items():
            table[f"torch.{name}Storage"] = _ElementType(f"torch.{name}Storage", code)
        untyped = _ElementType("torch.UntypedStorage", "u1")
        table["torch.UntypedStorage"] = table["torch.storage.UntypedStorage"] = untyped
        for name, code in _DTYPES.items():
            table[f"torch.{name}"] = _ElementType(f"torch.{name}", code)
        self.table = table

    def find_class(self, module_name: str, global_name: str, /) -> Any:
        """Return an allowlisted global; raise InputError naming any other."""
        full = f"{module_name}.{global_name}"
        if full not in self.table:
            raise InputError(PICKLE, f"refusing the pickled global {full!r} (only tensors, "
                                     "dicts, lists and plain values are read)")
        return self.table[full]

    def persistent_load(self, pid: Any, /) -> Any:
        """Resolve ``('storage', storage_type, key, location, numel)`` to a storage."""
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise InputError(PICKLE, f"unknown persistent id {repr(pid)[:80]}")
        _, kind, key, _location, numel = pid
        if not isinstance(kind, _ElementType):
            raise InputError(PICKLE, "a storage's type is not a torch storage class")
        if not (isinstance(key, str) and key.isprintable() and 0 < len(key) <= 64) or \
                not _is_count(numel):
            raise InputError(PICKLE, f"malformed storage id for key {repr(key)[:40]}")
        if key in self.storages:
            return self.storages[key]
        name = f"{self.prefix}data/{key}"
        if name not in self.names:
            raise InputError(f"data/{key}", "missing storage member")
        nbytes = numel * _dtype(kind.code, "<").itemsize
        size = self.archive.getinfo(name).file_size
        if nbytes > size:
            raise InputError(f"data/{key}", f"storage of {numel} elements ({nbytes} bytes) "
                                            f"exceeds its archive member of {size} bytes")
        self.read_bytes += size
        if self.read_bytes > MAX_FILE_BYTES:
            raise InputError("data", f"storages exceed {MAX_FILE_BYTES} bytes in all")
        raw = _member(self.archive, name, MAX_FILE_BYTES)[:nbytes]
        self.storages[key] = storage = _Storage(key, raw, kind.code)
        return storage

    def rebuild_v2(self, storage: object, offset: object, size: object, stride: object,
                   *_: object) -> npt.NDArray[Any]:
        """Stand-in for ``torch._utils._rebuild_tensor`` and ``_rebuild_tensor_v2``."""
        return self.tensor(storage, offset, size, stride, None)

    def rebuild_v3(self, storage: object, offset: object, size: object, stride: object,
                   requires_grad: object, hooks: object, dtype: object,
                   metadata: object = None) -> npt.NDArray[Any]:
        """Stand-in for ``torch._utils._rebuild_tensor_v3`` (explicit dtype)."""
        if not isinstance(dtype, _ElementType):
            raise InputError(PICKLE, "a tensor's dtype is not a torch dtype")
        return self.tensor(storage, offset, size, stride, dtype.code)

    def tensor(self, storage: object, offset: object, size: object, stride: object,
               code: str | None) -> npt.NDArray[Any]:
        """Rebuild one tensor from its storage, offset, size and stride (in elements)."""
        if not isinstance(storage, _Storage):
            raise InputError(PICKLE, "a tensor's storage is not a storage record")
        shape, steps = _dims(size, "size"), _dims(stride, "stride")
        if len(shape) != len(steps) or not isinstance(offset, int) or not _is_count(offset):
            raise InputError(PICKLE, f"tensor with size {shape}, stride {steps} and "
                                     f"offset {repr(offset)[:20]} is malformed")
        code = code or storage.code
        dtype = _dtype(code, self.order)
        count = len(storage.raw) // dtype.itemsize
        numel = math.prod(shape)
        self.elements += numel
        if self.elements > MAX_ELEMENTS:
            raise InputError(PICKLE, f"tensors hold more than {MAX_ELEMENTS} elements in all")
        native = _dtype(code, "=")
        if numel == 0:
            array = np.zeros(shape, dtype=native)
        else:
            last = offset + sum((n - 1) * s for n, s in zip(shape, steps, strict=True))
            if last >= count:
                raise InputError(f"data/{storage.key}",
                                 f"tensor of size {shape}, stride {steps}, offset {offset} "
                                 f"reads past its storage of {count} elements")
            base = np.frombuffer(storage.raw, dtype=dtype, count=count)[offset:]
            view = np.lib.stride_tricks.as_strided(
                base, shape=shape, strides=tuple(s * dtype.itemsize for s in steps),
                writeable=False)
            array = np.array(view, dtype=native, order="C")  # a contiguous copy
        if code == "bf16":
            return (array.astype(np.uint32) << 16).view(np.float32)
        return array


def _line(exc: BaseException) -> str:
    """``exc`` as one short line: its type and its message."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _dims(value: object, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple | list) or len(value) > MAX_DIMS or \
            not all(_is_count(v) for v in value):
        raise InputError(PICKLE, f"a tensor's {what} is not a tuple of at most {MAX_DIMS} "
                                 f"non-negative integers: {repr(value)[:80]}")
    return tuple(value)


def _dtype(code: str, order: str) -> np.dtype[Any]:
    if code == "bf16":
        return np.dtype(order + "u2")
    if code in ("b1", "u1", "i1"):
        return np.dtype(code)
    return np.dtype(order + code)


def read_npy(fh: IO[bytes], size: int, field: str) -> npt.NDArray[Any]:
    """Read one ``.npy`` stream of ``size`` bytes; no pickled objects, no oversize header."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fh)
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else \
            fmt.read_array_header_2_0
        shape, _, dtype = read_header(fh)
        need, left = math.prod(shape) * dtype.itemsize, size - fh.tell()
        if dtype.hasobject or need > left:
            raise InputError(field, f"declares {dtype} {shape} ({need} bytes) in {left} bytes")
        fh.seek(0)
        return fmt.read_array(fh, allow_pickle=False)
    except InputError:
        raise
    except Exception as exc:  # numpy and zipfile raise many kinds on corrupt input
        raise InputError(field, f"unreadable .npy data: {_line(exc)}") from None


def read_npz(archive: zipfile.ZipFile, keys: tuple[str, ...]) -> dict[str, object]:
    """Read the members ``<key>.npy`` of an open ``.npz`` archive that are in ``keys``."""
    out: dict[str, object] = {}
    for info in archive.infolist():
        stem = info.filename.removesuffix(".npy")
        if stem in keys and info.filename.endswith(".npy"):
            try:
                with archive.open(info) as fh:
                    out[stem] = read_npy(fh, info.file_size, stem)
            except InputError:
                raise
            except Exception as exc:  # corrupt, encrypted or unsupported member
                raise InputError(stem, f"cannot read the archive member: {_line(exc)}") from None
    return out
