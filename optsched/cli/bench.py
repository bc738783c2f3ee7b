"""``optsched bench``: run a benchmark suite, resumably, locally or on Ray."""

from __future__ import annotations

from pathlib import Path

import click

from optsched.bench.progress import Progress
from optsched.bench.runner import EXECUTORS, execute, plan
from optsched.bench.suite import load_suite
from optsched.threads import available_cores


@click.command()
@click.argument("suite_file", metavar="SUITE", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory of results.jsonl. Default: bench-out/<suite name>.")
@click.option("--jobs", "-j", "max_jobs", type=click.IntRange(min=1), default=None,
              help="Jobs at once. Default: as many as the cores allow.")
@click.option("--cores", type=click.IntRange(min=1), default=None,
              help="Cores the running jobs' workers may use. Default: all available.")
@click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True)
@click.option("--address", default=None, help="Ray cluster address (default: a local Ray).")
@click.option("--check", is_flag=True, help="Check the suite, say how many jobs it makes, "
                                           "run none.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Data directory for ${data} in the suite. Default: $OPTSCHED_DATA or the "
                   "suite's `data`.")
def bench(suite_file: Path, out: Path | None, max_jobs: int | None, cores: int | None,
          executor: str, address: str | None, check: bool, data_dir: Path | None) -> int:
    """Run every (instance, solver, repetition) of SUITE as its own job.

    Rows are appended to OUT/results.jsonl as jobs end; running the same
    command again resumes, running only the jobs without a row.
    """
    suite = load_suite(suite_file, data_dir)
    if check:
        jobs = len(suite.instances) * len(suite.solvers) * suite.repetitions
        click.echo(f"{suite.name}: {len(suite.instances)} instances, {len(suite.solvers)} "
                   f"solvers, {suite.repetitions} repetitions: {jobs} jobs")
        return 0
    cores = cores or available_cores()
    run = plan(suite, out or Path("bench-out") / suite.name, cores)
    if run.note:
        click.echo(f"optsched: note: {run.note}", err=True)
    todo = len(run.todo)
    click.echo(f"{suite.name}: {len(run.jobs)} jobs, {len(run.done)} done, {todo} to run "
               f"-> {run.path}", err=True)
    if not todo:
        return 0
    progress = Progress(len(run.jobs), len(run.done))
    try:
        execute(run, executor, cores, max_jobs or cores, address, progress)
    finally:
        progress.close()
    return 0
