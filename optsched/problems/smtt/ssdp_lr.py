"""Compiled first stage of ``smtt-ssdp``: the Lagrangian relaxation over time.

A node ``(t, k)`` says job ``k`` completes at ``t`` (``p[k] <= t <= T``,
``T`` the total processing time); an arc leads from a node at
``t - p[k]`` (or the source at 0) to ``(t, k)`` and costs
``w[k] max(0, t - d[k]) - mu[k]``. A path from 0 to ``T`` is a sequence
that keeps the machine busy; every permutation is one, of the same cost
once ``sum(mu)`` is added, so the cheapest path plus ``sum(mu)`` bounds the
optimum from below. Paths repeating a job in adjacent positions are
excluded by keeping, per time, the best and second-best node of different
jobs. ``F`` (source to node, arc into the node included) plus ``G`` (node
to ``T``) plus ``sum(mu)`` bounds every sequence through the node; nodes
whose bound exceeds ``UB - 1`` cannot lie on a sequence better than the
incumbent and are eliminated (``alive`` becomes False) for good.
All numba code of this file is self-contained (numba's cache tracks one file).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
F_ = TypeVar("F_", bound=Callable[..., Any])
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


def jit(fn: F_) -> F_:
    """Compile ``fn`` with numba in nopython mode, cached on disk across runs."""
    return cast(F_, numba.njit(cache=True)(fn))


@jit
def forbidden(p: IntArray, d: IntArray, w: IntArray, i: int, k: int, t: int) -> bool:
    """True when ``i, k`` (``k`` ending at ``t``) loses to ``k, i``, or ties and ``i > k``."""
    kept = w[i] * max(0, t - p[k] - d[i]) + w[k] * max(0, t - d[k])
    swapped = w[k] * max(0, t - p[i] - d[k]) + w[i] * max(0, t - d[i])
    return kept > swapped or (kept == swapped and i > k)


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
            f: FloatArray, pred: IntArray, adjacent: bool) -> float:
    """Fill ``f`` and ``pred`` (the previous job, ``n`` for the source); the cheapest path.

    With ``adjacent``, pairs that :func:`forbidden` rules out are skipped. The
    ``TOP`` cheapest nodes of each time are kept sorted and tried first; only
    when all of them are ruled out are all nodes of that time scanned.
    """
    horizon, n = f.shape[0] - 1, f.shape[1]
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
                if i != k and not (adjacent and forbidden(p, d, w, i, k, t)):
                    f[t, k], pred[t, k], found = f[s, i] + c, i, True
                    break
            if not found:
                for i in range(n):
                    if (i != k and f[s, i] + c < f[t, k]
                            and not (adjacent and forbidden(p, d, w, i, k, t))):
                        f[t, k], pred[t, k] = f[s, i] + c, i
            if f[t, k] < INF:
                _keep(top_v[t], top_j[t], f[t, k], k)
    return float(f[horizon].min())


@jit
def backward(p: IntArray, d: IntArray, w: IntArray, mu: FloatArray, alive: BoolArray,
             g: FloatArray, adjacent: bool) -> float:
    """Fill ``g`` (the cheapest completion after each node); the cheapest path from 0."""
    horizon, n = g.shape[0] - 1, g.shape[1]
    g[horizon, :] = 0.0
    v = np.empty(n)
    top_v, top_j = np.empty(TOP), np.empty(TOP, np.int64)
    h1 = 0.0
    for t in range(horizon - 1, -1, -1):
        top_v[:], top_j[:] = INF, -1
        for j in range(n):
            s = t + p[j]
            ok = s <= horizon and alive[min(s, horizon), j]
            v[j] = w[j] * max(0, s - d[j]) - mu[j] + g[s, j] if ok else INF
            if v[j] < INF:
                _keep(top_v, top_j, v[j], j)
        h1 = top_v[0]
        for k in range(n):
            g[t, k] = INF
            found = False
            for q in range(TOP):
                j = top_j[q]
                if j < 0:
                    found = True
                    break
                if j != k and not (adjacent and forbidden(p, d, w, k, j, t + p[j])):
                    g[t, k], found = v[j], True
                    break
            if not found:
                for j in range(n):
                    if (j != k and v[j] < g[t, k]
                            and not (adjacent and forbidden(p, d, w, k, j, t + p[j]))):
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
                adjacent: bool) -> int:
    """Deflected subgradient steps on ``mu`` for ``iterations`` rounds, eliminating as it goes.

    The step is ``STEP * (ub - bound) / |direction|^2`` along ``direction``,
    the subgradient plus ``DEFLECTION`` times the previous direction. ``state``
    holds the step factor, the best bound (attained by ``best_mu``), the rounds
    without progress and the rounds done. With ``adjacent`` the adjacency rules
    hold. Returns ``CLOSED`` when no node is left (``ub`` is optimal),
    ``PERMUTATION`` when the cheapest path is a permutation (its cost is
    optimal), else ``GOING``.
    """
    n = mu.shape[0]
    for _ in range(iterations):
        total = mu.sum()
        lb = forward(p, d, w, mu, alive, f, pred, adjacent) + total
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
            backward(p, d, w, mu, alive, g, adjacent)
            if eliminate(f, g, alive, ub - 1 + eps - total) == 0:
                return CLOSED
        direction *= DEFLECTION
        direction += sub
        norm = (direction * direction).sum()
        if norm > 0:
            mu += state[STEP] * max(ub - lb, 1.0) / norm * direction
    return GOING
