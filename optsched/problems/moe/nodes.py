"""Regroup one layer's replicas over nodes, then re-pack each node: moe-lns's node move.

Network links are the slow ones, and a swap between two GPUs must keep
both GPUs balanced, which few swaps across nodes do. So the layer is first
optimised at the node level alone: swaps of replicas between nodes priced
by the node terms only (transitions to the fixed neighbours' nodes, and the
co-activation pairs that share a node), under the node cap ``gpus_per_node
x`` the GPU cap. Then each node's replicas are packed onto its GPUs by LPT
and polished by swaps inside the node. The layer keeps the result only if
its exact cost goes down and every GPU stays under the cap.
"""

from __future__ import annotations

import numpy as np

from optsched.deadline import Deadline
from optsched.problems.moe.layout import lpt_row
from optsched.problems.moe.search import EPS, Plan

MAX_SWAPS = 2000
"""Most node-level swaps of one regrouping."""


def regroup(plan: Plan, layer: int, deadline: Deadline) -> bool:
    """Node-level swap descent, LPT inside each node, then the layer's swap descent."""
    inst = plan.instance
    c = inst.cluster
    if c.nodes < 2 or plan.before is not None:
        return False
    row = plan.phy[layer].copy()
    before = plan.layer_cost(layer)
    node_of_slot = plan.node[plan.gpu]
    load, count = plan.load[layer], plan.count[layer]
    size = load[row] / count[row]
    cap = np.inf if plan.caps is None else float(plan.caps[layer]) * c.gpus_per_node
    _, v0, _, pn = plan.terms(layer)
    slot_node = node_of_slot.copy()
    for _ in range(MAX_SWAPS):
        if deadline.expired():
            break
        share = np.zeros((inst.experts, c.nodes))
        np.add.at(share, (row, slot_node), 1 / count[row])
        v = v0 + pn @ share
        totals = np.bincount(slot_node, weights=size, minlength=c.nodes)
        e_i, e_j = row[:, None], row[None, :]
        n_i, n_j = slot_node[:, None], slot_node[None, :]
        d_i, d_j = 1 / count[e_i], 1 / count[e_j]
        gain = (d_i * (v[e_i, n_j] - v[e_i, n_i]) + d_j * (v[e_j, n_i] - v[e_j, n_j])
                - 2 * d_i * d_j * pn[e_i, e_j])
        shift = size[None, :] - size[:, None]  # tokens node n_i gains
        fits = ((totals[n_i] + shift <= cap) | (shift <= 0)) & (
            (totals[n_j] - shift <= cap) | (shift >= 0))
        valid = (n_i < n_j) & (e_i != e_j) & fits
        gain = np.where(valid, gain, -np.inf)
        i, j = np.unravel_index(int(np.argmax(gain)), gain.shape)
        if gain[i, j] <= EPS * max(abs(before), 1.0):
            break
        slot_node[i], slot_node[j] = slot_node[j], slot_node[i]
    if np.array_equal(slot_node, node_of_slot):
        return False
    per_node = c.gpus_per_node
    new = np.empty_like(row)
    for node in range(c.nodes):
        members = row[slot_node == node]
        experts = np.unique(members)
        counts = np.bincount(members, minlength=inst.experts)[experts]
        packed = lpt_row(load[experts] * counts / count[experts], counts, per_node,
                         c.slots_per_gpu)
        new[node * per_node * c.slots_per_gpu:(node + 1) * per_node * c.slots_per_gpu] = (
            experts[packed])
    plan.set_row(layer, new)
    plan.improve(layer, deadline)
    tokens = load @ plan.shares(layer)
    within = plan.caps is None or float(tokens.max()) <= float(plan.caps[layer]) * (1 + 1e-9)
    if within and plan.layer_cost(layer) < before - EPS * max(abs(before), 1.0):
        return True
    plan.set_row(layer, row)
    return False
