"""The cost model of parplan: memory, decode and prefill times, TPOT, TTFT, throughput.

Every formula is written out, with its units and sources, in
``docs/methods/parplan.md`` (sections 1-3); the names here follow it. Times
are in seconds, sizes in bytes. Costs are additive over layers, so a stage's
time is a sum over its layer range (the solvers use prefix sums of the
vectors :func:`decode_layers` and :func:`prefill_layers` return).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import numpy as np

from optsched.problems.parplan.cluster import Pool
from optsched.problems.parplan.instance import ParplanInstance
from optsched.problems.parplan.spec import ModelSpec

GIB = float(1 << 30)
ACT_BYTES = 2
"""Bytes of an activation element on the wire (bf16)."""


@dataclass(frozen=True)
class Shape:
    """Per-layer parameter counts of a model (norms and biases left out)."""

    weights: np.ndarray
    """Parameters stored per layer."""
    always: np.ndarray
    """Parameters every token reads: attention, dense MLP, router, shared experts."""
    expert: int
    """Parameters of one routed expert (``3 h I_e``)."""
    moe: np.ndarray
    """True for MoE layers."""
    embed: int
    head: int


def attention_params(m: ModelSpec) -> int:
    """Attention projections of one layer: GQA ``h nh hd + 2 h kvh hd + nh hd h``, or MLA."""
    h = m.hidden_size
    if m.is_mla:
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        q = (h * m.q_lora_rank + m.q_lora_rank * m.num_attention_heads * qk
             if m.q_lora_rank else h * m.num_attention_heads * qk)
        kv = (h * (m.kv_lora_rank + m.qk_rope_head_dim)
              + m.kv_lora_rank * m.num_attention_heads * (m.qk_nope_head_dim + m.v_head_dim))
        return q + kv + m.num_attention_heads * m.v_head_dim * h
    hd = m.head_dim
    return 2 * h * m.num_attention_heads * hd + 2 * h * m.num_key_value_heads * hd


@cache
def shape(m: ModelSpec) -> Shape:
    """The per-layer parameter counts of ``m`` (SwiGLU MLPs: ``3 h I``)."""
    h, layers = m.hidden_size, m.num_hidden_layers
    attn = attention_params(m)
    moe = np.array([m.is_moe_layer(i) for i in range(layers)])
    expert = 3 * h * m.moe_intermediate_size
    dense = attn + 3 * h * m.intermediate_size
    routed = attn + h * m.experts + m.shared_experts * expert
    always = np.where(moe, routed, dense).astype(np.float64)
    weights = np.where(moe, routed + m.experts * expert, dense).astype(np.float64)
    return Shape(weights, always, expert, moe, m.vocab_size * h, m.vocab_size * h)


def kv_per_token(inst: ParplanInstance, tp: int) -> float:
    """KV-cache bytes one token takes per layer on one GPU of a TP group of ``tp``.

    GQA: ``2 hd b_kv max(kvh / tp, 1)`` (KV heads replicated once ``tp``
    exceeds them); MLA: the latent ``(kv_lora + rope) b_kv``, held whole by
    every rank.
    """
    m = inst.model
    if m.is_mla:
        return float((m.kv_lora_rank + m.qk_rope_head_dim) * inst.kv_bytes)
    return 2.0 * m.head_dim * inst.kv_bytes * max(m.num_key_value_heads / tp, 1.0)


def _attention_width(m: ModelSpec) -> int:
    """``d_qk + d_v`` of one head: ``2 hd`` (GQA) or ``2 kv_lora + rope`` (absorbed MLA)."""
    if m.is_mla:
        return 2 * m.kv_lora_rank + m.qk_rope_head_dim
    return 2 * m.head_dim


def collective(pool: Pool, op: str, n: int, size: float, alpha_us: float) -> float:
    """Time of collective ``op`` of a ``size``-byte buffer over ``n`` GPUs of one node.

    ``alpha + f(n) size / busbw`` with ``f`` = ``2 (n-1)/n`` (all-reduce),
    ``(n-1)/n`` (all-gather, reduce-scatter, all-to-all), 1 (send-recv); the
    GPU's fit at ``n`` (or the nearest measured ``n``), else ``alpha_us`` and
    the node's link bandwidth.
    """
    if n <= 1 and op != "send_recv":
        return 0.0
    fits = pool.gpu.fits.get(op, {})
    if fits:
        near = min(fits, key=lambda k: (abs(math.log2(k) - math.log2(max(n, 1))), k))
        alpha, busbw = fits[near]
    else:
        alpha, busbw = alpha_us, pool.intra_GBps
    factor = {"all_reduce": 2.0 * (n - 1) / n, "send_recv": 1.0}.get(op, (n - 1) / n)
    return alpha * 1e-6 + factor * size / (busbw * 1e9)


@lru_cache(maxsize=4096)
def _parts(inst: ParplanInstance, pool: Pool, tp: int, ep: bool, tokens: float,
           context: float) -> np.ndarray:
    """HBM, compute and collective seconds per layer (rows), ``tokens`` through each layer.

    ``context`` is the number of attention token-pairs.

    Roofline per layer on one GPU: ``max(bytes / (B eff_hbm), flops / (F
    eff_compute))`` plus the layer's collectives.
    """
    m, c, s = inst.model, inst.cost, shape(inst.model)
    experts = m.experts * -math.expm1(tokens * math.log1p(-m.top_k / m.experts)) \
        if m.is_moe else 0.0
    params = s.always + np.where(s.moe, experts * s.expert, 0.0)
    active = s.always + np.where(s.moe, m.top_k * s.expert, 0.0)
    read = params * inst.weight_bytes + context * kv_per_token(inst, tp) * tp
    flops = 2.0 * tokens * active + 2.0 * m.num_attention_heads * _attention_width(m) * context
    gpu = pool.gpu
    memory = read / tp / (gpu.hbm_TBps * 1e12 * c.eff_hbm)
    compute = flops / tp / (gpu.tflops(inst.weights) * 1e12 * c.eff_compute)
    talk = np.zeros_like(memory)
    if tp > 1:
        message = tokens * m.hidden_size * ACT_BYTES
        reduce = collective(pool, "all_reduce", tp, message, c.alpha_us)
        if ep and m.is_moe:
            a2a = 2 * collective(pool, "all_to_all", tp, message * m.top_k, c.alpha_us)
            talk = talk + np.where(s.moe, reduce + a2a, 2 * reduce)
        else:
            talk = talk + 2 * reduce
    out = np.stack([memory, compute, talk]).astype(np.float64)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=4096)
def _layers(inst: ParplanInstance, pool: Pool, tp: int, ep: bool, tokens: float,
            context: float) -> np.ndarray:
    """Seconds per layer: the larger of HBM and compute time, plus the collectives."""
    memory, compute, talk = _parts(inst, pool, tp, ep, tokens, context)
    out: np.ndarray = np.maximum(memory, compute) + talk
    out.setflags(write=False)
    return out


def decode_tokens(inst: ParplanInstance, batch: int) -> tuple[float, float]:
    """Tokens through a layer per decode iteration, and attention token-pairs.

    A micro-batch of ``b`` running sequences, in steady state, also prefills
    ``q = b P / O`` prompt tokens per iteration (chunked prefill of the
    sequences that replace finished ones). Mean context ``P + O / 2``.
    """
    p, o = inst.prompt_tokens, inst.output_tokens
    q = batch * p / o
    return batch + q, batch * (p + o / 2) + q * p / 2


def decode_layers(inst: ParplanInstance, pool: Pool, tp: int, ep: bool,
                  batch: int) -> np.ndarray:
    """Seconds per layer of one decode iteration of a micro-batch of ``batch``."""
    tokens, context = decode_tokens(inst, batch)
    return _layers(inst, pool, tp, ep, tokens, context)


def decode_parts(inst: ParplanInstance, pool: Pool, tp: int, ep: bool, batch: int,
                 first: int, end: int) -> tuple[float, float, float]:
    """Seconds of layers ``[first, end)`` that HBM, compute and collectives would take.

    The stage's time is the sum over its layers of ``max(HBM, compute) +
    collectives``; these sums say which of the three dominates it.
    """
    tokens, context = decode_tokens(inst, batch)
    memory, compute, talk = _parts(inst, pool, tp, ep, tokens, context)[:, first:end].sum(axis=1)
    return float(memory), float(compute), float(talk)


def prefill_layers(inst: ParplanInstance, pool: Pool, tp: int, ep: bool) -> np.ndarray:
    """Seconds per layer of one request's prefill (``P`` tokens, ``P^2 / 2`` pairs)."""
    p = inst.prompt_tokens
    return _layers(inst, pool, tp, ep, float(p), p * p / 2.0)


