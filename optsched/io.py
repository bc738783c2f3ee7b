"""Reading and writing instances, solutions and results.

Instance files are JSON objects with ``"family"`` and ``"format"`` keys
(``formats.md``); a family may also read its field's own formats, which are
recognised by file name. Every error names the file and the field.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from optsched.errors import InputError, InstanceError
from optsched.family import Family, Instance
from optsched.fields import excerpt, is_int, type_name
from optsched.registry import families, family_of, get_family
from optsched.result import Result, Solution

STDIN = "-"
"""The file name that means standard input (JSON only)."""


def load_json(path: str | Path, error: type[InputError] = InputError) -> Any:
    """Parse a JSON file (``-``: standard input); a missing file or bad JSON is one line."""
    path = Path(path)
    try:
        text = sys.stdin.read() if str(path) == STDIN else path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(str(path), "no such file") from None
    except IsADirectoryError:
        raise error(str(path), "is a directory, not a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(str(path), f"cannot be read: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(str(path), f"is not valid JSON: {exc.msg} at line {exc.lineno} "
                               f"column {exc.colno}") from None


def instance_from_dict(obj: object, family_name: str | None = None) -> Instance:
    """Validate a JSON object and build the instance of its family.

    ``family_name``, when given, must be the object's ``family``.
    """
    known = ", ".join(families())
    if not isinstance(obj, Mapping):
        raise InstanceError("", f"an instance must be a JSON object, got {type_name(obj)}")
    if "family" not in obj:
        raise InstanceError("family", f"is missing (one of {known})")
    name = obj["family"]
    if not isinstance(name, str) or name not in families():
        raise InstanceError("family", f"unknown family {excerpt(name)} (one of {known})")
    if family_name is not None and name != family_name:
        raise InstanceError("family", f"is {name!r}, but the {family_name} family was asked for")
    family = families()[name]
    version = obj.get("format")
    if version is None:
        raise InstanceError("format", f"is missing ({name} reads format {family.format})")
    if not is_int(version) or version != family.format:
        raise InstanceError("format", f"{name} reads format {family.format}, got {version!r}")
    instance: Instance = family.read_instance(obj)
    return instance


def instance_to_dict(instance: Instance) -> dict[str, Any]:
    """The JSON object of an instance, ``family`` and ``format`` first."""
    family = family_of(instance)
    return {"family": family.name, "format": family.format, **instance.to_dict()}


def read_instances(path: str | Path, family: str | None = None) -> list[Instance]:
    """Read every instance in a file: one for JSON, possibly many for outside formats.

    A family's own format is recognised by the path; when the formats of two
    families claim it, ``family`` must say which one reads it (``--family``).
    """
    path = Path(path)
    if family is not None:
        get_family(family)
    claims = [(f, fmt) for f in families().values() for fmt in f.outside_formats
              if (family is None or f.name == family) and fmt.claims(path)]
    if len(claims) > 1:
        names = ", ".join(f"{f.name} ({fmt.name})" for f, fmt in claims)
        raise InstanceError(str(path), f"is claimed by the formats of several families: "
                                       f"{names}; name the family (--family)")
    if claims:
        if not path.is_file():
            raise InstanceError(str(path), "no such file")
        return list(claims[0][1].read(path))
    obj = load_json(path, InstanceError)
    try:
        instance = instance_from_dict(obj, family)
    except InstanceError as exc:
        raise exc.within(str(path)) from None
    if not instance.name:
        instance = replace(instance, name="stdin" if str(path) == STDIN else path.stem)  # type: ignore[type-var]
    return [instance]


def read_instance(path: str | Path, family: str | None = None) -> Instance:
    """Read a file holding exactly one instance."""
    instances = read_instances(path, family)
    if len(instances) != 1:
        raise InstanceError(str(path), f"holds {len(instances)} instances, expected one")
    return instances[0]


def write_instance(instance: Instance, path: str | Path) -> None:
    """Write an instance as a JSON file."""
    Path(path).write_text(json.dumps(instance_to_dict(instance)) + "\n", encoding="utf-8")


def solution_from_dict(obj: object, family: Family[Any, Any]) -> Solution:
    """A solution object, or a whole result object whose ``solution`` is taken."""
    if isinstance(obj, Mapping) and "status" in obj and "solution" in obj:
        if obj.get("family", family.name) != family.name:
            raise InputError("family", f"the result is for {obj['family']!r}, "
                                       f"the instance is {family.name}")
        obj = obj["solution"]
    solution: Solution = family.read_solution(obj)
    return solution


def read_solution(path: str | Path, family: Family[Any, Any] | str) -> Solution:
    """Read a solution file (or a result file) of ``family``."""
    fam = get_family(family) if isinstance(family, str) else family
    try:
        return solution_from_dict(load_json(path), fam)
    except InputError as exc:
        raise exc.within(str(path)) from None


def result_to_json(result: Result) -> str:
    """One line of JSON, as ``optsched solve --json`` prints it."""
    return json.dumps(result.to_dict(), separators=(", ", ": "), allow_nan=False)


def write_result(result: Result, path: str | Path) -> None:
    """Write a result as a JSON file."""
    Path(path).write_text(result_to_json(result) + "\n", encoding="utf-8")
