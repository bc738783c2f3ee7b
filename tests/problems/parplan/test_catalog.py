"""The parplan tables (``models/*.json``), their look-ups, and the ``config.json`` reader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from optsched.errors import InputError, InstanceError
from optsched.problems.parplan import catalog, hfconfig
from optsched.problems.parplan.spec import COLLECTIVES, ModelSpec

MODELS = ("deepseek-v3", "llama-3-70b", "llama-3-8b", "llama-3.1-405b", "mixtral-8x7b",
          "qwen2.5-72b", "qwen3-235b-a22b")
GPUS = ("A100-SXM-40GB", "A100-SXM-80GB", "B200-180GB", "H100-SXM-80GB", "H200-SXM-141GB",
        "L40S-48GB", "MI300X-192GB")


# Parameter counts, research note section 4: no norms or biases, MoE routers included.

def attention(m: ModelSpec) -> int:
    """GQA: q, k, v, o projections; MLA: q_a, q_b, kv_a_with_mqa, kv_b, o."""
    h, nh = m.hidden_size, m.num_attention_heads
    if not m.is_mla:
        return h * nh * m.head_dim + 2 * h * m.num_key_value_heads * m.head_dim \
            + nh * m.head_dim * h
    qk = m.qk_nope_head_dim + m.qk_rope_head_dim
    q = h * m.q_lora_rank + m.q_lora_rank * nh * qk if m.q_lora_rank else h * nh * qk
    return q + h * (m.kv_lora_rank + m.qk_rope_head_dim) \
        + m.kv_lora_rank * nh * (m.qk_nope_head_dim + m.v_head_dim) + nh * m.v_head_dim * h


def expert(m: ModelSpec) -> int:
    """One SwiGLU expert: gate, up and down projections."""
    return 3 * m.hidden_size * m.moe_intermediate_size


def params(m: ModelSpec, active: bool = False) -> int:
    """All parameters (or those one token uses), embedding and LM head included."""
    h, layers = m.hidden_size, m.num_hidden_layers
    dense = m.first_dense if m.is_moe else layers
    total = layers * attention(m) + dense * 3 * h * m.intermediate_size
    if m.is_moe:
        routed = m.top_k if active else m.experts
        moe = (routed + m.shared_experts) * expert(m) + h * m.experts
        total += (layers - dense) * moe
    return total + m.vocab_size * h * (1 if m.tie_word_embeddings else 2)


def kv_bytes(m: ModelSpec, element: int = 2) -> int:
    """KV cache bytes per token: K and V per KV head, or MLA's one latent plus rope key."""
    if m.is_mla:
        return (m.kv_lora_rank + m.qk_rope_head_dim) * element * m.num_hidden_layers
    return 2 * m.num_hidden_layers * m.num_key_value_heads * m.head_dim * element


# -- the tables ------------------------------------------------------------------------------


def test_every_entry_loads() -> None:
    models, gpus = catalog.known_models(), catalog.known_gpus()
    assert sorted(models) == list(MODELS)
    assert sorted(gpus) == list(GPUS)
    for name, m in models.items():
        assert m.name == name and m.source
        assert m.is_moe == (name in ("mixtral-8x7b", "qwen3-235b-a22b", "deepseek-v3"))
        assert m.is_mla == (name == "deepseek-v3")
    for name, g in gpus.items():
        assert g.name == name and g.source and g.bf16_tflops > 0 and g.link_GBps > 0
        assert bool(g.fits) == name.startswith(("H100", "H200"))
        for op, by_n in g.fits.items():
            assert op in COLLECTIVES and set(by_n) <= {2, 4, 8}
    assert catalog.networks() == {"IB-NDR-400": (50.0, 5.0), "IB-HDR-200": (25.0, 5.0),
                                  "RoCE-400": (50.0, 8.0)}


