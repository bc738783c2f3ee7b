"""Replica templates: every (TP, expert parallelism, pipeline of GPU pools) and its best batch.

The plan space (``docs/methods/parplan.md`` section 1): a replica has one
TP size ``t`` (a power of two that divides its nodes and suits the model's
heads: :func:`tp_sizes`), ``p <= search.max_stages`` stages of ``t`` GPUs,
all of one pool, or of two pools as two contiguous runs (then also ``p <=
search.max_mixed_stages``), and a micro-batch from ``batch_sizes``. For
every template :func:`.split.best` gives the exact best split; a column is
the best template for one vector of GPUs used per pool (only the best of
those can be in an optimal plan, as replicas do not interact).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from optsched.deadline import Deadline
from optsched.problems.parplan import cost
from optsched.problems.parplan.instance import ParplanInstance, tp_problem
from optsched.problems.parplan.split import Template, best


def tp_sizes(inst: ParplanInstance, pool: int) -> list[int]:
    """TP sizes a pool's nodes allow: powers of two that divide ``gpus_per_node`` and the heads."""
    node = inst.pools[pool].gpus_per_node
    allowed = inst.search.tp
    sizes, t = [], 1
    while t <= node:
        if node % t == 0 and not tp_problem(inst.model, t) and (allowed is None or t in allowed):
            sizes.append(t)
        t *= 2
    return sizes


def cluster_tp_sizes(inst: ParplanInstance) -> list[int]:
    """Every TP size some pool allows, smallest first."""
    return sorted({t for k in range(len(inst.pools)) for t in tp_sizes(inst, k)})


def ep_choices(inst: ParplanInstance, tp: int) -> list[bool]:
    """Expert parallelism is a choice for a MoE model whose experts divide over ``tp`` ranks."""
    m = inst.model
    if inst.search.expert_parallel and m.is_moe and tp > 1 and m.experts % tp == 0:
        return [False, True]
    return [False]


def _holds(inst: ParplanInstance, tp: int, stages: dict[int, int]) -> bool:
    """True when ``stages`` (pool -> count) of TP ``tp`` fit the pools and hold the weights."""
    weights = cost.stage_weights(inst, 0, inst.model.num_hidden_layers, True, True) / tp
    return (all(n * tp <= inst.pools[k].count for k, n in stages.items())
            and sum(n * cost.usable(inst, inst.pools[k]) for k, n in stages.items()) > weights)


def pipelines(inst: ParplanInstance, tp: int, mixed: bool = True
              ) -> Iterator[tuple[int, ...]]:
    """Pool sequences of TP-``tp`` stages that the cluster can hold: one type, then two."""
    pools = [k for k in range(len(inst.pools)) if tp in tp_sizes(inst, k)]
    s = inst.search
    for k in pools:
        for p in range(1, s.max_stages + 1):
            if _holds(inst, tp, {k: p}):
                yield (k,) * p
    if not (mixed and s.mixed_pipelines):
        return
    for a in pools:
        for b in pools:
            most = min(s.max_mixed_stages, s.max_stages)
            for first in range(1, most):
                for second in range(1, most - first + 1):
                    if a != b and _holds(inst, tp, {a: first, b: second}):
                        yield (a,) * first + (b,) * second


@dataclass(frozen=True)
class Columns:
    """The best template per vector of GPUs used per pool, and how many were priced."""

    best: dict[tuple[int, ...], Template]
    priced: int
    complete: bool
    """False when the deadline cut the enumeration short."""


def usage(inst: ParplanInstance, pools: tuple[int, ...], tp: int) -> tuple[int, ...]:
    """GPUs of each pool a replica of ``pools`` stages of TP ``tp`` takes."""
    used = [0] * len(inst.pools)
    for k in pools:
        used[k] += tp
    return tuple(used)


