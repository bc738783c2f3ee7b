"""makespan: jobs onto identical machines, the last one to finish as early as possible (P||Cmax).

The smallest real family, walked through in ``docs/adding-a-family.md``. The
tests put this folder beside ``optsched/problems/`` (it is found as
``optsched.problems.makespan``) or install it under an entry point.
"""

from __future__ import annotations

from optsched.backends.cpsat import CpFormulation
from optsched.family import Build, Family, Generator, GeneratorParam, Model

from .evaluate import evaluate, lower_bound
from .generate import generate, samples
from .instance import MakespanInstance, MakespanSolution, read_instance, read_solution
from .solvers import SOLVERS


def _cp() -> Build[MakespanInstance, CpFormulation]:
    from .cp import build  # imports OR-Tools only when CP-SAT is asked for

    return build


FAMILY: Family[MakespanInstance, MakespanSolution] = Family(
    name="makespan",
    summary="jobs onto identical machines: minimise the latest finish (P||Cmax)",
    instance_type=MakespanInstance,
    solution_type=MakespanSolution,
    format=1,
    read_instance=read_instance,
    read_solution=read_solution,
    evaluate=evaluate,
    lower_bound=lower_bound,
    solvers=SOLVERS,
    hint_solver="lpt",
    default_solver="cpsat",
    samples=samples,
    cp=Model(_cp),
    generator=Generator(generate, (
        GeneratorParam("jobs", int, 10, "number of jobs"),
        GeneratorParam("machines", int, 3, "number of machines"),
        GeneratorParam("count", int, 1, "number of instances"),
        GeneratorParam("seed", int, 0, "random seed"),
    )),
)
