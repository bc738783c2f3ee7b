"""The rules people run, each on every pool separately, with even splits.

Every baseline fills a pool with identical replicas of one (TP, PP) shape,
split as vLLM splits by default (:func:`.split.even`), at the batch size from
``batch_sizes`` that gives the most tokens per second within memory and the
SLOs (generous to the rule: vLLM itself would run up to ``max_num_seqs``).

- ``vllm``: TP = GPUs per node, PP = the fewest nodes that hold the model
  (vLLM's distributed-serving guide); TP must stay inside a node,
  so this is also the max-TP rule;
- ``max-pp``: the deepest pipeline that works, with the smallest TP size that works at
  that depth;
- ``min-tp``: one stage, the smallest TP size that holds the model, then DP;
- ``enumerate``: every (TP, PP, batch, expert parallelism) per pool, the best:
  the ground truth of homogeneous plans with even splits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from optsched.deadline import Deadline
from optsched.problems.parplan.instance import ParplanInstance
from optsched.problems.parplan.solution import ParplanSolution, ReplicaPlan, StagePlan
from optsched.problems.parplan.split import Template, best
from optsched.problems.parplan.templates import ep_choices, tp_sizes

Shapes = Callable[[ParplanInstance, int], Iterable[tuple[int, int]]]
"""A rule: the (TP, PP) shapes it tries on a pool, in its order of preference."""


def best_even(inst: ParplanInstance, pool: int, tp: int, stages: int,
              eps: Iterable[bool] = (False,)) -> Template | None:
    """The best batch (and EP choice) of ``stages`` x TP ``tp`` on ``pool``, split evenly."""
    found = [t for ep in eps for b in inst.batch_sizes
             if (t := best(inst, (pool,) * stages, tp, ep, b, uneven=False)) is not None]
    return max(found, key=lambda t: t.throughput, default=None)


def _depths(inst: ParplanInstance, pool: int, tp: int) -> range:
    most = min(inst.search.max_stages, inst.pools[pool].count // tp,
               inst.model.num_hidden_layers)
    return range(1, most + 1)


def vllm(inst: ParplanInstance, pool: int) -> Iterable[tuple[int, int]]:
    """TP = GPUs per node (the largest size allowed), PP = nodes, fewest first."""
    sizes = tp_sizes(inst, pool)
    return [(sizes[-1], p) for p in _depths(inst, pool, sizes[-1])] if sizes else []


def max_pp(inst: ParplanInstance, pool: int) -> Iterable[tuple[int, int]]:
    """The deepest pipeline first, each depth with TP sizes from the smallest."""
    sizes = tp_sizes(inst, pool)
    deepest = max((len(_depths(inst, pool, t)) for t in sizes), default=0)
    return [(t, p) for p in range(deepest, 0, -1) for t in sizes
            if p in _depths(inst, pool, t)]


def min_tp(inst: ParplanInstance, pool: int) -> Iterable[tuple[int, int]]:
    """One stage, TP sizes from the smallest."""
    return [(t, 1) for t in tp_sizes(inst, pool) if t <= inst.pools[pool].count]


def rule(inst: ParplanInstance, shapes: Shapes) -> ParplanSolution:
    """Per pool the first shape of the rule that fits, at its best batch, as many as fit."""
    replicas = []
    for k, p in enumerate(inst.pools):
        for tp, stages in shapes(inst, k):
            t = best_even(inst, k, tp, stages)
            if t is not None:
                replicas.append(_group(inst, t, p.count // (tp * stages)))
                break
    return ParplanSolution(tuple(replicas))


def enumerate_all(inst: ParplanInstance, deadline: Deadline) -> ParplanSolution:
    """Every (TP, PP, batch, EP) per pool with even splits; the most tokens per second."""
    replicas = []
    for k, p in enumerate(inst.pools):
        top: tuple[float, Template | None, int] = (0.0, None, 0)
        for tp in tp_sizes(inst, k):
            for stages in _depths(inst, k, tp):
                if deadline.expired():
                    break
                t = best_even(inst, k, tp, stages, ep_choices(inst, tp))
                count = p.count // (tp * stages)
                if t is not None and t.throughput * count > top[0]:
                    top = (t.throughput * count, t, count)
        if top[1] is not None:
            replicas.append(_group(inst, top[1], top[2]))
    return ParplanSolution(tuple(replicas))


def _group(inst: ParplanInstance, t: Template, count: int) -> ReplicaPlan:
    """``count`` replicas of template ``t``."""
    stages = tuple(StagePlan(inst.pools[k].gpu.name, t.tp, (a, b)) for k, a, b in t.stages)
    return ReplicaPlan(count, t.batch, stages, t.ep)
