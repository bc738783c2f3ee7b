"""``optsched validate``: check a solution, and every claim of a result, against an instance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from optsched.claims import false_claims
from optsched.cli.options import key_values
from optsched.errors import InputError
from optsched.family import Family
from optsched.io import load_json, read_instances, solution_from_dict
from optsched.reading import read_text
from optsched.registry import family_of

EXIT_VIOLATED = 1


@click.command()
@click.argument("instance_file", metavar="INSTANCE", type=click.Path(path_type=Path))
@click.argument("solution_file", metavar="SOLUTION", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the evaluation as JSON.")
@click.option("--family", "family_name", default=None,
              help="The family that reads INSTANCE, when the formats of several claim it.")
@click.option("--model", "-m", "model", multiple=True, metavar="KEY=VALUE",
              help="An instance setting, as given to solve (memalloc: capacity=N).")
def validate(instance_file: Path, solution_file: Path, as_json: bool,
             family_name: str | None, model: tuple[str, ...]) -> int:
    """Recompute the objective of SOLUTION on INSTANCE and check what it claims.

    SOLUTION is a solution, a result file (its objective, bound, status, gap
    and instance are checked too) or what ``solve --export`` wrote (pods'
    manifests, memalloc's CSV).
    Exits 1, one line per violation or false claim, when anything is wrong.
    A file of many instances (e.g. OR-Library) needs a result file whose
    ``instance`` names one of them.
    """
    family, instance, solution, claims = read_pair(instance_file, solution_file, family_name,
                                                   key_values(model, "--model"))
    evaluation = family.evaluate(instance, solution)
    wrong = false_claims(family, instance, claims, evaluation)
    if as_json:
        click.echo(json.dumps({"instance": instance.name, "feasible": evaluation.feasible,
                               "objective": evaluation.objective,
                               "violations": list(evaluation.violations),
                               "false_claims": wrong, "metrics": dict(evaluation.metrics)}))
    else:
        for violation in evaluation.violations:
            click.echo(f"violation: {violation}")
        for claim in wrong:
            click.echo(f"false claim: {claim}")
        if evaluation.feasible and not wrong:
            metrics = "  ".join(f"{k}={v}" for k, v in evaluation.metrics.items())
            click.echo(f"{instance.name}  feasible  objective={evaluation.objective}  {metrics}")
    return EXIT_VIOLATED if evaluation.violations or wrong else 0


def read_pair(instance_file: Path, solution_file: Path, family_name: str | None,
              model: dict[str, Any] | None = None
              ) -> tuple[Family[Any, Any], Any, Any, dict[str, Any]]:
    """The family, the instance, the solution and the result's claims (if a result was given).

    The solution file is a solution, a result, or the family's export (by its suffix).
    """
    instances = read_instances(instance_file, family_name)
    family = family_of(instances[0])
    if model:
        settings = family.instance_options
        if settings is None:
            raise InputError(f"model.{next(iter(model))}", f"the {family.name} family's "
                                                          "instances take no settings")
        checked = settings.options.check(model, "model", family.name)
        instances = [settings.apply(i, checked) for i in instances]
    if solution_file.name.lower().endswith(tuple(family.export_suffixes)) and (
            family.read_export is not None):
        instance, claims = instances[0], dict[str, Any]()
        try:
            solution = family.read_export(instance, read_text(solution_file))
        except InputError as exc:
            raise exc if exc.field.startswith(str(solution_file)) else exc.within(
                str(solution_file)) from None
        return family, instance, solution, claims
    raw = load_json(solution_file)
    claims = raw if isinstance(raw, dict) and "solution" in raw and "status" in raw else {}
    instance = _pick(instances, claims, instance_file, solution_file)
    try:
        solution = solution_from_dict(raw, family)
    except InputError as exc:
        raise exc.within(str(solution_file)) from None
    return family, instance, solution, claims


def _pick(instances: list[Any], claims: dict[str, Any], instance_file: Path,
          solution_file: Path) -> Any:
    """The instance a result names, in a file of several; the only one otherwise."""
    if len(instances) == 1:
        return instances[0]
    matches = [i for i in instances if i.name == claims.get("instance")]
    if not matches:
        raise InputError(str(solution_file), f"{instance_file} holds {len(instances)} "
                                             "instances; give a result file whose 'instance' "
                                             "names one of them")
    return matches[0]
