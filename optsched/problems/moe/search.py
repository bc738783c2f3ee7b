"""Swap descent over one layer at a time, the other layers fixed (moe-lns's engine).

A move exchanges the experts of two slots on different GPUs; every
replica count stays. With its neighbours fixed, a layer's cost is the
heaviest GPU's compute plus terms linear in its experts' GPU shares
(transitions to and from the neighbours) plus one bilinear term
(co-activated pairs inside the layer), so the change of every swap is
exact and all swaps of a layer are priced at once with numpy. The best one
is applied, until none improves; then the next layer. Ties in the heaviest
GPU are broken by the sum of squared GPU costs, so that a descent can leave
a plateau of several equally heavy GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from optsched.deadline import Deadline
from optsched.problems.moe.instance import MoeInstance

REFRESH = 16
"""Swaps between refreshes of the linearised co-activation weights."""
BALANCE_ROWS = 128
"""Slots per layer above which a balance-only descent prices the two heaviest GPUs' swaps."""
MAX_ROWS = 384
"""Most slots whose swaps with every other slot one step prices (the heaviest GPUs' first)."""
EPS = 1e-9


@dataclass(frozen=True)
class Weights:
    """Coefficients of the objective in a layer's terms (microseconds, or tokens for load).

    Per token and distinct expert of a GPU, per transition pair kept on a GPU
    and on a node, per dispatch copy to a GPU and to a node, per moved expert
    copy.
    """

    token: float
    expert: float
    trans_gpu: float
    trans_node: float
    co_gpu: float
    co_node: float
    moved: float


