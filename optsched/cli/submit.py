"""``optsched submit``: send instance files to an ``optsched serve`` and print the results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from optsched.cli.options import key_values, one_line
from optsched.cli.serve import TOKEN_ENV
from optsched.client import Client
from optsched.errors import InputError
from optsched.registry import AUTO, families
from optsched.result import Status

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_NO_SOLUTION = 3


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--server", required=True, metavar="URL",
              help="The service, e.g. http://127.0.0.1:8000.")
@click.option("--token", envvar=TOKEN_ENV, default=None, show_envvar=True,
              help="The server's bearer token.")
@click.option("--solver", "-s", default=AUTO, show_default=True, help="Solver name.")
@click.option("--time-limit", "-t", type=float, default=10.0, show_default=True,
              help="Seconds per job.")
@click.option("--workers", "-w", type=int, default=1, show_default=True,
              help="Solver threads (at most the server's).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE",
              help="Solver option (repeatable).")
@click.option("--model", "-m", "model", multiple=True, metavar="KEY=VALUE",
              help="Formulation option (repeatable).")
@click.option("--family", "family_name", default=None,
              help="The family that reads FILE..., when the formats of several claim one.")
@click.option("--idempotency-key", default=None, metavar="KEY",
              help="Submitting again with the same key returns the same job (with several "
                   "files, the i-th gets KEY/i); a busy server is then retried.")
@click.option("--no-wait", is_flag=True, help="Print the job ids and return at once.")
@click.option("--json", "as_json", is_flag=True, help="Print each job as one JSON line.")
def submit(files: tuple[Path, ...], server: str, token: str | None, solver: str,
           time_limit: float, workers: int, seed: int, options: tuple[str, ...],
           model: tuple[str, ...], family_name: str | None, idempotency_key: str | None,
           no_wait: bool, as_json: bool) -> int:
    """Submit each instance in FILE... to the solver service, wait and print one line per job.

    A .json file is sent as its object, any other file (wt40.txt, a pods YAML...)
    as its text. Each bad file is reported (a line on standard error, and with
    --json a line with status "error") and the others are submitted. Exit
    status: 2 if any file was bad, else 1 if any job failed, else 3 if any job
    ended without a solution, else 0.
    """
    try:
        client = Client(server, token or None)
    except InputError as exc:
        raise InputError("--server", exc.problem) from None
    if family_name is not None and family_name not in families():
        raise InputError("--family", f"unknown family {family_name} (known: "
                                     f"{', '.join(families())})")
    option_values, model_values = key_values(options, "--option"), key_values(model, "--model")
    submitted: list[tuple[Path, dict[str, Any]]] = []
    bad = 0
    for i, path in enumerate(files, 1):
        key = idempotency_key if idempotency_key is None or len(files) == 1 else \
            f"{idempotency_key}/{i}"
        try:
            job = client.submit(path, family_name, solver, time_limit, workers, seed,
                                option_values, model_values, key)
        except InputError as exc:
            bad += 1
            _report(exc, path, as_json)
            continue
        submitted.append((path, job))
        if no_wait:
            click.echo(json.dumps(job) if as_json else job["id"])
    code = 0
    for path, job in [] if no_wait else submitted:
        done = client.wait(job["id"])
        click.echo(json.dumps(done) if as_json else _line(path, done))
        code = max(code, _code(done))
    return EXIT_BAD_INPUT if bad else code


def _code(job: dict[str, Any]) -> int:
    """1 for a failed job, 3 for one without a solution or proof of infeasibility, else 0."""
    if job["status"] == "failed":
        return EXIT_FAILED
    status = (job.get("result") or {}).get("status")
    return 0 if status in {s.value for s in Status if s.is_success} else EXIT_NO_SOLUTION


def _report(error: InputError, path: Path, as_json: bool) -> None:
    message = one_line(str(error) if str(error).startswith(str(path))
                       else str(error.within(str(path))))
    click.echo(f"optsched: error: {message}", err=True)
    if as_json:
        click.echo(json.dumps({"file": str(path), "status": "error", "error": message}))


def _line(path: Path, job: dict[str, Any]) -> str:
    """One line for a person, as ``optsched solve`` prints, with the job's id."""
    result = job.get("result") or {}
    status = job["status"] if job["status"] != "done" else result.get("status", "done")
    parts = [str(path), job["solver"], status]
    if job["status"] == "failed":
        parts.append(f"error={one_line(str(job.get('error')))}")
    else:
        parts.append(f"objective={result.get('objective', job.get('objective'))}")
        bound = result.get("bound", job.get("bound"))
        if bound is not None:
            gap = job.get("gap")
            parts.append(f"bound={bound}" + ("" if gap is None else
                                             f" (bound gap {100 * gap:.2f}%)"))
        stats = result.get("stats") or {}
        headline = families()[job["family"]].headline if job["family"] in families() else None
        if headline is not None and stats.get("metrics"):
            parts.append(headline(stats["metrics"]))
        if result:
            parts.append(f"time={result.get('build_s', 0) + result.get('solve_s', 0):.2f}s")
        for key in ("fallback", "auto", "binding"):
            if stats.get(key):
                parts.append(f"({key}: {stats[key]})")
    parts.append(f"job={job['id']}")
    return "  ".join(parts)
