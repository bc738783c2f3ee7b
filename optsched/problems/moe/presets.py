"""Model presets of the moe family: the routed experts of four public MoE models.

Each value comes from the model's own ``config.json`` (or DeepSeek's own config and
report); the ``source`` of a preset names the file and commit it was read from.
An expert is a SwiGLU MLP of three ``hidden x expert_intermediate`` matrices, so
``expert_bytes = 3 * hidden * expert_intermediate * bytes_per_weight``;
``token_bytes = hidden * bytes_per_activation`` (one token's dispatch message).

================  ======  =======  =====  ==============  ===========  ======
preset            layers  experts  top_k  expert_bytes    token_bytes  groups
================  ======  =======  =====  ==============  ===========  ======
mixtral-8x7b      32      8        2      352,321,536     8,192        1
qwen3-30b-a3b     48      128      8      9,437,184       4,096        1
qwen3-235b-a22b   94      128      8      37,748,736      8,192        1
deepseek-v3       58      256      8      44,040,192      7,168        8
================  ======  =======  =====  ==============  ===========  ======

- Mixtral-8x7B: every one of the 32 layers is MoE; bf16 weights (3 * 4096 * 14336 * 2)
  and bf16 tokens (4096 * 2).
- Qwen3-30B-A3B and Qwen3-235B-A22B: every layer is MoE (``decoder_sparse_step`` 1,
  no ``mlp_only_layers``), no shared experts, bf16 (3 * 2048 * 768 * 2 and
  3 * 4096 * 1536 * 2; tokens 2048 * 2 and 4096 * 2).
- DeepSeek-V3: layers 3..60 of 61 are MoE (``first_k_dense_replace`` 3; the MTP
  layer is left out); the one shared expert is always active and never dispatched,
  so it is left out too. Weights are fp8 e4m3 (3 * 7168 * 2048 bytes, without the
  10,752 B of block scales); dispatch is fp8 (7168 B of payload; DeepEP adds 224 B
  of scales and a 16 B header; the combine is bf16, 14,336 B). The 256 experts form
  8 groups of 32 (``n_group``; a token reaches at most ``topk_group`` = 4 of them).
"""

from __future__ import annotations

from dataclasses import dataclass

from optsched.errors import InputError


@dataclass(frozen=True)
class Preset:
    """The routed experts of one model: the ``model`` object of a moe instance."""

    name: str
    layers: int
    """MoE layers (dense layers and multi-token-prediction layers left out)."""
    experts: int
    """Routed experts per MoE layer (shared experts left out)."""
    top_k: int
    expert_bytes: int
    """Bytes of one routed expert's weights, in the released dtype."""
    token_bytes: int
    """Bytes of one token's hidden state as dispatched to an expert."""
    groups: int
    """Expert groups of group-limited routing (1: none)."""
    source: str


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("mixtral-8x7b", 32, 8, 2, 352_321_536, 8_192, 1,
           "mistralai/Mixtral-8x7B-Instruct-v0.1 config.json (same architecture as the base "
           "model), https://huggingface.co/mistralai/Mixtral-8x7B-Instruct-v0.1/blob/"
           "eba92302a2861cdc0098cc54bc9f17cb2c47eb61/config.json; all layers MoE per "
           "huggingface/transformers src/transformers/models/mixtral/"
           "convert_mixtral_weights_to_hf.py @ ae19f01e6d4e3da006db0f79db2de097ea12c29d"),
    Preset("qwen3-30b-a3b", 48, 128, 8, 9_437_184, 4_096, 1,
           "Qwen/Qwen3-30B-A3B config.json, verbatim copy https://github.com/alibaba/InferSim/"
           "blob/c1c36d6534170a993fecb4d1d0709022c4e2226d/hf_configs/"
           "qwen3-30B-A3B_config.json; Qwen3 Technical Report (arXiv 2505.09388) Table 2"),
    Preset("qwen3-235b-a22b", 94, 128, 8, 37_748_736, 8_192, 1,
           "Qwen/Qwen3-235B-A22B config.json (MoE fields as the -Instruct-2507 copy "
           "https://github.com/alibaba/InferSim/blob/7cf43ea4a89c154518569193cc4e573587c2fd5b/"
           "hf_configs/qwen3-235B-A22B_config.json); Qwen3 Technical Report (arXiv "
           "2505.09388) Table 2"),
    Preset("deepseek-v3", 58, 256, 8, 44_040_192, 7_168, 8,
           "https://github.com/deepseek-ai/DeepSeek-V3/blob/"
           "9b4e9788e4a3a731f7567338ed15d3ec549ce03b/inference/configs/config_671B.json "
           "(61 layers, 3 dense, 256 routed experts, top-8, 8 groups, fp8); fp8 dispatch: "
           "deepseek-ai/DeepEP docs/legacy.md @ dd758caf451848bd150e1046af3d0a73e5fff38d"),
)}
"""The presets by name."""


def preset_names() -> tuple[str, ...]:
    """The names of the presets."""
    return tuple(PRESETS)


def get(name: str) -> Preset:
    """The preset called ``name``; an unknown name raises :class:`InputError` on ``preset``."""
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError("preset", f"unknown preset {name!r} (known: "
                                   f"{', '.join(PRESETS)})") from None
