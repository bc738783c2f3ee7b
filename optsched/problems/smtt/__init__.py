"""smtt: single-machine (weighted) total tardiness, 1 || sum w_j T_j."""

from optsched.backends.cpsat import CpFormulation
from optsched.backends.milp import MilpFormulation
from optsched.family import Build, Family, Generator, Model, OutsideFormat
from optsched.options import Option, OptionSet
from optsched.problems.smtt import formats, generate, solvers
from optsched.problems.smtt.bounds import lower_bound
from optsched.problems.smtt.evaluate import evaluate
from optsched.problems.smtt.instance import SmttInstance, from_dict
from optsched.problems.smtt.solution import SmttSolution
from optsched.problems.smtt.solution import from_dict as solution_from_dict

MILP_OPTIONS = OptionSet((
    Option("formulation", str, None, "time-indexed (strong, n * P variables) or "
                                     "linear-ordering (compact); unset: time-indexed up to "
                                     "60,000 variables", ("time-indexed", "linear-ordering")),
))


def _cp() -> Build[SmttInstance, CpFormulation]:
    from optsched.problems.smtt.cp import build

    return build


def _milp() -> Build[SmttInstance, MilpFormulation]:
    from optsched.problems.smtt.milp import build

    return build


FAMILY: Family[SmttInstance, SmttSolution] = Family(
    name="smtt",
    summary="single-machine (weighted) total tardiness: order jobs to minimise sum w_j T_j",
    instance_type=SmttInstance,
    solution_type=SmttSolution,
    format=1,
    read_instance=from_dict,
    read_solution=solution_from_dict,
    evaluate=evaluate,
    lower_bound=lower_bound,
    solvers=solvers.table(),
    hint_solver="dynasearch",
    hint_options={"kicks": 10},  # a hint in a fraction of a second at 500 jobs
    default_solver="cpsat",
    choose=solvers.choose,
    samples=generate.samples,
    cp=Model(_cp),
    milp=Model(_milp, MILP_OPTIONS),
    generator=Generator(generate.generate, generate.PARAMS),
    warm=solvers.warm,
    outside_formats=(OutsideFormat("OR-Library wt<n>.txt", formats.claims, formats.read_orlib),),
)

__all__ = ["FAMILY", "SmttInstance", "SmttSolution"]