BALANCE = Weights(1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
"""The ``load`` objective's weights: the heaviest GPU's tokens, nothing else."""


def objective_weights(instance: MoeInstance) -> Weights:
    """The objective's weights (see :mod:`.costs`; ``load`` counts tokens only)."""
    if instance.objective == "load":
        return BALANCE
    c, cost = instance.cluster, instance.cost
    scale = instance.model.token_bytes / (c.gpus * 1000.0)
    intra, inter = 1 / c.intra_node_GBps, 1 / c.inter_node_GBps
    k = instance.model.top_k
    return Weights(cost.us_per_token, cost.us_per_expert, scale * intra / k,
                   scale * (inter - intra) / k, 2 * scale * intra * (c.gpus - 1) / c.gpus,
                   2 * scale * inter * (c.nodes - 1) / c.nodes,
                   cost.migration_weight * instance.model.expert_bytes / (
                       c.gpus * c.intra_node_GBps * 1000.0))


class Plan:
    """A placement being improved, with its per-layer counts and shares kept current."""

    def __init__(self, instance: MoeInstance, phy2log: np.ndarray, caps: np.ndarray | None,
                 budget: int | None = None, weights: Weights | None = None) -> None:
        c = instance.cluster
        self.instance = instance
        self.w = objective_weights(instance) if weights is None else weights
        self.phy = phy2log.astype(np.int64, copy=True)
        self.gpu = np.arange(c.slots) // c.slots_per_gpu
        self.node = np.arange(c.gpus) // c.gpus_per_node
        self.to_node = np.zeros((c.gpus, c.nodes))
        self.to_node[np.arange(c.gpus), self.node] = 1
        self.caps = caps
        self.load = instance.load.astype(np.float64)
        layers, experts, gpus = instance.layers, instance.experts, c.gpus
        self.n = np.zeros((layers, experts, gpus), np.int64)
        for layer in range(layers):
            np.add.at(self.n[layer], (self.phy[layer], self.gpu), 1)
        self.count = self.n.sum(axis=2)
        self.before = None
        self.moved = 0
        self.budget = budget
        if instance.previous is not None:
            self.before = np.zeros((layers, experts, gpus), bool)
            for layer in range(layers):
                self.before[layer, instance.previous[layer], self.gpu] = True
            self.moved = int(((self.n > 0) & ~self.before).sum())
        self.local = not (self.w.trans_gpu or self.w.trans_node or self.w.co_gpu
                          or self.w.co_node)
        """No term couples a layer's experts to each other or to the neighbours."""

    @cached_property
    def moves(self) -> list[np.ndarray]:
        """Per layer boundary ``l`` (layer ``l`` to ``l + 1``), its transition rows."""
        return _split(self.instance.transitions, self.instance.layers)

    @cached_property
    def co(self) -> list[np.ndarray]:
        """Per layer, its co-activation rows."""
        return _split(self.instance.coactivation, self.instance.layers)

    def shares(self, layer: int) -> np.ndarray:
        """``[experts, gpus]`` share of each expert's tokens on each GPU."""
        return np.asarray(self.n[layer] / self.count[layer][:, None], np.float64)

    def _affinity(self, layer: int) -> np.ndarray:
        """``[experts, gpus]``: transition tokens to or from the neighbours' GPUs."""
        experts, gpus = self.instance.experts, self.instance.cluster.gpus
        out = np.zeros((experts, gpus))
        if layer > 0 and len(self.moves[layer - 1]):
            out += _dense(self.moves[layer - 1], experts).T @ self.shares(layer - 1)
        if layer + 1 < self.instance.layers and len(self.moves[layer]):
            out += _dense(self.moves[layer], experts) @ self.shares(layer + 1)
        return out

    def _pairs(self, layer: int) -> np.ndarray:
        pairs = _dense(self.co[layer], self.instance.experts)
        return np.asarray(pairs + pairs.T)

    def improve(self, layer: int, deadline: Deadline, limit: int = 10_000) -> int:
        """Apply best swaps in ``layer`` until none improves; return how many were applied."""
        u0, v0, pg, pn = self.terms(layer)
        load = self.load[layer]
        cap = None if self.caps is None else float(self.caps[layer])
        exact = self.w.co_gpu > 0 or self.w.co_node > 0  # linearised: check each swap
        cost = self.layer_cost(layer) if exact else 0.0
        applied = stale = 0
        while applied < limit and not deadline.expired():
            a = self.shares(layer)
            move = self._best(layer, load, a, u0 + pg @ a, v0 + pn @ (a @ self.to_node), pg,
                              pn, cap)
            if move is None:
                break
            self._swap(layer, *move)
            if exact:
                after = self.layer_cost(layer)
                if after >= cost - EPS * max(abs(cost), 1.0):
                    self._swap(layer, *move)  # the linear model was wrong: undo, refresh
                    stale += 1
                    if stale > 1:
                        break
                    u0, v0, pg, pn = self.terms(layer)
                    continue
                cost, stale = after, 0
            applied += 1
            if applied % REFRESH == 0:
                u0, v0, pg, pn = self.terms(layer)
        return applied

    def _best(self, layer: int, load: np.ndarray, a: np.ndarray, u: np.ndarray, v: np.ndarray,
              pg: np.ndarray, pn: np.ndarray, cap: float | None) -> tuple[int, int] | None:
        w = self.w
        phy, gpu, n, count = self.phy[layer], self.gpu, self.n[layer], self.count[layer]
        tokens = load @ a
        distinct = (n > 0).sum(axis=0)
        comp = w.token * tokens + w.expert * distinct
        order = np.argsort(-comp, kind="stable")
        rows = np.flatnonzero(np.isin(gpu, order[:2]))
        if self.local and self.before is None and len(phy) > BALANCE_ROWS:
            pass  # only a swap with the heaviest GPUs lowers the heaviest
        elif len(phy) <= MAX_ROWS:
            rows = np.arange(len(phy))
        elif len(rows) < MAX_ROWS:
            others = np.setdiff1d(np.arange(len(phy)), rows)
            pick = np.random.default_rng(len(phy) + self.moved).choice(
                others, MAX_ROWS - len(rows), replace=False)
            rows = np.concatenate([rows, pick])
        e_i, g_i = phy[rows][:, None], gpu[rows][:, None]
        e_j, g_j = phy[None, :], gpu[None, :]
        d_i, d_j = 1.0 / count[e_i], 1.0 / count[e_j]
        shift = load[e_j] * d_j - load[e_i] * d_i  # tokens gained by g_i
        t_g, t_h = tokens[g_i] + shift, tokens[g_j] - shift
        x_g = distinct[g_i] - (n[e_i, g_i] == 1) + (n[e_j, g_i] == 0)
        x_h = distinct[g_j] - (n[e_j, g_j] == 1) + (n[e_i, g_j] == 0)
        c_g, c_h = w.token * t_g + w.expert * x_g, w.token * t_h + w.expert * x_h
        top = order[:3]
        other = np.full(c_g.shape, -np.inf)  # the heaviest GPU other than g_i and g_j
        for k in range(len(top) - 1, -1, -1):
            free = (g_i != top[k]) & (g_j != top[k])
            other = np.where(free, comp[top[k]], other)
        current = comp[order[0]]
        delta = np.maximum(np.maximum(c_g, c_h), other) - current
        diff = self.node[g_i] != self.node[g_j]
        saving = (d_i * (u[e_i, g_j] - u[e_i, g_i]) + d_j * (u[e_j, g_i] - u[e_j, g_j])
                  + diff * (d_i * (v[e_i, self.node[g_j]] - v[e_i, self.node[g_i]])
                            + d_j * (v[e_j, self.node[g_i]] - v[e_j, self.node[g_j]]))
                  - 2 * d_i * d_j * (pg[e_i, e_j] + diff * pn[e_i, e_j]))
        delta = delta - saving
        valid = (g_i != g_j) & (e_i != e_j)
        if cap is not None:
            valid &= (t_g <= max(cap, 0) * (1 + EPS)) | (t_g <= tokens[g_i])
            valid &= (t_h <= max(cap, 0) * (1 + EPS)) | (t_h <= tokens[g_j])
        if self.before is not None:
            before = self.before[layer]
            moved = (-((n[e_i, g_i] == 1) & ~before[e_i, g_i]).astype(np.int64)
                     - ((n[e_j, g_j] == 1) & ~before[e_j, g_j])
                     + ((n[e_i, g_j] == 0) & ~before[e_i, g_j])
                     + ((n[e_j, g_i] == 0) & ~before[e_j, g_i]))
            delta = delta + w.moved * moved
            if self.budget is not None:
                valid &= self.moved + moved <= self.budget
        squares = c_g**2 + c_h**2 - comp[g_i] ** 2 - comp[g_j] ** 2
        scale = max(float(current), 1e-12)
        good = valid & ((delta < -EPS * scale) | ((delta <= EPS * scale * 1e-3)
                                                  & (squares < -EPS * scale * scale)))
        if not good.any():
            return None
        key = np.where(good, delta / scale + 1e-6 * squares / (scale * scale), np.inf)
        r, j = np.unravel_index(int(np.argmin(key)), key.shape)
        return int(rows[r]), int(j)

    def _swap(self, layer: int, i: int, j: int) -> None:
        phy, n = self.phy[layer], self.n[layer]
        e, f, g, h = phy[i], phy[j], self.gpu[i], self.gpu[j]
        if self.before is not None:
            before = self.before[layer]
            self.moved += (-int(n[e, g] == 1 and not before[e, g])
                           - int(n[f, h] == 1 and not before[f, h])
                           + int(n[e, h] == 0 and not before[e, h])
                           + int(n[f, g] == 0 and not before[f, g]))
        n[e, g] -= 1
        n[f, h] -= 1
        n[e, h] += 1
        n[f, g] += 1
        phy[i], phy[j] = f, e

    def terms(self, layer: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The layer's weights per unit share, its neighbours fixed.

        ``u [experts, gpus]`` and ``v [experts, nodes]`` for the transitions,
        and the co-activation pairs ``[experts, experts]`` per GPU and per node,
        linearised at the current placement: a pair's
        weight is the copies saved per unit of sharing, ``C_ef (r_e + r_f)`` with ``r_e =
        1 / (1 + m_e)^2`` (the derivative of ``load_e / (1 + m_e)``).
        """
        w = self.w
        experts, gpus = self.instance.experts, self.instance.cluster.gpus
        if self.local:
            zero = np.zeros((experts, experts))
            return np.zeros((experts, gpus)), np.zeros((experts, len(self.to_node[0]))), zero, zero
        affinity = self._affinity(layer)
        pairs = self._pairs(layer)
        a = self.shares(layer)
        out = []
        for share, weight in ((a, w.co_gpu), (a @ self.to_node, w.co_node)):
            mates = (pairs * (share @ share.T)).sum(axis=1) / np.maximum(self.load[layer],
                                                                         1e-300)
            r = 1 / (1 + mates) ** 2
            out.append(weight * pairs * (r[:, None] + r[None, :]))
        return (w.trans_gpu * affinity, (w.trans_node * affinity) @ self.to_node, out[0],
                out[1])

    def layer_cost(self, layer: int) -> float:
        """The objective's part that depends on ``layer`` with its neighbours fixed (exact)."""
        w = self.w
        a = self.shares(layer)
        load = self.load[layer]
        tokens = load @ a
        distinct = (self.n[layer] > 0).sum(axis=0)
        affinity = self._affinity(layer)
        a_node = a @ self.to_node
        pairs = self._pairs(layer)
        cost = float((w.token * tokens + w.expert * distinct).max())
        cost -= w.trans_gpu * float((a * affinity).sum())
        cost -= w.trans_node * float((a_node * (affinity @ self.to_node)).sum())
        for share, weight in ((a, w.co_gpu), (a_node, w.co_node)):
            if weight:
                mates = (pairs * (share @ share.T)).sum(axis=1)
                cost += weight * float((load / (1 + mates / np.maximum(load, 1e-300))).sum())
        if self.before is not None:
            cost += w.moved * float(((self.n[layer] > 0) & ~self.before[layer]).sum())
        return cost

    def set_row(self, layer: int, row: np.ndarray) -> None:
        """Replace the layer's placement (replica counts may change)."""
        self.phy[layer] = row
        self.n[layer] = 0
        np.add.at(self.n[layer], (row, self.gpu), 1)
        self.count[layer] = self.n[layer].sum(axis=1)
        if self.before is not None:
            self.moved = int(((self.n > 0) & ~self.before).sum())

    def recount(self, layer: int) -> bool:
        """Give one replica slot to another expert where it lowers the heaviest GPU most.

        Ties go by the sum of squares; False if no change helps.

        Every (slot, expert) pair is priced at once: the replicas of both experts
        change size on every GPU that holds them.
        """
        load, n, count = self.load[layer], self.n[layer], self.count[layer]
        phy, gpu = self.phy[layer], self.gpu
        tokens = load @ self.shares(layer)
        slots = np.flatnonzero(count[phy] >= 2)
        if not len(slots) or self.w.token <= 0:
            return False
        e, g = phy[slots], gpu[slots]
        fewer = (load[e] * (1 / (count[e] - 1) - 1 / count[e]))[:, None] * n[e]
        fewer[np.arange(len(slots)), g] -= load[e] / (count[e] - 1)
        more = (load * (1 / (count + 1) - 1 / count))[:, None] * n  # [experts, gpus]
        new = tokens + fewer[:, None, :] + more[None, :, :]
        new[np.arange(len(slots))[:, None], np.arange(len(load))[None, :], g[:, None]] += (
            load / (count + 1))[None, :]
        worst = new.max(axis=2)
        squares = (new**2).sum(axis=2)
        current, current_sq = float(tokens.max()), float((tokens**2).sum())
        scale = max(current, 1e-12)
        gain = worst - current  # in tokens; the price of a moved copy in tokens too
        if self.before is not None:  # moved copies: e may leave g, f arrives on g
            before = self.before[layer]
            moved = (-((n[e, g] == 1) & ~before[e, g]).astype(np.int64)[:, None]
                     + ((n[:, g] == 0) & ~before[:, g]).T)
            gain = gain + self.w.moved / self.w.token * moved
            if self.budget is not None:
                gain = np.where(self.moved + moved <= self.budget, gain, np.inf)
        key = np.where(e[:, None] == np.arange(len(load))[None, :], np.inf,
                       gain / scale + 1e-6 * (squares - current_sq) / scale**2)
        s, f = np.unravel_index(int(np.argmin(key)), key.shape)
        if not (gain[s, f] < -EPS * scale or (
                gain[s, f] <= 0 and squares[s, f] < current_sq * (1 - EPS))):
            return False
        row = phy.copy()
        row[slots[s]] = f
        self.set_row(layer, row)
        return True

    def balance(self, layer: int, deadline: Deadline) -> None:
        """Swaps and re-counts on one layer until neither helps (``load`` weights)."""
        while not deadline.expired():
            self.improve(layer, deadline)
            if not self.recount(layer):
                return

    def relabel(self, layer: int) -> bool:
        """Renumber the layer's GPUs so that most transitions stay on one GPU or node.

        Tokens, experts and co-activation per GPU do not change, only the linear
        transition (and moved-copy) terms: an assignment problem, solved exactly
        (Hungarian method); applied when it gains and stays within the moves budget.
        """
        from scipy.optimize import linear_sum_assignment

        w, gpus = self.w, self.instance.cluster.gpus
        affinity = self._affinity(layer)
        if not affinity.any():
            return False
        a = self.shares(layer)
        gain = w.trans_gpu * affinity + w.trans_node * (affinity @ self.to_node)[:, self.node]
        value = a.T @ gain  # [current GPU, new GPU]
        held = self.n[layer] > 0
        if self.before is not None:
            value -= w.moved * (held.T.astype(np.int64) @ (~self.before[layer]).astype(np.int64))
        rows, cols = linear_sum_assignment(-value)
        if value[rows, cols].sum() <= value.trace() + EPS * max(abs(value.trace()), 1.0):
            return False
        per = self.instance.cluster.slots_per_gpu
        old = self.phy[layer].reshape(gpus, per)
        new = np.empty_like(old)
        new[cols] = old[rows]
        keep = self.phy[layer].copy(), self.moved
        self.set_row(layer, new.reshape(-1))
        if self.budget is not None and self.moved > self.budget:
            self.set_row(layer, keep[0])
            return False
        return True

    def sweep(self, deadline: Deadline, layers: list[int] | None = None) -> int:
        """One pass of :meth:`improve` over ``layers`` (all by default); swaps applied."""
        total = 0
        for layer in range(self.instance.layers) if layers is None else layers:
            if deadline.expired():
                break
            total += self.relabel(layer) + self.improve(layer, deadline)
        return total


def _split(rows: np.ndarray, layers: int) -> list[np.ndarray]:
    """The sparse rows ``(l, e, f, n)`` of each layer ``l``."""
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    cuts = np.searchsorted(rows[:, 0], np.arange(layers + 1))
    return [rows[cuts[layer]:cuts[layer + 1]] for layer in range(layers)]


def _dense(rows: np.ndarray, experts: int) -> np.ndarray:
    """``[experts, experts]``: the counts ``n`` of one layer's rows at ``(e, f)``."""
    return np.bincount(rows[:, 1] * experts + rows[:, 2], weights=rows[:, 3].astype(np.float64),
                       minlength=experts * experts).reshape(experts, experts)
