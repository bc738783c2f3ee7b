"""smtt: single-machine (weighted) total tardiness, 1 || sum w_j T_j."""

from optsched.family import Family, Generator, OutsideFormat
from optsched.problems.smtt import formats, generate, solvers
from optsched.problems.smtt.bounds import lower_bound
from optsched.problems.smtt.evaluate import evaluate
from optsched.problems.smtt.instance import SmttInstance, from_dict
from optsched.problems.smtt.solution import SmttSolution
from optsched.problems.smtt.solution import from_dict as solution_from_dict

FAMILY = Family(
    name="smtt",
    summary="single-machine (weighted) total tardiness: order jobs to minimise sum w_j T_j",
    instance_type=SmttInstance,
    format=1,
    read_instance=from_dict,
    read_solution=solution_from_dict,
    evaluate=evaluate,
    lower_bound=lower_bound,
    solvers=solvers.table(),
    hint_solver="dynasearch",
    hint_options={"kicks": 10},  # a hint in a fraction of a second at 500 jobs
    default_solver="cpsat",
    cp_model="optsched.problems.smtt.cp",
    milp_model="optsched.problems.smtt.milp",
    generator=Generator(generate.generate, generate.PARAMS),
    warm=solvers.warm,
    outside_formats=(OutsideFormat("OR-Library wt<n>.txt", formats.claims, formats.read_orlib),),
)

__all__ = ["FAMILY", "SmttInstance", "SmttSolution"]
