"""pods: Kubernetes pods onto nodes, the most pods of the highest priority first."""

from optsched.family import Family, Generator, OutsideFormat
from optsched.problems.pods import alibaba, formats, generate, output, solvers
from optsched.problems.pods.bounds import lower_bound
from optsched.problems.pods.evaluate import evaluate
from optsched.problems.pods.instance import PodsInstance, from_dict
from optsched.problems.pods.solution import PodsSolution
from optsched.problems.pods.solution import from_dict as solution_from_dict

FAMILY = Family(
    name="pods",
    summary="Kubernetes pod placement: most pods of the highest priority, then fewest "
            "evictions and moves",
    instance_type=PodsInstance,
    format=1,
    read_instance=from_dict,
    read_solution=solution_from_dict,
    evaluate=evaluate,
    lower_bound=lower_bound,
    solvers=solvers.table(),
    hint_solver="best-greedy",
    default_solver="cpsat",
    cp_model="optsched.problems.pods.counts.cp",
    milp_model="optsched.problems.pods.counts.milp",
    generator=Generator(generate.generate, generate.PARAMS,
                        "the grid of Priority Matters (identical nodes, ReplicaSets)"),
    variants={"alibaba": Generator(alibaba.generate, alibaba.PARAMS,
                                   "snapshots of the Alibaba GPU trace v2023")},
    outside_formats=(OutsideFormat("Kubernetes YAML (.yaml, .yml)", formats.claims,
                                   formats.read_yaml),),
    compare=output.compare,
    manifests=output.manifests,
)

__all__ = ["FAMILY", "PodsInstance", "PodsSolution"]
