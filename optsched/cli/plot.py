"""``optsched plot``: draw a solution (memalloc: its memory map)."""

from __future__ import annotations

from pathlib import Path

import click

from optsched.cli.options import key_values
from optsched.cli.validate import read_pair
from optsched.errors import InputError


@click.command()
@click.argument("instance_file", metavar="INSTANCE", type=click.Path(path_type=Path))
@click.argument("solution_file", metavar="SOLUTION", type=click.Path(path_type=Path))
@click.option("--out", "-o", "out", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="The image to write (.png, .svg or .pdf).")
@click.option("--family", "family_name", default=None,
              help="The family that reads INSTANCE, when the formats of several claim it.")
@click.option("--model", "-m", "model", multiple=True, metavar="KEY=VALUE",
              help="An instance setting, as given to solve (memalloc: capacity=N).")
def plot(instance_file: Path, solution_file: Path, out: Path, family_name: str | None,
         model: tuple[str, ...]) -> int:
    """Draw SOLUTION on INSTANCE into an image (needs the plots extra).

    SOLUTION is what ``validate`` takes: a solution, a result file or the
    family's export. memalloc draws each buffer as a rectangle of steps by
    addresses, with the peak, the lower bound and the capacity marked.
    """
    family, instance, solution, _ = read_pair(instance_file, solution_file, family_name,
                                              key_values(model, "--model"))
    if family.plot is None:
        raise InputError("plot", f"the {family.name} family draws nothing")
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise InputError("--out", f"must end in .png, .svg or .pdf, got {out.name!r}")
    if not out.parent.is_dir():
        raise InputError("--out", f"the folder {out.parent} does not exist")
    evaluation = family.evaluate(instance, solution)
    if evaluation.violations:
        raise InputError(str(solution_file), "violates the instance: "
                                             + "; ".join(evaluation.violations[:3]))
    family.plot(instance, solution, out)
    click.echo(f"wrote {out}")
    return 0
