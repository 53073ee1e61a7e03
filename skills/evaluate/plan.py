"""What one evaluation runs: the settings (decided once, identical on both sides) and lm-eval's argv.

    s = resolve_settings(inp, side="baseline", config=cfg, sealed=sealed, chat_template=True, cuda=False)
    argv = lmeval_argv(s, model="hf", model_args=hf_model_args(ckpt, s), output=out / "lmeval")

Parity. The baseline's settings are recorded in its sealed result (`data.settings`); the candidate
takes exactly those, and an explicit input that differs is refused (USER_CONFIG_ERROR), because the
compare gate would refuse the pair anyway (COMPARISON_NOT_LIKE_FOR_LIKE) after the work was done.

Backend. Decided once, for the baseline, before eval_baseline: the input's, else the config's
`eval.backend`; `auto` means `endpoint` only when the serve stage served the candidate (then both
checkpoints can be served here), else `hf` (in-process) for both sides. The reason is recorded.
Pure functions only: no I/O beyond what the caller passes in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field

TASKS_DIR = Path(__file__).resolve().with_name("tasks")
DEFAULT_SEED = "0,1234,1234,1234"  # lm-eval's own default, made explicit so both sides record it
DEFAULT_TASKS = ("conductor_mc_large", "conductor_facts_gen")
# settings that must be identical on both sides (the compare gate checks most of them again)
PARITY_FIELDS = ("backend", "tasks", "limit", "batch_size", "num_fewshot", "apply_chat_template", "gen_kwargs",
                 "seed", "dtype", "endpoint_api", "include_paths")


class ParityError(ValueError):
    """An explicit candidate setting differs from the one the baseline was evaluated with."""


class EvalSettings(BaseModel):
    """The resolved settings of one side (recorded in result.data.settings)."""

    model_config = ConfigDict(extra="forbid")

    backend: str  # hf | endpoint
    backend_reason: str = ""
    tasks: list[str]
    limit: Optional[int] = None
    batch_size: int = 8
    num_fewshot: Optional[int] = None
    apply_chat_template: bool = True
    gen_kwargs: Optional[dict[str, Any]] = None
    seed: str = DEFAULT_SEED
    dtype: str = "float32"
    endpoint_api: str = "completions"
    include_paths: list[str] = Field(default_factory=list)
    timeout_s: float = 3 * 3600.0

    def parity(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in PARITY_FIELDS}


def sealed_data(sealed: Mapping[str, Any], stage: str) -> dict[str, Any]:
    res = sealed.get(stage)
    data = getattr(res, "data", None) if res is not None else None
    if data is None and isinstance(res, Mapping):
        data = res.get("data")
    return dict(data or {})


def decide_backend(requested: Optional[str], config: Mapping[str, Any], sealed: Mapping[str, Any]) -> tuple[str, str]:
    """(backend, why) for the baseline; the candidate copies the baseline's."""
    if requested in ("hf", "endpoint"):
        return requested, f"{requested} requested by the call"
    cfg = str(((config.get("eval") or {}).get("backend")) or "auto")
    if cfg in ("hf", "endpoint"):
        return cfg, f"{cfg} set by the release config (eval.backend)"
    serve = sealed_data(sealed, "serve")
    if not serve:
        return "hf", ("eval.backend auto: the serve stage is not sealed, so it is not known that both checkpoints can "
                      "be served here: in-process hf for both sides")
    if serve.get("served") == "candidate" and serve.get("candidate_servable") is not False:
        return "endpoint", ("eval.backend auto: the serve stage served the candidate here, so both checkpoints can "
                            "be served: the endpoint for both sides")
    why = serve.get("not_servable_reason") or "the serve stage did not serve the candidate"
    return "hf", (f"eval.backend auto: the candidate cannot be served here ({str(why)[:300]}): in-process hf for "
                  "both sides (the candidate under modelopt simulated quantization)")


def default_dtype(cuda: bool, quantize_data: Mapping[str, Any]) -> str:
    """The dtype the simulated candidate was calibrated in (the baseline must match it), else the
    fast one for the device: float32 on a CPU (bf16 matmuls are emulated), bfloat16 on a GPU."""
    calib = quantize_data.get("calib_dtype")
    if isinstance(calib, str) and calib:
        return calib
    return "bfloat16" if cuda else "float32"


def _explicit(inp: Any) -> dict[str, Any]:
    """The settings the call set explicitly (None = not set)."""
    out = {k: getattr(inp, k, None) for k in ("backend", "tasks", "limit", "batch_size", "num_fewshot",
                                              "apply_chat_template", "gen_kwargs", "seed", "dtype", "endpoint_api")}
    extra = getattr(inp, "include_path", None)
    out["include_paths"] = [str(TASKS_DIR), str(extra)] if extra else None
    return {k: v for k, v in out.items() if v is not None}


