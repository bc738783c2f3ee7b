"""parplan: parallel plans for LLM serving (data, tensor, pipeline, expert parallelism).

Decide the replicas of a model on a cluster of GPU pools: per replica the TP
size, the pipeline's stages (GPU type and layer range of each), expert
parallelism and the decode batch, for the most output tokens per second
within the TPOT and TTFT limits. Cost model, methods and citations:
``docs/methods/parplan.md``.
"""

from optsched.family import Family, Generator, InstanceOptions
from optsched.options import Option, OptionSet
from optsched.problems.parplan import draft, generate, output, solvers
from optsched.problems.parplan.bounds import lower_bound
from optsched.problems.parplan.evaluate import evaluate
from optsched.problems.parplan.instance import ParplanInstance, from_dict, with_settings
from optsched.problems.parplan.solution import ParplanSolution
from optsched.problems.parplan.solution import from_dict as solution_from_dict

INSTANCE_OPTIONS = OptionSet((
    Option("tpot_ms", float, None, "the TPOT limit in ms (0: none)", low=0, high=1e7),
    Option("ttft_ms", float, None, "the TTFT limit in ms (0: none)", low=0, high=1e8),
    Option("max_stages", int, None, "most pipeline stages per replica", low=1, high=16),
    Option("mixed_pipelines", bool, None, "pipelines over two GPU types"),
    Option("expert_parallel", bool, None, "expert parallelism for MoE models"),
))


def _choose(instance: ParplanInstance, params: object) -> tuple[str, str]:
    return "parplan-exact", "exact splits and the integer master prove the best plan"


FAMILY: Family[ParplanInstance, ParplanSolution] = Family(
    name="parplan",
    summary="LLM serving plans: TP, PP, EP, layer splits, GPU types and batch under SLOs",
    instance_type=ParplanInstance,
    solution_type=ParplanSolution,
    format=1,
    read_instance=from_dict,
    read_solution=solution_from_dict,
    evaluate=evaluate,
    lower_bound=lower_bound,
    solvers=solvers.table(),
    hint_solver="vllm",
    default_solver="parplan-exact",
    samples=generate.samples,
    integral=False,
    generator=generate.GENERATOR,
    variants={"draft": Generator(draft.from_draft, draft.PARAMS, "a format-1 instance from "
                                 "a v0 draft of ../shared/data/parplan/instances", 1, draft.size)},
    headline=output.headline,
    instance_options=InstanceOptions(INSTANCE_OPTIONS, with_settings),
    export=output.export,
    read_export=output.read_export,
    export_suffixes=(".launch.json",),
    plot=output.plot,
    compare=output.compare,
)

__all__ = ["FAMILY", "ParplanInstance", "ParplanSolution"]
