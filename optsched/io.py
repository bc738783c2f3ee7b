"""Reading and writing instances, solutions and results.

Instance files are JSON objects with ``"family"`` and ``"format"`` keys
(``formats.md``); a family may also read its field's own formats, which are
recognised by file name. Every error names the file and the field.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from optsched.errors import InputError, InstanceError
from optsched.family import Family, Instance, OutsideFormat
from optsched.fields import excerpt, is_int, type_name
from optsched.reading import STDIN, parse_json, read_text
from optsched.registry import families, family_of, get_family
from optsched.result import Result, Solution

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_STEM = 100


def file_stem(name: str) -> str:
    """``name`` made safe as a file name: what it keeps cannot leave the output folder.

    ASCII letters, digits, ``.``, ``-`` and ``_`` are kept, every other run of
    characters (``/``, NUL, spaces, ...) becomes ``_``; no leading dot; a name
    longer than :data:`MAX_STEM` keeps its start and a hash of the whole.
    """
    stem = _UNSAFE.sub("_", name).lstrip(".") or "unnamed"
    if len(stem) > MAX_STEM:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        stem = f"{stem[:MAX_STEM - 13]}-{digest}"
    return stem


def load_json(path: str | Path, error: type[InputError] = InputError) -> Any:
    """Parse a JSON file (``-``: standard input), within the limits of :mod:`.reading`."""
    return parse_json(read_text(path, error), str(path), error)


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
        raise InstanceError("family", f"is {excerpt(name)}, but the {family_name} family was "
                                      "asked for")
    family = families()[name]
    version = obj.get("format")
    if version is None:
        raise InstanceError("format", f"is missing ({name} reads format {family.format})")
    if not is_int(version) or version != family.format:
        raise InstanceError("format", f"{name} reads format {family.format}, got "
                                      f"{excerpt(version)}")
    instance: Instance = family.read_instance(obj)
    check_name(instance.name)
    return instance


MAX_NAME = 200


def check_name(name: str, field: str = "name") -> None:
    """Refuse a name that holds control characters or is too long.

    Names reach terminals and file names; at most :data:`MAX_NAME` characters.
    """
    if len(name) > MAX_NAME:
        raise InstanceError(field, f"has {len(name)} characters (at most {MAX_NAME})")
    bad = next((c for c in name if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")), None)
    if bad is not None:
        raise InstanceError(field, f"holds the control character U+{ord(bad):04X}")


def instance_to_dict(instance: Instance) -> dict[str, Any]:
    """The JSON object of an instance, ``family`` and ``format`` first."""
    family = family_of(instance)
    return {"family": family.name, "format": family.format, **instance.to_dict()}


def claimed(path: Path, family: str | None = None
            ) -> tuple[Family[Any, Any], OutsideFormat[Any]] | None:
    """The family and outside format that read ``path`` by its name, or None for JSON.

    Raises :class:`InstanceError` when the formats of several families claim it
    and ``family`` does not say which (an unknown ``family`` is refused too).
    """
    if family is not None:
        get_family(family)
    claims = [(f, fmt) for f in families().values() for fmt in f.outside_formats
              if (family is None or f.name == family) and fmt.claims(path)]
    if len(claims) > 1:
        names = ", ".join(f"{f.name} ({fmt.name})" for f, fmt in claims)
        raise InstanceError(str(path), f"is claimed by the formats of several families: "
                                       f"{names}; name the family (--family)")
    return claims[0] if claims else None


def read_instances(path: str | Path, family: str | None = None) -> list[Instance]:
    """Read every instance in a file: one for JSON, possibly many for outside formats.

    A family's own format is recognised by the path; when the formats of two
    families claim it, ``family`` must say which one reads it (``--family``).
    """
    path = Path(path)
    claim = claimed(path, family)
    if claim is not None:
        if not path.is_file():
            raise InstanceError(str(path), "no such file")
        return list(claim[1].read(path))
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
            raise InputError("family", f"the result is for {excerpt(obj['family'])}, "
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
