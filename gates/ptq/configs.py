"""What a checkpoint's JSON files say: its quantization declarations and its model config drift.

Two places declare quantization in a modelopt export: `hf_quant_config.json`
(`{"quantization": {quant_algo, kv_cache_quant_algo, exclude_modules, quantized_layers}}`) and
the `quantization_config` section of `config.json` (`quant_algo`, `ignore`, `kv_cache_scheme`),
which is what vLLM and transformers read. `config_drift` compares the rest of config.json with
the source's, after normalising what only the transformers version changes (rope layout, the
`torch_dtype` -> `dtype` rename, an explicit `head_dim`).
"""

from __future__ import annotations

import json
from typing import Any, Callable, Literal, Optional

from gates.ptq.models import ConfigDrift, Declaration, DeclarationFile
from gates.recipes import matcher

MIXED = "MIXED_PRECISION"

# differences in these keys say nothing about the model
COSMETIC_KEYS = frozenset({
    "transformers_version", "_name_or_path", "_commit_hash", "quantization_config", "use_cache",
    "output_attentions", "output_hidden_states", "return_dict", "torchscript",
    "_attn_implementation", "_attn_implementation_autoset",
})
# keys that change the architecture or a tensor shape: a server builds a different network
SHAPE_KEYS = frozenset({
    "architectures", "model_type", "vocab_size", "hidden_size", "intermediate_size",
    "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
    "tie_word_embeddings", "attention_bias", "mlp_bias", "num_experts", "num_local_experts",
    "n_routed_experts", "n_shared_experts", "moe_intermediate_size", "shared_expert_intermediate_size",
    "num_experts_per_tok", "first_k_dense_replace", "kv_lora_rank", "q_lora_rank", "qk_rope_head_dim",
    "qk_nope_head_dim", "v_head_dim", "layer_types", "mlp_only_layers", "num_nextn_predict_layers",
    "n_layer", "n_embd", "n_head", "n_positions", "d_model", "ffn_dim", "num_layers",
})
NARROWING = {("float32", "bfloat16"), ("float32", "float16")}  # exporting unquantized parts in 16 bits
VALUE_CAP = 200
# kv_cache_scheme (type, num_bits) -> the name hf_quant_config gives it
KV_SCHEMES: dict[tuple[Any, Any], str] = {("float", 8): "FP8", ("int", 8): "INT8", ("float", 4): "NVFP4"}


def _kv_algo(value: Any) -> Optional[str]:
    """config.json's kv_cache_scheme ({type, num_bits}) or a plain name, as hf_quant_config spells it."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        kind, bits = value.get("type"), value.get("num_bits")
        return KV_SCHEMES.get((kind, bits), json.dumps(value))
    return json.dumps(value)


def _str_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} must be a list of strings")
    return value


def _layers(value: Any) -> tuple[Optional[dict[str, str]], list[str]]:
    if value is None:
        return None, []
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ValueError("quantized_layers must map layer names to {quant_algo: ...}")
    algos = {k: str(v.get("quant_algo")) for k, v in value.items()}
    return algos, sorted(set(algos.values()))


def declaration(file: DeclarationFile, section: dict[str, Any]) -> tuple[Declaration, Optional[dict[str, str]]]:
    """One declaration and its per-layer algorithms (MIXED_PRECISION); ValueError when malformed."""
    algo = section.get("quant_algo")
    if algo is not None and not isinstance(algo, str):
        raise ValueError("quant_algo must be a string or null")
    method = section.get("quant_method")
    excl = _str_list(section.get("exclude_modules", section.get("ignore")), "exclude_modules/ignore")
    layers, algos = _layers(section.get("quantized_layers"))
    kv = section.get("kv_cache_quant_algo", section.get("kv_cache_scheme"))
    return Declaration(file=file, quant_method=method if isinstance(method, str) else None, quant_algo=algo,
                       kv_cache_quant_algo=_kv_algo(kv), exclude_modules=excl,
                       quantized_layers=None if layers is None else len(layers),
                       quantized_layer_algos=algos), layers


def declared_resolver(decl: Optional[Declaration], layers: Optional[dict[str, str]]) -> Callable[[str], Optional[str]]:
    """module -> the algorithm the declaration assigns to it; None means 'left unquantized'."""
    if decl is None or decl.quant_algo is None:
        return lambda module: None
    if decl.quant_algo == MIXED:
        table = layers or {}

        def mixed(module: str) -> Optional[str]:
            parts = module.split(".")  # an entry for a parent module covers its children
            return next((table[p] for p in (".".join(parts[:i]) for i in range(len(parts), 0, -1)) if p in table), None)
        return mixed
    algo = decl.quant_algo
    excluded = matcher(tuple(decl.exclude_modules) + tuple(p + ".*" for p in decl.exclude_modules))
    return lambda module: None if excluded(module) else algo


def _normalise(cfg: dict[str, Any]) -> dict[str, Any]:
    d = {k: v for k, v in cfg.items() if k not in COSMETIC_KEYS}
    if "torch_dtype" in d:
        d.setdefault("dtype", d.pop("torch_dtype"))
    if "rope_parameters" not in d and ("rope_theta" in d or "rope_scaling" in d):
        rp = dict(d.pop("rope_scaling", None) or {})
        rp["rope_type"] = rp.pop("type", rp.get("rope_type", "default"))
        if "rope_theta" in d:
            rp["rope_theta"] = d.pop("rope_theta")
        d["rope_parameters"] = rp
    elif "rope_parameters" in d:
        theta = d.pop("rope_theta", None)
        d.pop("rope_scaling", None)
        if isinstance(d["rope_parameters"], dict) and theta is not None:
            d["rope_parameters"] = {"rope_theta": theta, **d["rope_parameters"]}
    if ("head_dim" not in d and isinstance(d.get("hidden_size"), int)
            and isinstance(d.get("num_attention_heads"), int) and d["num_attention_heads"] > 0):
            d["head_dim"] = d["hidden_size"] // d["num_attention_heads"]
    return d


def _show(v: Any) -> str:
    text = json.dumps(v, sort_keys=True, default=str)
    return text if len(text) <= VALUE_CAP else text[: VALUE_CAP - 3] + "..."


def config_drift(src: dict[str, Any], exp: dict[str, Any], prefix: str = "") -> tuple[list[ConfigDrift], list[str]]:
    """Keys whose values differ beyond the quantization section, and the differences allowed."""
    s, e = _normalise(src), _normalise(exp)
    drift, allowed = [], []
    for key in sorted(set(s) | set(e)):
        a, b, path = s.get(key), e.get(key), prefix + key
        if isinstance(a, dict) and isinstance(b, dict) and key != "rope_parameters":
            sub, ok = config_drift(a, b, path + ".")
            drift += sub
            allowed += ok
        elif a != b:
            if key == "dtype" and (a, b) in NARROWING:
                allowed.append(f"{path}: {a} -> {b} (unquantized tensors narrowed on export)")
                continue
            kind: Literal["shape", "behaviour"] = "shape" if key in SHAPE_KEYS else "behaviour"
            drift.append(ConfigDrift(key=path, source=_show(a), export=_show(b), kind=kind))
    return drift, allowed
