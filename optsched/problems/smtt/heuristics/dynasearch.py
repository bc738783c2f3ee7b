"""``dynasearch``: iterated dynasearch for 1 || sum w_j T_j (compiled with numba).

The method, with its sources: ``docs/methods/smtt-dynasearch.md``. The compiled search is
resumable and runs in slices of dynasearch passes, so the Python driver can watch the
:class:`Deadline` between them; its own generator (xorshift64*, seeded from ``seed``) makes
a run a function of the seed. All numba code lives in this module (numba's disk cache
watches only the defining file).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from optsched.compiled import IntArray, jit
from optsched.deadline import Deadline
from optsched.problems.smtt.instance import SmttInstance

KICKS = 1000
"""Default of :func:`iterated_dynasearch`: stop after this many kicks in a row without a gain."""
KICK_SWAPS = 4
"""Fewest random swaps in a kick (see :func:`kick_size`)."""
SLICE_S = 0.002
"""Seconds of compiled work between two looks at the deadline (about)."""

# state cells of the resumable search
BEST, CAND, KICKS_DONE, IDLE, PHASE, TARGET, MAX_IDLE, PASSES = range(STATE := 8)
# phases: descend from the start, kick, descend from a kick, finished
START, KICK, DESCEND, DONE = range(4)
# work rows, by position: p, d and w of the job there, its start, completion and weighted
# tardiness, prefix sums of tardy weights and of tardiness, the dynamic programme, the
# chosen segment start and move, the running EFSR sum of each start and whether it may
# still gain
PP, DD, WW, S, C, TW, WT, TT, G, FROM, MOVE, EF_MID, EF_OPEN = range(ROWS := 13)
NONE, SWAP, EBSR, EFSR = range(4)
MASK64 = (1 << 64) - 1
HUGE, SMALL = 1 << 62, 1 << 31



@jit
def price(seq: IntArray, p: IntArray, d: IntArray, w: IntArray) -> int:
    """Total weighted tardiness of ``seq``."""
    t = total = 0
    for x in seq:
        t += p[x]
        total += w[x] * max(0, t - d[x])
    return total


@jit
def _times(a: int, b: int, big: bool) -> int:
    """``a * b`` for ``a, b >= 0``, saturated at :data:`HUGE` if ``big`` (only bounds use it).

    The products are of a processing time and a sum of weights; ``big`` says
    that ``max p * sum w`` may overflow 64 bits.
    """
    if not big or (a < SMALL and b < SMALL):
        return a * b
    return a * b if b == 0 or a <= HUGE // b else HUGE


@jit
def _prepare(seq: IntArray, p: IntArray, d: IntArray, w: IntArray, work: IntArray) -> None:
    """The jobs' data by position, completion times, tardiness and their prefix sums."""
    t = 0
    work[WT, 0] = work[TT, 0] = 0
    for k in range(seq.shape[0]):
        x = seq[k]
        work[S, k] = t
        t += p[x]
        late = w[x] * max(0, t - d[x])
        work[PP, k], work[DD, k], work[WW, k] = p[x], d[x], w[x]
        work[C, k], work[TW, k] = t, late
        work[WT, k + 1] = work[WT, k] + (w[x] if late > 0 else 0)
        work[TT, k + 1] = work[TT, k] + late


@jit
def _swap_exact(work: IntArray, i: int, j: int, shift: int) -> int:
    """Cost change of the jobs at positions ``i+1..j-1`` when they all move by ``shift``."""
    total = 0
    for q in range(i + 1, j):
        total += work[WW, q] * max(0, work[C, q] + shift - work[DD, q]) - work[TW, q]
    return total


