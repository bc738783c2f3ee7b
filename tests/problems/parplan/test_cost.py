"""The parplan cost model (cost.py) against hand calculations.

Most checks run on a "unit" GPU written inline, whose figures make the roofline easy by
hand: 1000 TFLOP/s (1e15 flop/s), 1 TB/s (1e12 B/s), 1 GiB, a 100 GB/s link and no
collective fits; the cost block sets every efficiency to 1, the per-iteration overhead
``o`` to 1 ms, the TTFT overhead to 10 ms, ``gpu_mem_util`` 0.9, ``reserve_gib`` 0.5,
blocks of 16 tokens and ``alpha_us`` 10 (all written out, so that a change of the
defaults does not move these numbers).

The tiny model is ``generate.TINY``: h = 1024, I = 4096, 6 layers, 8 heads, 2 KV heads,
head_dim 128, V = 32000, bf16. By hand:

- attention ``2 h nh hd + 2 h kvh hd`` = 2*1024*8*128 + 2*1024*2*128 = 2,097,152 +
  524,288 = 2,621,440; MLP ``3 h I`` = 3*1024*4096 = 12,582,912; a layer 15,204,352
  parameters (30,408,704 bytes); embedding = head = 32000*1024 = 32,768,000
  (65,536,000 bytes).
- KV bytes per token and layer at TP 1: ``2 hd b kvh`` = 2*128*2*2 = 1024.
- workload P = 512, O = 128: a sequence is 640 tokens = 40 blocks.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from optsched.problems.parplan import cost, generate
from optsched.problems.parplan.cluster import Pool
from optsched.problems.parplan.instance import ParplanInstance, from_dict
from optsched.problems.parplan.spec import GpuSpec, ModelSpec

UNIT_GPU: dict[str, Any] = {"name": "Unit-1GiB", "bf16_tflops": 1000, "memory_gib": 1,
                            "hbm_TBps": 1, "link_GBps": 100}
CLEAN: dict[str, Any] = {"eff_compute": 1.0, "eff_hbm": 1.0, "overhead_ms": 1.0,
                         "ttft_overhead_ms": 10.0, "gpu_mem_util": 0.9, "reserve_gib": 0.5,
                         "kv_block_tokens": 16, "alpha_us": 10.0}
MOE: dict[str, Any] = {**generate.TINY, "name": "tiny-moe", "experts": 8, "top_k": 2,
                       "moe_intermediate_size": 512, "shared_experts": 1, "first_dense": 1}
"""TINY with 8 experts of width 512 (top 2, one shared) in every layer but the first."""
MLA: dict[str, Any] = {**generate.TINY, "name": "tiny-mla", "num_key_value_heads": 8,
                       "q_lora_rank": 256, "kv_lora_rank": 128, "qk_rope_head_dim": 32,
                       "qk_nope_head_dim": 64, "v_head_dim": 64}
"""TINY with DeepSeek-style latent attention (MLA)."""

LAYER, EMBED = 15_204_352, 32_768_000


def instance(model: Any = None, nodes: list[dict[str, Any]] | None = None,
             prompt: int = 512, output: int = 128, **fields: Any) -> ParplanInstance:
    """TINY (or ``model``) on 8 unit GPUs in one node, P = 512, O = 128, the clean costs."""
    return from_dict({"name": "t", "model": model if model is not None else generate.TINY,
                      "cluster": {"nodes": nodes or [{"gpu": UNIT_GPU, "count": 8}]},
                      "workload": {"prompt_tokens": prompt, "output_tokens": output},
                      "cost": {**CLEAN, **fields.pop("cost", {})}, **fields})


def pool(fits: dict[str, dict[int, tuple[float, float]]] | None = None,
         intra: float = 100.0) -> Pool:
    """One node of 8 GPUs with the given collective fits (none: the link)."""
    gpu = GpuSpec("Fit-GPU", bf16_tflops=1.0, memory_gib=1.0, hbm_TBps=1.0,
                  link_GBps=intra, fits=fits or {})
    return Pool(gpu, 8, 8, intra, 50.0, 5.0)


# -- parameter counts ------------------------------------------------------------------------


def test_dense_gqa_counts() -> None:
    """TINY: attention 2,621,440, a layer 2,621,440 + 12,582,912 = 15,204,352 (all read by
    every token), embedding = head = 32,768,000; total 6*15,204,352 + 2*32,768,000 =
    91,226,112 + 65,536,000 = 156,762,112."""
    m = instance().model
    assert cost.attention_params(m) == 2_621_440
    s = cost.shape(m)
    assert s.weights.tolist() == [LAYER] * 6 and s.always.tolist() == [LAYER] * 6
    assert not s.moe.any() and s.expert == 0  # no experts: moe_intermediate_size 0
    assert (s.embed, s.head) == (EMBED, EMBED)
    assert s.weights.sum() + s.embed + s.head == 156_762_112


def test_llama_3_70b_counts() -> None:
    """Llama-3-70B (h 8192, 64 heads, 8 KV heads, hd 128, I 28672, 80 layers, V 128256):
    attention 2*8192*64*128 + 2*8192*8*128 = 134,217,728 + 16,777,216 = 150,994,944; MLP
    3*8192*28672 = 704,643,072; a layer 855,638,016; 80 layers 68,451,041,280; embedding
    and head 2*128256*8192 = 2,101,346,304; total 70,552,387,584."""
    m = instance(model="llama-3-70b").model
    assert cost.attention_params(m) == 150_994_944
    s = cost.shape(m)
    assert set(s.weights.tolist()) == {855_638_016} and len(s.weights) == 80
    assert s.embed == s.head == 1_050_673_152
    assert int(s.weights.sum()) + s.embed + s.head == 70_552_387_584


def test_moe_counts() -> None:
    """MOE: an expert 3*1024*512 = 1,572,864; router h E = 1024*8 = 8192.

    Layer 0 is dense: 15,204,352 stored and read. A MoE layer always reads attention +
    router + one shared expert = 2,621,440 + 8,192 + 1,572,864 = 4,202,496, and stores
    those plus 8 routed experts: 4,202,496 + 8*1,572,864 = 16,785,408.
    """
    s = cost.shape(instance(MOE).model)
    assert s.expert == 1_572_864
    assert s.moe.tolist() == [False] + [True] * 5
    assert s.always.tolist() == [LAYER] + [4_202_496] * 5
    assert s.weights.tolist() == [LAYER] + [16_785_408] * 5


def test_mla_counts() -> None:
    """MLA with h 1024, 8 heads, q_lora 256, kv_lora 128, rope 32, nope 64, v 64.

    q: 1024*256 + 256*8*(64+32) = 262,144 + 196,608 = 458,752; kv: 1024*(128+32) +
    128*8*(64+64) = 163,840 + 131,072 = 294,912; o: 8*64*1024 = 524,288; total
    1,277,952. Without the q LoRA, q is 1024*8*96 = 786,432: total 1,605,632.
    """
    m = instance(MLA).model
    assert m.is_mla
    assert cost.attention_params(m) == 1_277_952
    assert cost.attention_params(replace(m, q_lora_rank=0)) == 1_605_632
    assert cost.shape(m).weights.tolist() == [1_277_952 + 12_582_912] * 6


# -- KV cache --------------------------------------------------------------------------------


def test_kv_per_token_gqa_splits_then_replicates() -> None:
    """Llama-3-70B, 8 KV heads of 128, bf16: 2*128*2 = 512 bytes per KV head.

    TP 1: 8 heads = 4096; TP 4: 2 heads = 1024; TP 8: 1 head = 512; TP 16: still one
    (replicated), 512. TINY (2 KV heads): TP 1 = 1024, TP 2 = 512, TP 4 and 8 = 512.
    With an fp8 cache, half: TINY TP 1 = 512.
    """
    big = instance(model="llama-3-70b")
    assert [cost.kv_per_token(big, t) for t in (1, 2, 4, 8, 16)] == [4096, 2048, 1024, 512,
                                                                     512]
    tiny = instance()
    assert [cost.kv_per_token(tiny, t) for t in (1, 2, 4, 8)] == [1024, 512, 512, 512]
    fp8 = instance(precision={"kv": "fp8"})
    assert cost.kv_per_token(fp8, 1) == 512 and cost.kv_per_token(fp8, 8) == 256


def test_kv_per_token_mla_not_split() -> None:
    """MLA holds the latent (kv_lora + rope) = 128 + 32 = 160 elements = 320 bytes on every
    rank, whatever the TP size."""
    mla = instance(MLA)
    assert [cost.kv_per_token(mla, t) for t in (1, 2, 4, 8)] == [320.0] * 4


# -- collectives and hops --------------------------------------------------------------------


H100_FITS: dict[str, dict[int, tuple[float, float]]] = {
    "all_reduce": {2: (8.7, 244.9), 4: (12.0, 284.5), 8: (18.3, 327.1)},
    "send_recv": {2: (7.5, 330.2)}}
"""The H100 table's fits that these tests use (alpha us, bus GB/s)."""


