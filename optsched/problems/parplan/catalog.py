"""The bundled tables of models, GPUs and networks, and look-ups in them.

The tables are ``models.json`` and ``gpus.json`` in the folder ``models``
beside this module (a symlink to the repository's top-level ``models/``, so
that they ship with the package), or in the folder named by
``$OPTSCHED_PARPLAN_MODELS``. Their format and units are in that folder's
``README.md``. :func:`model` and :func:`gpu` find an entry by its name or an
alias (a GPU's ``aliases``, a model's ``hf_repo``), ignoring case.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Generic, TypeVar

from optsched.errors import InputError, InstanceError
from optsched.fields import require_keys, require_str, type_name
from optsched.problems.parplan.hfconfig import from_config
from optsched.problems.parplan.spec import COLLECTIVES, GpuSpec, ModelSpec
from optsched.reading import ascii_int, parse_json, read_text

ENV = "OPTSCHED_PARPLAN_MODELS"
"""Environment variable naming a folder that holds ``models.json`` and ``gpus.json``."""
MODELS_SCHEMA = "optsched.parplan.models/1"
GPUS_SCHEMA = "optsched.parplan.gpus/1"

T = TypeVar("T")


@dataclass(frozen=True)
class _Table(Generic[T]):
    specs: dict[str, T]
    index: dict[str, str]
    """Case-folded name or alias -> name."""
    aliases: dict[str, tuple[str, ...]]


def folder() -> Path:
    """The folder the tables are read from (``$OPTSCHED_PARPLAN_MODELS`` when set)."""
    given = os.environ.get(ENV)
    return Path(given) if given else Path(__file__).with_name("models")


def known_models() -> dict[str, ModelSpec]:
    """Every model of the table, by name."""
    return dict(_models(folder()).specs)


def known_gpus() -> dict[str, GpuSpec]:
    """Every GPU of the table, by name."""
    return dict(_gpus(folder())[0].specs)


def networks() -> dict[str, tuple[float, float]]:
    """Every network of the table: name -> (GB/s per direction per NIC, latency in us)."""
    return dict(_gpus(folder())[1])


def model(name: str, field: str = "model") -> ModelSpec:
    """The model called ``name`` (or whose ``hf_repo`` is ``name``), case ignored.

    Raises
    ------
    InstanceError
        On ``field``, when no model has that name; the message lists the known ones.
    """
    table = _models(folder())
    return table.specs[_find(table, name, field, "model", with_aliases=False)]


def hf_repo(name: str) -> str | None:
    """The Hugging Face repository of the table's model ``name`` (None when unknown)."""
    table = _models(folder())
    found = table.index.get(name.casefold())
    return table.aliases[found][0] if found and table.aliases[found] else None


def gpu(name: str, field: str = "cluster.nodes[0].gpu") -> GpuSpec:
    """The GPU called ``name`` or one of its aliases (``H100``), case ignored.

    Raises
    ------
    InstanceError
        On ``field``, when no GPU has that name; the message lists the known ones.
    """
    table = _gpus(folder())[0]
    return table.specs[_find(table, name, field, "GPU", with_aliases=True)]


def _find(table: _Table[Any], name: str, field: str, what: str, with_aliases: bool) -> str:
    if not isinstance(name, str):
        raise InstanceError(field, f"must be a string naming a {what}, got {type_name(name)}")
    found = table.index.get(name.casefold())
    if found is not None:
        return found
    known = ", ".join(
        f"{n} ({', '.join(table.aliases[n])})" if with_aliases and table.aliases[n] else n
        for n in sorted(table.specs))
    raise InstanceError(field, f"unknown {what} {name!r}; known: {known}")