@jit
def dyna_pass(seq: IntArray, p: IntArray, d: IntArray, w: IntArray, work: IntArray,
              big: bool) -> int:
    """Apply the best set of independent moves to ``seq``; return its cost change (<= 0).

    ``work`` has :data:`ROWS` rows of ``n + 1`` cells; ``big`` as in :func:`_times`.
    """
    n = seq.shape[0]
    _prepare(seq, p, d, w, work)
    pp, dd, ww, st, c, tw, wt, tt, g = (work[PP], work[DD], work[WW], work[S], work[C],
                                        work[TW], work[WT], work[TT], work[G])
    frm, move, ef_mid, ef_open = work[FROM], work[MOVE], work[EF_MID], work[EF_OPEN]
    ef_mid[:] = 0
    ef_open[:] = 1
    g[0] = 0
    last_tardy = -1  # the last tardy position before j
    for j in range(n):
        best, bi, bm = g[j], -1, NONE
        pb, db, wb, own, cj = pp[j], dd[j], ww[j], tw[j], c[j]
        rest_w, rest_t = wt[n] - wt[j + 1], tt[n] - tt[j + 1]
        if own > 0:  # EBSR: moving b earlier gains at most its own tardiness
            mid = 0  # change of positions i..j-1 shifted later by p_b
            for i in range(j - 1, -1, -1):
                mid += ww[i] * max(0, c[i] + pb - dd[i]) - tw[i]
                if mid - own >= 0:
                    break
                change = wb * max(0, st[i] + pb - db) - own + mid
                if g[i] + change < best:
                    best, bi, bm = g[i] + change, i, EBSR
        # b on time: no other move gains unless a job between i and j is tardy (and the
        # EFSR sums of the rows skipped do not change: b stays on time when moved earlier)
        first = j - 2 if own > 0 else min(j - 2, last_tardy - 1)
        for i in range(first, -1, -1):
            gi, pa = g[i], pp[i]
            moved_a = ww[i] * max(0, cj - dd[i]) - tw[i]
            if ef_open[i]:
                # EFSR of row i: a moves to j, positions i+1..j shift earlier by p_a
                ef_mid[i] += wb * max(0, cj - pa - db) - own
                change = moved_a + ef_mid[i]
                if gi + change < best:
                    best, bi, bm = gi + change, i, EFSR
                # a only gets later and each job after j gains at most min(p_a w_k, T_k)
                if change >= rest_t or change >= _times(pa, rest_w, big):
                    ef_open[i] = 0
            shift = pb - pa
            change = wb * max(0, st[i] + pb - db) - own + moved_a
            tardy_w = wt[j] - wt[i + 1]
            if shift >= 0:
                low = change + _times(shift, tardy_w, big)
            else:
                low = change - min(_times(-shift, tardy_w, big), tt[j] - tt[i + 1])
            if gi + low >= best:
                continue
            if shift != 0:
                change += _swap_exact(work, i, j, shift)
            if gi + change < best:
                best, bi, bm = gi + change, i, SWAP
        if j >= 1 and ef_open[j - 1]:  # the adjacent row: its sum, for later columns
            ef_mid[j - 1] += wb * max(0, cj - pp[j - 1] - db) - own
        g[j + 1], frm[j], move[j] = best, bi, bm
        if own > 0:
            last_tardy = j
    total = g[n]
    if total < 0:
        j = n - 1
        while j >= 0:
            if move[j] == NONE:
                j -= 1
                continue
            i = frm[j]
            if move[j] == SWAP:
                seq[i], seq[j] = seq[j], seq[i]
            elif move[j] == EBSR:
                b = seq[j]
                for q in range(j, i, -1):
                    seq[q] = seq[q - 1]
                seq[i] = b
            else:
                a = seq[i]
                for q in range(i, j):
                    seq[q] = seq[q + 1]
                seq[j] = a
            j = i - 1
    return int(total)


@jit
def _random(rng: npt.NDArray[np.uint64], bound: int) -> int:
    """A pseudo-random integer in ``0..bound-1`` (xorshift64*)."""
    x = rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[0] = x
    return int((x * np.uint64(2685821657736338717)) >> np.uint64(11)) % bound


@jit
def _kick(seq: IntArray, rng: npt.NDArray[np.uint64], swaps: int) -> None:
    """Swap ``swaps`` random pairs of jobs (anywhere in the sequence)."""
    n = seq.shape[0]
    for _ in range(swaps):
        a = _random(rng, n)
        b = (a + 1 + _random(rng, n - 1)) % n
        seq[a], seq[b] = seq[b], seq[a]


