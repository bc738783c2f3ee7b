"""``optsched report``: gap tables (and plots) from benchmark results files."""

from __future__ import annotations

from pathlib import Path

import click

from optsched.bench.report import summarize, to_csv, to_markdown
from optsched.bench.store import read_results


@click.command()
@click.argument("results", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--by", default="family,solver,class", show_default=True,
              help="Comma-separated grouping: family, solver, class, instance, time_limit, "
                   "workers.")
@click.option("--format", "fmt", type=click.Choice(["md", "csv"]), default="md",
              show_default=True)
@click.option("--plots", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write gap-vs-time.png and profile.png into this directory.")
def report(results: tuple[Path, ...], by: str, fmt: str, plots: Path | None) -> int:
    """Summarise RESULTS files (results.jsonl or their directories) as a table."""
    files = [p / "results.jsonl" if p.is_dir() else p for p in results]
    read = [read_results(f) for f in files]
    rows = [row for r in read for row in r.rows]
    lines = summarize(rows, [k.strip() for k in by.split(",") if k.strip()])
    headers = [r.header for r in read]
    click.echo((to_markdown if fmt == "md" else to_csv)(lines, headers), nl=False)
    if plots is not None:
        from optsched.bench.plots import plot

        title = ", ".join(str(h.get("suite")) for h in headers)
        for path in plot(rows, plots, title):
            click.echo(f"wrote {path}", err=True)
    return 0
