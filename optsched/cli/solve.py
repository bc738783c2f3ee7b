"""``optsched solve``: solve instance files and print one result per instance."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from optsched.cli.options import ensure_folder, key_values, one_line
from optsched.errors import InputError
from optsched.family import Family, Instance
from optsched.io import file_stem, read_instances, result_to_json, write_result
from optsched.params import SolveParams
from optsched.registry import AUTO, family_of
from optsched.result import Result
from optsched.solve import Request, prepare
from optsched.solve import solve as solve_instance
from optsched.threads import available_cores

EXIT_BAD_INPUT = 2
EXIT_NO_SOLUTION = 3


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--solver", "-s", default=AUTO, show_default=True,
              help="Solver name (see `optsched solvers`); auto picks the family's default.")
@click.option("--time-limit", "-t", type=float, default=None,
              help="Seconds per instance, hint and model building included (the solver's "
                   "modeling library is imported once, before the first). Default: none.")
@click.option("--workers", "-w", type=int, default=None,
              help="Solver threads. Default: the cores available.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE",
              help="Solver option (repeatable); `optsched solvers NAME` lists them.")
@click.option("--model", "-m", "model", multiple=True, metavar="KEY=VALUE",
              help="Formulation option, e.g. formulation=linear-ordering (repeatable).")
@click.option("--family", "family_name", default=None,
              help="The family that reads FILE..., when the formats of several claim one.")
@click.option("--no-fallback", is_flag=True, help="Do not fall back to the heuristic solution.")
@click.option("--log", is_flag=True, help="Show the solver's log.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON result per line.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write each result to DIR/<instance>.<solver>.json.")
@click.option("--compare", is_flag=True,
              help="Add the family's baseline comparison to the result as stats.compare "
                   "(pods: kube-scheduler with and without preemption; parplan: the vllm, "
                   "max-pp and min-tp rules' tokens/s and vs_<rule> better/equal/worse).")
@click.option("--export", "--manifests", "export", default=None,
              type=click.Path(file_okay=False, path_type=Path),
              help="Write each solution as the field's tools take it to DIR/<instance>.<solver>"
                   ".<suffix> (pods: Kubernetes Eviction and Binding objects, .yaml; memalloc: "
                   "MiniMalloc's CSV with an offset column, .csv; moe: the expert maps of "
                   "SGLang's --init-expert-location and traffic tables, .placement.json; "
                   "parplan: vllm serve and sglang.launch_server lines per replica group, "
                   ".launch.json).")
def solve(files: tuple[Path, ...], solver: str, time_limit: float | None, workers: int | None,
          seed: int, options: tuple[str, ...], model: tuple[str, ...], no_fallback: bool,
          family_name: str | None, log: bool, as_json: bool, out: Path | None, compare: bool,
          export: Path | None) -> int:
    """Solve each instance in FILE... (JSON, a family's own formats, or - for standard input).

    Every file is read and checked first. Each bad one is reported (a line on
    standard error, and with --json a line with status "error") and the
    others are solved. Exit status: 2 if any file was bad, else 3 if any
    instance had no solution within the limit, else 0.
    """
    params = SolveParams(time_limit=time_limit,
                         workers=available_cores() if workers is None else workers,
                         seed=seed, log=log, options=key_values(options, "--option"),
                         model=key_values(model, "--model"), fallback=not no_fallback)
    for folder, flag in ((out, "--out"), (export, "--export")):
        if folder is not None:
            ensure_folder(folder, flag)
    todo, bad = [], 0
    loads: dict[str, Callable[[], object]] = {}  # what the solvers run, to import first
    for path in files:
        try:
            found = read_instances(path, family_name)
            for instance in found:
                spec = _check(instance, solver, params, compare, export).spec
                if spec.load is not None:
                    loads[spec.label] = spec.load
        except InputError as exc:
            bad += 1
            _report(exc.within(str(path)) if not exc.field.startswith(str(path)) else exc,
                    path, as_json)
            continue
        todo += found
    for load in loads.values():  # once, not within the first instance's limit
        with contextlib.suppress(ImportError):  # the solve then says what is missing
            load()
    code = 0
    written: set[Path] = set()
    for instance in todo:
        family = family_of(instance)
        result = solve_instance(instance, solver, params)
        if compare and result.solution is not None and family.compare is not None:
            result = replace(result, stats={**result.stats,
                                            "compare": dict(family.compare(instance,
                                                                           result.solution))})
        click.echo(result_to_json(result) if as_json else _line(result, instance, family))
        stem = f"{file_stem(result.instance)}.{file_stem(result.solver)}"
        if out is not None:
            write_result(result, _unique(out / f"{stem}.json", written))
        if export is not None and result.solution is not None and family.export:
            path = _unique(export / f"{stem}{family.export_suffixes[0]}", written)
            path.write_text(family.export(instance, result.solution), encoding="utf-8")
        if not result.status.is_success:
            code = EXIT_NO_SOLUTION
    return EXIT_BAD_INPUT if bad else code


def _check(instance: Instance, solver: str, params: SolveParams, compare: bool,
           export: Path | None) -> Request:
    """Everything about solving ``instance`` that can be checked before solving it."""
    request = prepare(instance, solver, params)  # solver, options, support
    family = request.family
    for flag, wanted, hook in (("--compare", compare, family.compare),
                               ("--export", export, family.export)):
        if wanted and hook is None:
            raise InputError(flag, f"the {family.name} family has nothing to offer here")
    return request


def _report(error: InputError, path: Path, as_json: bool) -> None:
    message = one_line(str(error))
    click.echo(f"optsched: error: {message}", err=True)
    if as_json:
        click.echo(json.dumps({"file": str(path), "status": "error", "error": message}))


def _line(result: Result, instance: Instance, family: Family[Any, Any]) -> str:
    """One line for a person: the result, its gap to the bound and to a known reference."""
    parts = [result.instance, result.solver, result.status.value,
             f"objective={result.objective}"]
    if result.bound is not None:
        gap = "" if result.gap is None else f" (bound gap {100 * result.gap:.2f}%)"
        parts.append(f"bound={result.bound}{gap}")
    reference: Any = getattr(instance, "reference", None)
    if reference is not None and result.objective is not None:
        off = 100 * (result.objective - reference.value) / max(abs(reference.value), 1)
        parts.append(f"reference={reference.value} {reference.status} ({off:+.2f}%)")
    metrics = result.stats.get("metrics")
    if family.headline is not None and metrics:
        parts.append(family.headline(metrics))
    parts.append(f"time={result.build_s + result.solve_s:.2f}s")
    for key in ("fallback", "auto", "binding"):
        if result.stats.get(key):
            parts.append(f"({key}: {result.stats[key]})")
    return "  ".join(parts)


def _unique(path: Path, taken: set[Path]) -> Path:
    candidate, k = path, 1
    while candidate in taken:
        k += 1
        candidate = path.with_name(f"{path.stem}-{k}{path.suffix}")
    taken.add(candidate)
    return candidate