def test_h100_fits_are_the_tables() -> None:
    """The numbers below use the bundled H100 fits; check they still are those."""
    gpu = instance(nodes=[{"gpu": "H100", "count": 8}]).pools[0].gpu
    for op, by_n in H100_FITS.items():
        assert dict(gpu.fits[op]) == by_n


def test_collective_fit_at_n() -> None:
    """All-reduce of 1e6 bytes over 8 H100: 18.3 us + 2*7/8 * 1e6 / 327.1e9 s
    = 18.3e-6 + 5.35004...e-6; over 2: 8.7e-6 + 2*1/2 * 1e6 / 244.9e9."""
    p = pool(H100_FITS)
    assert cost.collective(p, "all_reduce", 8, 1e6, 99.0) == pytest.approx(
        18.3e-6 + 1.75e6 / 327.1e9, rel=1e-12)
    assert cost.collective(p, "all_reduce", 2, 1e6, 99.0) == pytest.approx(
        8.7e-6 + 1e6 / 244.9e9, rel=1e-12)


def test_collective_nearest_n() -> None:
    """No fit at n: the fit of the nearest n in log2, the smaller on a tie; the factor is
    still n's.

    n = 3: |log2 3 - 1| = 0.585 > |log2 3 - 2| = 0.415, the fit at 4 (12.0, 284.5), factor
    2*2/3 = 4/3. n = 16: the fit at 8, factor 2*15/16 = 1.875. n = 6: log2 6 = 2.585 is
    nearer 3 than 2: the fit at 8, factor 5/3. Fits at 2 and 8 only, n = 4: log2 distance
    1 to both, the smaller n (2) wins.
    """
    p = pool(H100_FITS)
    assert cost.collective(p, "all_reduce", 3, 1e6, 99.0) == pytest.approx(
        12.0e-6 + (4 / 3) * 1e6 / 284.5e9, rel=1e-12)
    assert cost.collective(p, "all_reduce", 16, 1e6, 99.0) == pytest.approx(
        18.3e-6 + 1.875e6 / 327.1e9, rel=1e-12)
    assert cost.collective(p, "all_reduce", 6, 1e6, 99.0) == pytest.approx(
        18.3e-6 + (5 / 3) * 1e6 / 327.1e9, rel=1e-12)
    sparse = pool({"all_gather": {2: (1.0, 100.0), 8: (50.0, 10.0)}})
    assert cost.collective(sparse, "all_gather", 4, 1e6, 99.0) == pytest.approx(
        1.0e-6 + 0.75 * 1e6 / 100e9, rel=1e-12)


