"""The quantize runner: nvidia-modelopt PTQ of one HF checkpoint, exported with export_hf_checkpoint.

    python -m skills.quantize.run --input args.json --out-dir DIR [--workspace W]

args.json is a QuantizeInput. Writes, in DIR: result.json (a SkillResult, always, atomically),
<out_name>/ (the export: weights, config, hf_quant_config.json, tokenizer, generation config),
simulated_state.pt (see simulated.py), unpackable_layers.json (when the block pre-check fails).

stdout: the log, with machine-readable progress lines `PROGRESS <fraction 0..1> <message>`.
Exit code: 0 ok, 1 a failure classified in result.json, 2 bad command line (argparse; no result.json).
Order, so that nothing slow runs before a cheap refusal: recipe -> hardware -> source -> model ->
coverage and block pre-check -> calibration -> held-out loss -> simulated state -> export.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from conductor.fsutil import atomic_write_json, atomic_write_text
from conductor.skill import RESULT_FILE, SkillResult
from skills.quantize import plan
from skills.quantize.models import QuantizeInput
from skills.quantize.plan import Failure

COPY_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
              "added_tokens.json", "chat_template.jinja", "chat_template.json", "vocab.json", "merges.txt",
              "generation_config.json", "preprocessor_config.json")
PROVENANCE = "conductor_quantization.json"
CALIB_TOKENS_PER_BATCH = 1024


class Stop(Exception):
    """A classified failure: ends the run with result.json ok=false."""

    def __init__(self, failure: Failure):
        super().__init__(failure.error)
        self.failure = failure


def progress(fraction: float, message: str) -> None:
    print(f"PROGRESS {max(0.0, min(1.0, fraction)):.3f} {message}", flush=True)


class Steps:
    """Progress lines plus the wall time of each step (data.timings_s)."""

    def __init__(self, t0: float):
        self.t, self.name, self.done = t0, "startup", {}

    def __call__(self, name: str, fraction: float, message: str) -> None:
        now = time.monotonic()
        self.done[self.name] = round(self.done.get(self.name, 0.0) + now - self.t, 2)
        self.t, self.name = now, name
        progress(fraction, message)


def log(message: str) -> None:
    print(message, flush=True)


def write_result(out_dir: Path, result: SkillResult) -> None:
    atomic_write_json(out_dir / RESULT_FILE, result.model_dump(mode="json"))


def resolve_source(source: str) -> Path:
    """A checkpoint directory; `embedded:<name>` builds (once) and returns the embedded model's."""
    if source.startswith(plan.EMBEDDED_PREFIX):
        from skills._embedded import smollm2

        name = source[len(plan.EMBEDDED_PREFIX):]
        if name != smollm2.EMBEDDED_NAME:
            raise Stop(Failure("USER_CONFIG_ERROR", f"unknown embedded model {name!r}; known: {smollm2.EMBEDDED_NAME}"))
        try:
            return smollm2.ensure_checkpoint(log=log)
        except smollm2.EmbeddedModelError as exc:
            raise Stop(Failure("USER_CONFIG_ERROR", str(exc))) from None
    p = Path(source).expanduser().absolute()
    if not (p / "config.json").is_file():
        raise Stop(Failure("USER_CONFIG_ERROR", f"source {str(p)!r} is not a Hugging Face checkpoint directory "
                                                "(no config.json)"))
    if not any(p.glob("*.safetensors")) and not any(p.glob("*.bin")):
        raise Stop(Failure("USER_CONFIG_ERROR", f"source {str(p)!r} holds no weights (*.safetensors)"))
    return p


def default_out_name(source: str, recipe_name: str) -> str:
    base = source[len(plan.EMBEDDED_PREFIX):] if source.startswith(plan.EMBEDDED_PREFIX) else Path(source).name
    safe = "".join(c if c.isalnum() or c in "_.-" else "-" for c in base).strip(".-") or "model"
    return f"{safe}-{recipe_name}"


# ------------------------------------------------------------------ the steps


def check_hardware(recipe: plan.Recipe) -> str:
    import torch

    cuda = torch.cuda.is_available()
    if recipe.needs_cuda and not cuda:
        raise Stop(Failure("HARDWARE_UNAVAILABLE", plan.cuda_reason(recipe), {"needs_cuda": True, "cuda": False}))
    return "cuda" if cuda else "cpu"


