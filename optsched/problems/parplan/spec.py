"""What the cost model knows of a model and a GPU: :class:`ModelSpec`, :class:`GpuSpec`.

A :class:`ModelSpec` holds the Hugging Face ``config.json`` fields the cost
model needs, under the names of a Llama config (a reader maps other
architectures' names onto them: :mod:`.hfconfig`). A :class:`GpuSpec` holds a
GPU's vendor figures and, where they were measured, alpha-beta fits of its
collectives. Both are plain frozen data; every formula is in :mod:`.cost`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


def changed(obj: Any, keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields of dataclass ``obj`` that differ from their defaults (and those in ``keep``)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)
            if f.name in keep or getattr(obj, f.name) != f.default}


COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "send_recv")


@dataclass(frozen=True)
class ModelSpec:
    """A decoder-only transformer, dense or mixture-of-experts, GQA or MLA attention.

    ``experts`` is 0 for a dense model. The first ``first_dense`` layers of a
    MoE model are dense (DeepSeek's ``first_k_dense_replace``) with
    ``intermediate_size``; the others route each token to ``top_k`` of
    ``experts`` experts of width ``moe_intermediate_size`` and always run
    ``shared_experts`` more of that width. ``kv_lora_rank > 0`` means
    multi-head latent attention (MLA, DeepSeek-V2/V3), whose query and key
    head widths are ``qk_nope_head_dim + qk_rope_head_dim``.
    """

    name: str
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    vocab_size: int
    tie_word_embeddings: bool = False
    experts: int = 0
    top_k: int = 0
    moe_intermediate_size: int = 0
    shared_experts: int = 0
    first_dense: int = 0
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    qk_nope_head_dim: int = 0
    v_head_dim: int = 0
    source: str = ""

    @property
    def is_moe(self) -> bool:
        """True when some layers route tokens to experts."""
        return self.experts > 0

    @property
    def is_mla(self) -> bool:
        """True for multi-head latent attention."""
        return self.kv_lora_rank > 0

    def is_moe_layer(self, layer: int) -> bool:
        """True when ``layer`` (0-based) is a MoE layer."""
        return self.is_moe and layer >= self.first_dense

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (fields at their defaults left out)."""
        return changed(self, keep=_REQUIRED)


_REQUIRED = ("name", "hidden_size", "intermediate_size", "num_hidden_layers",
             "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size")


@dataclass(frozen=True)
class GpuSpec:
    """One GPU model: dense peak FLOP/s, HBM size and bandwidth, links, collective fits.

    ``memory_gib`` is the nominal size read as GiB (an "80 GB" H100 shows
    81,559 MiB in ``nvidia-smi``). ``fits[op][n]`` is ``(alpha_us,
    busbw_GBps)`` of ``op`` over ``n`` GPUs of one node; a GPU without fits
    uses its link (:mod:`.cost`).
    """

    name: str
    bf16_tflops: float
    memory_gib: float
    hbm_TBps: float  # noqa: N815 - the unit is part of the name
    fp8_tflops: float = 0.0
    link_GBps: float = 0.0  # noqa: N815
    """Per-direction bandwidth from one GPU to the others of its node, whatever the link."""
    fits: Mapping[str, Mapping[int, tuple[float, float]]] = field(default_factory=dict,
                                                                  hash=False)
    source: str = ""

    def tflops(self, precision: str) -> float:
        """Dense peak TFLOP/s of the weights' precision (fp8 falls back to bf16's)."""
        if precision == "fp8" and self.fp8_tflops > 0:
            return self.fp8_tflops
        return self.bf16_tflops

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (``fits`` with string keys, as JSON needs)."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)
                               if f.name != "fits"}
        if self.fits:
            out["fits"] = {op: {str(n): list(v) for n, v in by_n.items()}
                           for op, by_n in self.fits.items()}
        return out


@dataclass(frozen=True)
class CostParams:
    """The cost model's calibrated constants (an instance's ``cost`` object overrides them).

    ``eff_hbm`` and ``overhead_ms`` were fitted (min-max relative error) to
    APEX's measured vLLM decode TPOT of Llama-3.1-70B on 8 H100, TP8 / DP2xTP4 /
    DP4xTP2, both the medians over its six runs (15.2 / 20.5 / 32.5 ms) and the
    lmsys 0.5 req/s means (14.1 / 19.9 / 31.7 ms): every point within 3.8 %;
    ``ttft_overhead_ms`` to the lmsys TTFTs (38.0 / 39.7 / 49.4 ms) within 10 %
    (``docs/methods/parplan.md``, section 3).
    """

    eff_compute: float = 0.7
    eff_hbm: float = 0.80
    overhead_ms: float = 5.2
    """Framework time per iteration of a micro-batch (scheduler, sampling, launches)."""
    ttft_overhead_ms: float = 19.0
    """Time to first token beyond the prefill itself (HTTP, tokenisation, the running step)."""
    gpu_mem_util: float = 0.9
    """vLLM's ``gpu_memory_utilization``: the share of a GPU's memory it may use."""
    reserve_gib: float = 2.0
    """Activations, workspace and communication buffers per GPU."""
    kv_block_tokens: int = 16
    alpha_us: float = 10.0
    """Start-up time of a collective on a GPU without measured fits."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the values that differ from the defaults."""
        return changed(self)
