"""Benchmark suites: a small TOML file naming instances, solvers, limits and repetitions.

Example (``benchmarks/suites/smtt-orlib.toml``)::

    name = "smtt-orlib"
    data = "../../../shared/data"     # default data directory, relative to this file
    time_limit = 10
    workers = 1
    repetitions = 1

    [[instances]]
    files = ["${data}/smtt/orlib/wt40.txt"]
    family = "smtt"                    # optional: the family whose format reads the files

    [[instances]]
    generator = "smtt"
    params = {n = 20, count = 5}
    grid = {tf = [0.2, 0.6], rdd = [0.2, 1.0]}
    class = "n20"                      # optional; the default names the grid point

    [[solvers]]
    name = "cpsat"
    options = {linearization_level = 2}  # optional solver options, also `model`, `label`

``${data}`` is the data directory: ``--data-dir``, else ``$OPTSCHED_DATA``, else
the suite's ``data`` key; it may appear in file patterns and in a generator's
string parameters. Other relative paths are relative to the suite file.
"""

from __future__ import annotations

import glob
import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optsched.errors import InputError
from optsched.fields import excerpt, require_int, require_keys, require_str, type_name
from optsched.io import read_instances
from optsched.params import MAX_SEED, SolveParams
from optsched.reading import parse_toml, read_text
from optsched.registry import generators
from optsched.solve import prepare

DATA_ENV = "OPTSCHED_DATA"
MAX_JOBS = 1_000_000
MAX_POINTS = 10_000
MAX_REPETITIONS = 10_000
MAX_WORKERS = 1024
_TOP = ("name", "time_limit")
_TOP_OPTIONAL = ("description", "data", "workers", "repetitions", "seed", "instances",
                 "solvers")


@dataclass(frozen=True)
class SolverEntry:
    """One solver of a suite; ``label`` names it in rows and tables."""

    name: str
    label: str
    options: Mapping[str, Any] = field(default_factory=dict)
    model: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SuiteInstance:
    """An instance of a suite with the class it is reported under."""

    instance: Any
    group: str


@dataclass(frozen=True)
class Suite:
    """A loaded, checked suite: every instance read and every solver known."""

    name: str
    path: Path
    time_limit: float
    workers: int
    repetitions: int
    seed: int
    instances: tuple[SuiteInstance, ...]
    solvers: tuple[SolverEntry, ...]
    description: str = ""


def _err(path: Path, where: str, problem: str) -> InputError:
    return InputError(f"{path}: {where}", problem)


def load_suite(path: str | Path, data_dir: str | Path | None = None) -> Suite:
    """Read and check a suite; every problem is one :class:`InputError` naming the key."""
    path = Path(path)
    raw = parse_toml(read_text(path), str(path))
    try:
        return _suite(path, raw, data_dir)
    except InputError as exc:
        raise exc if exc.field.startswith(str(path)) else exc.within(str(path)) from None


def _suite(path: Path, raw: dict[str, Any], data_dir: str | Path | None) -> Suite:
    require_keys(raw, "", _TOP, _TOP_OPTIONAL, InputError)
    name = require_str(raw["name"], "name", InputError)
    limit = raw["time_limit"]
    if isinstance(limit, bool) or not isinstance(limit, int | float) or not 0 < limit < 1e6:
        raise InputError("time_limit", f"must be a number of seconds > 0, got {excerpt(limit)}")
    workers = require_int(raw.get("workers", 1), "workers", 1, InputError)
    repetitions = require_int(raw.get("repetitions", 1), "repetitions", 1, InputError)
    seed = require_int(raw.get("seed", 0), "seed", 0, InputError)
    for key, value, most in (("workers", workers, MAX_WORKERS),
                             ("repetitions", repetitions, MAX_REPETITIONS),
                             ("seed", seed + repetitions - 1, MAX_SEED)):
        if value > most:
            raise InputError(key, f"must be at most {most}" + (
                " (with repetitions: seed + repetitions - 1)" if key == "seed" else ""))
    data = _data_dir(path, raw, data_dir)
    sources = _list(raw, "instances")
    instances = [inst for i, src in enumerate(sources)
                 for inst in _source(path, src, f"instances[{i}]", data)]
    names: set[str] = set()
    for inst in instances:
        if inst.instance.name in names:
            raise InputError("instances", "two instances are named "
                                          f"{excerpt(inst.instance.name)}; "
                                          "names identify rows, so they must be unique")
        names.add(inst.instance.name)
    solvers = [_solver(s, f"solvers[{i}]") for i, s in enumerate(_list(raw, "solvers"))]
    labels = [s.label for s in solvers]
    if len(set(labels)) != len(labels):
        raise InputError("solvers", "two solvers share a label; give each a distinct `label`")
    jobs = len(instances) * len(solvers) * repetitions
    if jobs > MAX_JOBS:
        raise InputError("instances", f"the suite makes {jobs} jobs (at most {MAX_JOBS})")
    for inst in instances:
        for i, solver in enumerate(solvers):
            try:  # everything solve() checks before work: before any job runs
                prepare(inst.instance, solver.name,
                        SolveParams(options=solver.options, model=solver.model))
            except InputError as exc:
                raise exc.within(f"solvers[{i}] on {inst.instance.name}") from None
    return Suite(name=name, path=path, time_limit=float(limit), workers=workers,
                 repetitions=repetitions, seed=seed, instances=tuple(instances),
                 solvers=tuple(solvers), description=str(raw.get("description", "")))