def load_model(source: Path, device: str) -> tuple[Any, Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # bf16 on a GPU; float32 on a CPU, where bf16 matmuls are emulated (7x slower on this machine's
    # AVX2 cores). The export is bf16 either way (export_hf_checkpoint(dtype=bfloat16)).
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    tok = AutoTokenizer.from_pretrained(str(source))
    model = AutoModelForCausalLM.from_pretrained(str(source), dtype=dtype)
    model.to(device).eval()
    return model, tok, dtype


def source_dtype(source: Path) -> Any:
    """The dtype the export stores unquantized tensors in: the source's when it is 16-bit, else bfloat16.

    Passed explicitly: transformers 5 keeps config.dtype as a string and export_hf_checkpoint crashes
    without it; and the model here may have been loaded in float32 for CPU speed.
    """
    import torch

    try:
        cfg = json.loads((source / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cfg = {}
    name = cfg.get("dtype") or cfg.get("torch_dtype")
    return torch.float16 if name == "float16" else torch.bfloat16


def weight_modules(model: Any) -> list[plan.ModuleInfo]:
    import torch

    out = []
    for name, m in model.named_modules():
        w = getattr(m, "weight", None)
        if name and isinstance(w, torch.Tensor) and w.dim() >= 2:
            lin = isinstance(m, torch.nn.Linear)
            out.append(plan.ModuleInfo(name, type(m).__name__, m.in_features if lin else None,
                                       m.out_features if lin else None))
    return out


def forward_kwargs(model: Any) -> dict[str, Any]:
    """No KV cache, and logits for the last position only (the lm_head is excluded by every shipped
    recipe, and its 49k-wide output would be a fifth of the calibration cost), where the model takes them."""
    import inspect

    params = inspect.signature(model.forward).parameters
    kw: dict[str, Any] = {}
    if "use_cache" in params:
        kw["use_cache"] = False
    if "logits_to_keep" in params:
        kw["logits_to_keep"] = 1
    return kw


def forward_loop_factory(ids: Any, device: str, passes: int, batch: int, kwargs: dict[str, Any]):
    import torch

    state = {"pass": 0}
    n = ids.shape[0]
    every = max(1, n // 50)

    def loop(model: Any) -> None:
        state["pass"] += 1
        p = state["pass"]
        with torch.no_grad():
            for i in range(0, n, batch):
                model(ids[i:i + batch].to(device), **kwargs)
                done = min(n, i + batch)
                if done == n or (done // every) != (i // every):
                    frac = (min(p, passes) - 1 + done / n) / passes
                    progress(0.20 + 0.55 * frac, f"calibrating {done}/{n}" + (f" (pass {p})" if passes > 1 else ""))
    return loop


def heldout_nll(model: Any, ids: Any, device: str) -> float:
    import torch

    kw = {k: v for k, v in forward_kwargs(model).items() if k != "logits_to_keep"}
    with torch.no_grad():
        out = model(ids.to(device), labels=ids.to(device), **kw)
    return round(float(out.loss), 5)


def verify_state(path: Path, held_ids: Any, expected: float, device: str) -> dict[str, Any]:
    """Rebuild the fake-quantized model from the saved state, as an evaluator would, and check that it
    gives the same held-out loss as the calibrated model in memory."""
    from skills.quantize import simulated

    t = time.monotonic()
    try:
        model = simulated.load_simulated_model(path, device=device)
        got = heldout_nll(model, held_ids, device)
        del model
    except Exception as exc:  # recorded, not fatal: the export itself does not depend on it
        log(f"WARNING: the simulated state does not reload: {type(exc).__name__}: {exc}")
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    ok = abs(got - expected) <= 1e-4
    if not ok:
        log(f"WARNING: reloaded simulated state gives held-out loss {got}, the calibrated model {expected}")
    return {"ok": ok, "heldout_nll": got, "seconds": round(time.monotonic() - t, 2)}


def quant_summary(model: Any) -> dict[str, Any]:
    """Modules whose weight quantizer modelopt enabled (the same count mtq.print_quant_summary lists)."""
    from modelopt.torch.quantization.nn import SequentialQuantizer, TensorQuantizer

    def on(q: Any) -> bool:
        if isinstance(q, SequentialQuantizer):
            return any(getattr(x, "is_enabled", False) for x in q)
        return isinstance(q, TensorQuantizer) and q.is_enabled

    weights, inputs, kv = [], 0, 0
    for name, m in model.named_modules():
        if on(getattr(m, "weight_quantizer", None)):
            weights.append(name)
        if on(getattr(m, "input_quantizer", None)):
            inputs += 1
        kv += sum(1 for a in ("k_bmm_quantizer", "v_bmm_quantizer") if on(getattr(m, a, None)))
    return {"layers_quantized": len(weights), "input_quantizers": inputs, "kv_quantizers": kv,
            "quantized_examples": weights[:5]}


def round_to_export_precision(model: Any, dtype: Any) -> None:
    """Round the weights (and pre_quant_scale) of a model calibrated in float32 to the values the
    export will store, keeping float32 storage: the simulated model then computes with the weights
    that ship. SmoothQuant and AWQ rescale weights in place; the source's own weights are already
    exact in `dtype`, so for them this is a no-op."""
    import torch
    from modelopt.torch.quantization.nn import SequentialQuantizer, TensorQuantizer

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (TensorQuantizer, SequentialQuantizer)):
                b = getattr(m, "_pre_quant_scale", None)
                if isinstance(b, torch.Tensor) and b.dtype != dtype:
                    b.copy_(b.to(dtype))
                continue
            for p in m.parameters(recurse=False):
                if p.is_floating_point() and p.dtype != dtype:
                    p.copy_(p.to(dtype))


def cast_parameters(model: Any, dtype: Any) -> None:
    """Cast every parameter (weights, biases, norms, embeddings) and the quantizers' pre_quant_scale
    to the export dtype; the calibrated amax buffers keep their float32 precision.

    export_hf_checkpoint(dtype=...) applies `dtype` to the quantized layers' processing only: a model
    calibrated in float32 on a CPU would otherwise ship float32 embeddings and norms (twice the
    bytes of the source). pre_quant_scale multiplies activations in the forward pass the export runs,
    so it must match them (a bf16 calibration holds it in bf16 too).
    """
    from modelopt.torch.quantization.nn import SequentialQuantizer, TensorQuantizer

    for m in model.modules():
        if isinstance(m, (TensorQuantizer, SequentialQuantizer)):
            for name, b in m.named_buffers(recurse=False):
                if name == "_pre_quant_scale" and b.dtype != dtype:
                    setattr(m, name, b.to(dtype))
            continue
        for p in m.parameters(recurse=False):
            if p.is_floating_point() and p.dtype != dtype:
                p.data = p.data.to(dtype)


def fix_config_dtype(export: Path, dtype: Any) -> None:
    """save_pretrained records the in-memory parameter dtype (float32 when calibrated on a CPU); the
    unquantized tensors are stored in `dtype`, so config.json must say that (a server reads it)."""
    path = export / "config.json"
    cfg = json.loads(path.read_text(encoding="utf-8"))
    name = str(dtype).replace("torch.", "")
    for key in ("dtype", "torch_dtype"):
        if key in cfg:
            cfg[key] = name
    atomic_write_text(path, json.dumps(cfg, indent=2, sort_keys=False) + "\n")


def copy_server_files(source: Path, export: Path) -> list[str]:
    """Tokenizer, chat template and generation config from the source: export_hf_checkpoint writes none
    of the tokenizer files, and a server (and the ptq gate) needs them."""
    copied = []
    for f in COPY_FILES:
        if (source / f).is_file():
            shutil.copy2(source / f, export / f)
            copied.append(f)
    return copied


# ------------------------------------------------------------------ main


@dataclass
class Job:
    """What one run works on, filled in step by step."""

    inp: QuantizeInput
    out_dir: Path
    step: Steps
    base: plan.Recipe
    recipe: plan.Recipe
    backend: plan.Backend
    device: str = "cpu"
    source: Path = Path()
    model: Any = None
    tok: Any = None
    dtype: Any = None
    modules: list[plan.ModuleInfo] = field(default_factory=list)
    cov: plan.Coverage = field(default_factory=plan.Coverage)
    facts: dict[str, Any] = field(default_factory=dict)  # becomes result.data

    @property
    def universe(self) -> list[str]:
        return [m.name for m in self.modules]


def prepare(inp: QuantizeInput, out_dir: Path, t0: float) -> Job:
    """Recipe, hardware, source: every cheap refusal, before a model is loaded."""
    base = plan.load_recipe(inp.recipe)
    job = Job(inp, out_dir, Steps(t0), base, plan.effective_recipe(base, inp.exclude, inp.kv_cache),
              plan.backend_for(base))
    job.step("check", 0.01, f"recipe {job.recipe.name} ({job.recipe.modelopt_config})")
    job.device = check_hardware(job.recipe)
    job.source = resolve_source(inp.source or "embedded:smollm2-135m-instruct")
    return job


def load_and_check(job: Job) -> None:
    """Load the model; refuse a recipe that covers nothing or a layer the format cannot pack."""
    import torch

    job.step("load", 0.03, f"loading {job.source}")
    torch.manual_seed(job.inp.seed)
    try:
        job.model, job.tok, job.dtype = load_model(job.source, job.device)
    except Exception as exc:
        raise Stop(plan.classify_error(exc, job.recipe, None, [], "loading the model")) from exc
    job.modules = weight_modules(job.model)
    job.cov = cov = plan.coverage(job.recipe, job.modules)
    log(f"{len(job.modules)} weight modules; recipe {job.recipe.name} covers {len(cov.covered)}, leaves "
        f"{len(cov.left)}: " + ", ".join(f"{m.name} ({why})" for m, why in cov.left[:6])
        + (" ..." if len(cov.left) > 6 else ""))
    if not cov.covered:
        raise Stop(Failure("MODEL_UNSUPPORTED", f"recipe {job.recipe.name} (covers {job.recipe.covers}, excludes "
                                                f"{len(job.recipe.exclude)} patterns) matches none of the "
                                                f"{len(job.modules)} weight modules of this model"))
    bad = plan.unpackable_layers(job.recipe, cov)
    if bad:
        atomic_write_json(job.out_dir / "unpackable_layers.json", [u.as_dict() for u in bad])
        raise Stop(plan.unpackable_failure(job.recipe, cov, bad, job.universe))


def calibrate(job: Job) -> Any:
    """mtq.quantize over the shipped calibration text; held-out loss before and after. Returns the
    source fingerprint (for the simulated state) and the held-out batch."""
    import modelopt.torch.quantization as mtq

    from skills.quantize import calib, simulated

    inp, recipe = job.inp, job.recipe
    job.step("tokenize", 0.10, "tokenizing calibration text")
    docs, held = calib.split(calib.load_corpus())
    packed = calib.pack(docs, job.tok, inp.calib_size, inp.calib_seq_len, inp.seed)
    held_ids = calib.heldout_batch(held, job.tok)
    log(f"calibration: {inp.calib_size} x {inp.calib_seq_len} tokens from {len(docs)} documents ({packed.chat_docs} "
        f"chat, {packed.prose_docs} prose; {packed.corpus_tokens} tokens, used {packed.epochs}x); held out: "
        f"{len(held)} documents")
    job.step("heldout_source", 0.15, "held-out loss of the source")
    nll_source = heldout_nll(job.model, held_ids, job.device)
    job.step("fingerprint", 0.18, "fingerprinting the source weights (for the simulated state)")
    before = simulated.fingerprint(job.model)

    cfg = plan.build_quant_cfg(recipe, getattr(mtq, job.backend.cfg_name), job.cov,
                               kv_entries=mtq.FP8_KV_CFG["quant_cfg"] if recipe.kv_cache_quant_algo else ())
    loop = forward_loop_factory(packed.input_ids, job.device, job.backend.calib_passes,
                                max(1, CALIB_TOKENS_PER_BATCH // inp.calib_seq_len), forward_kwargs(job.model))
    job.step("calibrate", 0.20, f"calibrating 0/{inp.calib_size}")
    t_cal = time.monotonic()
    try:
        mtq.quantize(job.model, cfg, loop)
    except Exception as exc:
        raise Stop(plan.classify_error(exc, recipe, job.cov, job.universe, "calibrating")) from exc
    t_cal = time.monotonic() - t_cal
    round_to_export_precision(job.model, source_dtype(job.source))
    summary = quant_summary(job.model)
    if summary["layers_quantized"] == 0:
        raise Stop(Failure("MODEL_UNSUPPORTED", f"modelopt enabled no weight quantizer for recipe {recipe.name}"))
    log(f"modelopt quantized {summary['layers_quantized']} layers ({summary['input_quantizers']} input quantizers, "
        f"{summary['kv_quantizers']} KV quantizers) in {t_cal:.1f}s")
    job.step("heldout_simulated", 0.78, "held-out loss under simulated quantization")
    nll_quant = heldout_nll(job.model, held_ids, job.device)
    log(f"held-out loss: source {nll_source}, simulated {recipe.name} {nll_quant} ({nll_quant - nll_source:+.4f})")
    job.facts.update({
        "calib_size": inp.calib_size, "calib_seq_len": inp.calib_seq_len, "calib_tokens": inp.calib_size * inp.calib_seq_len,
        "calib_corpus_tokens": packed.corpus_tokens, "calib_epochs": packed.epochs, "calib_seconds": round(t_cal, 2),
        "calib_dtype": str(job.dtype).replace("torch.", ""),
        "layers_quantized": summary["layers_quantized"], "weight_modules": len(job.modules),
        "input_quantizers": summary["input_quantizers"], "kv_quantizers": summary["kv_quantizers"],
        "heldout_nll": {"source": nll_source, "simulated": nll_quant, "delta": round(nll_quant - nll_source, 5),
                        "tokens": int(held_ids.numel())}})
    return before, held_ids


def save_state(job: Job, before: dict[str, str], held_ids: Any) -> str:
    """The simulated-quantization state, reloaded once to prove an evaluator can rebuild the model."""
    import modelopt
    import torch

    from skills.quantize import simulated

    job.step("save_state", 0.80, "saving the simulated-quantization state")
    nll = job.facts["heldout_nll"]["simulated"]
    meta = {"source": str(job.source), "dtype": job.facts["calib_dtype"], "recipe": job.recipe.model_dump(),
            "seed": job.inp.seed, "calib_size": job.inp.calib_size, "calib_seq_len": job.inp.calib_seq_len,
            "heldout_nll": nll, "modelopt_version": modelopt.__version__, "torch_version": torch.__version__}
    state = simulated.save_simulated_state(job.model, job.out_dir / simulated.STATE_FILE, before, meta,
                                           weight_dtype=source_dtype(job.source))
    job.step("verify_state", 0.82, "verifying the simulated-quantization state (reload, same held-out loss)")
    job.facts.update({"simulated_state": state["path"], "simulated_state_bytes": state["bytes"],
                      "simulated_weights_changed": state["weights_changed"],
                      "simulated_state_verified": verify_state(Path(state["path"]), held_ids, nll, job.device)})
    return state["path"]


def export(job: Job) -> Path:
    """export_hf_checkpoint in the source's 16-bit dtype, plus the files a server needs."""
    from modelopt.torch.export import export_hf_checkpoint

    out = job.out_dir / (job.inp.out_name or default_out_name(job.inp.source or str(job.source), job.base.name))
    job.step("export", 0.85, f"exporting to {out}")
    if out.exists():
        shutil.rmtree(out)
    dtype = source_dtype(job.source)
    cast_parameters(job.model, dtype)  # a no-op when calibrated in bf16 (GPU)
    job.model.config.dtype = dtype
    try:
        export_hf_checkpoint(job.model, dtype=dtype, export_dir=str(out))
    except Exception as exc:
        raise Stop(plan.classify_error(exc, job.recipe, job.cov, job.universe, "exporting")) from exc
    fix_config_dtype(out, dtype)
    job.facts["export_dtype"] = str(dtype).replace("torch.", "")
    job.facts["copied_files"] = copy_server_files(job.source, out)
    return out


def finish(job: Job, out: Path, state_path: str, t0: float) -> SkillResult:
    import modelopt
    import torch

    inp, recipe = job.inp, job.recipe
    by_request = [m.name for m, why in job.cov.left if any(why == f"excluded by {p}" for p in inp.exclude)]
    data = {"recipe": job.base.name, "quant_algo": recipe.quant_algo, "kv_cache_quant_algo": recipe.kv_cache_quant_algo,
            "modelopt_config": job.backend.cfg_name, "recipe_modified": plan.is_modified(job.base, recipe),
            "seed": inp.seed, "seconds": round(time.monotonic() - t0, 2), "device": job.device,
            "modelopt_version": modelopt.__version__, "torch_version": torch.__version__,
            "excluded_by_request": {"patterns": list(inp.exclude), "modules": len(by_request),
                                    "examples": by_request[:8]},
            "left_unquantized": len(job.cov.left), **job.facts}
    keep = ("recipe", "quant_algo", "kv_cache_quant_algo", "calib_size", "calib_seq_len", "seed", "modelopt_version",
            "torch_version", "excluded_by_request")
    atomic_write_json(out / PROVENANCE, {"producer": "conductor quantize skill", "source": str(job.source),
                                         **{k: data[k] for k in keep}})
    note = f"; {len(by_request)} modules left unquantized by request ({', '.join(inp.exclude)})" if by_request else ""
    nll = data["heldout_nll"]
    summary = (f"{recipe.name}: {data['layers_quantized']} of {data['weight_modules']} weight modules quantized on "
               f"{job.device} in {data['seconds']:.0f}s (calibration {inp.calib_size}x{inp.calib_seq_len} tokens); "
               f"held-out loss {nll['source']} -> {nll['simulated']}{note}")
    job.step("done", 1.0, "done")
    data["timings_s"] = job.step.done
    return SkillResult(ok=True, summary=summary, data=data,
                       artifacts={"source": str(job.source), "export": str(out), "simulated_state": state_path})


def quantize(inp: QuantizeInput, out_dir: Path, t0: float) -> SkillResult:
    job = prepare(inp, out_dir, t0)
    load_and_check(job)
    before, held_ids = calibrate(job)
    state_path = save_state(job, before, held_ids)
    out = export(job)
    return finish(job, out, state_path, t0)


def _parse_input(path: str) -> QuantizeInput:
    from pydantic import ValidationError

    try:
        raw = Path(path).read_text(encoding="utf-8") if path != "-" else sys.stdin.read()
        return QuantizeInput.model_validate_json(raw)
    except OSError as exc:
        raise Stop(Failure("USER_CONFIG_ERROR", f"cannot read --input {path!r}: {exc.strerror}")) from None
    except ValidationError as exc:
        e = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in e["loc"]) or "(input)"
        raise Stop(Failure("USER_CONFIG_ERROR", f"invalid quantize input '{loc}': {e['msg']}")) from None


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m skills.quantize.run", description=__doc__.split("\n")[0])
    ap.add_argument("--input", required=True, help="QuantizeInput JSON file ('-' for stdin)")
    ap.add_argument("--out-dir", required=True, help="this attempt's folder: result.json and the export go here")
    ap.add_argument("--workspace", default=None, help="the run's workspace (relative paths are resolved against it)")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    out_dir = Path(args.out_dir).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    try:
        inp = _parse_input(args.input)
        if args.workspace and inp.source and not inp.source.startswith(plan.EMBEDDED_PREFIX) \
                and not Path(inp.source).is_absolute():
            inp = inp.model_copy(update={"source": str(Path(args.workspace) / inp.source)})
        result = quantize(inp, out_dir, t0)
    except Stop as stop:
        f = stop.failure
        if stop.__cause__ is not None:
            log("".join(traceback.format_exception(stop.__cause__)[-12:]).rstrip())
        log(f"FAILED {f.failure_class}: {f.error}")
        result = SkillResult(ok=False, summary=f"{f.failure_class}: {f.error}"[:300], error=f.error,
                             failure_class=f.failure_class, data={**f.data, "seconds": round(time.monotonic() - t0, 2)})
    except Exception as exc:  # a bug or an unforeseen library error: classified, with the traceback in the log
        log(traceback.format_exc().rstrip())
        f = plan.classify_error(exc, None, None, [], "quantizing")
        log(f"FAILED {f.failure_class}: {f.error}")
        result = SkillResult(ok=False, summary=f"{f.failure_class}: {f.error}"[:300], error=f.error,
                             failure_class=f.failure_class, data={**f.data, "seconds": round(time.monotonic() - t0, 2)})
    write_result(out_dir, result)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
