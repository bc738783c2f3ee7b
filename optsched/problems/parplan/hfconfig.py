"""Read a Hugging Face ``config.json`` into a :class:`~.spec.ModelSpec`.

``model_type`` picks the mapping: Llama, Mistral, Qwen2 and Qwen3 are dense and
use the ModelSpec names as they are; Mixtral names its experts
``num_local_experts`` and their width ``intermediate_size``; Qwen2-MoE and
Qwen3-MoE name them ``num_experts`` and ``moe_intermediate_size`` (a shared
expert ``shared_expert_intermediate_size`` wide counts as that many experts of
the routed width); DeepSeek-V2/V3 use ``n_routed_experts``,
``n_shared_experts``, ``first_k_dense_replace`` and the MLA ranks. An unknown
``model_type`` falls back on which fields are present. ``num_experts_per_tok``
is ``top_k`` everywhere. ``head_dim`` is the field when present, else
``hidden_size / num_attention_heads``; for MLA it is ``v_head_dim`` (newer
DeepSeek configs carry a ``head_dim`` equal to the rope width: ignored).

An object with neither ``model_type`` nor ``architectures`` is a model written
in the ModelSpec names themselves (an inline model of an instance file, or an
entry of the bundled table); its keys are checked strictly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from optsched.errors import InputError, InstanceError
from optsched.fields import require_int, require_keys, require_str, type_name
from optsched.problems.parplan.spec import ModelSpec
from optsched.reading import parse_json, read_text

MOST_SIZE = 1 << 24
"""Largest width, vocabulary or count a config may give (bounds the work and memory)."""
MOST = {"num_hidden_layers": 1024, "num_layers": 1024, "n_layer": 1024}
"""Tighter limits: the layer split's tables grow with the square of the layers."""

KINDS = {"llama": "dense", "mistral": "dense", "qwen2": "dense", "qwen3": "dense",
         "mixtral": "mixtral", "qwen2_moe": "qwen_moe", "qwen3_moe": "qwen_moe",
         "deepseek_v2": "deepseek", "deepseek_v3": "deepseek"}
"""The ``model_type`` values read, and the mapping each takes."""

OWN_KEYS = (*(f.name for f in fields(ModelSpec)), "hf_repo")
"""Keys of a model written in ModelSpec names (``hf_repo`` is documentation only)."""

_RENAMED = {  # ModelSpec name -> the config's name, for messages
    "mixtral": {"experts": "num_local_experts", "top_k": "num_experts_per_tok",
                "moe_intermediate_size": "intermediate_size"},
    "qwen_moe": {"experts": "num_experts", "top_k": "num_experts_per_tok",
                 "first_dense": "mlp_only_layers"},
    "deepseek": {"experts": "n_routed_experts", "top_k": "num_experts_per_tok",
                 "shared_experts": "n_shared_experts", "first_dense": "first_k_dense_replace",
                 "head_dim": "v_head_dim"},
}

_NEEDS = {"hidden_size": "every layer's width", "intermediate_size": "the MLP",
          "num_hidden_layers": "the layer count", "num_attention_heads": "attention",
          "vocab_size": "the embedding and the LM head"}
"""Fields every model needs, and what for (for the messages)."""


def from_config(obj: Mapping[str, Any], name: str, where: str = "model") -> ModelSpec:
    """The :class:`ModelSpec` named ``name`` of a ``config.json`` object.

    Parameters
    ----------
    obj
        The parsed ``config.json``, or a model in ModelSpec field names (a
        ``name`` key there overrides ``name``).
    name
        The model's name in the spec.
    where
        Path of ``obj`` in its file, prefixed to the field of every error.

    Raises
    ------
    InstanceError
        A needed field is missing, or one is not a positive integer (or >= 0
        where 0 means "none"), or the fields contradict each other.
    """
    if not isinstance(obj, Mapping):
        raise InstanceError(where, f"must be a JSON object, got {type_name(obj)}")
    kind = _kind(obj, where)
    if kind == "own":
        return _own(obj, name, where)
    get = _Getter(obj, where)
    heads = get.count("num_attention_heads", _NEEDS["num_attention_heads"])
    spec: dict[str, Any] = {
        "hidden_size": get.count("hidden_size", _NEEDS["hidden_size"]),
        "num_hidden_layers": get.count("num_hidden_layers", _NEEDS["num_hidden_layers"]),
        "num_attention_heads": heads,
        "num_key_value_heads": get.count("num_key_value_heads", "attention", default=heads),
        "vocab_size": get.count("vocab_size", _NEEDS["vocab_size"]),
        "tie_word_embeddings": get.flag("tie_word_embeddings"),
    }
    spec.update(_MAPPINGS[kind](get))
    if "head_dim" not in spec:
        spec["head_dim"] = _head_dim(get, spec["hidden_size"], heads)
    model = ModelSpec(name=name, **spec)
    _check(model, where, _RENAMED.get(kind, {}))
    return model