@jit
def search(p: IntArray, d: IntArray, w: IntArray, best: IntArray, cand: IntArray,
           state: IntArray, rng: npt.NDArray[np.uint64], work: IntArray, passes: int,
           swaps: int, big: bool) -> None:
    """Run the iterated dynasearch for up to ``passes`` dynasearch passes, resumably.

    ``cand`` holds the sequence being descended; in phase ``START`` it is the
    start sequence. ``state`` holds the costs, counters and phase (see the
    module constants); the phase is ``DONE`` after ``state[MAX_IDLE]`` kicks in
    a row without a gain, or once the best cost reaches ``state[TARGET]``.
    """
    n = cand.shape[0]
    done = 0
    while done < passes:
        if state[PHASE] == DONE:
            return
        if state[PHASE] == START:
            state[CAND] = price(cand, p, d, w)
            state[PHASE] = DESCEND
            state[KICKS_DONE] = -1  # the first descent is not a kick
        if state[PHASE] == KICK:
            if state[BEST] <= state[TARGET] or state[IDLE] >= state[MAX_IDLE] or n < 3:
                state[PHASE] = DONE
                return
            cand[:] = best
            _kick(cand, rng, swaps)
            state[CAND] = price(cand, p, d, w)
            state[PHASE] = DESCEND
        delta = dyna_pass(cand, p, d, w, work, big)
        done += 1
        state[PASSES] += 1
        if delta < 0:
            state[CAND] += delta
            continue
        state[KICKS_DONE] += 1
        state[PHASE] = KICK
        first = state[KICKS_DONE] == 0
        state[IDLE] = 0 if first or state[CAND] < state[BEST] else state[IDLE] + 1
        if first or state[CAND] <= state[BEST]:  # ties too: walk along plateaus
            best[:] = cand
            state[BEST] = state[CAND]


def _seed(seed: int) -> npt.NDArray[np.uint64]:
    """The generator state for ``seed`` (splitmix64 of it, never 0)."""
    z = (seed * 0x9E3779B97F4A7C15 + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    z ^= z >> 31
    return np.array([z or 1], dtype=np.uint64)


def kick_size(n: int) -> int:
    """Random swaps per kick: :data:`KICK_SWAPS`, or ``sqrt(n) / 2`` when larger.

    Tuned on the generated classes: about 4 swaps suit 100 jobs, 8 suit 200
    and 10 to 14 suit 500 (more swaps cost more passes per kick).
    """
    return max(KICK_SWAPS, math.isqrt(n) // 2)


def iterated_dynasearch(instance: SmttInstance, sequence: Sequence[int],
                        deadline: Deadline | None = None, kicks: int = KICKS, seed: int = 0,
                        target: int = 0, swaps: int | None = None
                        ) -> tuple[list[int], int, dict[str, int]]:
    """Descend from ``sequence`` by dynasearch, then kick and descend again, until stopped.

    Parameters
    ----------
    instance, sequence
        The jobs and a start sequence (a permutation of ``0..n-1``).
    deadline
        Checked, as is a stop request, between slices of about
        :data:`SLICE_S` seconds of work; the best sequence so far is returned.
    kicks
        Stop after this many kicks in a row without a gain; 0 gives a plain
        dynasearch descent.
    seed
        Seed of the kicks; a run depends only on it (and where it is stopped).
    target
        Stop once the best cost is at most this (a lower bound, say).
    swaps
        Random swaps per kick, :func:`kick_size` by default.

    Returns
    -------
    tuple
        The best sequence, its cost (computed by the search itself) and
        counters: ``kicks`` and ``passes`` (dynasearch moves tried) done.
    """
    p, d, w = (np.ascontiguousarray(a) for a in instance.arrays)
    n = instance.n
    cand = np.array(sequence, dtype=np.int64)
    best = cand.copy()
    state = np.zeros(STATE, dtype=np.int64)
    state[PHASE], state[TARGET], state[MAX_IDLE] = START, target, kicks
    rng = _seed(seed)
    work = np.zeros((ROWS, n + 1), dtype=np.int64)
    size = kick_size(n) if swaps is None else swaps
    big = int(p.max()) * int(w.sum()) >= HUGE
    budget = 1
    while True:
        started = time.perf_counter()
        search(p, d, w, best, cand, state, rng, work, budget, size, big)
        if state[PHASE] == DONE:
            break
        left = None if deadline is None else deadline.remaining()
        if left is not None and left <= 0.0:
            break
        left = SLICE_S if left is None else min(SLICE_S, left)
        spent = max(time.perf_counter() - started, 1e-7)
        budget = max(1, min(4 * budget, int(budget * left / spent)))
    if state[PHASE] == DESCEND and (state[KICKS_DONE] < 0 or state[CAND] < state[BEST]):
        best[:] = cand  # stopped inside a descent that already did better
        state[BEST] = state[CAND]
    return best.tolist(), int(state[BEST]), {"kicks": max(0, int(state[KICKS_DONE])),
                                             "passes": int(state[PASSES])}


def load() -> None:
    """Load (or compile) every kernel of this module: a run on a tiny instance."""
    tiny = SmttInstance((3, 1, 2, 2), (2, 1, 4, 3), (1, 2, 1, 3))
    iterated_dynasearch(tiny, [0, 1, 2, 3], kicks=2, target=-1)
