"""The compiled part of ``pods-pack``: simulated annealing of pods over nodes (who: :mod:`.pack`).

All numba code of the packing search lives in this one module (numba's disk cache
watches only the defining file). The state is one node per pod to place,
``load[n, r]`` what the node's pods request and ``kload[n, k]`` how many pods of
anti-affinity key ``k`` it holds; the search moves pods (to another node of their
class, or swapping two pods' nodes) to bring the overflow, the weighted sum of
``max(load - cap, 0)`` and ``max(kload - 1, 0)``, to zero.

``_anneal.c`` runs the same search in C and is used instead when the install built it
(:func:`.kernels.kernel`); a change to one belongs in the other (``test_anneal.py`` runs
both).
"""

from __future__ import annotations

import numpy as np

from optsched.compiled import BoolArray, FloatArray, IntArray, jit

FOCUS_TRIES = 8
"""Draws spent looking for a pod on an overflowing node before taking any pod."""


@jit
def anneal(node: IntArray, klass: IntArray, load: IntArray, cap: IntArray, need: IntArray,
           weight: FloatArray, key: IntArray, kload: IntArray, eligible: BoolArray,
           ptr: IntArray, targets: IntArray, iterations: int, temperature: float,
           seed: int) -> tuple[int, int]:
    """Anneal at ``temperature`` for up to ``iterations`` moves; stop once nothing overflows.

    ``node``, ``load`` and ``kload`` are updated in place. Class ``c`` may go
    to the nodes ``targets[ptr[c]:ptr[c + 1]]`` (``eligible[c, n]``). Returns
    ``(exceeded capacities left, moves tried)``.
    """
    np.random.seed(seed)
    n_pods = node.shape[0]
    n_nodes, n_res = load.shape
    bad_of = np.zeros(n_nodes, np.int64)  # per node, its exceeded capacities
    for n in range(n_nodes):
        for r in range(n_res):
            bad_of[n] += load[n, r] > cap[n, r]
        for k in range(kload.shape[1]):
            bad_of[n] += kload[n, k] > 1
    bad = bad_of.sum()
    if n_pods == 0:
        return bad, 0
    for it in range(iterations):
        if bad == 0:
            return 0, it
        i = np.random.randint(n_pods)
        for _ in range(FOCUS_TRIES):
            if bad_of[node[i]] > 0:
                break
            i = np.random.randint(n_pods)
        a = node[i]
        ci = klass[i]
        if np.random.random() < 0.5:  # move pod i to another node of its class
            lo, hi = ptr[ci], ptr[ci + 1]
            if hi - lo < 2:
                continue
            b = targets[lo + np.random.randint(hi - lo)]
            if b == a:
                continue
            j = -1
            cj = -1
        else:  # swap pods i and j
            j = np.random.randint(n_pods)
            b = node[j]
            cj = klass[j]
            if b == a or cj == ci or not eligible[ci, b] or not eligible[cj, a]:
                continue
        delta = 0.0
        for r in range(n_res):
            d = need[ci, r] - (need[cj, r] if j >= 0 else 0)
            if d == 0:
                continue
            delta += weight[r] * (max(load[a, r] - d - cap[a, r], 0)
                                  + max(load[b, r] + d - cap[b, r], 0)
                                  - max(load[a, r] - cap[a, r], 0)
                                  - max(load[b, r] - cap[b, r], 0))
        ki = key[ci]
        kj = key[cj] if j >= 0 else -1
        if ki != kj:
            for k, sign in ((ki, 1), (kj, -1)):
                if k >= 0:
                    delta += weight[n_res] * (
                        max(kload[a, k] - sign - 1, 0) + max(kload[b, k] + sign - 1, 0)
                        - max(kload[a, k] - 1, 0) - max(kload[b, k] - 1, 0))
        if delta > 0 and np.random.random() >= np.exp(-delta / temperature):
            continue
        for r in range(n_res):
            d = need[ci, r] - (need[cj, r] if j >= 0 else 0)
            load[a, r] -= d
            load[b, r] += d
        if ki != kj:
            if ki >= 0:
                kload[a, ki] -= 1
                kload[b, ki] += 1
            if kj >= 0:
                kload[b, kj] -= 1
                kload[a, kj] += 1
        node[i] = b
        if j >= 0:
            node[j] = a
        bad -= bad_of[a] + bad_of[b]
        for n in (a, b):
            bad_of[n] = 0
            for r in range(n_res):
                bad_of[n] += load[n, r] > cap[n, r]
            for k in range(kload.shape[1]):
                bad_of[n] += kload[n, k] > 1
        bad += bad_of[a] + bad_of[b]
    return bad, iterations