def test_collective_link_fallback() -> None:
    """No fit for the op: alpha_us and the node's link (100 GB/s here).

    1e6 bytes over 4 GPUs: all-gather 10 us + 3/4 * 1e6 / 1e11 = 17.5 us; all-reduce
    10 + 2*3/4 * 10 = 25 us; reduce-scatter and all-to-all 17.5 us; a send-recv of 1e6
    bytes (factor 1) 10 + 10 = 20 us; with alpha_us 3: 13 us. A GPU with fits for the
    all-reduce only still uses its link for the all-to-all. One GPU: no collective (0).
    """
    p = pool()
    assert cost.collective(p, "all_gather", 4, 1e6, 10.0) == pytest.approx(17.5e-6, rel=1e-12)
    assert cost.collective(p, "all_reduce", 4, 1e6, 10.0) == pytest.approx(25e-6, rel=1e-12)
    assert cost.collective(p, "reduce_scatter", 4, 1e6, 10.0) == pytest.approx(17.5e-6,
                                                                               rel=1e-12)
    assert cost.collective(p, "all_to_all", 4, 1e6, 10.0) == pytest.approx(17.5e-6, rel=1e-12)
    assert cost.collective(p, "send_recv", 2, 1e6, 10.0) == pytest.approx(20e-6, rel=1e-12)
    assert cost.collective(p, "send_recv", 2, 1e6, 3.0) == pytest.approx(13e-6, rel=1e-12)
    partial = pool({"all_reduce": {4: (1.0, 1000.0)}})
    assert cost.collective(partial, "all_to_all", 4, 1e6, 10.0) == pytest.approx(17.5e-6,
                                                                                  rel=1e-12)
    assert cost.collective(partial, "all_reduce", 4, 1e6, 10.0) == pytest.approx(
        1e-6 + 1.5e6 / 1e12, rel=1e-12)
    assert cost.collective(p, "all_reduce", 1, 1e6, 10.0) == 0.0
    assert cost.collective(p, "all_to_all", 1, 1e6, 10.0) == 0.0


