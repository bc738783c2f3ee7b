"""optsched: verified CP-SAT, MILP and heuristic solutions for scheduling and placement.

The public API::

    import optsched
    inst = optsched.read_instance("job.json")
    result = optsched.solve(inst, "cpsat", optsched.SolveParams(time_limit=10))
    print(result.status, result.objective, result.bound)
"""

from optsched.errors import (
    InputError,
    InstanceError,
    InvalidSolutionError,
    NotSupportedError,
    OptschedError,
    SolverUnavailableError,
    UnknownSolverError,
)
from optsched.family import Evaluation
from optsched.io import (
    instance_from_dict,
    instance_to_dict,
    read_instance,
    read_instances,
    read_solution,
    result_to_json,
    write_instance,
    write_result,
)
from optsched.params import SolveParams
from optsched.problems.smtt import SmttInstance, SmttSolution
from optsched.registry import FAMILIES, SOLVERS, family_of
from optsched.result import Result, Status
from optsched.solve import solve, verify


def evaluate(instance: object, solution: object) -> Evaluation:
    """Check ``solution`` against ``instance`` with the family's independent checker."""
    return family_of(instance).evaluate(instance, solution)


__all__ = [
    "FAMILIES",
    "SOLVERS",
    "Evaluation",
    "InputError",
    "InstanceError",
    "InvalidSolutionError",
    "NotSupportedError",
    "OptschedError",
    "Result",
    "SmttInstance",
    "SmttSolution",
    "SolveParams",
    "SolverUnavailableError",
    "Status",
    "UnknownSolverError",
    "evaluate",
    "instance_from_dict",
    "instance_to_dict",
    "read_instance",
    "read_instances",
    "read_solution",
    "result_to_json",
    "solve",
    "verify",
    "write_instance",
    "write_result",
]
