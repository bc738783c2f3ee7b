"""The valid inputs that mutations start from, one set per reader, taken from the families.

A family joins by giving ``samples()`` (its JSON instances) and, for each of its
own formats, an ``OutsideFormat.example`` (small valid files); nothing here names
a family.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from optsched import SolveParams, solve
from optsched.io import instance_to_dict
from optsched.options import Option
from optsched.registry import families, solvers
from optsched.result import Result


@dataclass(frozen=True)
class Seed:
    """Files of one valid input and the command that reads the first of them.

    ``args`` uses ``{file}`` for the mutated file and ``{out}`` for the output folder;
    ``extra`` are further files written beside it, unmutated.
    """

    reader: str
    name: str
    text: str
    args: tuple[str, ...]
    extra: dict[str, str] = field(default_factory=dict)


def _fast(family: str) -> str:
    """The family's hint solver: a heuristic, quick on small inputs."""
    return families()[family].hint_solver


def seeds() -> list[Seed]:
    """Every reader's seeds: instances (JSON and own formats), results, options, suites."""
    out = []
    for family in families().values():
        fast = _fast(family.name)
        solve_args = ("solve", "{file}", "-s", fast, "-t", "2", "-w", "1", "--out", "{out}")
        for k, instance in enumerate(family.samples()[:2]):
            text = json.dumps(instance_to_dict(instance), indent=1)
            out.append(Seed(f"{family.name}-json", f"i{k}.json", text, solve_args))
            result: Result = solve(instance, fast, SolveParams(time_limit=5, workers=1))
            out.append(Seed(f"{family.name}-result", "r.json", json.dumps(result.to_dict()),
                            ("validate", "inst.json", "{file}"), {"inst.json": text}))
        for fmt in family.outside_formats:
            if fmt.example is None:
                continue
            files = dict(fmt.example())
            first = next(iter(files))
            out.append(Seed(f"{family.name}-{first.rsplit('.', 1)[-1]}", first, files[first],
                            solve_args, {k: v for k, v in files.items() if k != first}))
        sample = json.dumps(instance_to_dict(family.samples()[0]))
        for spec in solvers(family).values():
            if spec.options().options or spec.model_options.options:
                option = (spec.options().options or spec.model_options.options)[0]
                flag = "-o" if spec.options().options else "-m"
                value = json.dumps(_valid(option))
                out.append(Seed(f"{family.name}-options", "value.txt", value,
                                ("solve", "inst.json", "-s", spec.name, "-t", "1", "-w", "1",
                                 flag, f"{option.name}={{value}}"), {"inst.json": sample}))
        generator = family.generator
        if generator is not None:
            params = {p.name: p.default for p in generator.params if p.type in (int, float)}
            out.append(Seed("suite", "s.toml", _suite(family.name, fast, params),
                            ("bench", "{file}", "--check")))
    return out


def _valid(option: Option) -> Any:
    """A value ``option`` takes: its default, else one of its type within its bounds."""
    if option.default is not None:
        return option.default
    if option.choices:
        return option.choices[0] if option.type is not list else [option.choices[0]]
    if option.type in (int, float):
        return option.type(option.low if option.low is not None else 1)
    return {bool: False, str: "x", list: []}[option.type]


def _suite(generator: str, solver: str, params: dict[str, Any]) -> str:
    values = ", ".join(f"{k} = {v!r}" for k, v in params.items())
    return (f'name = "fuzz"\ntime_limit = 1\nworkers = 1\nrepetitions = 1\n\n[[instances]]\n'
            f'generator = "{generator}"\nparams = {{{values}}}\n\n[[solvers]]\n'
            f'name = "{solver}"\noptions = {{}}\n')