def test_collective_factors() -> None:
    """With alpha 0 and 1 GB/s, 1e9 bytes: all-reduce 2 (n-1)/n s = 1, 1.5, 1.75 s for
    n = 2, 4, 8; all-gather (n-1)/n = 0.5, 0.75, 0.875 s; send-recv 1 s at any n."""
    p = pool(intra=1.0)
    for n, reduce, gather in ((2, 1.0, 0.5), (4, 1.5, 0.75), (8, 1.75, 0.875)):
        assert cost.collective(p, "all_reduce", n, 1e9, 0.0) == pytest.approx(reduce)
        assert cost.collective(p, "all_gather", n, 1e9, 0.0) == pytest.approx(gather)
        assert cost.collective(p, "send_recv", n, 1e9, 0.0) == pytest.approx(1.0)


def two_pools() -> ParplanInstance:
    """TINY on 8 H100 (NIC 50 GB/s, 5 us) and 4 L40S (NIC 25 GB/s, 8 us)."""
    return instance(nodes=[{"gpu": "H100", "count": 8},
                           {"gpu": "L40S", "count": 4, "inter_node_GBps": 25,
                            "inter_node_latency_us": 8}])


def test_hop_inside_and_between_nodes() -> None:
    """10 tokens of h = 1024 in bf16: 20,480 bytes.

    Inside an H100 node: the send-recv fit 7.5 us + 20,480 / 330.2e9. Between two H100
    nodes: 5 us + 20,480 / 50e9 = 5.4096 us. H100 to L40S (or back): the slower NIC, 8 us
    + 20,480 / 25e9 = 8.8192 us.
    """
    inst = two_pools()
    h100, l40s = inst.pools
    assert cost.hop(inst, h100, h100, True, 10) == pytest.approx(7.5e-6 + 20480 / 330.2e9,
                                                                 rel=1e-12)
    assert cost.hop(inst, h100, h100, False, 10) == pytest.approx(5.4096e-6, rel=1e-12)
    assert cost.hop(inst, h100, l40s, False, 10) == pytest.approx(8.8192e-6, rel=1e-12)
    assert cost.hop(inst, l40s, h100, False, 10) == pytest.approx(8.8192e-6, rel=1e-12)


def test_hops_of_a_pipeline() -> None:
    """2 stages of TP 2 on one H100 node (4 GPUs, a power of two dividing 8): inside, one
    send-recv. 3 stages of TP 1 (3 GPUs, not a power of two): between nodes, 5.4096 us
    each. H100 then L40S: between nodes, 8.8192 us. One stage: no hop."""
    inst = two_pools()
    assert cost.hops(inst, (0, 0), 2, 10) == [pytest.approx(7.5e-6 + 20480 / 330.2e9)]
    assert cost.hops(inst, (0, 0, 0), 1, 10) == [pytest.approx(5.4096e-6)] * 2
    assert cost.hops(inst, (0, 1), 1, 10) == [pytest.approx(8.8192e-6)]
    assert cost.hops(inst, (0,), 8, 10) == []
    assert cost.in_one_node(inst, [0, 0, 0, 0], 2) and not cost.in_one_node(inst, [0, 0], 8)


