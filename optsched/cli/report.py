"""``optsched report``: gap tables (and plots) from benchmark results files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from optsched.bench.report import stamp, summarize, to_csv, to_markdown
from optsched.bench.store import read_results


@click.command()
@click.argument("results", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--by", default="family,solver,class", show_default=True,
              help="Comma-separated grouping: family, solver, class, instance, time_limit, "
                   "workers.")
@click.option("--format", "fmt", type=click.Choice(["table", "md", "csv"]), default=None,
              help="Default: a table on a terminal, markdown into a file or pipe.")
@click.option("--plots", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write gap-vs-time.png and profile.png into this directory.")
def report(results: tuple[Path, ...], by: str, fmt: str | None, plots: Path | None) -> int:
    """Summarise RESULTS files (results.jsonl or their directories) as a table."""
    files = [p / "results.jsonl" if p.is_dir() else p for p in results]
    read = [read_results(f) for f in files]
    rows = [row for r in read for row in r.rows]
    lines = summarize(rows, [k.strip() for k in by.split(",") if k.strip()])
    headers = [r.header for r in read]
    fmt = fmt or ("table" if sys.stdout.isatty() else "md")
    if fmt == "table":
        _table(lines, headers)
    else:
        click.echo((to_markdown if fmt == "md" else to_csv)(lines, headers), nl=False)
    if plots is not None:
        from optsched.bench.plots import plot

        title = ", ".join(str(h.get("suite")) for h in headers)
        for path in plot(rows, plots, title):
            click.echo(f"wrote {path}", err=True)
    return 0


def _table(lines: list[dict[str, Any]], headers: list[dict[str, Any]]) -> None:
    """The summary as a terminal table, the machine and settings above it."""
    console = Console()
    for made in stamp(headers):
        console.print(f"Made with {made}.", highlight=False)
    if not lines:
        console.print("no rows")
        return
    table = Table()
    for column in lines[0]:
        table.add_column(column, overflow="fold")  # narrow terminals wrap, never cut
    for line in lines:
        table.add_row(*("" if v is None else str(v) for v in line.values()))
    console.print(table)
