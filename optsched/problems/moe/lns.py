"""moe-lns: balance every layer, then descend on the whole objective one layer at a time.

1. Start: the hint, else ``previous``, else the better of LPT (D'Hondt
   counts) and EPLB.
2. Re-planning (``previous`` given): :func:`replan`, moves priced by a
   falling Lagrangian price within ``max_moved``; nothing else.
3. Balance: swaps and replica re-counts on the heaviest GPU's tokens
   (:meth:`.Plan.balance`), then restarts of the layers still above their
   bound (:func:`rebalance`).
4. Whole objective (``time``), in rounds until one changes nothing: GPU
   renumbering and swap descent per layer (:meth:`.Plan.sweep`), the
   node-level regrouping (:func:`.regroup`), the exact re-placement of each
   layer against its fixed neighbours (:func:`.relayer`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from optsched.deadline import Deadline
from optsched.errors import NotSupportedError
from optsched.options import Option, OptionSet
from optsched.params import SolveParams
from optsched.problems.moe import baselines, layout
from optsched.problems.moe.bounds import replica_counts, token_bounds
from optsched.problems.moe.instance import MoeInstance
from optsched.problems.moe.nodes import regroup
from optsched.problems.moe.relayer import relayer
from optsched.problems.moe.search import BALANCE, EPS, Plan
from optsched.problems.moe.solution import MoeSolution, make

OPTIONS = OptionSet((
    Option("relayer_s", float, 0.5, "seconds of CP-SAT per layer re-placement (0: swaps only)",
           low=0, high=3600),
    Option("balance_share", float, 0.3, "share of the time for restarts of layers above "
           "their token bound (new replica counts, LPT, descent)", low=0, high=1),
    Option("rounds", int, 20, "most rounds of swaps and re-placements", low=0, high=10_000),
))


RESTARTS = 64
"""Restarts of a layer in a row without a better row before :func:`rebalance` leaves it."""


def caps(instance: MoeInstance) -> np.ndarray | None:
    """Per layer, the most tokens a GPU may carry (``imbalance`` x the layer's bound)."""
    if instance.imbalance is None:
        return None
    return np.asarray(token_bounds(instance) * instance.imbalance)


def budget(instance: MoeInstance) -> int | None:
    """The most expert copies new on their GPU that ``max_moved`` allows."""
    if instance.max_moved is None:
        return None
    return int(np.floor(instance.max_moved * instance.layers * instance.cluster.slots + 1e-9))


def rebalance(plan: Plan, deadline: Deadline, seed: int,
              cap: np.ndarray | None = None) -> None:
    """Restarts for the layers above their token bound, worst first, while time is left.

    A restart moves one to three replicas between experts of D'Hondt's counts
    (from one with several to one of the heaviest per replica), packs by LPT
    and runs :meth:`.Plan.balance`; the best row of the layer is kept. A layer
    is left after :data:`RESTARTS` restarts in a row without a better row,
    unless it is above ``cap``: then it is tried until it is under it or the
    time is up.
    """
    instance = plan.instance
    c = instance.cluster
    bound = token_bounds(instance)
    rng = np.random.default_rng(seed)
    over = np.full(instance.layers, np.inf) if cap is None else cap

    def heaviest(layer: int) -> float:
        return float((plan.load[layer] @ plan.shares(layer)).max())

    gap = np.array([heaviest(i) / max(bound[i], 1e-300) - 1 for i in range(instance.layers)])
    open_layers = [i for i in np.argsort(-gap).tolist() if gap[i] > 1e-4]
    failed = dict.fromkeys(open_layers, 0)
    while open_layers and not deadline.expired():
        for layer in list(open_layers):
            if deadline.expired():
                return
            best, best_row = heaviest(layer), plan.phy[layer].copy()
            load = plan.load[layer]
            counts = replica_counts(load, c.slots, c.gpus)
            for _ in range(int(rng.integers(1, 4))):
                donors = np.flatnonzero(counts >= 2)
                if not len(donors):
                    break
                hot = np.argsort(-load / counts)[:8]
                counts[rng.choice(donors)] -= 1
                counts[rng.choice(hot)] += 1
            plan.set_row(layer, layout.lpt_row(load, counts, c.gpus, c.slots_per_gpu))
            plan.balance(layer, deadline)
            if heaviest(layer) >= best:
                plan.set_row(layer, best_row)
                failed[layer] += 1
            else:
                failed[layer] = 0
            done = heaviest(layer) <= bound[layer] * (1 + 1e-4)
            if done or (failed[layer] >= RESTARTS and heaviest(layer) <= over[layer]):
                open_layers.remove(layer)


def start(instance: MoeInstance, params: SolveParams) -> np.ndarray:
    """The first placement: the hint, else ``previous``, else the better of LPT and EPLB."""
    if isinstance(params.hint, MoeSolution):
        return np.array(params.hint.phy2log)
    if instance.previous is not None:
        return np.array(instance.previous)
    first = layout.lpt(instance)
    try:
        other = baselines.deepseek(instance)
    except NotSupportedError:
        return first
    load = instance.load.astype(np.float64)

    def heaviest(phy: np.ndarray) -> float:
        plan = Plan(instance, phy, None, weights=BALANCE)
        return float(sum((load[i] @ plan.shares(i)).max() for i in range(instance.layers)))

    return other if heaviest(other) < heaviest(first) else first


def replan(instance: MoeInstance, phy: np.ndarray, deadline: Deadline) -> np.ndarray:
    """Re-plan from ``previous``: the moves worth most first, within ``max_moved``.

    Each expert copy new on its GPU is priced at ``lam``, which starts at 1 %
    of a layer's mean cost and halves every round down to the instance's own
    migration price: the budget goes to the moves (swaps, replica counts,
    GPU renumbering) that gain most anywhere, not to the first layers.
    """
    plan = Plan(instance, phy, caps(instance), budget(instance))
    price = plan.w.moved
    mean = float(np.mean([plan.layer_cost(layer) for layer in range(instance.layers)]))
    lam = max(abs(mean) * 0.01, price)
    while not deadline.expired():
        plan.w = replace(plan.w, moved=lam)
        changed = plan.sweep(deadline)
        for layer in range(instance.layers):
            while not deadline.expired():  # re-counts judge tokens only: check the layer
                cost, row = plan.layer_cost(layer), plan.phy[layer].copy()
                if not plan.recount(layer):
                    break
                if plan.layer_cost(layer) >= cost - EPS * max(abs(cost), 1.0):
                    plan.set_row(layer, row)
                    break
                changed += 1
        if lam <= price and not changed:
            break
        lam = price if lam / 2 < abs(mean) * 1e-5 else max(lam / 2, price)
    return plan.phy


def run(instance: MoeInstance, params: SolveParams, deadline: Deadline) -> np.ndarray:
    """The placement moe-lns finds within the deadline."""
    phy = start(instance, params)
    if instance.previous is not None:
        return replan(instance, phy, deadline)
    limit = budget(instance)
    plan = Plan(instance, phy, None, limit, weights=BALANCE)
    for layer in range(instance.layers):
        plan.balance(layer, deadline)
    rebalance(plan, deadline.part(float(params.options.get("balance_share", 0.3))),
              params.seed)
    cap = caps(instance)
    if cap is not None:  # a layer still above its cap: more restarts, up to half the rest
        rebalance(plan, deadline.part(0.5), params.seed + 1, cap)
    if instance.objective == "load":
        return plan.phy
    if deadline.listening:
        deadline.report(make(plan.phy.copy()))
    plan = Plan(instance, plan.phy, caps(instance), limit)
    seconds = float(params.options.get("relayer_s", 0.5))
    for _ in range(int(params.options.get("rounds", 20))):
        changed = plan.sweep(deadline)
        for layer in range(instance.layers):
            if deadline.expired():
                break
            changed += regroup(plan, layer, deadline)
        if seconds > 0:
            for layer in range(instance.layers):
                if deadline.expired():
                    break
                changed += relayer(plan, layer, params, deadline, seconds)
        if not changed or deadline.expired():
            break
        if deadline.listening:
            deadline.report(make(plan.phy.copy()))
    return plan.phy