# -- decode ----------------------------------------------------------------------------------


def test_decode_tokens() -> None:
    """b sequences in steady state also prefill q = b P / O tokens; context b (P + O/2) +
    q P / 2.

    P 512, O 128, b 4: q = 4*512/128 = 16, tokens 20, context 4*(512 + 64) + 16*256 =
    2304 + 4096 = 6400. P 62, O 162, b 1: q = 62/162, tokens 1 + 62/162, context
    62 + 81 + (62/162)*31 = 143 + 11.864...
    """
    assert cost.decode_tokens(instance(), 4) == (20.0, 6400.0)
    tokens, context = cost.decode_tokens(instance(prompt=62, output=162), 1)
    assert tokens == pytest.approx(1 + 62 / 162) and context == pytest.approx(143 + 62 * 31 / 162)


def test_decode_layer_roofline() -> None:
    """TINY at TP 1, b 1 on the unit GPU: tokens 1 + 512/128 = 5, context 576 + 4*256 =
    1600. Bytes 30,408,704 + 1600*1024 = 32,047,104 -> 32.047104 us at 1 TB/s; flops
    2*5*15,204,352 + 2*8*256*1600 = 158,597,120 -> 0.159 us: memory-bound, 32.047104 us.
    The head: 65,536,000 bytes = 65.536 us."""
    inst = instance()
    assert cost.decode_layers(inst, inst.pools[0], 1, False, 1) == pytest.approx(
        [32.047104e-6] * 6, rel=1e-12)
    assert cost.head_time(inst, inst.pools[0], 1, 1) == pytest.approx(65.536e-6, rel=1e-12)


def test_moe_experts_touched() -> None:
    """A MoE layer reads ``E (1 - (1 - k/E)^tokens)`` routed experts (here E 8, k 2).

    On a GPU of 1e18 flop/s (memory-bound throughout), at 1 TB/s, no context:
    1 token: 2 experts, (4,202,496 + 2*1,572,864)*2 = 14,696,448 bytes = 14.696448 us;
    2 tokens: 8*(1 - 0.75^2) = 3.5 experts, (4,202,496 + 3.5*1,572,864)*2 = 19,415,040 bytes;
    10,000 tokens: all 8, 16,785,408*2 = 33,570,816 bytes. The dense layer 0 reads its
    30,408,704 bytes at any count.
    """
    inst = instance(MOE, nodes=[{"gpu": {**UNIT_GPU, "bf16_tflops": 1e6}, "count": 8}])
    p = inst.pools[0]
    for tokens, moe_bytes in ((1.0, 14_696_448), (2.0, 19_415_040), (1e4, 33_570_816)):
        times = cost._layers(inst, p, 1, False, tokens, 0.0)
        assert times[0] == pytest.approx(30_408_704e-12, rel=1e-12)
        assert times[1:] == pytest.approx([moe_bytes * 1e-12] * 5, rel=1e-12)


def test_tp_and_ep_collectives() -> None:
    """TINY-MoE at TP 2 on the unit GPU, b 1: 5 tokens, a message of 5*1024*2 = 10,240
    bytes. Without EP every layer adds 2 all-reduces of 10 us + 10,240/1e11 = 10.1024 us.
    With EP a MoE layer swaps one for 2 all-to-alls of top_k = 2 messages:
    2*(10 + 1/2*20,480/1e11 s) = 20.2048 us; the dense layer 0 is unchanged."""
    inst = instance(MOE)
    p = inst.pools[0]
    plain = cost.decode_layers(inst, p, 2, False, 1)
    ep = cost.decode_layers(inst, p, 2, True, 1)
    assert ep[0] == plain[0]
    assert ep[1:] - plain[1:] == pytest.approx([20.2048e-6 - 10.1024e-6] * 5, rel=1e-9)
    single = cost.decode_layers(inst, p, 1, False, 1)
    # TP 2 halves the roofline term of the dense layer 0 and adds 2 all-reduces
    assert plain[0] - single[0] / 2 == pytest.approx(2 * 10.1024e-6, rel=1e-9)


