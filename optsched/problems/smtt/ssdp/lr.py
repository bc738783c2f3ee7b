"""Compiled first stage of ``smtt-ssdp``: the Lagrangian relaxation over time.

A node ``(t, k)`` says job ``k`` completes at ``t`` (``p[k] <= t <= T``,
``T`` the total processing time); an arc leads from a node at
``t - p[k]`` (or the source at 0) to ``(t, k)`` and costs
``w[k] max(0, t - d[k]) - mu[k]``. A path from 0 to ``T`` is a sequence
that keeps the machine busy; every permutation is one, of the same cost
once ``sum(mu)`` is added, so the cheapest path plus ``sum(mu)`` bounds the
optimum from below. Arcs that no optimal sequence needs are cut: an arc
table (:func:`arcs`) keeps a job after another only if the pair is not
beaten by its interchange and the triples through the arc are not beaten
by another order of their three jobs, ties broken towards the
lexicographically smallest optimal sequence, which thus remains a path.
``F`` (source to node, arc into the node included) plus ``G`` (node
to ``T``) plus ``sum(mu)`` bounds every sequence through the node; nodes
whose bound exceeds ``UB - 1`` cannot lie on a sequence better than the
incumbent and are eliminated (``alive`` becomes False) for good.
All numba code of this file is self-contained (numba's cache tracks one file).
"""

from __future__ import annotations

import numpy as np

from optsched.compiled import BoolArray, FloatArray, IntArray, jit

INF = np.inf
# subgradient state cells
STEP, BEST_LB, STALL, RUNS = range(4)
# outcomes of a subgradient slice
GOING, PERMUTATION, CLOSED = range(3)
PATIENCE = 50
"""Iterations without a better bound before the step factor halves."""
DEFLECTION = 0.5
"""Weight of the previous direction in the next one (deflected subgradient)."""
TOP = 16
"""Cheapest nodes per time kept sorted by the passes over time."""
ELIMINATE_EVERY = 5
"""Iterations between two eliminations of nodes by the incumbent."""



@jit
def forbidden(p: IntArray, d: IntArray, w: IntArray, i: int, k: int, t: int) -> bool:
    """True when ``i, k`` (``k`` ending at ``t``) loses to ``k, i``, or ties and ``i > k``."""
    kept = w[i] * max(0, t - p[k] - d[i]) + w[k] * max(0, t - d[k])
    swapped = w[k] * max(0, t - p[i] - d[k]) + w[i] * max(0, t - d[i])
    return kept > swapped or (kept == swapped and i > k)


@jit
def _triple(p: IntArray, d: IntArray, w: IntArray, a: int, b: int, c: int, s: int) -> int:
    """The cost of ``a, b, c`` in this order from time ``s``."""
    t1 = s + p[a]
    t2 = t1 + p[b]
    return int(w[a] * max(0, t1 - d[a]) + w[b] * max(0, t2 - d[b])
               + w[c] * max(0, t2 + p[c] - d[c]))


@jit
def dominated(p: IntArray, d: IntArray, w: IntArray, h: int, i: int, k: int, t: int) -> bool:
    """True when ``h, i, k`` (``k`` ending at ``t``) loses to another order of the three.

    It loses to an order that is cheaper, or as cheap and lexicographically
    smaller (the rule of :func:`forbidden` for three jobs).
    """
    s = t - p[h] - p[i] - p[k]
    kept = _triple(p, d, w, h, i, k, s)
    trio = (h, i, k)
    for a, b, c in ((0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)):
        x, y, z = trio[a], trio[b], trio[c]
        other = _triple(p, d, w, x, y, z, s)
        if other < kept or (other == kept and (x < h or (x == h and y < i))):
            return True
    return False


