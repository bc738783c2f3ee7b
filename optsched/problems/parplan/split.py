"""The best contiguous layer split of one replica template, exactly.

A template fixes the TP size, expert parallelism, the micro-batch and the GPU
pool of each pipeline stage; the split decides the layer range of each
stage. Costs are additive over layers (:mod:`.cost`), so a stage's time and
memory are differences of prefix sums, and the cycle of the replica is
``max(o + H + sum T_s, p max(o, max T_s))``:

- one GPU type: ``sum T_s`` does not depend on the split, and a min-max
  dynamic program over (stage, layer boundary) gives the best bottleneck;
- two GPU types (each one contiguous run of stages): once the layer ``n``
  where the second run starts is fixed, each run is a one-type problem and
  the sums are fixed, so a forward min-max program over the first run's
  stages and a backward one over the second's give both bottlenecks for
  every ``n`` at once; the best ``n`` is then read off. The TTFT depends only
  on ``n``, which masks it.

``docs/methods/parplan.md`` section 4 has the recurrences and the proof.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optsched.problems.parplan import cost
from optsched.problems.parplan.instance import ParplanInstance

INF = float("inf")


@dataclass(frozen=True)
class Template:
    """A priced replica: stages' pools and layer bounds, TP, EP, micro-batch."""

    pools: tuple[int, ...]
    bounds: tuple[int, ...]
    """``p + 1`` layer boundaries: stage ``s`` runs layers ``[bounds[s], bounds[s+1])``."""
    tp: int
    ep: bool
    batch: int
    tpot_s: float
    ttft_s: float
    throughput: float

    @property
    def stages(self) -> list[tuple[int, int, int]]:
        """``(pool, first, end)`` per stage, as :func:`.cost.replica` takes them."""
        return [(k, a, b) for k, a, b in zip(self.pools, self.bounds, self.bounds[1:],
                                             strict=False)]


@dataclass(frozen=True)
class Stage:
    """One stage position: its time over every ``[i, j)`` range (``inf``: does not fit)."""

    time: np.ndarray
    fits: np.ndarray
    prefix: np.ndarray
    """Prefix sums of the per-layer times on the stage's pool."""
    extra: float
    """The head's time when this is the last stage, else 0."""


def _stage(inst: ParplanInstance, pool: int, tp: int, ep: bool, batch: int, first: bool,
           last: bool, sequences: int) -> Stage:
    """Stage costs over every range, ``inf`` where the range is empty or does not fit.

    A range fits when its weights (with the embedding on the first stage and
    the head on the last) and the KV blocks of ``sequences`` full-length
    sequences stay within the usable memory of one GPU.
    """
    p = inst.pools[pool]
    decode = np.concatenate(([0.0], np.cumsum(cost.decode_layers(inst, p, tp, ep, batch))))
    head = cost.head_time(inst, p, tp, batch) if last else 0.0
    time = decode[None, :] - decode[:, None] + head
    s = cost.shape(inst.model)
    weights = np.concatenate(([0.0], np.cumsum(s.weights)))
    extra = (s.embed if first else 0) + (s.head if last and not (
        first and inst.model.tie_word_embeddings) else 0)
    stored = (weights[None, :] - weights[:, None] + extra) * inst.weight_bytes / tp
    count = np.arange(inst.model.num_hidden_layers + 1, dtype=np.float64)
    kv = (cost.kv_per_token(inst, tp) * inst.cost.kv_block_tokens * sequences
          * cost.blocks_per_sequence(inst))
    span = count[None, :] - count[:, None]
    fits = (span > 0) & (stored + kv * span <= cost.usable(inst, p))
    return Stage(np.where(fits, time, INF), fits, decode, head)