# -- memory ----------------------------------------------------------------------------------


def test_stage_weights() -> None:
    """Bytes (bf16) of layers plus what the stage holds.

    All 6 layers, first and last: 156,762,112 params = 313,524,224 bytes; tied
    embeddings hold one copy: 91,226,112 + 32,768,000 = 123,994,112 -> 247,988,224.
    First stage [0, 3): 45,613,056 + 32,768,000 = 78,381,056 -> 156,762,112; last [3, 6)
    the same with the head; a middle stage [2, 4): 2*15,204,352*2 = 60,817,408; the last
    stage of a tied pipeline still holds the head: 156,762,112.
    """
    inst = instance()
    tied = instance({**generate.TINY, "tie_word_embeddings": True})
    assert cost.stage_weights(inst, 0, 6, True, True) == 313_524_224
    assert cost.stage_weights(tied, 0, 6, True, True) == 247_988_224
    assert cost.stage_weights(inst, 0, 3, True, False) == 156_762_112
    assert cost.stage_weights(inst, 3, 6, False, True) == 156_762_112
    assert cost.stage_weights(inst, 2, 4, False, False) == 60_817_408
    assert cost.stage_weights(tied, 3, 6, False, True) == 156_762_112
    fp8 = instance(precision={"weights": "fp8"})
    assert cost.stage_weights(fp8, 0, 6, True, True) == 156_762_112


def test_usable() -> None:
    """``util M - reserve``: the unit GPU (1 GiB) at 0.9 and 0.5 GiB reserved: 0.4 GiB =
    429,496,729.6 bytes; an H100 (80 GiB) at 0.9 and 2 GiB reserved: 70 GiB."""
    inst = instance()
    assert cost.usable(inst, inst.pools[0]) == pytest.approx(0.4 * 2**30, rel=1e-12)
    h100 = instance(nodes=[{"gpu": "H100", "count": 8}], cost={"reserve_gib": 2.0})
    assert cost.usable(h100, h100.pools[0]) == pytest.approx(70 * 2**30, rel=1e-12)


def test_blocks_per_sequence() -> None:
    """``ceil((P + O) / block)``: 640/16 = 40; 224/16 = 14 exactly; 225 tokens: 15; blocks
    of 100 tokens: 640 -> 7."""
    assert cost.blocks_per_sequence(instance()) == 40
    assert cost.blocks_per_sequence(instance(prompt=62, output=162)) == 14
    assert cost.blocks_per_sequence(instance(prompt=63, output=162)) == 15
    assert cost.blocks_per_sequence(instance(cost={"kv_block_tokens": 100})) == 7


# -- the cycle and a replica -----------------------------------------------------------------


def test_cycle() -> None:
    """``max(o + sum T + sum H, p max(o, max T))``.

    p = 1: o + T = 1 + 3 = 4. p = 2, T = (0.5, 0.5), H 0.1, o 1: max(2.1, 2) = 2.1 (the
    latency). T = (1.0, 0.2), H 0.05, o 0.1: max(1.35, 2*1.0) = 2.0 (the slowest stage).
    T = (0.3, 0.2), H 0, o 1: max(1.5, 2*1) = 2 (the overhead per micro-batch).
    """
    assert cost.cycle(1.0, [3.0], []) == 4.0
    assert cost.cycle(1.0, [0.5, 0.5], [0.1]) == pytest.approx(2.1)
    assert cost.cycle(0.1, [1.0, 0.2], [0.05]) == pytest.approx(2.0)
    assert cost.cycle(1.0, [0.3, 0.2], [0.0]) == pytest.approx(2.0)