def _list(raw: Mapping[str, Any], key: str) -> list[Any]:
    value = raw.get(key)
    if not isinstance(value, list) or not value:
        raise InputError(key, f"must be a non-empty list of tables ([[{key}]]), "
                              f"got {type_name(value)}")
    return value


def _data_dir(path: Path, raw: Mapping[str, Any], given: str | Path | None) -> Path:
    if given is not None:
        return Path(given)
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    default = require_str(raw.get("data", "."), "data", InputError)
    return (path.parent / default).resolve()


def _source(path: Path, src: object, where: str, data: Path) -> list[SuiteInstance]:
    if isinstance(src, Mapping) and "generator" in src:
        return _generated(src, where, data)
    obj = require_keys(src, where, ("files",), ("class", "family"), InputError)
    family = obj.get("family")
    if family is not None:
        require_str(family, f"{where}.family", InputError)
    files = obj["files"]
    if not isinstance(files, list) or not files:
        raise InputError(f"{where}.files", "must be a non-empty list of paths or globs")
    out = []
    for k, pattern in enumerate(files):
        text = require_str(pattern, f"{where}.files[{k}]", InputError)
        full = text.replace("${data}", str(data))
        if not Path(full).is_absolute():
            full = str(path.parent / full)
        matches = sorted(glob.glob(full))
        if not matches:
            hint = f" (data directory {data}: set --data-dir or ${DATA_ENV})" \
                if "${data}" in text else ""
            raise InputError(f"{where}.files[{k}]", f"matches no file: {full}{hint}")
        for match in matches:
            group = obj.get("class") or Path(match).stem
            out += [SuiteInstance(inst, str(group)) for inst in read_instances(match, family)]
    return out


def _generated(src: Mapping[str, Any], where: str, data: Path) -> list[SuiteInstance]:
    obj = require_keys(src, where, ("generator",), ("params", "grid", "class"), InputError)
    name = require_str(obj["generator"], f"{where}.generator", InputError)
    table = generators()
    if name not in table:
        raise InputError(f"{where}.generator", f"unknown generator {excerpt(name)} "
                                               f"(known: {', '.join(table)})")
    family, generator = table[name]
    known = {p.name for p in generator.params}
    for key in ("params", "grid"):
        if not isinstance(obj.get(key, {}), Mapping):
            raise InputError(f"{where}.{key}", f"must be a table of key = value, got "
                                               f"{type_name(obj[key])}")
    params = {k: v.replace("${data}", str(data)) if isinstance(v, str) else v
              for k, v in dict(obj.get("params", {})).items()}
    grid = dict(obj.get("grid", {}))
    for key in [*params, *grid]:
        if key not in known:
            raise InputError(f"{where}.{'params' if key in params else 'grid'}.{key}",
                             f"is not a parameter of the {family.name} generator "
                             f"(known: {', '.join(sorted(known))})")
    points = 1
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise InputError(f"{where}.grid.{key}", "must be a non-empty list")
        points *= len(values)
    if points > MAX_POINTS:
        raise InputError(f"{where}.grid", f"has {points} points (at most {MAX_POINTS})")
    out = []
    for point in itertools.product(*grid.values()):
        chosen = dict(zip(grid, point, strict=True))
        label = obj.get("class") or "-".join(
            [f"{k}{v:g}" if isinstance(v, float) else f"{k}{v}"
             for k, v in {**params, **chosen}.items() if k not in ("count", "seed")])
        try:
            generator.check({**params, **chosen})
            made = generator.make(**params, **chosen)
        except InputError as exc:
            raise exc.within(f"{where}.params") from None
        out += [SuiteInstance(inst, str(label)) for inst in made]
    return out


def _solver(src: object, where: str) -> SolverEntry:
    obj = require_keys(src, where, ("name",), ("label", "options", "model"), InputError)
    name = require_str(obj["name"], f"{where}.name", InputError)
    for key in ("options", "model"):
        if not isinstance(obj.get(key, {}), Mapping):
            raise InputError(f"{where}.{key}", "must be a table of key = value")
    label = require_str(obj.get("label", name), f"{where}.label", InputError)
    return SolverEntry(name, label, dict(obj.get("options", {})), dict(obj.get("model", {})))
