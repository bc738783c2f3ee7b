"""optsched: verified CP-SAT, MILP and heuristic solutions for scheduling and placement.

The public API::

    import optsched
    inst = optsched.read_instance("job.json")
    result = optsched.solve(inst, "cpsat", optsched.SolveParams(time_limit=10))
    print(result.status, result.objective, result.bound)

Every family's instance and solution classes are exported under their own
names (``optsched.SmttInstance``, ``optsched.PodsInstance``, ...), found with
the families themselves; typed code can import them from their family package.
"""

from typing import Any

from optsched.deadline import StopRequest
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
from optsched.registry import families, family_of, solvers
from optsched.result import Result, Status
from optsched.solve import prepare, solve, verify
from optsched.threads import ThreadBudget


def evaluate(instance: object, solution: object) -> Evaluation:
    """Check ``solution`` against ``instance`` with the family's independent checker."""
    return family_of(instance).evaluate(instance, solution)


def _family_types() -> dict[str, Any]:
    return {t.__name__: t for f in families().values()
            for t in (f.instance_type, f.solution_type,
                      *(t for k in f.kinds for t in (k.instance_type, k.solution_type)))}


def __getattr__(name: str) -> Any:
    types = _family_types() if name[:1].isupper() else {}
    if name in types:
        return types[name]
    raise AttributeError(f"module 'optsched' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_family_types()])


__all__ = [
    "Evaluation",
    "InputError",
    "InstanceError",
    "InvalidSolutionError",
    "NotSupportedError",
    "OptschedError",
    "Result",
    "SolveParams",
    "SolverUnavailableError",
    "Status",
    "StopRequest",
    "ThreadBudget",
    "UnknownSolverError",
    "evaluate",
    "families",
    "family_of",
    "instance_from_dict",
    "instance_to_dict",
    "prepare",
    "read_instance",
    "read_instances",
    "read_solution",
    "result_to_json",
    "solve",
    "solvers",
    "verify",
    "write_instance",
    "write_result",
]