def read_file(path: str | Path, name: str | None = None) -> ModelSpec:
    """The model of a ``config.json`` file (read within :mod:`optsched.reading`'s limits).

    ``name`` defaults to the folder's name for a file called ``config.json``,
    else to the file's stem; the spec's ``source`` is the path.
    """
    where = str(path)
    obj = parse_json(read_text(path, InstanceError), where, InstanceError)
    path = Path(path)
    label = name or (path.resolve().parent.name if path.name == "config.json" else path.stem)
    try:
        model = from_config(obj, label, where="")
    except InputError as exc:
        raise exc.within(where) from None
    return model if model.source else replace(model, source=where)


class _Getter:
    """Checked reads of one config object's fields."""

    def __init__(self, obj: Mapping[str, Any], where: str) -> None:
        self.obj = obj
        self.where = where

    def field(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def has(self, key: str) -> bool:
        return self.obj.get(key) is not None

    def count(self, key: str, need: str, minimum: int = 1, default: int | None = None) -> int:
        """``obj[key]``, an integer >= ``minimum``; ``default`` when absent or null."""
        if key not in self.obj or (self.obj[key] is None and default is not None):
            if default is None:
                raise InstanceError(self.field(key), f"is missing (needed for {need})")
            return default
        value = require_int(self.obj[key], self.field(key), minimum)
        most = MOST.get(key, MOST_SIZE)
        if value > most:
            raise InstanceError(self.field(key), f"must be at most {most}, got {value}")
        return value

    def flag(self, key: str) -> bool:
        value = self.obj.get(key, False)
        if not isinstance(value, bool):
            raise InstanceError(self.field(key), f"must be true or false, got {type_name(value)}")
        return value


def _kind(obj: Mapping[str, Any], where: str) -> str:
    model_type = obj.get("model_type")
    if model_type is None and "architectures" not in obj:
        return "own"
    if model_type is not None and not isinstance(model_type, str):
        raise InstanceError(f"{where}.model_type" if where else "model_type",
                            f"must be a string, got {type_name(model_type)}")
    if model_type in KINDS:
        return KINDS[model_type]
    if obj.get("kv_lora_rank") is not None:
        return "deepseek"
    if "num_local_experts" in obj:
        return "mixtral"
    return "qwen_moe" if "num_experts" in obj else "dense"


def _dense(get: _Getter) -> dict[str, Any]:
    return {"intermediate_size": get.count("intermediate_size", "the MLP")}


def _mixtral(get: _Getter) -> dict[str, Any]:
    width = get.count("intermediate_size", "the experts' width")
    return {"intermediate_size": width, "moe_intermediate_size": width,
            "experts": get.count("num_local_experts", "the MoE layers"),
            "top_k": get.count("num_experts_per_tok", "the MoE layers")}


def _qwen_moe(get: _Getter) -> dict[str, Any]:
    width = get.count("moe_intermediate_size", "the experts' width")
    shared = get.count("shared_expert_intermediate_size", "", minimum=0, default=0)
    if shared % width:
        raise InstanceError(get.field("shared_expert_intermediate_size"),
                            f"must be a multiple of moe_intermediate_size ({width}), got {shared}")
    if get.count("decoder_sparse_step", "", default=1) != 1:
        raise InstanceError(get.field("decoder_sparse_step"),
                            "must be 1: only a run of dense first layers is supported")
    dense = get.obj.get("mlp_only_layers") or []
    if not isinstance(dense, list) or dense != list(range(len(dense))):
        raise InstanceError(get.field("mlp_only_layers"),
                            "must be [0, 1, ..., k-1]: only a run of dense first layers is "
                            "supported")
    return {"experts": get.count("num_experts", "the MoE layers"),
            "top_k": get.count("num_experts_per_tok", "the MoE layers"),
            "moe_intermediate_size": width, "shared_experts": shared // width,
            "first_dense": len(dense),
            "intermediate_size": get.count("intermediate_size", "the dense layers",
                                           default=None if dense else width)}


def _deepseek(get: _Getter) -> dict[str, Any]:
    width = get.count("moe_intermediate_size", "the experts' width")
    first = get.count("first_k_dense_replace", "", minimum=0, default=0)
    if get.count("moe_layer_freq", "", default=1) != 1:
        raise InstanceError(get.field("moe_layer_freq"),
                            "must be 1: only a run of dense first layers is supported")
    mla = "multi-head latent attention"
    return {"experts": get.count("n_routed_experts", "the MoE layers"),
            "top_k": get.count("num_experts_per_tok", "the MoE layers"),
            "shared_experts": get.count("n_shared_experts", "", minimum=0, default=0),
            "moe_intermediate_size": width, "first_dense": first,
            "intermediate_size": get.count("intermediate_size", "the dense layers",
                                           default=None if first else width),
            "q_lora_rank": get.count("q_lora_rank", "", minimum=0, default=0),
            "kv_lora_rank": get.count("kv_lora_rank", mla),
            "qk_rope_head_dim": get.count("qk_rope_head_dim", mla),
            "qk_nope_head_dim": get.count("qk_nope_head_dim", mla),
            "v_head_dim": (v := get.count("v_head_dim", mla)), "head_dim": v}


_MAPPINGS = {"dense": _dense, "mixtral": _mixtral, "qwen_moe": _qwen_moe, "deepseek": _deepseek}


def _own(obj: Mapping[str, Any], name: str, where: str) -> ModelSpec:
    """A model written in ModelSpec names: unknown keys refused, optional ones default."""
    require_keys(obj, where, (), OWN_KEYS)
    get = _Getter(obj, where)
    values: dict[str, Any] = {k: get.count(k, need) for k, need in _NEEDS.items()}
    heads = values["num_attention_heads"]
    values["num_key_value_heads"] = get.count("num_key_value_heads", "", default=heads)
    values["head_dim"] = _head_dim(get, values["hidden_size"], heads)
    values["tie_word_embeddings"] = get.flag("tie_word_embeddings")
    for f in fields(ModelSpec):
        if f.name not in values and isinstance(f.default, int) and not isinstance(
                f.default, bool):
            values[f.name] = get.count(f.name, "", minimum=0, default=0)
    values["source"] = require_str(obj.get("source", ""), get.field("source"))
    require_str(obj.get("hf_repo", ""), get.field("hf_repo"))
    label = require_str(obj.get("name", name), get.field("name"))
    model = ModelSpec(name=label, **values)
    if model.is_moe:
        for key in ("top_k", "moe_intermediate_size"):
            get.count(key, "a model with experts", default=getattr(model, key) or None)
    if model.is_mla:
        for key in ("qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim"):
            get.count(key, "multi-head latent attention", default=getattr(model, key) or None)
    _check(model, where, {})
    return model


def _head_dim(get: _Getter, hidden: int, heads: int) -> int:
    if get.has("head_dim"):
        return get.count("head_dim", "attention")
    if hidden % heads:
        raise InstanceError(get.field("head_dim"), f"is missing (needed for attention) and "
                            f"hidden_size {hidden} is not a multiple of num_attention_heads "
                            f"{heads}")
    return hidden // heads


def _check(model: ModelSpec, where: str, renamed: Mapping[str, str]) -> None:
    """Cross-field rules; ``renamed`` gives the config's names for the messages."""

    def error(key: str, problem: str) -> InstanceError:
        key = renamed.get(key, key)
        return InstanceError(f"{where}.{key}" if where else key, problem)

    if model.num_attention_heads % model.num_key_value_heads:
        raise error("num_key_value_heads", f"must divide num_attention_heads "
                    f"({model.num_attention_heads}), got {model.num_key_value_heads}")
    if model.is_moe and not 1 <= model.top_k <= model.experts:
        raise error("top_k", f"must be between 1 and the number of experts ({model.experts}), "
                    f"got {model.top_k}")
    if model.first_dense > model.num_hidden_layers:
        raise error("first_dense", f"must be at most num_hidden_layers "
                    f"({model.num_hidden_layers}), got {model.first_dense}")
    if not model.is_moe and (model.top_k or model.first_dense or model.shared_experts):
        raise error("experts", "is 0 (a dense model) but top_k, first_dense or shared_experts "
                    "is set")
