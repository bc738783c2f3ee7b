"""pods: Kubernetes pods onto nodes, the most pods of the highest priority first."""

from collections.abc import Mapping
from typing import Any

from optsched.backends.cpsat import CpFormulation
from optsched.backends.milp import MilpFormulation
from optsched.family import Build, Family, Generator, Model, OutsideFormat
from optsched.problems.pods import alibaba, formats, generate, output, samples, solvers
from optsched.problems.pods.bounds import lower_bound
from optsched.problems.pods.counts.structure import CP_OPTIONS, MODEL_OPTIONS
from optsched.problems.pods.evaluate import evaluate
from optsched.problems.pods.instance import PodsInstance, from_dict
from optsched.problems.pods.solution import PodsSolution, as_it_is
from optsched.problems.pods.solution import from_dict as solution_from_dict


def _cp() -> Build[PodsInstance, CpFormulation]:
    from optsched.problems.pods.counts.cp import build

    return build


def _milp() -> Build[PodsInstance, MilpFormulation]:
    from optsched.problems.pods.counts.milp import build

    return build


def _warm() -> None:
    from optsched.problems.pods.counts import kernels

    kernels.load()


def _grid_pods(values: Mapping[str, Any]) -> int:
    return int(values["nodes"]) * int(values["pods_per_node"]) * int(values["count"])


def _trace_pods(values: Mapping[str, Any]) -> int:
    return int(values["pods"]) * int(values["count"])


FAMILY: Family[PodsInstance, PodsSolution] = Family(
    name="pods",
    summary="Kubernetes pod placement: most pods of the highest priority, then fewest "
            "evictions and moves",
    instance_type=PodsInstance,
    solution_type=PodsSolution,
    format=1,
    read_instance=from_dict,
    read_solution=solution_from_dict,
    evaluate=evaluate,
    lower_bound=lower_bound,
    solvers=solvers.table(),
    hint_solver="best-greedy",
    hint_seconds=solvers.hint_seconds,
    default_solver="cpsat",
    choose=solvers.choose,
    samples=samples.samples,
    trivial=as_it_is,
    cp=Model(_cp, CP_OPTIONS),
    milp=Model(_milp, MODEL_OPTIONS),
    generator=Generator(generate.generate, generate.PARAMS,
                        "the grid of Priority Matters (identical nodes, ReplicaSets)",
                        generate.MAX_PODS, _grid_pods),
    variants={"alibaba": Generator(alibaba.generate, alibaba.PARAMS,
                                   "snapshots of the Alibaba GPU trace v2023",
                                   generate.MAX_PODS, _trace_pods)},
    outside_formats=(OutsideFormat("Kubernetes YAML (.yaml, .yml)", formats.claims,
                                   formats.read_yaml, formats.example),),
    compare=output.compare,
    export=output.manifests,
    read_export=output.read_manifests,
    export_suffixes=(".yaml", ".yml"),
    headline=output.headline,
    warm=_warm,
)

__all__ = ["FAMILY", "PodsInstance", "PodsSolution"]