def test_hand_counts() -> None:
    """Parameter counts worked by hand (they equal the reference data's ``params_total``).

    Llama-3-70B: attention 8192*64*128 + 2*8192*8*128 + 64*128*8192 = 150,994,944; MLP
    3*8192*28672 = 704,643,072; 80 layers of 855,638,016 = 68,451,041,280; embedding and
    head 2*128256*8192 = 2,101,346,304; total 70,552,387,584 (70,553,706,496 with the
    161 x 8192 norm weights, left out).
    Mixtral-8x7B: 32 x (41,943,040 + 8 x 176,160,768 + 4096*8) + 2*32000*4096 =
    46,702,526,464; active (2 experts) 12,879,659,008.
    Qwen3-235B-A22B: 94 x (71,303,168 + 128 x 18,874,368 + 4096*128) + 2*151936*4096 =
    235,092,836,352; active (8 experts) 22,189,965,312.
    DeepSeek-V3: 61 x 187,105,280 (MLA) + 3 x 396,361,728 (dense) + 58 x (257 x 44,040,192
    + 7168*256) + 2*129280*7168 = 671,025,397,760; active (8 + 1 experts) 37,551,276,032.
    """
    m = catalog.known_models()
    assert attention(m["llama-3-70b"]) == 150_994_944
    assert params(m["llama-3-70b"]) == 70_552_387_584
    assert params(m["mixtral-8x7b"]) == 46_702_526_464
    assert params(m["mixtral-8x7b"], active=True) == 12_879_659_008
    assert params(m["qwen3-235b-a22b"]) == 235_092_836_352
    assert params(m["qwen3-235b-a22b"], active=True) == 22_189_965_312
    assert attention(m["deepseek-v3"]) == 187_105_280
    assert params(m["deepseek-v3"]) == 671_025_397_760
    assert params(m["deepseek-v3"], active=True) == 37_551_276_032
    assert kv_bytes(m["llama-3-70b"]) == 327_680 and kv_bytes(m["deepseek-v3"]) == 70_272


_SHARED_NAMES = {"num_experts": "experts", "n_routed_experts": "experts",
                 "num_experts_per_tok": "top_k", "n_shared_experts": "shared_experts",
                 "first_k_dense_replace": "first_dense"}


@pytest.mark.data
def test_models_agree_with_reference_data(data_dir: Path) -> None:
    shared = json.loads((data_dir / "parplan" / "models.json").read_text())["models"]
    ours = catalog.known_models()
    assert sorted(e["name"] for e in shared) == sorted(ours)
    for entry in shared:
        m, derived = ours[entry["name"]], entry["derived"]
        for key, value in entry.items():
            key = _SHARED_NAMES.get(key, key)
            if hasattr(m, key) and key not in ("name", "source"):
                assert getattr(m, key) == value, (m.name, key)
        assert params(m) == derived["params_total"], m.name
        assert params(m, active=True) == derived["params_active"], m.name
        assert attention(m) == derived["params_attn_per_layer"], m.name
        assert kv_bytes(m) == derived["kv_bytes_per_token_bf16"], m.name
        if m.is_moe:
            assert expert(m) == derived["params_per_expert"], m.name


@pytest.mark.data
def test_gpus_agree_with_reference_data(data_dir: Path) -> None:
    shared = json.loads((data_dir / "parplan" / "gpus.json").read_text())
    for name, g in catalog.known_gpus().items():
        ref = shared["gpus"][name]
        assert (g.bf16_tflops, g.fp8_tflops) == (ref["bf16_dense_tflops"],
                                                 ref.get("fp8_dense_tflops", 0)), name
        assert (g.memory_gib, g.hbm_TBps) == (ref["hbm_gb"], ref["hbm_tbps"]), name
        bidir = ref.get("nvlink_gbps_bidir") or 7 * ref.get("xgmi_gbps_peer_bidir", 0)
        assert g.link_GBps == (bidir / 2 if bidir else 32), name
        fits = shared["collective_alpha_beta_fit"].get(name, {})
        assert g.fits == {op: {int(n): tuple(v) for n, v in by_n.items()}
                          for op, by_n in fits.items() if op != "units"}, name
    for name, (gbps, latency) in catalog.networks().items():
        ref = shared["network"][name]
        assert (gbps, latency) == (ref["gbps_per_nic_per_dir"], ref["latency_us"])


# -- look-ups --------------------------------------------------------------------------------


def test_lookup_by_alias_and_case() -> None:
    assert catalog.gpu("H100").name == "H100-SXM-80GB"
    assert catalog.gpu("h200-sxm-141gb").name == "H200-SXM-141GB"
    assert catalog.gpu("a100-40gb").name == "A100-SXM-40GB"
    assert catalog.model("Llama-3-70B").name == "llama-3-70b"
    assert catalog.model("deepseek-ai/DeepSeek-V3").name == "deepseek-v3"