@jit
def arcs(p: IntArray, d: IntArray, w: IntArray, alive: BoolArray, ok: BoolArray) -> None:
    """Fill ``ok[s, i, k]``: True when ``k`` may follow ``i`` that ends at ``s``.

    Both nodes must be alive, the pair allowed by :func:`forbidden`, some arc
    into ``(s, i)`` (or the source) must come from a job ``h`` such that
    ``h, i, k`` is not :func:`dominated`, and unless ``k`` ends at ``T``, some
    arc out of ``(s + p[k], k)`` must go to a job ``j`` such that ``i, k, j``
    is not dominated. The lexicographically smallest optimal sequence obeys
    all these rules, so it remains a path. Nodes left without an arc in (or,
    before ``T``, out) are no longer ``alive``.
    """
    horizon, n = alive.shape[0] - 1, alive.shape[1]
    ok[:] = False
    for s in range(1, horizon + 1):
        for i in range(n):
            r = s - p[i]
            if not alive[s, i] or r == 0:
                continue
            alive[s, i] = False
            for h in range(n):
                if ok[r, h, i]:
                    alive[s, i] = True
                    break
        for i in range(n if s < horizon else 0):
            if not alive[s, i]:
                continue
            r = s - p[i]
            for k in range(n):
                t = s + p[k]
                if k == i or t > horizon or not alive[t, k] or forbidden(p, d, w, i, k, t):
                    continue
                if r == 0:
                    ok[s, i, k] = True
                    continue
                for h in range(n):
                    if h != k and ok[r, h, i] and not dominated(p, d, w, h, i, k, t):
                        ok[s, i, k] = True
                        break
    for s in range(horizon - 1, 0, -1):
        for i in range(n):
            if not alive[s, i]:
                continue
            out = False
            for k in range(n):
                t = s + p[k]
                if not ok[s, i, k]:
                    continue
                if alive[t, k] and t < horizon:
                    ok[s, i, k] = False
                    for j in range(n):
                        if j != i and ok[t, k, j] and not dominated(p, d, w, i, k, j, t + p[j]):
                            ok[s, i, k] = True
                            break
                else:
                    ok[s, i, k] = alive[t, k]
                out = out or ok[s, i, k]
            alive[s, i] = out


@jit
def _keep(vals: FloatArray, jobs: IntArray, v: float, j: int) -> None:
    """Insert ``(v, j)`` into the sorted top list ``vals, jobs`` (dropping the last)."""
    q = vals.shape[0] - 1
    if v >= vals[q]:
        return
    while q > 0 and vals[q - 1] > v:
        vals[q], jobs[q] = vals[q - 1], jobs[q - 1]
        q -= 1
    vals[q], jobs[q] = v, j


@jit
def forward(p: IntArray, d: IntArray, w: IntArray, mu: FloatArray, alive: BoolArray,
            f: FloatArray, pred: IntArray, ok: BoolArray) -> float:
    """Fill ``f`` and ``pred`` (the previous job, ``n`` for the source); the cheapest path.

    Only the arcs of ``ok`` (see :func:`arcs`) are used; while it has no rows,
    the pair rule of :func:`forbidden` alone. The
    ``TOP`` cheapest nodes of each time are kept sorted and tried first; only
    when all of them are ruled out are all nodes of that time scanned.
    """
    horizon, n, table = f.shape[0] - 1, f.shape[1], ok.shape[0] > 0
    top_v, top_j = np.full((horizon + 1, TOP), INF), np.full((horizon + 1, TOP), -1, np.int64)
    for t in range(1, horizon + 1):
        for k in range(n):
            f[t, k] = INF
            if not alive[t, k]:
                continue
            s, c = t - p[k], w[k] * max(0, t - d[k]) - mu[k]
            found = s == 0
            if found:
                f[t, k], pred[t, k] = c, n
            for q in range(0 if found else TOP):
                i = top_j[s, q]
                if i < 0:
                    found = True
                    break
                if ok[s, i, k] if table else i != k and not forbidden(p, d, w, i, k, t):
                    f[t, k], pred[t, k], found = f[s, i] + c, i, True
                    break
            if not found:
                for i in range(n):
                    if f[s, i] + c < f[t, k] and (ok[s, i, k] if table else i != k and not
                                                  forbidden(p, d, w, i, k, t)):
                        f[t, k], pred[t, k] = f[s, i] + c, i
            if f[t, k] < INF:
                _keep(top_v[t], top_j[t], f[t, k], k)
    return float(f[horizon].min())


