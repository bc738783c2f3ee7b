"""``optsched validate``: check a solution against an instance with the family's checker."""

from __future__ import annotations

import json
from pathlib import Path

import click

from optsched.errors import InputError
from optsched.io import load_json, read_instances, solution_from_dict
from optsched.registry import family_of

EXIT_VIOLATED = 1


@click.command()
@click.argument("instance_file", metavar="INSTANCE", type=click.Path(path_type=Path))
@click.argument("solution_file", metavar="SOLUTION", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the evaluation as JSON.")
@click.option("--family", "family_name", default=None,
              help="The family that reads INSTANCE, when the formats of several claim it.")
def validate(instance_file: Path, solution_file: Path, as_json: bool,
             family_name: str | None) -> int:
    """Recompute the objective of SOLUTION (a solution or a result file) on INSTANCE.

    Exits 1, listing the violations, when the solution breaks the instance.
    A file of many instances (e.g. OR-Library) needs a result file whose
    ``instance`` names one of them.
    """
    instances = read_instances(instance_file, family_name)
    raw = load_json(solution_file)
    instance = instances[0]
    if len(instances) > 1:
        wanted = raw.get("instance") if isinstance(raw, dict) else None
        matches = [i for i in instances if i.name == wanted]
        if not matches:
            raise InputError(str(solution_file), f"{instance_file} holds {len(instances)} "
                             "instances; give a result file whose 'instance' names one of them")
        instance = matches[0]
    family = family_of(instance)
    try:
        solution = solution_from_dict(raw, family)
    except InputError as exc:
        raise exc.within(str(solution_file)) from None
    evaluation = family.evaluate(instance, solution)
    if as_json:
        click.echo(json.dumps({"instance": instance.name, "feasible": evaluation.feasible,
                               "objective": evaluation.objective,
                               "violations": list(evaluation.violations),
                               "metrics": dict(evaluation.metrics)}))
    elif evaluation.violations:
        for violation in evaluation.violations:
            click.echo(f"violation: {violation}")
    else:
        metrics = "  ".join(f"{k}={v}" for k, v in evaluation.metrics.items())
        click.echo(f"{instance.name}  feasible  objective={evaluation.objective}  {metrics}")
    return EXIT_VIOLATED if evaluation.violations else 0