def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(InstanceError) as info:
        catalog.model("llama-2")
    assert info.value.field == "model"
    assert info.value.problem == f"unknown model 'llama-2'; known: {', '.join(MODELS)}"
    with pytest.raises(InstanceError) as info:
        catalog.gpu("V100", field="cluster.nodes[2].gpu")
    assert info.value.field == "cluster.nodes[2].gpu"
    assert "unknown GPU 'V100'; known: A100-SXM-40GB (A100-40GB), " in info.value.problem
    with pytest.raises(InstanceError, match="must be a string naming a model"):
        catalog.model(7)  # type: ignore[arg-type]


def _write_tables(folder: Path, models: dict[str, Any], gpus: dict[str, Any]) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "models.json").write_text(json.dumps(
        {"schema": catalog.MODELS_SCHEMA, "models": models}))
    (folder / "gpus.json").write_text(json.dumps(
        {"schema": catalog.GPUS_SCHEMA, "gpus": gpus, "networks": {}}))


TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "vocab_size": 100, "source": "test"}
TOY_GPU = {"bf16_tflops": 1, "memory_gib": 1, "hbm_TBps": 1, "link_GBps": 0,
           "aliases": ["toy"], "source": "test"}


def test_override_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_tables(tmp_path, {"tiny": TINY}, {"Toy-1GB": TOY_GPU})
    monkeypatch.setenv(catalog.ENV, str(tmp_path))
    assert catalog.folder() == tmp_path
    assert list(catalog.known_models()) == ["tiny"]
    assert catalog.model("TINY").head_dim == 16
    assert catalog.gpu("toy").link_GBps == 0 and catalog.networks() == {}
    with pytest.raises(InstanceError, match="known: tiny$"):
        catalog.model("llama-3-70b")
    monkeypatch.delenv(catalog.ENV)
    assert "llama-3-70b" in catalog.known_models()


@pytest.mark.parametrize(("models", "gpus", "message"), [
    ({"tiny": {**TINY, "experts": -1}}, {}, "models.tiny.experts: must be an integer >= 0"),
    ({"tiny": {**TINY, "heads": 4}}, {}, "models.tiny.heads: is not a known key"),
    ({}, {"A": TOY_GPU, "B": TOY_GPU}, "gpus.B: name or alias 'toy' is taken by 'A'"),
    ({}, {"A": {**TOY_GPU, "hbm_TBps": 0}}, "gpus.A.hbm_TBps: must be > 0, got 0"),
    ({}, {"A": {**TOY_GPU, "fits": {"broadcast": {}}}}, "gpus.A.fits.broadcast: is not a"),
    ({}, {"A": {**TOY_GPU, "fits": {"send_recv": {"1": [1, 2]}}}},
     "gpus.A.fits.send_recv.1: must be a GPU count >= 2"),
])
def test_bad_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, models: dict[str, Any],
                    gpus: dict[str, Any], message: str) -> None:
    _write_tables(tmp_path, models, gpus)
    monkeypatch.setenv(catalog.ENV, str(tmp_path))
    with pytest.raises(InputError) as info:
        catalog.known_models()
        catalog.known_gpus()
    assert str(info.value).startswith(str(tmp_path))
    assert message in str(info.value)


def test_wrong_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_tables(tmp_path, {}, {})
    (tmp_path / "models.json").write_text('{"schema": "optsched.parplan.models/v0", '
                                          '"models": {}}')
    monkeypatch.setenv(catalog.ENV, str(tmp_path))
    with pytest.raises(InputError, match="schema: must be 'optsched.parplan.models/1'"):
        catalog.known_models()


# -- the config.json reader ------------------------------------------------------------------


def llama() -> dict[str, Any]:
    """Meta-Llama-3-8B's architecture fields (no head_dim: hidden / heads)."""
    return {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
            "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
            "num_key_value_heads": 8, "vocab_size": 128256, "tie_word_embeddings": False,
            "rope_theta": 500000.0, "torch_dtype": "bfloat16"}


def mixtral() -> dict[str, Any]:
    return {"model_type": "mixtral", "hidden_size": 4096, "intermediate_size": 14336,
            "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
            "num_local_experts": 8, "num_experts_per_tok": 2, "vocab_size": 32000,
            "sliding_window": None, "tie_word_embeddings": False}