def resolve_settings(inp: Any, *, side: str, config: Mapping[str, Any], sealed: Mapping[str, Any],
                     chat_template: bool, cuda: bool) -> EvalSettings:
    explicit = _explicit(inp)
    base = sealed_data(sealed, "eval_baseline").get("settings") if side == "candidate" else None
    if isinstance(base, dict):
        recorded = EvalSettings.model_validate(base)
        diffs = [f"{k}: baseline {getattr(recorded, k)!r}, requested {v!r}" for k, v in explicit.items()
                 if k in PARITY_FIELDS and v != getattr(recorded, k)]
        if diffs:
            raise ParityError("the candidate must be evaluated with the baseline's settings; " + "; ".join(diffs))
        timeout = getattr(inp, "timeout_s", None) or recorded.timeout_s
        return recorded.model_copy(update={"timeout_s": timeout,
                                           "backend_reason": f"the baseline's backend ({recorded.backend_reason})"})
    ev = dict(config.get("eval") or {})
    backend, why = decide_backend(explicit.get("backend"), config, sealed)
    return EvalSettings(
        backend=backend, backend_reason=why,
        tasks=list(explicit.get("tasks") or config.get("tasks") or DEFAULT_TASKS),
        limit=explicit.get("limit", ev.get("limit")),
        batch_size=int(explicit.get("batch_size") or ev.get("batch_size") or 8),
        num_fewshot=explicit.get("num_fewshot", ev.get("num_fewshot")),
        apply_chat_template=bool(explicit.get("apply_chat_template", chat_template)),
        gen_kwargs=explicit.get("gen_kwargs"),
        seed=str(explicit.get("seed") or DEFAULT_SEED),
        dtype=str(explicit.get("dtype") or default_dtype(cuda, sealed_data(sealed, "quantize"))),
        endpoint_api=str(explicit.get("endpoint_api") or "completions"),
        include_paths=list(explicit.get("include_paths") or [str(TASKS_DIR)]),
        timeout_s=float(getattr(inp, "timeout_s", None) or ev.get("timeout_s") or 3 * 3600.0),
    )


# ------------------------------------------------------------------ argv

LMEVAL_MAIN = "skills.evaluate.lmeval_main"


def child_argv(python: str, s: EvalSettings, lm_args: list[str]) -> list[str]:
    """The lm-eval process: lm-eval's own CLI, run by skills/evaluate/lmeval_main.py (which adds the
    include paths beyond the first, progress lines and the simulated-quantization hook), started
    through skills/common/launch.py so that it finds the project from any working directory."""
    from skills.common.base import LAUNCH

    extra = [a for p in s.include_paths[1:] for a in ("--also-include", p)]
    return [python, str(LAUNCH), LMEVAL_MAIN, *extra, "--", *lm_args]


def kv(args: Mapping[str, Any]) -> str:
    """lm-eval's key=value,key=value model_args (values must not contain commas)."""
    for k, v in args.items():
        if "," in str(v):
            raise ValueError(f"model_args value of {k!r} contains a comma: {v!r}")
    return ",".join(f"{k}={v}" for k, v in args.items())


def hf_model_args(pretrained: Path | str, s: EvalSettings, *, simulated_state: Optional[Path | str] = None,
                  tokenizer: Optional[Path | str] = None, simulated_export: Optional[Path | str] = None
                  ) -> dict[str, Any]:
    args: dict[str, Any] = {"pretrained": str(pretrained), "dtype": s.dtype}
    if tokenizer is not None and str(tokenizer) != str(pretrained):
        args["tokenizer"] = str(tokenizer)
    if simulated_state is not None:
        args["simulated_state"] = str(simulated_state)  # read by skills/evaluate/lmeval_main.py's HFLM hook
        if simulated_export is not None:  # ... which checks that the export holds the simulated weights
            args["simulated_export"] = str(simulated_export)
    return args


def endpoint_model(s: EvalSettings) -> str:
    return "local-chat-completions" if s.endpoint_api == "chat" else "local-completions"


def endpoint_model_args(base_url: str, served_name: str, tokenizer: Path | str, s: EvalSettings,
                        max_length: int) -> dict[str, Any]:
    path = "/v1/chat/completions" if s.endpoint_api == "chat" else "/v1/completions"
    args: dict[str, Any] = {"model": served_name, "base_url": base_url.rstrip("/") + path,
                            "tokenizer_backend": "huggingface", "tokenizer": str(tokenizer),
                            "num_concurrent": 1, "max_retries": 3, "timeout": 300, "max_length": max_length}
    if s.endpoint_api != "chat":
        # token ids, tokenized here with the checkpoint's own tokenizer: what lm-eval needs for
        # log-likelihoods, and the only way it renders a chat template for /v1/completions
        args["tokenized_requests"] = True
    return args


def _gen_kwargs(g: Mapping[str, Any]) -> list[str]:
    return [f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in g.items()]


def lmeval_argv(s: EvalSettings, *, model: str, model_args: Mapping[str, Any], output: Path | str,
                device: Optional[str] = None) -> list[str]:
    """lm-eval 0.4.13 `run` arguments (after the program name)."""
    argv = ["run", "--model", model, "--model_args", kv(model_args), "--tasks", ",".join(s.tasks),
            "--include_path", s.include_paths[0], "--output_path", str(output), "--log_samples",
            "--seed", s.seed, "--batch_size", str(s.batch_size)]
    if device:
        argv += ["--device", device]
    if s.limit is not None:
        argv += ["--limit", str(s.limit)]
    if s.num_fewshot is not None:
        argv += ["--num_fewshot", str(s.num_fewshot)]
    if s.apply_chat_template:
        argv += ["--apply_chat_template"]
    if s.gen_kwargs:
        argv += ["--gen_kwargs", *_gen_kwargs(s.gen_kwargs)]
    return argv
