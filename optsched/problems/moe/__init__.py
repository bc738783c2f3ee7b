"""moe: mixture-of-experts experts (and their replicas) onto GPU slots, per layer.

Decide ``phy2log``, the logical expert of every physical slot of every MoE
layer: balance the heaviest GPU, keep co-activated experts and
layer-to-layer paths on one GPU or node, move few experts on a re-plan.
Cost model, methods and citations: ``docs/methods/moe.md``.
"""

from optsched.backends.cpsat import CpFormulation
from optsched.backends.milp import MilpFormulation
from optsched.family import Build, Family, Generator, InstanceOptions, Model
from optsched.options import Option, OptionSet
from optsched.problems.moe import fromlog, generate, output, solvers
from optsched.problems.moe.bounds import lower_bound
from optsched.problems.moe.evaluate import evaluate
from optsched.problems.moe.instance import OBJECTIVES, MoeInstance, from_dict, with_settings
from optsched.problems.moe.solution import MoeSolution
from optsched.problems.moe.solution import from_dict as solution_from_dict

INSTANCE_OPTIONS = OptionSet((
    Option("objective", str, None, "time (compute + communication) or load (tokens)",
           OBJECTIVES),
    Option("imbalance", float, None, "cap each layer's heaviest GPU at this multiple of the "
                                     "layer's token bound (0: none)", low=0, high=1e6),
    Option("max_moved", float, None, "the share of expert copies that may be new against "
                                     "previous (0: none may move)", low=0, high=1),
))


def _cp() -> Build[MoeInstance, CpFormulation]:
    from optsched.problems.moe.cp import build

    return build


def _milp() -> Build[MoeInstance, MilpFormulation]:
    from optsched.problems.moe.milp import build

    return build


def _supports(instance: MoeInstance) -> None:
    from optsched.problems.moe.cp import supports

    supports(instance)


FAMILY: Family[MoeInstance, MoeSolution] = Family(
    name="moe",
    summary="MoE experts and replicas onto GPU slots: balance, traffic, few moves",
    instance_type=MoeInstance,
    solution_type=MoeSolution,
    format=1,
    read_instance=from_dict,
    read_solution=solution_from_dict,
    evaluate=evaluate,
    lower_bound=lower_bound,
    solvers=solvers.table(),
    hint_solver="lpt",
    default_solver="moe-lns",
    trivial=output.trivial,
    choose=solvers.choose,
    samples=generate.samples,
    integral=False,
    cp=Model(_cp, supports=_supports),
    milp=Model(_milp, supports=_supports),
    generator=generate.GENERATOR,
    variants={"recorder": Generator(fromlog.from_log, fromlog.PARAMS, "an instance from a "
                                    "runtime's routing log (SGLang dumps, vLLM routed_experts)",
                                    1, fromlog.size)},
    headline=output.headline,
    instance_options=InstanceOptions(INSTANCE_OPTIONS, with_settings),
    export=output.export,
    read_export=output.read_export,
    export_suffixes=(".placement.json",),
    plot=output.plot,
)

__all__ = ["FAMILY", "MoeInstance", "MoeSolution"]
