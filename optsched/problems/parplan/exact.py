"""parplan-exact: every template's exact split, then the integer master over the columns.

With ``mix`` off, every pool holds identical replicas of one single-type
template; with ``uneven`` off, splits are vLLM's even ones; with both off the
plan space is :func:`.baselines.enumerate_all`'s. Infeasibility is proven when the
full enumeration (both options on) completes without a template, and
:func:`explain` names the constraint no plan can meet.
"""

from __future__ import annotations

import math
from dataclasses import replace

from optsched.deadline import Deadline
from optsched.problems.parplan import cost, master
from optsched.problems.parplan.baselines import _group
from optsched.problems.parplan.instance import ParplanInstance
from optsched.problems.parplan.solution import ParplanSolution
from optsched.problems.parplan.split import Template, best
from optsched.problems.parplan.templates import (
    Columns,
    cluster_tp_sizes,
    columns,
    ep_choices,
    pipelines,
)


def plan(inst: ParplanInstance, deadline: Deadline, uneven: bool = True, mix: bool = True,
         threads: int = 1) -> tuple[ParplanSolution, master.Mix, Columns]:
    """The best plan, the master's mix (throughput, bound, optimality) and the columns."""
    cols = columns(inst, deadline, uneven, mix)
    capacity = tuple(p.count for p in inst.pools)
    listed = sorted(cols.best.items(), key=lambda c: (-c[1].throughput, c[0]))
    if mix:
        mixed = master.solve(listed, capacity, deadline, threads)
    else:
        mixed = _identical(listed, capacity)
    if not cols.complete:
        mixed = replace(mixed, bound=math.inf, optimal=False)
    groups = tuple(_group(inst, t, n) for t, n in mixed.counts)
    return ParplanSolution(groups), mixed, cols


def _identical(listed: list[tuple[tuple[int, ...], Template]], capacity: tuple[int, ...]
               ) -> master.Mix:
    """Per pool the single-type column that gives the most, repeated as often as it fits."""
    counts = []
    for k, cap in enumerate(capacity):
        own = [(t, cap // use[k]) for use, t in listed
               if use[k] and sum(use) == use[k]]
        top = max(own, key=lambda c: c[0].throughput * c[1], default=None)
        if top is not None and top[1] > 0:
            counts.append(top)
    total = sum(t.throughput * n for t, n in counts)
    return master.Mix(tuple(counts), total, total, True)


def explain(inst: ParplanInstance) -> str:
    """The constraint that rules out every plan, in a sentence."""
    weights = cost.stage_weights(inst, 0, inst.model.num_hidden_layers, True, True)
    sizes = cluster_tp_sizes(inst)
    if not sizes:
        return ("search.tp: no TP size it allows divides the nodes and suits the model's "
                "heads")
    if not any(next(pipelines(inst, tp), None) for tp in sizes):
        return (f"memory: the weights ({weights / cost.GIB:.1f} GiB) fit no pipeline of at "
                f"most {inst.search.max_stages} stages on this cluster")
    free = replace(inst, tpot_ms=None, ttft_ms=None)
    found = [t for tp in sizes for pools in pipelines(free, tp) for ep in ep_choices(free, tp)
             if (t := best(free, pools, tp, ep, inst.batch_sizes[0])) is not None]
    if not found:
        return (f"memory: no pipeline holds the KV cache of {inst.batch_sizes[0]} sequence(s) "
                f"of {inst.prompt_tokens + inst.output_tokens} tokens beside the weights")
    tpot = min(t.tpot_s for t in found) * 1e3
    ttft = min(t.ttft_s for t in found) * 1e3
    if inst.tpot_ms is not None and tpot > inst.tpot_ms:
        return (f"TPOT: the fastest plan takes {tpot:.1f} ms per token; the SLO is "
                f"{inst.tpot_ms} ms")
    if inst.ttft_ms is not None and ttft > inst.ttft_ms:
        return f"TTFT: the fastest first token takes {ttft:.1f} ms; the SLO is {inst.ttft_ms} ms"
    return ("TPOT and TTFT together: no plan meets both SLOs (each alone can be met: "
            f"{tpot:.1f} ms per token, {ttft:.1f} ms to the first)")