def test_replica_one_stage() -> None:
    """TINY, TP 1, b 1, one unit GPU.

    Stage 6*32.047104 + 65.536 (head) = 257.818624 us; TPOT 1 ms + 257.818624 us;
    throughput p b / TPOT = 1 / 1.257818624e-3 = 795.03 tokens/s. Weights 313,524,224
    bytes; KV blocks (0.4 GiB - weights) / (1024*6*16 = 98,304 bytes) = 115,972,505.6 /
    98,304 = 1179.7 -> 1179; needed 1*1*40 = 40. TTFT: a prefill layer reads 30,408,704 +
    (512^2/2 = 131,072)*1024 = 164,626,432 bytes (164.626432 us; flops 1.61e10 = 16.1 us),
    6 layers + the head for 1 row = 987.758592 + 65.536 = 1053.294592 us; TTFT 10 + 1 +
    1.053294592 = 12.053294592 ms. Batch 29 needs 1160 blocks (fits), 30 needs 1200
    (does not).
    """
    inst = instance()
    r = cost.replica(inst, [(0, 0, 6)], 1, False, 1)
    assert r.stage_s == pytest.approx((257.818624e-6,), rel=1e-12) and r.hop_s == ()
    assert r.tpot_s == pytest.approx(1.257818624e-3, rel=1e-12)
    assert r.throughput == pytest.approx(1 / 1.257818624e-3, rel=1e-12)
    assert r.weights == (313_524_224,)
    assert (r.free_blocks, r.blocks_needed, r.fits) == ((1179,), 40, True)
    assert r.prefill_s == pytest.approx(1.053294592e-3, rel=1e-12)
    assert r.ttft_s == pytest.approx(12.053294592e-3, rel=1e-12)
    assert cost.replica(inst, [(0, 0, 6)], 1, False, 29).fits
    big = cost.replica(inst, [(0, 0, 6)], 1, False, 30)
    assert (big.blocks_needed, big.fits) == (1200, False)


def test_replica_two_stages() -> None:
    """TINY split [0, 3) + [3, 6), TP 1, b 1, two unit GPUs of one node.

    Stages 3*32.047104 = 96.141312 us and 96.141312 + 65.536 = 161.677312 us; the hop
    is a send-recv of 5*1024*2 = 10,240 bytes: 10 us + 10,240/1e11 = 10.1024 us. With o =
    1 ms the cycle is max(1000 + 257.818624 + 10.1024, 2*1000) = 2000 us: throughput
    2*1 / 2e-3 = 1000 tokens/s. Weights 156,762,112 bytes each; KV blocks (429,496,729.6 -
    156,762,112) / 49,152 = 5548.8 -> 5548; needed 2*1*40 = 80. TTFT adds the prompt hop
    10 + 1,048,576/1e11 s = 20.48576 us: 12.073780352 ms.
    With o = 0.1 ms: max(100 + 257.818624 + 10.1024, 2*161.677312) = 367.921024 us (the
    latency); the split [0, 1) + [1, 6): stages 32.047104 and 5*32.047104 + 65.536 =
    225.77152, cycle max(367.921024, 451.54304) = 451.54304 us (the slowest stage).
    """
    inst = instance()
    r = cost.replica(inst, [(0, 0, 3), (0, 3, 6)], 1, False, 1)
    assert r.stage_s == pytest.approx((96.141312e-6, 161.677312e-6), rel=1e-12)
    assert r.hop_s == pytest.approx((10.1024e-6,), rel=1e-12)
    assert r.tpot_s == pytest.approx(2e-3, rel=1e-12)
    assert r.throughput == pytest.approx(1000.0, rel=1e-12)
    assert r.weights == (156_762_112, 156_762_112)
    assert (r.free_blocks, r.blocks_needed, r.fits) == ((5548, 5548), 80, True)
    assert r.ttft_s == pytest.approx(12.073780352e-3, rel=1e-12)
    fast = instance(cost={"overhead_ms": 0.1})
    r = cost.replica(fast, [(0, 0, 3), (0, 3, 6)], 1, False, 1)
    assert r.tpot_s == pytest.approx(367.921024e-6, rel=1e-12)
    r = cost.replica(fast, [(0, 0, 1), (0, 1, 6)], 1, False, 1)
    assert r.tpot_s == pytest.approx(451.54304e-6, rel=1e-12)
    assert r.throughput == pytest.approx(2 / 451.54304e-6, rel=1e-12)


