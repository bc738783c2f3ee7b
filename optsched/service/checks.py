"""What a job request must pass before anything is stored: the service's and the in-process API's.

The instance (a JSON object, or the text of any file the command line reads,
named by a plain file name), the solver, its options and the limits are
checked as ``optsched solve`` checks them (:func:`optsched.solve.prepare`).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from optsched.errors import InputError
from optsched.io import instance_from_dict, instance_to_dict, read_instances
from optsched.params import SolveParams
from optsched.registry import get_family
from optsched.solve import prepare

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")
"""A submitted file name: letters, digits and ``._+-``, not a path, at most 200 characters."""
DEFAULT_TIME_LIMIT = 10.0


def filename(given: str | None) -> str:
    """The client's file name, checked: it names a file in a folder of our own."""
    if given is None:
        return "instance.json"
    if not SAFE_NAME.fullmatch(given):
        raise InputError("filename", "must be a plain file name (letters, digits, '._+-', "
                                     "at most 200 characters, no folder), got "
                                     f"{given[:40]!r}")
    return given


def _instance(family: str, raw: Mapping[str, Any] | str, name: str | None) -> Any:
    if isinstance(raw, Mapping):
        return instance_from_dict({**raw, "family": family, "format": raw.get(
            "format", get_family(family).format)}, family)
    base = filename(name)
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError("instance", "is not valid Unicode text (a lone surrogate)") from None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / base
        path.write_text(raw, encoding="utf-8")
        try:
            found = read_instances(path, family)
        except InputError as exc:  # the message names the file: give the client's name
            raise type(exc)(exc.field.replace(str(path), base), exc.problem) from None
    if len(found) != 1:
        raise InputError("instance", f"holds {len(found)} instances; submit one per job")
    return found[0]


def check(family: str, raw: Mapping[str, Any] | str, name: str | None, solver: str,
          time_limit: float | None, workers: int, seed: int, options: Mapping[str, Any],
          model: Mapping[str, Any], server_workers: int, max_time_limit: float
          ) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The family, the instance's canonical JSON and the run's parameters, all checked.

    ``time_limit`` None is 10 s (or ``max_time_limit`` if smaller); ``workers``
    is capped at the server's.
    """
    get_family(family)
    instance = _instance(family, raw, name)
    limit = time_limit or min(DEFAULT_TIME_LIMIT, max_time_limit)
    if limit > max_time_limit:
        raise InputError("time_limit", f"must be at most {max_time_limit:g} s on this server")
    params = SolveParams(time_limit=limit, workers=min(workers, server_workers), seed=seed,
                         options=dict(options), model=dict(model))
    prepare(instance, solver, params)
    return family, instance_to_dict(instance), {
        "time_limit": params.time_limit, "workers": params.workers, "seed": params.seed,
        "options": dict(options), "model": dict(model)}