@jit
def backward(p: IntArray, d: IntArray, w: IntArray, mu: FloatArray, alive: BoolArray,
             g: FloatArray, ok: BoolArray) -> float:
    """Fill ``g`` (the cheapest completion after each node); the cheapest path from 0."""
    horizon, n, table = g.shape[0] - 1, g.shape[1], ok.shape[0] > 0
    g[horizon, :] = 0.0
    v = np.empty(n)
    top_v, top_j = np.empty(TOP), np.empty(TOP, np.int64)
    h1 = 0.0
    for t in range(horizon - 1, -1, -1):
        top_v[:], top_j[:] = INF, -1
        for j in range(n):
            s = t + p[j]
            live = s <= horizon and alive[min(s, horizon), j]
            v[j] = w[j] * max(0, s - d[j]) - mu[j] + g[s, j] if live else INF
            if v[j] < INF:
                _keep(top_v, top_j, v[j], j)
        h1 = top_v[0]
        for k in range(n):
            g[t, k] = INF
            if not alive[t, k]:  # only live nodes' completions are ever read
                continue
            found = False
            for q in range(TOP):
                j = top_j[q]
                if j < 0:
                    found = True
                    break
                if ok[t, k, j] if table else j != k and not forbidden(p, d, w, k, j, t + p[j]):
                    g[t, k], found = v[j], True
                    break
            if not found:
                for j in range(n):
                    if v[j] < g[t, k] and (ok[t, k, j] if table else j != k and not
                                           forbidden(p, d, w, k, j, t + p[j])):
                        g[t, k] = v[j]
    return h1


@jit
def eliminate(f: FloatArray, g: FloatArray, alive: BoolArray, threshold: float) -> int:
    """Kill nodes with ``f + g > threshold``; the number left alive."""
    left = 0
    for t in range(alive.shape[0]):
        for k in range(alive.shape[1]):
            if alive[t, k]:
                if f[t, k] + g[t, k] > threshold:
                    alive[t, k] = False
                else:
                    left += 1
    return left


@jit
def path(p: IntArray, f: FloatArray, pred: IntArray) -> IntArray:
    """The jobs of the cheapest path, in order (``forward`` must have run)."""
    horizon, n = f.shape[0] - 1, f.shape[1]
    out = np.empty(horizon, dtype=np.int64)
    size, t, k = 0, horizon, int(np.argmin(f[horizon]))
    while k != n:
        out[size] = k
        size += 1
        k, t = pred[t, k], t - p[k]
    return out[:size][::-1].copy()


@jit
def subgradient(p: IntArray, d: IntArray, w: IntArray, mu: FloatArray, best_mu: FloatArray,
                direction: FloatArray, alive: BoolArray, f: FloatArray, g: FloatArray,
                pred: IntArray, ub: int, eps: float, state: FloatArray, iterations: int,
                ok: BoolArray) -> int:
    """Deflected subgradient steps on ``mu`` for ``iterations`` rounds, eliminating as it goes.

    The step is ``STEP * (ub - bound) / |direction|^2`` along ``direction``,
    the subgradient plus ``DEFLECTION`` times the previous direction. ``state``
    holds the step factor, the best bound (attained by ``best_mu``), the rounds
    without progress and the rounds done. Only arcs of ``ok`` are used (see
    :func:`forward`). Returns ``CLOSED`` when no node is left (``ub`` is optimal),
    ``PERMUTATION`` when the cheapest path is a permutation (its cost is
    optimal), else ``GOING``.
    """
    n = mu.shape[0]
    for _ in range(iterations):
        total = mu.sum()
        lb = forward(p, d, w, mu, alive, f, pred, ok) + total
        state[RUNS] += 1
        if lb > ub - 1 + eps:
            return CLOSED
        if lb > state[BEST_LB]:
            state[BEST_LB], state[STALL] = lb, 0
            best_mu[:] = mu
        else:
            state[STALL] += 1
            if state[STALL] >= PATIENCE:
                state[STEP], state[STALL] = state[STEP] / 2, 0
        count = np.zeros(n)
        for j in path(p, f, pred):
            count[j] += 1
        sub = 1.0 - count
        if (sub * sub).sum() == 0:
            best_mu[:] = mu
            state[BEST_LB] = lb
            return PERMUTATION
        if int(state[RUNS]) % ELIMINATE_EVERY == 0:
            backward(p, d, w, mu, alive, g, ok)
            if eliminate(f, g, alive, ub - 1 + eps - total) == 0:
                return CLOSED
        direction *= DEFLECTION
        direction += sub
        norm = (direction * direction).sum()
        if norm > 0:
            mu += state[STEP] * max(ub - lb, 1.0) / norm * direction
    return GOING
