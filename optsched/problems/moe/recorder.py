"""Routing logs of MoE serving runtimes as moe data: load, transitions, coactivation.

Formats, recognised by content rather than suffix:

1. SGLang ``ExpertDistributionRecorder`` dumps (sgl-project/sglang
   ``python/sglang/srt/eplb/expert_distribution.py``), ``torch.save`` files read
   without torch by :mod:`optsched.problems.moe.ptfile`: ``stat``/``stat_approx``
   (``logical_count`` [passes, layers, experts] or [layers, experts], summed over
   passes); ``per_pass`` (one rank's file: ``records`` of ``global_physical_count``
   [layers, physical], each slot's count going to its logical expert in
   ``last_physical_to_logical_map``, records summed); ``per_token`` (records'
   ``topk_ids_of_layer`` [layers, tokens, k] of physical ids, -1 = none, mapped by
   ``last_physical_to_logical_map``, the map at dump time, for every record).
2. JSON ``{"logical_count": ...}`` (2-D or 3-D, as SGLang's ``--init-expert-location``
   takes it), or vLLM's ``routed_experts`` (``--enable-return-routed-experts``): a list
   of per-request arrays [tokens, layers, top_k] of logical ids, or one such array;
   optional ``physical_to_logical_map`` (returned as ``previous``) and ``num_experts``.
   A ``physical_to_logical_map`` alone is a placement, not routing data.
3. ``.npy`` (a logical count array) or ``.npz`` (the same keys as JSON).

From per-token ids: ``load[l][e]`` counts tokens that chose e in layer l; a transition
``(l, e, f, n)``: n tokens chose e in kept layer l and f in the next kept layer, once
per (e, f) pair of a token (a top-k token gives up to k*k pairs); a coactivation
``(l, e, f, n)``, e < f: n tokens chose both in layer l. An id repeated in a token's
row counts once. Top-k routing picks k distinct experts, so for k >= 2 a layer where
every token lists one id k times is a placeholder (dense layer) and reads as empty.

Dense layers appear as all-zero rows in DeepSeek-style dumps. ``drop_empty_layers``
(default True) drops every all-zero layer from load, transitions, coactivation and
previous alike; ``Routing.layers`` keeps the original indices, and transitions join
consecutive kept layers. Limits: ``ptfile.MAX_FILE_BYTES`` (2 GiB) per file,
:data:`MAX_JSON_BYTES`, :data:`MAX_RECORDS` records or requests,
:data:`MAX_PAIR_WORK` token pairs (tokens * k * k per layer and layer boundary),
:data:`MAX_PAIR_EXPERTS` experts when pairs are counted, :data:`MAX_TUPLES` entries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from optsched.errors import InputError
from optsched.problems.moe import ptfile

IntArray = npt.NDArray[np.int64]
Entry = tuple[int, int, int, int]

MAX_JSON_BYTES = 256 * 2**20
MAX_RECORDS = 100_000
MAX_PAIR_WORK = 2**31
MAX_PAIR_EXPERTS = 4096
MAX_TUPLES = 2**23
CHUNK = 2**22
NPZ_KEYS = ("logical_count", "routed_experts", "physical_to_logical_map", "num_experts")
MAP, LAST_MAP = "physical_to_logical_map", "last_physical_to_logical_map"


@dataclass(frozen=True, eq=False)
class Routing:
    """Routing statistics of one log, per kept MoE layer.

    Attributes
    ----------
    load
        int64 [layers, experts]: tokens routed to each logical expert (read-only).
    transitions
        ``(l, e, f, count)``: tokens with expert e at layer l and f at layer l + 1.
    coactivation
        ``(l, e, f, count)`` with e < f: tokens that chose both e and f in layer l.
    previous
        The physical->logical map [layers, slots] when the log carries one, else None.
    source
        A short description, e.g. ``"sglang stat dump, 1000 passes"``.
    layers
        Original layer index of each row of ``load``.
    """

    load: IntArray
    transitions: tuple[Entry, ...]
    coactivation: tuple[Entry, ...]
    previous: IntArray | None
    source: str
    layers: tuple[int, ...]


def read_routing(path: Path, drop_empty_layers: bool = True) -> Routing:
    """Read a routing log (``.pt`` dump, JSON, ``.npy`` or ``.npz``; see the module doc).

    Parameters
    ----------
    path
        The log file.
    drop_empty_layers
        Drop the layers whose load is all zero (dense layers).

    Raises
    ------
    InputError
        One line naming the file, the field and what is wrong with it.
    """
    try:
        return _read(Path(path), drop_empty_layers)
    except InputError as exc:
        flat = type(exc)(*(text.replace("\n", "\\n") for text in (exc.field, exc.problem)))
        raise flat.within(str(path)) from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read the file: {exc.strerror or exc}") from None
    except MemoryError:
        raise InputError(str(path), "too large to process in memory") from None


def _read(path: Path, drop: bool) -> Routing:
    ptfile.check_size(path, ptfile.MAX_FILE_BYTES)
    with path.open("rb") as fh:
        head = fh.read(512)
    obj: object
    if head.startswith(ptfile.ZIP_MAGIC):
        with ptfile.open_zip(path) as archive:
            if any(name.endswith("/" + ptfile.PICKLE) for name in archive.namelist()):
                obj, origin = ptfile.load_archive(archive), "pt"
            elif not (obj := ptfile.read_npz(archive, NPZ_KEYS)):
                raise InputError("", "zip archive is neither a torch.save file nor an npz "
                                     "with logical_count or routed_experts")
            else:
                origin = "npz"
    elif head.startswith(b"\x93NUMPY"):
        with path.open("rb") as fh:
            obj = {"logical_count": ptfile.read_npy(fh, path.stat().st_size, "npy")}
            origin = "npy"
    elif head.lstrip()[:1] in (b"{", b"["):
        ptfile.check_size(path, MAX_JSON_BYTES)
        try:
            obj, origin = json.loads(path.read_bytes()), "json"
        except (ValueError, RecursionError) as exc:
            raise InputError("", f"invalid JSON: {exc}") from None
    elif head[:1] == b"\x80" or head[257:262] == b"ustar":
        raise InputError("", ptfile.LEGACY)
    else:
        raise InputError("", "unrecognised content: expected a torch.save .pt zip, "
                             ".npy, .npz or JSON")
    return _interpret(obj, origin, drop)


def _interpret(obj: object, origin: str, drop: bool) -> Routing:
    if not isinstance(obj, dict):
        raise InputError("", f"top level must be a mapping, got {type(obj).__name__}")
    if "records" in obj:
        return _records(obj, drop)
    map_field = MAP if MAP in obj else LAST_MAP
    map_value = obj.get(map_field)
    if "logical_count" in obj:
        counts = _int_array(obj["logical_count"], "logical_count", (2, 3))
        if 0 in counts.shape[-2:]:
            raise InputError("logical_count", f"has no layer or no expert: shape {counts.shape}")
        _in_range(counts, 0, None, "logical_count", "negative count")
        load = counts.sum(axis=0) if counts.ndim == 3 else counts
        label = "sglang stat dump" if origin == "pt" else f"{origin} logical_count"
        source = f"{label}, {counts.shape[0]} passes" if counts.ndim == 3 else label
        previous = None if map_value is None else _phys_map(
            map_value, map_field, load.shape[0], load.shape[1])[0]
        return _finish(load, None, previous, source, drop)
    if "routed_experts" in obj:
        ids, requests = _routed(obj["routed_experts"])
        previous, experts = None, int(ids.max(initial=-1)) + 1
        if map_value is not None:
            previous, experts = _phys_map(map_value, map_field, ids.shape[0], None)
        if obj.get("num_experts") is not None:
            given = np.asarray(obj["num_experts"])
            if given.ndim or given.dtype.kind not in "iu":
                raise InputError("num_experts", f"must be an integer, got {repr(given)[:40]}")
            experts = int(given)
        if experts < 1 or ids.max(initial=-1) >= experts:
            raise InputError("routed_experts", f"expert ids must lie in [0, {experts}), got "
                                               f"max {ids.max(initial=-1)}")
        source = (f"vllm routed_experts ({origin}), {requests} requests, "
                  f"{ids.shape[1]} tokens")
        return _finish(None, ids, previous, source, drop, experts)
    if map_value is not None:
        raise InputError(map_field, "is a placement, not routing data (no logical_count, "
                                    "records or routed_experts)")
    keys = ", ".join(sorted(repr(k)[:30] for k in obj)[:8]) or "none"
    raise InputError("", f"no logical_count, records or routed_experts key (keys: {keys})")


def _records(obj: dict[Any, Any], drop: bool) -> Routing:
    records = obj["records"]
    if not isinstance(records, list) or not records:
        raise InputError("records", "must be a non-empty list of records")
    if len(records) > MAX_RECORDS:
        raise InputError("records", f"has {len(records)} records, more than {MAX_RECORDS}")
    if LAST_MAP not in obj:
        raise InputError(LAST_MAP, "missing: per_pass and per_token dumps carry it")
    pmap, experts = _phys_map(obj[LAST_MAP], LAST_MAP, None, None)
    layers, slots = pmap.shape
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise InputError(f"records[{i}]", "must be a mapping")
    rank = records[0].get("rank")
    who = f", rank {rank}" if isinstance(rank, int) else ""
    if "topk_ids_of_layer" in records[0]:
        parts = []
        rows = np.arange(layers)[:, None, None]
        for i, record in enumerate(records):
            field = f"records[{i}].topk_ids_of_layer"
            ids = _int_array(record.get("topk_ids_of_layer"), field, (3,))
            _same_layers(ids.shape[0], layers, field)
            _in_range(ids, -1, slots, field, f"physical id out of range [0, {slots})")
            parts.append(np.where(ids >= 0, pmap[rows, np.maximum(ids, 0)], -1))
        merged = _concat(parts)
        source = f"sglang per_token dump{who}, {len(records)} records, {merged.shape[1]} tokens"
        return _finish(None, merged, pmap, source, drop, experts)
    total = np.zeros((layers, slots), np.int64)
    for i, record in enumerate(records):
        field = f"records[{i}].global_physical_count"
        counts = _int_array(record.get("global_physical_count"), field, (2,))
        if counts.shape != pmap.shape:
            raise InputError(field, f"has shape {counts.shape}, {LAST_MAP} has {pmap.shape}")
        _in_range(counts, 0, None, field, "negative count")
        total += counts
    load = np.zeros((layers, experts), np.int64)
    np.add.at(load, (np.arange(layers)[:, None], pmap), total)
    source = f"sglang per_pass dump{who}, {len(records)} records"
    return _finish(load, None, pmap, source, drop)


def _finish(load: IntArray | None, ids: IntArray | None, previous: IntArray | None,
            source: str, drop: bool, experts: int = 0) -> Routing:
    if ids is not None:
        if experts > MAX_PAIR_EXPERTS:
            raise InputError("", f"{experts} experts per layer; per-token data is read for at "
                                 f"most {MAX_PAIR_EXPERTS}")
        ids = _clean(ids)
        keys = (np.arange(ids.shape[0])[:, None, None] * experts + ids)[ids >= 0]
        load = np.bincount(keys, minlength=ids.shape[0] * experts).reshape(-1, experts)
    if load is None or not load.any():
        raise InputError("", "no routed tokens: every count is zero")
    kept = [layer for layer in range(load.shape[0]) if not drop or load[layer].any()]
    transitions: tuple[Entry, ...] = ()
    coactivation: tuple[Entry, ...] = ()
    if ids is not None:
        transitions, coactivation = _pairs(ids, kept, experts)
    load = np.ascontiguousarray(load[kept])
    load.flags.writeable = False
    if previous is not None:
        previous = np.ascontiguousarray(previous[kept])
        previous.flags.writeable = False
    return Routing(load, transitions, coactivation, previous, source, tuple(kept))


def _clean(ids: IntArray) -> IntArray:
    """Read placeholder layers as empty, drop repeated ids and all-padding columns."""
    if ids.shape[2] >= 2 and ids.shape[1] > 0:
        first = ids[:, :, :1]
        placeholder = ((ids == first) & (first >= 0)).all(axis=2).all(axis=1)
        ids[placeholder] = -1
    ids.sort(axis=2)
    repeated = np.zeros(ids.shape, dtype=bool)
    repeated[:, :, 1:] = ids[:, :, 1:] == ids[:, :, :-1]
    ids[repeated] = -1
    ids.sort(axis=2)  # -1 first: drop the columns that are padding in every row
    width = int((ids >= 0).sum(axis=2).max(initial=0))
    return ids[:, :, ids.shape[2] - width:]


def _pairs(ids: IntArray, kept: list[int],
           experts: int) -> tuple[tuple[Entry, ...], tuple[Entry, ...]]:
    _, tokens, width = ids.shape
    work = tokens * width * width * max(0, 2 * len(kept) - 1)
    if work > MAX_PAIR_WORK:
        raise InputError("", f"per-token data expands to {work} token pairs, more than "
                             f"{MAX_PAIR_WORK}; record fewer tokens")
    between = [_pair_counts(ids[a], ids[b], experts, False) for a, b in pairwise(kept)]
    within = [_pair_counts(ids[layer], ids[layer], experts, True) for layer in kept]
    found = sum(int(np.count_nonzero(m)) for m in between + within)
    if found > MAX_TUPLES:
        raise InputError("", f"{found} distinct transitions and coactivations, more than "
                             f"{MAX_TUPLES}")
    return _entries(between), _entries(within)


def _pair_counts(first: IntArray, second: IntArray, experts: int,
                 ordered: bool) -> IntArray:
    """Count (e, f) pairs of the same token: e from ``first``, f from ``second``."""
    tokens, width = first.shape
    total = np.zeros(experts * experts, np.int64)
    step = max(1, CHUNK // max(1, width * width))
    for start in range(0, tokens, step):
        a = first[start:start + step, :, None]
        b = second[start:start + step, None, :]
        mask = (a >= 0) & (b >= 0)
        if ordered:
            mask &= a < b
        total += np.bincount((a * experts + b)[mask], minlength=experts * experts)
    return total.reshape(experts, experts)


def _entries(matrices: list[IntArray]) -> tuple[Entry, ...]:
    out: list[Entry] = []
    for layer, matrix in enumerate(matrices):
        e, f = np.nonzero(matrix)
        out.extend(zip([layer] * len(e), e.tolist(), f.tolist(), matrix[e, f].tolist(),
                       strict=True))
    return tuple(out)


def _routed(value: object) -> tuple[IntArray, int]:
    """Return vLLM ``routed_experts`` as [layers, tokens, k] and the number of requests."""
    depth, first = 0, value
    while isinstance(first, list | tuple) and first:
        depth, first = depth + 1, first[0]
    single = not isinstance(value, list) or depth + getattr(first, "ndim", 0) <= 3
    items = list(value) if isinstance(value, list) and not single else [value]
    if len(items) > MAX_RECORDS:
        raise InputError("routed_experts", f"{len(items)} requests, more than {MAX_RECORDS}")
    arrays: list[IntArray] = []
    for i, item in enumerate(items):
        field = "routed_experts" if single else f"routed_experts[{i}]"
        array = _int_array(item, field, (3,))
        if arrays:
            _same_layers(array.shape[1], arrays[0].shape[0], field)
        _in_range(array, -1, None, field, "negative expert id")
        arrays.append(array.transpose(1, 0, 2))
    return _concat(arrays), len(items)


def _concat(parts: list[IntArray]) -> IntArray:
    """Join [layers, tokens_i, k_i] arrays along tokens, padding k with -1."""
    width = max(p.shape[2] for p in parts)
    out = np.full((parts[0].shape[0], sum(p.shape[1] for p in parts), width), -1, np.int64)
    start = 0
    for part in parts:
        out[:, start:start + part.shape[1], :part.shape[2]] = part
        start += part.shape[1]
    return out


def _phys_map(value: object, field: str, layers: int | None,
              experts: int | None) -> tuple[IntArray, int]:
    """Validate a physical->logical map; return it and its number of logical experts."""
    pmap = _int_array(value, field, (2,))
    if 0 in pmap.shape:
        raise InputError(field, f"has no layer or no slot: shape {pmap.shape}")
    if layers is not None:
        _same_layers(pmap.shape[0], layers, field)
    bound = pmap.shape[1] if experts is None else experts
    _in_range(pmap, 0, bound, field, f"map entry out of range [0, {bound})")
    found = int(pmap.max()) + 1
    present = np.zeros((pmap.shape[0], found), dtype=bool)
    present[np.arange(pmap.shape[0])[:, None], pmap] = True
    if not present.all():
        layer, expert = (int(i) for i in np.argwhere(~present)[0])
        raise InputError(f"{field}[{layer}]", f"logical expert {expert} has no physical slot")
    if experts is not None and found != experts:
        raise InputError(field, f"maps {found} logical experts, the counts have {experts}")
    return pmap, found


def _int_array(value: object, field: str, ndims: tuple[int, ...]) -> IntArray:
    if value is None:
        raise InputError(field, "missing")
    try:
        array = np.asarray(value)
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise InputError(field, f"is not a rectangular integer array ({exc})") from None
    if array.dtype.kind not in "iu" or array.ndim not in ndims:
        want = " or ".join(f"{n}-D" for n in ndims)
        kind = "" if array.dtype.kind in "iu" else f"{array.dtype} array of "
        raise InputError(field, f"must be a {want} integer array, got {kind}shape {array.shape}")
    if array.dtype == np.uint64 and array.size and array.max() > np.iinfo(np.int64).max:
        raise InputError(field, "has values beyond int64")
    return array.astype(np.int64)


def _in_range(array: IntArray, low: int, high: int | None, field: str, problem: str) -> None:
    bad = array < low if high is None else (array < low) | (array >= high)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(field + "".join(f"[{i}]" for i in where),
                         f"{problem}: {int(array[where])}")


def _same_layers(found: int, expected: int, field: str) -> None:
    if found != expected:
        raise InputError(field, f"has {found} layers, expected {expected}")

