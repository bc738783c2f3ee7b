"""Local search for smtt: adjacent interchange, insertion, VND and iterated local search.

Each move is priced incrementally (in O(1) for an exchange, and for all
targets of one job at once with NumPy prefix sums), so the objectives these
functions return are computed independently of the checker that verifies them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from optsched.compiled import IntArray
from optsched.deadline import Deadline
from optsched.problems.smtt.heuristics.rules import cost
from optsched.problems.smtt.instance import SmttInstance


def _late(w: IntArray, d: IntArray, jobs: IntArray | np.int64, c: IntArray | np.int64
          ) -> IntArray:
    return w[jobs] * np.maximum(0, c - d[jobs])


def adjacent_interchange(instance: SmttInstance, sequence: Sequence[int],
                         deadline: Deadline | None = None) -> tuple[list[int], int]:
    """Swap neighbours while that lowers the cost; return (sequence, cost)."""
    p, d, w = (a.tolist() for a in instance.arrays)
    seq = list(sequence)
    improved = True
    while improved and not _out_of_time(deadline):
        improved = False
        t = 0
        for k in range(len(seq) - 1):
            i, j = seq[k], seq[k + 1]
            ci, cij = t + p[i], t + p[i] + p[j]
            cj = t + p[j]
            before = w[i] * max(0, ci - d[i]) + w[j] * max(0, cij - d[j])
            after = w[j] * max(0, cj - d[j]) + w[i] * max(0, cij - d[i])
            if after < before:
                seq[k], seq[k + 1] = j, i
                improved = True
                t = cj
            else:
                t = ci
    return seq, cost(instance, seq)


def insertion(instance: SmttInstance, sequence: Sequence[int],
              deadline: Deadline | None = None, passes: int | None = None
              ) -> tuple[list[int], int]:
    """Move single jobs to their best position while that lowers the cost.

    For the job at position ``a`` every target ``b`` is priced at once: jobs
    between the two positions shift by ``p_x`` (earlier when ``x`` moves
    later, later when it moves earlier), which prefix sums add up.
    """
    p, d, w = instance.arrays
    seq = np.asarray(sequence, dtype=np.int64)
    n = len(seq)
    total = cost(instance, seq)
    rounds = 0
    improved = True
    while improved and (passes is None or rounds < passes) and not _out_of_time(deadline):
        improved = False
        rounds += 1
        for a in range(n):
            comp = np.cumsum(p[seq])
            x = seq[a]
            here = int(_late(w, d, x, comp[a]))
            own = comp - p[seq] + p[x]  # x's completion if inserted at position b <= a
            # x moves to b > a: jobs a+1..b finish p_x earlier; x finishes at comp[b].
            after = seq[a + 1:]
            fwd = np.cumsum(_late(w, d, after, comp[a + 1:] - p[x])
                            - _late(w, d, after, comp[a + 1:]))
            fwd += _late(w, d, x, comp[a + 1:]) - here
            # x moves to b < a: jobs b..a-1 finish p_x later; x finishes at comp[b] - p_b + p_x.
            head = seq[:a]
            shift = _late(w, d, head, comp[:a] + p[x]) - _late(w, d, head, comp[:a])
            bwd = np.cumsum(shift[::-1])[::-1] + _late(w, d, x, own[:a]) - here
            deltas = np.concatenate([bwd, [0], fwd])
            b = int(np.argmin(deltas))
            if deltas[b] < 0:
                seq = np.insert(np.delete(seq, a), b, x)
                total += int(deltas[b])
                improved = True
    return seq.tolist(), total


def vnd(instance: SmttInstance, sequence: Sequence[int], deadline: Deadline | None = None
        ) -> tuple[list[int], int]:
    """Variable neighbourhood descent: adjacent interchange, then insertion, until stuck."""
    seq, total = adjacent_interchange(instance, sequence, deadline)
    while not _out_of_time(deadline):
        seq, moved = insertion(instance, seq, deadline, passes=1)
        if moved >= total:
            break
        seq, total = adjacent_interchange(instance, seq, deadline)
    return seq, total


def iterated_local_search(instance: SmttInstance, sequence: Sequence[int],
                          deadline: Deadline | None = None, iterations: int = 100,
                          seed: int = 0) -> tuple[list[int], int]:
    """VND from ``sequence``, then kick (random nearby exchanges) and descend again.

    A descent is kept when it is no worse than the current sequence (so the
    search can cross plateaus); the best sequence seen is returned. Stops
    after ``iterations`` kicks, at the deadline, or when a stop is requested.
    """
    rng = np.random.default_rng(seed)
    current, current_cost = vnd(instance, sequence, deadline)
    best, best_cost = list(current), current_cost
    n = instance.n
    for _ in range(iterations):
        if best_cost == 0 or n < 3 or _out_of_time(deadline):
            break
        kicked = list(current)
        for _ in range(max(2, n // 25)):
            a = int(rng.integers(0, n))
            b = min(n - 1, a + int(rng.integers(1, 4)))
            kicked[a], kicked[b] = kicked[b], kicked[a]
        candidate, candidate_cost = vnd(instance, kicked, deadline)
        if candidate_cost <= current_cost:
            current, current_cost = candidate, candidate_cost
            if candidate_cost < best_cost:
                best, best_cost = list(candidate), candidate_cost
    return best, best_cost


def _out_of_time(deadline: Deadline | None) -> bool:
    return deadline is not None and deadline.expired()
