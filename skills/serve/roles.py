"""Which checkpoint "baseline" and "candidate" mean in a run (shared by serve and evaluate).

    baseline_checkpoint(rc)   # preflight's sealed `checkpoint`, else the config's model (embedded: cached dir)
    candidate_checkpoint(rc)  # the quantize stage's sealed `export`
    simulated_state(rc)       # the quantize stage's `simulated_state` (in-process simulated quantization)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from skills.common.runner import USER_CONFIG_ERROR, RunContext, SkillFailure

EMBEDDED_PREFIX = "embedded:"


def _artifact(rc: RunContext, stage: str, name: str) -> Optional[Path]:
    res = rc.sealed.get(stage)
    value = res.artifacts.get(name) if res is not None else None
    return rc.resolve(value) if value else None


def baseline_checkpoint(rc: RunContext) -> Path:
    found = _artifact(rc, "preflight", "checkpoint")
    if found is not None:
        return found
    model = str(rc.config.get("model") or "embedded:smollm2-135m-instruct")
    if model.startswith(EMBEDDED_PREFIX):
        from skills._embedded import ensure_checkpoint

        return Path(ensure_checkpoint())
    return rc.user_path(model).absolute()


def candidate_checkpoint(rc: RunContext) -> Path:
    found = _artifact(rc, "quantize", "export")
    if found is None:
        raise SkillFailure(USER_CONFIG_ERROR, "there is no candidate: the quantize stage has no sealed export "
                                              f"(sealed stages: {sorted(rc.sealed) or 'none'})")
    return found


def simulated_state(rc: RunContext) -> Optional[Path]:
    found = _artifact(rc, "quantize", "simulated_state")
    return found if found is not None and found.is_file() else None


def quantize_data(rc: RunContext) -> dict[str, Any]:
    res = rc.sealed.get("quantize")
    return dict(res.data) if res is not None else {}


def resolve(rc: RunContext, checkpoint: str) -> tuple[str, Path]:
    """(role, directory) for a serve/evaluate `checkpoint` argument: candidate, baseline or a path."""
    if checkpoint == "candidate":
        return "candidate", candidate_checkpoint(rc)
    if checkpoint == "baseline":
        return "baseline", baseline_checkpoint(rc)
    return "path", rc.user_path(checkpoint).absolute()


def cuda_available(rc: RunContext) -> bool:
    """What preflight recorded; else ask torch (imported only then)."""
    pre = rc.sealed.get("preflight")
    hw = (pre.data.get("hardware") if pre is not None else None) or {}
    if "cuda_available" in hw:
        return bool(hw["cuda_available"])
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # no torch here: no CUDA we could know of
        return False


def has_chat_template(ckpt: Path) -> bool:
    if (ckpt / "chat_template.jinja").is_file() or (ckpt / "chat_template.json").is_file():
        return True
    try:
        import json

        return bool(json.loads((ckpt / "tokenizer_config.json").read_text(encoding="utf-8")).get("chat_template"))
    except (OSError, ValueError, AttributeError):
        return False


def check_checkpoint_dir(path: Path, role: str) -> None:
    if not path.is_dir() or not (path / "config.json").is_file():
        raise SkillFailure(USER_CONFIG_ERROR, f"the {role} checkpoint {path} is not a Hugging Face checkpoint "
                                              "directory (no config.json)")