def test_replica_throughput_is_p_b_over_tpot() -> None:
    """For any replica, throughput = p b / TPOT and TPOT = cycle(o, stages, hops)."""
    inst = instance(MOE, cost={"overhead_ms": 0.05})
    for stages in ([(0, 0, 6)], [(0, 0, 2), (0, 2, 6)], [(0, 0, 1), (0, 1, 4), (0, 4, 6)]):
        for batch in (1, 3, 16):
            r = cost.replica(inst, stages, 2, True, batch)
            assert r.tpot_s == pytest.approx(cost.cycle(0.05e-3, list(r.stage_s),
                                                         list(r.hop_s)), rel=1e-12)
            assert r.throughput == pytest.approx(len(stages) * batch / r.tpot_s, rel=1e-12)
            assert r.blocks_needed == len(stages) * batch * 40


# -- calibration against APEX's measured vLLM TPOT -------------------------------------------

MEDIANS = {8: 15.2, 4: 20.5, 2: 32.5}
"""APEX's measured vLLM decode TPOT (ms), Llama-3.1-70B on 8 H100, TP8 / DP2xTP4 / DP4xTP2:
medians over its six runs (README of ../shared/data/parplan)."""
LMSYS = {8: 14.1, 4: 19.9, 2: 31.7}
"""The same at lmsys 0.5 req/s (instances/llama3-70b_h100x8_lmsys05.json, reference)."""


def calibration(prompt: int = 62, output: int = 162) -> ParplanInstance:
    """Llama-3-70B on one node of 8 H100, the default cost constants."""
    return from_dict({"name": "calibration", "model": "llama-3-70b",
                      "cluster": {"nodes": [{"gpu": "H100", "count": 8}]},
                      "workload": {"prompt_tokens": prompt, "output_tokens": output}})


def predicted_tpot_ms(inst: ParplanInstance, tp: int) -> float:
    layers = inst.model.num_hidden_layers
    r = cost.replica(inst, [(0, 0, layers)], tp, False, 1)
    assert r.fits
    return r.tpot_s * 1e3


@pytest.mark.parametrize("tp", [8, 4, 2])
def test_calibration_llama_70b_h100(tp: int) -> None:
    """Prompt 62, output 162 (the lmsys trace's means), batch 1, one stage of TP ``tp``:
    the predicted TPOT within 5 % of both measured values."""
    predicted = predicted_tpot_ms(calibration(), tp)
    for measured in (MEDIANS[tp], LMSYS[tp]):
        assert abs(predicted / measured - 1) <= 0.05, (tp, predicted, measured)


@pytest.mark.data
def test_calibration_against_reference_instance(data_dir: Path) -> None:
    """The reference block of the shared instance: TP8 / DP2xTP4 / DP4xTP2 (and the 4- and
    2-GPU runs) within 5 % of the TPOT, the lmsys TTFTs within 10 % (what spec.py claims)."""
    path = data_dir / "parplan" / "instances" / "llama3-70b_h100x8_lmsys05.json"
    data = json.loads(path.read_text())
    work, ref = data["workload"], data["reference"]
    inst = calibration(round(work["prompt_tokens"]["mean"]),
                       round(work["output_tokens"]["mean"]))
    assert (inst.prompt_tokens, inst.output_tokens) == (62, 162)
    tpot = ref["measured_vllm_tpot_ms"]
    assert {"TP8", "DP2xTP4", "DP4xTP2"} <= set(tpot)
    for key, measured in tpot.items():
        found = re.search(r"TP(\d+)", key)
        assert found is not None, key
        predicted = predicted_tpot_ms(inst, int(found.group(1)))
        assert abs(predicted / measured - 1) <= 0.05, (key, predicted, measured)
    for key, measured in ref["measured_vllm_ttft_ms"].items():
        found = re.search(r"TP(\d+)", key)
        assert found is not None, key
        r = cost.replica(inst, [(0, 0, 80)], int(found.group(1)), False, 1)
        assert abs(r.ttft_s * 1e3 / measured - 1) <= 0.10, (key, r.ttft_s * 1e3, measured)


def test_shape_is_cached_per_model() -> None:
    """``shape`` is cached on the (frozen, hashable) ModelSpec: equal specs share one."""
    a = ModelSpec(**{**instance().model.to_dict()})
    assert cost.shape(a) is cost.shape(instance().model)
    assert math.isclose(float(np.sum(cost.shape(a).weights)), 6 * LAYER)
