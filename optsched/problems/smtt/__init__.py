"""smtt: single-machine (weighted) total tardiness, 1 || sum w_j T_j."""

from optsched.backends.cpsat import CpFormulation
from optsched.backends.milp import MilpFormulation
from optsched.errors import NotSupportedError
from optsched.family import Build, Family, Generator, Model, OutsideFormat, Supports
from optsched.options import Option, OptionSet
from optsched.problems.smtt import formats, generate, solvers
from optsched.problems.smtt.bounds import lower_bound
from optsched.problems.smtt.evaluate import evaluate
from optsched.problems.smtt.instance import SmttInstance, from_dict
from optsched.problems.smtt.solution import SmttSolution
from optsched.problems.smtt.solution import from_dict as solution_from_dict

MAX_CP_JOBS = 5000
"""Most jobs of the CP-SAT model: its dominance precedences come from an n^2 table."""
MAX_MILP_JOBS = 300
"""Most jobs of the MILP models: linear ordering has n^3 / 3 transitivity rows."""


def _at_most(jobs: int, model: str) -> Supports[SmttInstance]:
    def supports(instance: SmttInstance) -> None:
        if instance.n > jobs:
            raise NotSupportedError("processing_times", f"the {model} model takes at most "
                                                        f"{jobs} jobs ({instance.n} here)")

    return supports


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
    trivial=lambda instance: SmttSolution(tuple(range(instance.n))),
    choose=solvers.choose,
    samples=generate.samples,
    cp=Model(_cp, supports=_at_most(MAX_CP_JOBS, "CP-SAT")),
    milp=Model(_milp, MILP_OPTIONS, _at_most(MAX_MILP_JOBS, "MILP")),
    generator=Generator(generate.generate, generate.PARAMS, max_items=generate.MAX_JOBS,
                        size=lambda v: int(v["n"]) * int(v["count"])),
    warm=solvers.warm,
    outside_formats=(OutsideFormat("OR-Library wt<n>.txt", formats.claims, formats.read_orlib,
                                   formats.example),),
)

__all__ = ["FAMILY", "SmttInstance", "SmttSolution"]