def head_time(inst: ParplanInstance, pool: Pool, tp: int, rows: float) -> float:
    """The LM head on the last stage: ``V h`` weights read, ``2 rows V h`` flops."""
    m, c, gpu = inst.model, inst.cost, pool.gpu
    params = shape(m).head
    return max(params * inst.weight_bytes / tp / (gpu.hbm_TBps * 1e12 * c.eff_hbm),
               2.0 * rows * params / tp / (gpu.tflops(inst.weights) * 1e12 * c.eff_compute))


def hop(inst: ParplanInstance, a: Pool, b: Pool, inside: bool, tokens: float) -> float:
    """Seconds to pass ``tokens`` activations between two stages.

    Inside one node: a send-recv (fit or link); between nodes: the slower
    NIC's latency and bandwidth.
    """
    size = tokens * inst.model.hidden_size * ACT_BYTES
    if inside:
        return collective(a, "send_recv", 2, size, inst.cost.alpha_us)
    latency = max(a.inter_latency_us, b.inter_latency_us)
    return latency * 1e-6 + size / (min(a.inter_GBps, b.inter_GBps) * 1e9)


def hops(inst: ParplanInstance, pools: list[int] | tuple[int, ...], tp: int,
         tokens: float) -> list[float]:
    """The hop after every stage but the last of a pipeline over ``pools``."""
    inside = in_one_node(inst, list(pools), tp)
    return [hop(inst, inst.pools[a], inst.pools[b], inside, tokens)
            for a, b in itertools.pairwise(pools)]