def ceiling(inst: ParplanInstance, pools: tuple[int, ...], tp: int, ep: bool,
            batch: int) -> float:
    """An upper bound of a template's tokens per second, whatever its split.

    ``p b / C`` with ``C >= o + H + sum_l min_g tau_l(g) + head`` (every layer on
    the fastest of the template's GPU types), ``C >= p o``, and ``C >= p (sum_l
    min_g w_g tau_l(g) + w_last head) / sum_s w_s`` (stage ``s`` has ``T_s <= C /
    p``; weigh each stage's inequality by its pool's ``w_g``, the HBM bandwidth,
    and sum). Memory is ignored. Each term is ``a + c b`` or concave through
    0 in the batch, so the ceiling grows with the batch.
    """
    kinds = sorted(set(pools))
    times = np.array([cost.decode_layers(inst, inst.pools[k], tp, ep, batch) for k in kinds])
    heads = {k: cost.head_time(inst, inst.pools[k], tp, batch) for k in kinds}
    weight = np.array([inst.pools[k].gpu.hbm_TBps for k in kinds])
    last = pools[-1]
    tokens, _ = cost.decode_tokens(inst, batch)
    hops = sum(cost.hops(inst, pools, tp, tokens))
    o, p = inst.cost.overhead_ms * 1e-3, len(pools)
    spread = p * (float((times * weight[:, None]).min(axis=0).sum())
                  + inst.pools[last].gpu.hbm_TBps * heads[last]) / sum(
        inst.pools[k].gpu.hbm_TBps for k in pools)
    fastest = float(times.min(axis=0).sum()) + min(heads.values())
    return p * batch / max(o + hops + fastest, p * o, spread)


def _pure_values(inst: ParplanInstance, kept: dict[tuple[int, ...], Template], most: int
                 ) -> list[list[float]]:
    """Per pool, the most tokens/s of one-type columns within ``g`` of its GPUs (g <= most)."""
    out = []
    for k in range(len(inst.pools)):
        items = [(use[k], t.throughput) for use, t in kept.items() if use[k] == sum(use)]
        value = [0.0] * (most + 1)
        for g in range(1, most + 1):
            value[g] = max([value[g - 1]] + [value[g - u] + r for u, r in items if u <= g])
        out.append(value)
    return out


def columns(inst: ParplanInstance, deadline: Deadline, uneven: bool = True,
            mixed: bool = True) -> Columns:
    """Price every template; keep the best per usage vector.

    One-type pipelines go first. A two-type template is priced only when its
    ceiling beats both the best column of its usage vector and the best mix of
    one-type columns within the same GPUs (else the master never needs it).
    """
    kept: dict[tuple[int, ...], Template] = {}
    priced = 0
    overhead = inst.cost.overhead_ms * 1e-3
    sizes = cluster_tp_sizes(inst)
    every = [(tp, pools) for tp in sizes for pools in pipelines(inst, tp, mixed)
             if inst.tpot_ms is None or len(pools) * overhead <= inst.tpot_ms * 1e-3]
    every.sort(key=lambda c: len(set(c[1])))
    values: list[list[float]] | None = None
    for tp, pools in every:
        key = usage(inst, pools, tp)
        bar = kept[key].throughput if key in kept else 0.0
        if len(set(pools)) > 1:
            if values is None:
                values = _pure_values(inst, kept, max(sizes) * inst.search.max_mixed_stages)
            bar = max(bar, sum(values[k][u] for k, u in enumerate(key) if u))
        for ep in ep_choices(inst, tp):
            for batch in reversed(inst.batch_sizes):
                if deadline.expired():
                    return Columns(kept, priced, False)
                if ceiling(inst, pools, tp, ep, batch) <= bar:
                    break  # the ceiling grows with the batch: smaller ones cannot do better
                priced += 1
                found = best(inst, pools, tp, ep, batch, uneven)
                if found is not None and (key not in kept or _better(found, kept[key])):
                    kept[key] = found
                    bar = max(bar, found.throughput)
    return Columns(kept, priced, True)


def _better(a: Template, b: Template) -> bool:
    """More throughput; on a tie the lower TPOT, then the simpler plan."""
    return (a.throughput, -a.tpot_s, -len(a.pools), -a.tp) > (
        b.throughput, -b.tpot_s, -len(b.pools), -b.tp)


def frontier(inst: ParplanInstance, deadline: Deadline) -> dict[str, list[tuple[float, float]]]:
    """(TPOT ms, tokens/s per GPU) of every template at every batch, the TPOT SLO lifted.

    Keyed by the pipeline's GPU types; what ``optsched plot`` draws.
    """
    free = replace(inst, tpot_ms=None)
    out: dict[str, list[tuple[float, float]]] = {}
    for tp in cluster_tp_sizes(inst):
        for pools in pipelines(free, tp):
            label = "+".join(dict.fromkeys(inst.pools[k].gpu.name for k in pools))
            for ep in ep_choices(free, tp):
                for batch in free.batch_sizes:
                    if deadline.expired():
                        return out
                    t = best(free, pools, tp, ep, batch)
                    if t is not None:
                        out.setdefault(label, []).append(
                            (t.tpot_s * 1e3, t.throughput / (tp * len(pools))))
    return out
