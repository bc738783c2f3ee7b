"""``optsched families`` and ``optsched solvers``: what this installation offers."""

from __future__ import annotations

import click

from optsched.registry import FAMILIES, SOLVERS


@click.command()
def families() -> int:
    """List the problem families with their default and usable solvers."""
    for name, family in FAMILIES.items():
        usable = [s.name for s in SOLVERS.values() if s.supports(family)]
        click.echo(f"{name}: {family.summary}")
        click.echo(f"  default solver: {family.default_solver}; solvers: {', '.join(usable)}")
    return 0


@click.command()
@click.option("--all", "show_all", is_flag=True, help="Include solvers that are not installed.")
def solvers(show_all: bool) -> int:
    """List the installed solvers: name, kind, families and what each is."""
    for spec in SOLVERS.values():
        installed = spec.installed()
        if installed or show_all:
            state = "" if installed else f"  [not installed: {spec.install}]"
            click.echo(f"{spec.name:<12} {spec.kind.value:<9} {','.join(spec.families()):<10} "
                       f"{spec.summary}{state}")
    return 0