def qwen3_moe() -> dict[str, Any]:
    return {"model_type": "qwen3_moe", "hidden_size": 4096, "intermediate_size": 12288,
            "moe_intermediate_size": 1536, "num_hidden_layers": 94, "num_attention_heads": 64,
            "num_key_value_heads": 4, "head_dim": 128, "num_experts": 128,
            "num_experts_per_tok": 8, "decoder_sparse_step": 1, "mlp_only_layers": [],
            "vocab_size": 151936, "tie_word_embeddings": False}


def deepseek_v3() -> dict[str, Any]:
    """DeepSeek-V3's fields; ``head_dim`` 64 as newer copies write it (the rope width)."""
    return {"model_type": "deepseek_v3", "hidden_size": 7168, "intermediate_size": 18432,
            "moe_intermediate_size": 2048, "num_hidden_layers": 61, "num_attention_heads": 128,
            "num_key_value_heads": 128, "n_routed_experts": 256, "n_shared_experts": 1,
            "num_experts_per_tok": 8, "first_k_dense_replace": 3, "moe_layer_freq": 1,
            "q_lora_rank": 1536, "kv_lora_rank": 512, "qk_rope_head_dim": 64,
            "qk_nope_head_dim": 128, "v_head_dim": 128, "head_dim": 64, "n_group": 8,
            "topk_group": 4, "vocab_size": 129280, "tie_word_embeddings": False}


CONFIGS = {"llama-3-8b": llama, "mixtral-8x7b": mixtral, "qwen3-235b-a22b": qwen3_moe,
           "deepseek-v3": deepseek_v3}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_config_gives_the_table_entry(name: str) -> None:
    read = hfconfig.from_config(CONFIGS[name](), name)
    table = catalog.model(name)
    assert read == ModelSpec(**{**table.to_dict(), "source": ""})


def test_config_fallbacks() -> None:
    no_kv = {k: v for k, v in llama().items() if k != "num_key_value_heads"}
    assert hfconfig.from_config(no_kv, "x").num_key_value_heads == 32
    unknown = {**mixtral(), "model_type": "mixtral_v9"}  # decided by its fields
    assert hfconfig.from_config(unknown, "x").experts == 8
    qwen2_moe = {**qwen3_moe(), "model_type": "qwen2_moe", "shared_expert_intermediate_size":
                 4 * 1536, "mlp_only_layers": [0, 1]}
    m = hfconfig.from_config(qwen2_moe, "x")
    assert (m.shared_experts, m.first_dense, m.intermediate_size) == (4, 2, 12288)
    v2_lite = {**deepseek_v3(), "model_type": "deepseek_v2", "q_lora_rank": None}
    assert hfconfig.from_config(v2_lite, "x").q_lora_rank == 0


def test_own_field_names() -> None:
    for name, m in catalog.known_models().items():
        assert hfconfig.from_config(m.to_dict(), "ignored") == m, name
    inline = {**TINY, "name": "mine", "experts": 4, "top_k": 1, "moe_intermediate_size": 32}
    m = hfconfig.from_config(inline, "x")
    assert (m.name, m.head_dim, m.num_key_value_heads, m.experts) == ("mine", 16, 4, 4)


def _without(obj: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != key}


@pytest.mark.parametrize(("config", "field"), [
    (_without(llama(), "hidden_size"), "hidden_size"),
    (_without(llama(), "intermediate_size"), "intermediate_size"),
    (_without(llama(), "num_hidden_layers"), "num_hidden_layers"),
    (_without(llama(), "num_attention_heads"), "num_attention_heads"),
    (_without(llama(), "vocab_size"), "vocab_size"),
    (_without(mixtral(), "num_local_experts"), "num_local_experts"),
    (_without(mixtral(), "num_experts_per_tok"), "num_experts_per_tok"),
    (_without(qwen3_moe(), "moe_intermediate_size"), "moe_intermediate_size"),
    (_without(qwen3_moe(), "num_experts"), "num_experts"),
    (_without(deepseek_v3(), "n_routed_experts"), "n_routed_experts"),
    (_without(deepseek_v3(), "kv_lora_rank"), "kv_lora_rank"),
    (_without(deepseek_v3(), "v_head_dim"), "v_head_dim"),
    (_without(deepseek_v3(), "intermediate_size"), "intermediate_size"),
    (_without(TINY, "vocab_size"), "vocab_size"),
    ({**TINY, "experts": 4}, "top_k"),
])
def test_missing_field(config: dict[str, Any], field: str) -> None:
    with pytest.raises(InstanceError) as info:
        hfconfig.from_config(config, "x")
    assert info.value.field == f"model.{field}"
    assert info.value.problem.startswith("is missing (needed for ")


