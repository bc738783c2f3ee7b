"""``optsched generate FAMILY``: seeded instances, one subcommand per family's generator."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from optsched.cli.options import ensure_folder
from optsched.family import Family, Generator
from optsched.io import file_stem, instance_to_dict, write_instance
from optsched.registry import generators

DEFAULT_OUT = Path("generated")


def _command(name: str, family: Family[Any, Any], generator: Generator[Any]) -> click.Command:
    def run(out: Path | None, **values: Any) -> int:
        generator.check(values)
        instances = generator.make(**values)
        if out is None and sys.stdout.isatty():  # JSON lines are for a pipe, not a person
            out = DEFAULT_OUT
        if out is not None:
            ensure_folder(out, "--out")
        for instance in instances:
            if out is None:
                click.echo(json.dumps(instance_to_dict(instance)))
            else:
                path = out / f"{file_stem(instance.name)}.json"
                write_instance(instance, path)
                click.echo(str(path))
        return 0

    params: list[click.Parameter] = [
        click.Option([f"--{p.name.replace('_', '-')}", p.name], is_flag=p.is_flag,
                     type=None if p.is_flag else p.type, default=p.default,
                     show_default=True, help=p.help)
        for p in generator.params]
    params.append(click.Option(["--out"], type=click.Path(file_okay=False, path_type=Path),
                               default=None, help="Write DIR/<name>.json files. Default: JSON "
                                                  f"lines into a pipe, {DEFAULT_OUT}/ on a "
                                                  "terminal."))
    return click.Command(name, callback=run, params=params,
                         help=f"Generate {family.name} instances: "
                              f"{generator.summary or family.summary}")


class _Generators(click.Group):
    """One subcommand per generator, found with the families when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(generators())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = generators().get(cmd_name)
        return None if found is None else _command(cmd_name, *found)


@click.group(cls=_Generators)
def generate() -> None:
    """Generate seeded instances of a family."""