def _read(path: Path, schema: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    raw = parse_json(read_text(path), str(path))
    try:
        obj = require_keys(raw, "", ("schema", *keys), ("notes",), InputError)
        if obj["schema"] != schema:
            raise InputError("schema", f"must be {schema!r}, got {obj['schema']!r}")
        for key in keys:
            _mapping(obj[key], key)
    except InputError as exc:
        raise exc.within(str(path)) from None
    return obj


def _mapping(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(field, f"must be a JSON object, got {type_name(value)}")
    return value


@cache
def _models(where: Path) -> _Table[ModelSpec]:
    path = where / "models.json"
    obj = _read(path, MODELS_SCHEMA, ("models",))
    specs: dict[str, ModelSpec] = {}
    aliases: dict[str, tuple[str, ...]] = {}
    try:
        for name, entry in obj["models"].items():
            specs[name] = from_config(entry, name, where=f"models.{name}")
            repo = entry.get("hf_repo")
            aliases[name] = (repo,) if repo else ()
        return _Table(specs, _index(aliases, "models"), aliases)
    except InputError as exc:
        raise exc.within(str(path)) from None


@cache
def _gpus(where: Path) -> tuple[_Table[GpuSpec], dict[str, tuple[float, float]]]:
    path = where / "gpus.json"
    obj = _read(path, GPUS_SCHEMA, ("gpus", "networks"))
    specs: dict[str, GpuSpec] = {}
    aliases: dict[str, tuple[str, ...]] = {}
    nets: dict[str, tuple[float, float]] = {}
    try:
        for name, entry in obj["gpus"].items():
            specs[name], aliases[name] = _gpu(entry, f"gpus.{name}", name)
        for name, entry in obj["networks"].items():
            at = f"networks.{name}"
            require_keys(entry, at, ("GBps", "latency_us", "source"), ("verify",), InputError)
            require_str(entry["source"], f"{at}.source", InputError)
            nets[name] = (_number(entry["GBps"], f"{at}.GBps"),
                          _number(entry["latency_us"], f"{at}.latency_us", zero=True))
        return _Table(specs, _index(aliases, "gpus"), aliases), nets
    except InputError as exc:
        raise exc.within(str(path)) from None


def _gpu(entry: Any, at: str, name: str) -> tuple[GpuSpec, tuple[str, ...]]:
    require_keys(entry, at, ("bf16_tflops", "memory_gib", "hbm_TBps", "link_GBps", "source"),
                 ("fp8_tflops", "fits", "aliases", "verify"), InputError)
    fits: dict[str, dict[int, tuple[float, float]]] = {}
    by_op = entry.get("fits", {})
    require_keys(by_op, f"{at}.fits", (), COLLECTIVES, InputError)
    for op, by_n in by_op.items():
        fits[op] = {}
        for key, pair in _mapping(by_n, f"{at}.fits.{op}").items():
            n = ascii_int(key)
            if n is None or n < 2:
                raise InputError(f"{at}.fits.{op}.{key}", "must be a GPU count >= 2")
            here = f"{at}.fits.{op}.{key}"
            if not isinstance(pair, list) or len(pair) != 2:
                raise InputError(here, "must be [alpha_us, busbw_GBps]")
            fits[op][n] = (_number(pair[0], f"{here}[0]", zero=True),
                           _number(pair[1], f"{here}[1]"))
    names = entry.get("aliases", [])
    if not isinstance(names, list) or not all(isinstance(a, str) and a for a in names):
        raise InputError(f"{at}.aliases", "must be a list of non-empty strings")
    if not isinstance(entry.get("verify", False), bool):
        raise InputError(f"{at}.verify", "must be true or false")
    spec = GpuSpec(name=name, bf16_tflops=_number(entry["bf16_tflops"], f"{at}.bf16_tflops"),
                   memory_gib=_number(entry["memory_gib"], f"{at}.memory_gib"),
                   hbm_TBps=_number(entry["hbm_TBps"], f"{at}.hbm_TBps"),
                   fp8_tflops=_number(entry.get("fp8_tflops", 0), f"{at}.fp8_tflops", zero=True),
                   link_GBps=_number(entry["link_GBps"], f"{at}.link_GBps", zero=True),
                   fits=fits, source=require_str(entry["source"], f"{at}.source", InputError))
    return spec, tuple(names)


def _number(value: Any, field: str, zero: bool = False) -> float:
    """``value`` as a finite float > 0 (>= 0 when ``zero``)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(field, f"must be a number, got {type_name(value)}")
    if value < 0 or (value == 0 and not zero):
        raise InputError(field, f"must be {'>= 0' if zero else '> 0'}, got {value}")
    return float(value)


def _index(aliases: Mapping[str, tuple[str, ...]], what: str) -> dict[str, str]:
    """Case-folded names and aliases -> names; two entries may not share one."""
    index: dict[str, str] = {}
    for name, more in aliases.items():
        for key in (name, *more):
            other = index.setdefault(key.casefold(), name)
            if other != name:
                raise InputError(f"{what}.{name}", f"name or alias {key!r} is taken by {other!r}")
    return index
