"""``optsched families`` and ``optsched solvers``: what this installation offers."""

from __future__ import annotations

import click

from optsched.options import LISTED, OptionSet
from optsched.registry import families, get_family, solvers


@click.command(name="families")
def families_command() -> int:
    """List the problem families: solvers, default and hint solver, formats, generators."""
    for name, family in families().items():
        click.echo(f"{name}: {family.summary}")
        click.echo(f"  solvers: {', '.join(solvers(family))}")
        auto = family.default_solver
        if family.choose is not None and family.choose.__doc__:
            auto = family.choose.__doc__.strip().splitlines()[0].rstrip(".")
        click.echo(f"  auto: {auto}; hint and fallback: {family.hint_solver}")
        for kind in family.kinds:
            click.echo(f"  {kind.name} instances: auto {kind.default_solver}; hint and "
                       f"fallback: {kind.hint_solver}")
        formats = [f"JSON (format {family.format})",
                   *(fmt.name for fmt in family.outside_formats)]
        click.echo(f"  reads: {', '.join(formats)}")
        made = ([name] if family.generator else []) + [f"{name}-{v}" for v in family.variants]
        if made:
            click.echo(f"  generators: {', '.join(made)}")
    return 0


@click.command(name="solvers")
@click.argument("names", nargs=-1)
@click.option("--family", "family_name", default=None, help="Only this family's solvers.")
@click.option("--all", "show_all", is_flag=True, help="Include solvers that are not installed.")
@click.option("--options", "all_options", is_flag=True,
              help="List every option, also the hundreds a backend's library declares.")
def solvers_command(names: tuple[str, ...], family_name: str | None, show_all: bool,
                    all_options: bool) -> int:
    """List each family's solvers: name, kind, what it is, and its options.

    ``-o KEY=VALUE`` sets a solver option, ``-m KEY=VALUE`` a formulation
    option or a setting of the instance; all are checked against these
    declarations before any work.
    Give solver NAMES to show only those, with every option.
    """
    chosen = [get_family(family_name)] if family_name else list(families().values())
    for family in chosen:
        click.echo(f"{family.name}:")
        if family.instance_options is not None and not names:
            click.echo("  the instance (any solver):")
            _options("-m", family.instance_options.options, True)
        for spec in solvers(family).values():
            if names and spec.name not in names:
                continue
            installed = spec.installed()
            if not installed and not show_all:
                continue
            state = "" if installed else f"  [not installed: {spec.install}]"
            click.echo(f"  {spec.name:<20} {spec.kind.value:<9} {spec.summary}{state}")
            if installed:
                _options("-o", spec.options(), all_options or bool(names))
            _options("-m", spec.model_options, True)
    return 0


def _options(flag: str, declared: OptionSet, full: bool) -> None:
    if not full and len(declared) > LISTED:
        click.echo(f"      {flag} {len(declared)} options from {declared.source} "
                   "(--options lists them)")
        return
    for option in declared.options:
        click.echo(f"      {flag} {option.describe()}")