def stage_weights(inst: ParplanInstance, first: int, end: int, is_first: bool,
                  is_last: bool) -> float:
    """Weight bytes of layers ``[first, end)`` plus the embedding and head it holds (all TP)."""
    s = shape(inst.model)
    params = float(s.weights[first:end].sum())
    if is_first:
        params += s.embed
    if is_last and not (is_first and inst.model.tie_word_embeddings):
        params += s.head
    return params * inst.weight_bytes


def usable(inst: ParplanInstance, pool: Pool) -> float:
    """Bytes of one GPU that weights and KV cache may take: ``util M - reserve``."""
    c = inst.cost
    return c.gpu_mem_util * pool.gpu.memory_gib * GIB - c.reserve_gib * GIB


def blocks_per_sequence(inst: ParplanInstance) -> int:
    """KV blocks a sequence holds at its full length ``P + O`` (no preemption)."""
    return -(-(inst.prompt_tokens + inst.output_tokens) // inst.cost.kv_block_tokens)


def ttft(inst: ParplanInstance, prefill: Any, prompt_hops: float) -> Any:
    """Seconds to the first token: ``ttft_overhead + o + prefill + hops`` (arrays too).

    ``prefill`` is the prompt's time through every stage (the head for one row on
    the last), ``prompt_hops`` the hops of the prompt's activations.
    """
    c = inst.cost
    return (c.ttft_overhead_ms + c.overhead_ms) * 1e-3 + prefill + prompt_hops


def cycle(overhead: float, stages: list[float], hops: list[float]) -> float:
    """Seconds between two tokens of one sequence: ``max(o + sum T + sum H, p max(o, T))``.

    The ``p`` micro-batches of a pipeline share every stage and the
    scheduler's per-iteration overhead ``o``.
    """
    p = len(stages)
    return max(overhead + sum(stages) + sum(hops), p * max(overhead, max(stages)))


def in_one_node(inst: ParplanInstance, pools: list[int], tp: int) -> bool:
    """True when a replica sits in one node: one GPU type, ``p tp`` a power of two dividing it.

    Blocks of powers of two that divide the node size pack nodes exactly, so
    counting GPUs per type is exact; any other pipeline is charged network hops.
    """
    size = len(pools) * tp
    return (len(set(pools)) == 1 and size & (size - 1) == 0
            and inst.pools[pools[0]].gpus_per_node % size == 0)


@dataclass(frozen=True)
class ReplicaCost:
    """What the cost model predicts for one replica (times in seconds, sizes in bytes)."""

    stage_s: tuple[float, ...]
    hop_s: tuple[float, ...]
    prefill_s: float
    tpot_s: float
    ttft_s: float
    throughput: float
    """Output tokens per second: ``p b / TPOT``."""
    weights: tuple[float, ...]
    """Weight bytes per GPU of each stage."""
    free_blocks: tuple[int, ...]
    """KV blocks each stage's GPUs can hold (a negative count: the weights do not fit)."""
    blocks_needed: int
    """KV blocks the ``p b`` running sequences hold at full length."""

    @property
    def fits(self) -> bool:
        """True when every stage holds its weights and the sequences' KV cache."""
        return min(self.free_blocks) >= self.blocks_needed


def replica(inst: ParplanInstance, stages: list[tuple[int, int, int]], tp: int, ep: bool,
            batch: int) -> ReplicaCost:
    """Price a replica: ``stages`` of ``(pool, first layer, end layer)``, TP ``tp``, batch."""
    pools = [s[0] for s in stages]
    tokens, _ = decode_tokens(inst, batch)
    times, prefill, weights, free = [], 0.0, [], []
    needed = len(stages) * batch * blocks_per_sequence(inst)
    for i, (k, first, end) in enumerate(stages):
        pool, last = inst.pools[k], i == len(stages) - 1
        t = float(decode_layers(inst, pool, tp, ep, batch)[first:end].sum())
        prefill += float(prefill_layers(inst, pool, tp, ep)[first:end].sum())
        if last:
            t += head_time(inst, pool, tp, batch)
            prefill += head_time(inst, pool, tp, 1.0)
        times.append(t)
        w = stage_weights(inst, first, end, i == 0, last) / tp
        weights.append(w)
        per_block = kv_per_token(inst, tp) * (end - first) * inst.cost.kv_block_tokens
        free.append(math.floor((usable(inst, pool) - w) / per_block))
    between = hops(inst, pools, tp, tokens)
    prompt_hops = sum(hops(inst, pools, tp, inst.prompt_tokens))
    overhead = inst.cost.overhead_ms * 1e-3
    tpot = cycle(overhead, times, between)
    return ReplicaCost(tuple(times), tuple(between), prefill, tpot,
                       ttft(inst, prefill, prompt_hops),
                       len(stages) * batch / tpot, tuple(weights), tuple(free), needed)