@pytest.mark.parametrize(("config", "field", "problem"), [
    ({**llama(), "hidden_size": 0}, "hidden_size", "must be an integer >= 1, got 0"),
    ({**llama(), "num_hidden_layers": -2}, "num_hidden_layers", "must be an integer >= 1"),
    ({**llama(), "vocab_size": 128256.0}, "vocab_size", "must be an integer, got a float"),
    ({**llama(), "intermediate_size": "14336"}, "intermediate_size", "must be an integer"),
    ({**llama(), "num_attention_heads": True}, "num_attention_heads", "must be an integer"),
    ({**llama(), "hidden_size": None}, "hidden_size", "must be an integer, got null"),
    ({**llama(), "head_dim": 0}, "head_dim", "must be an integer >= 1, got 0"),
    ({**llama(), "hidden_size": 4000, "num_attention_heads": 48}, "head_dim", "is missing"),
    ({**llama(), "num_key_value_heads": 3}, "num_key_value_heads", "must divide"),
    ({**llama(), "tie_word_embeddings": "no"}, "tie_word_embeddings", "must be true or false"),
    ({**llama(), "model_type": 3}, "model_type", "must be a string"),
    ({**mixtral(), "num_experts_per_tok": 9}, "num_experts_per_tok", "must be between 1 and"),
    ({**mixtral(), "num_local_experts": 0}, "num_local_experts", "must be an integer >= 1"),
    ({**qwen3_moe(), "shared_expert_intermediate_size": 1000},
     "shared_expert_intermediate_size", "must be a multiple of moe_intermediate_size"),
    ({**qwen3_moe(), "mlp_only_layers": [3]}, "mlp_only_layers", "must be [0, 1, ..., k-1]"),
    ({**qwen3_moe(), "decoder_sparse_step": 2}, "decoder_sparse_step", "must be 1"),
    ({**deepseek_v3(), "moe_layer_freq": 2}, "moe_layer_freq", "must be 1"),
    ({**deepseek_v3(), "n_shared_experts": -1}, "n_shared_experts", "must be an integer >= 0"),
    ({**deepseek_v3(), "first_k_dense_replace": 62}, "first_k_dense_replace",
     "must be at most num_hidden_layers (61)"),
    ({**TINY, "top_k": 2}, "experts", "is 0 (a dense model)"),
    ({**TINY, "num_experts": 8}, "num_experts", "is not a known key"),
    ({**TINY, "source": 5}, "source", "must be a string"),
])
def test_bad_field(config: dict[str, Any], field: str, problem: str) -> None:
    with pytest.raises(InstanceError) as info:
        hfconfig.from_config(config, "x")
    assert info.value.field == f"model.{field}"
    assert problem in info.value.problem


def test_not_an_object() -> None:
    with pytest.raises(InstanceError, match="^model: must be a JSON object, got a list"):
        hfconfig.from_config([], "x")  # type: ignore[arg-type]


def test_read_file(tmp_path: Path) -> None:
    path = tmp_path / "Meta-Llama-3-8B" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(llama()))
    m = hfconfig.read_file(path)
    assert (m.name, m.source, m.head_dim) == ("Meta-Llama-3-8B", str(path), 128)
    assert hfconfig.read_file(path, name="l3").name == "l3"
    path.write_text(json.dumps(_without(llama(), "vocab_size")))
    with pytest.raises(InstanceError, match=f"^{path}: vocab_size: is missing"):
        hfconfig.read_file(path)
    path.write_text("{")
    with pytest.raises(InstanceError, match=f"^{path}: is not valid JSON"):
        hfconfig.read_file(path)
    with pytest.raises(InstanceError, match="no such file"):
        hfconfig.read_file(tmp_path / "absent.json")