def _forward(stages: list[Stage]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per end layer ``j``, the smallest bottleneck of layers ``[0, j)`` over ``stages``."""
    n = stages[0].time.shape[0]
    best = np.full(n, INF)
    best[0] = 0.0
    choices = []
    for st in stages:
        table = np.maximum(best[:, None], st.time)
        choices.append(np.argmin(table, axis=0))
        best = table[choices[-1], np.arange(n)]
    return best, choices


def _backward(stages: list[Stage]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per start layer ``i``, the smallest bottleneck of layers ``[i, L)`` over ``stages``."""
    n = stages[0].time.shape[0]
    best = np.full(n, INF)
    best[-1] = 0.0
    choices = []
    for st in reversed(stages):
        table = np.maximum(st.time, best[None, :])
        choices.append(np.argmin(table, axis=1))
        best = table[np.arange(n), choices[-1]]
    return best, choices[::-1]


def _walk_forward(choices: list[np.ndarray], end: int) -> list[int]:
    bounds = [end]
    for choice in reversed(choices):
        bounds.append(int(choice[bounds[-1]]))
    return bounds[::-1]


def _walk_backward(choices: list[np.ndarray], start: int) -> list[int]:
    bounds = [start]
    for choice in choices:
        bounds.append(int(choice[bounds[-1]]))
    return bounds


def even(layers: int, stages: int) -> list[int]:
    """The default split of vLLM: ``L // p`` each, the remainder one each on stages -2, -3, ..."""
    counts = [layers // stages] * stages
    for i in range(1, layers % stages + 1):
        counts[-i - 1] += 1
    return [sum(counts[:i]) for i in range(stages + 1)]


def best(inst: ParplanInstance, pools: tuple[int, ...], tp: int, ep: bool, batch: int,
         uneven: bool = True) -> Template | None:
    """The template's best split at ``batch`` (None when nothing fits or meets the SLOs)."""
    p, layers = len(pools), inst.model.num_hidden_layers
    if p > layers:
        return None
    stages = [_stage(inst, k, tp, ep, batch, s == 0, s == p - 1, p * batch)
              for s, k in enumerate(pools)]
    tokens, _ = cost.decode_tokens(inst, batch)
    hops = sum(cost.hops(inst, pools, tp, tokens))
    overhead = inst.cost.overhead_ms * 1e-3
    runs = [i for i in range(1, p) if pools[i] != pools[i - 1]]
    if not uneven:
        bounds = even(layers, p)
        if not all(st.fits[a, b] for st, a, b in zip(stages, bounds, bounds[1:],
                                                       strict=False)):
            return None
    elif not runs:
        bottleneck, choices = _forward(stages)
        if bottleneck[-1] == INF:
            return None
        bounds = _walk_forward(choices, layers)
    else:
        bounds = _two_runs(inst, stages, pools, tp, ep, runs[0], overhead + hops)
        if not bounds:
            return None
    return _priced(inst, pools, tuple(bounds), tp, ep, batch)


def _two_runs(inst: ParplanInstance, stages: list[Stage], pools: tuple[int, ...], tp: int,
              ep: bool, cut: int, fixed: float) -> list[int]:
    """The best split of a two-type pipeline whose second run starts at stage ``cut``.

    For each layer ``n`` where the second run may start, the cycle is ``max(o +
    H + S_1(n) + S_2(n), p max(o, B_1(n), B_2(n)))`` with ``S`` the runs' fixed
    sums and ``B`` their smallest bottlenecks.
    """
    first, second = stages[:cut], stages[cut:]
    ahead, forward = _forward(first)
    behind, backward = _backward(second)
    sums = (first[0].prefix - first[0].prefix[0]) + (
        second[-1].prefix[-1] - second[-1].prefix + second[-1].extra)
    p, overhead = len(stages), inst.cost.overhead_ms * 1e-3
    cycle = np.maximum(fixed + sums, p * np.maximum(overhead, np.maximum(ahead, behind)))
    cycle = np.where(_ttft_ok(inst, pools, tp, ep, cut) & np.isfinite(ahead)
                     & np.isfinite(behind), cycle, INF)
    n = int(np.argmin(cycle))
    if cycle[n] == INF:
        return []
    return _walk_forward(forward, n)[:-1] + _walk_backward(backward, n)


def _ttft_ok(inst: ParplanInstance, pools: tuple[int, ...], tp: int, ep: bool,
             cut: int) -> np.ndarray:
    """Which layers may start the second run without breaking the TTFT limit."""
    layers = inst.model.num_hidden_layers
    if inst.ttft_ms is None:
        return np.ones(layers + 1, dtype=bool)
    a, b = inst.pools[pools[0]], inst.pools[pools[cut]]
    first = np.concatenate(([0.0], np.cumsum(cost.prefill_layers(inst, a, tp, ep))))
    second = np.concatenate(([0.0], np.cumsum(cost.prefill_layers(inst, b, tp, ep))))
    prefill = first + (second[-1] - second)
    prefill += cost.head_time(inst, b, tp, 1.0)
    first_token = cost.ttft(inst, prefill, sum(cost.hops(inst, pools, tp, inst.prompt_tokens)))
    return np.asarray(first_token <= inst.ttft_ms * 1e-3 * (1 + 1e-12))


def _priced(inst: ParplanInstance, pools: tuple[int, ...], bounds: tuple[int, ...], tp: int,
            ep: bool, batch: int) -> Template | None:
    r = cost.replica(inst, [(k, a, b) for k, a, b in zip(pools, bounds, bounds[1:],
                                                         strict=False)], tp, ep, batch)
    if not r.fits or (inst.tpot_ms is not None and r.tpot_s > inst.tpot_ms * 1e-3 * (1 + 1e-12)
                      ) or (inst.ttft_ms is not None
                            and r.ttft_s > inst.ttft_ms * 1e-3 * (1 + 1e-12)):
        return None
    return Template(pools, bounds, tp, ep, batch, r.tpot_s, r.ttft_s, r.throughput)
