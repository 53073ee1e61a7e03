"""The `quantize` skill: nvidia-modelopt PTQ of a Hugging Face checkpoint, judged by the ptq gate.

    from skills.quantize import SKILL          # a conductor.skill.Skill
    argv = SKILL.command(QuantizeInput(recipe="fp8"), ctx)   # writes input.json (+ recipe.json) in ctx.out_dir
    SKILL.gates(inp, ctx, result)              # [GateCall(gate="ptq", args=["--artifacts", src, export, "--recipe", r])]

The agent reads SKILL.md; the runner is `python -m skills.quantize.run` (run.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel

from conductor.fsutil import atomic_write_text
from conductor.redact import HUB_SECRETS
from conductor.skill import GateCall, SkillContext, SkillResult
from gates.recipes import known_recipes
from skills.common.sealed import resolve
from skills.quantize import plan
from skills.quantize.models import QuantizeInput

INPUT_FILE = "input.json"
RECIPE_FILE = "recipe.json"
EMBEDDED_DEFAULT = "embedded:smollm2-135m-instruct"


def default_source(ctx: SkillContext) -> str:
    """The checkpoint preflight sealed as the baseline, else the run's configured model."""
    pre = ctx.sealed.get("preflight")
    ckpt = pre.artifacts.get("checkpoint") if pre is not None else None
    if ckpt:
        return str(resolve(ctx.workspace, ckpt))
    return str(ctx.config.get("model") or EMBEDDED_DEFAULT)


def resolved_source(inp: QuantizeInput, ctx: SkillContext) -> str:
    """What the runner will quantize, as an absolute path (the embedded model: its cache directory)."""
    src = inp.source or default_source(ctx)
    if src.startswith(plan.EMBEDDED_PREFIX):
        from skills._embedded import smollm2

        return str(smollm2.default_checkpoint_dir().absolute())
    return str(Path(src).expanduser().absolute())


def _recipe_arg(recipe: str) -> str:
    """A recipe file path made absolute (the runner and the gate run in the workspace); a name as is."""
    if recipe in known_recipes():
        return recipe
    return str(Path(recipe).expanduser().absolute())


def export_dir(inp: QuantizeInput, ctx: SkillContext) -> Path:
    from skills.quantize.run import default_out_name

    src = inp.source or default_source(ctx)
    return ctx.out_dir / (inp.out_name or default_out_name(src, plan.load_recipe(_recipe_arg(inp.recipe)).name))


def gate_recipe(inp: QuantizeInput, ctx: SkillContext) -> str:
    """The recipe the ptq gate judges with: the name, or this attempt's effective recipe file when the
    call added exclusions or a KV-cache format (the gate must expect exactly what was asked)."""
    base = plan.load_recipe(_recipe_arg(inp.recipe))
    eff = plan.effective_recipe(base, inp.exclude, inp.kv_cache)
    if not plan.is_modified(base, eff):
        return _recipe_arg(inp.recipe)
    path = ctx.out_dir / RECIPE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    text = eff.model_dump_json(indent=2) + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        atomic_write_text(path, text)
    return str(path)


def _suggested_exclude(last_failure: dict[str, Any]) -> list[str]:
    """The runner's suggested exclusions from a QUANT_COVERAGE_FAILURE it classified itself."""
    result = last_failure.get("result")
    if isinstance(result, str):  # capped by the conductor: the JSON may still parse
        try:
            result = json.loads(result)
        except ValueError:
            return []
    data = (result or {}).get("data") if isinstance(result, dict) else None
    got = (data or {}).get("suggested_exclude")
    return [p for p in got if isinstance(p, str)] if isinstance(got, list) else []


class QuantizeSkill:
    name = "quantize"
    stage = "quantize"
    description = ("Post-training quantization with nvidia-modelopt (fp8, int8_sq, int4_awq, nvfp4, w4a8_awq): "
                   "calibrates on the shipped calibration text, exports a Hugging Face checkpoint with "
                   "export_hf_checkpoint, and saves the calibrated state for in-process simulated evaluation. "
                   "The ptq gate then checks the export against the recipe. Read the quantize skill doc for "
                   "failure classes and honest repairs.")
    input_model = QuantizeInput
    doc_path: Optional[Path] = Path(__file__).with_name("SKILL.md")
    timeout_s = 3 * 3600.0
    env_secrets = HUB_SECRETS  # the only secrets this skill's process gets (a gated model on the hub)

    def command(self, inp: BaseModel, ctx: SkillContext) -> list[str]:
        assert isinstance(inp, QuantizeInput)
        ctx.out_dir.mkdir(parents=True, exist_ok=True)
        src = inp.source or default_source(ctx)
        if not src.startswith(plan.EMBEDDED_PREFIX):
            src = str(Path(src).expanduser().absolute())
        resolved = inp.model_copy(update={"source": src, "recipe": _recipe_arg(inp.recipe)})
        atomic_write_text(ctx.out_dir / INPUT_FILE, resolved.model_dump_json(indent=2) + "\n")
        gate_recipe(inp, ctx)  # the effective recipe file, written before the run: what the gate will use
        return [ctx.python, "-m", "skills.quantize.run", "--input", str(ctx.out_dir / INPUT_FILE),
                "--out-dir", str(ctx.out_dir), "--workspace", str(ctx.workspace)]

    def gates(self, inp: BaseModel, ctx: SkillContext, result: SkillResult) -> list[GateCall]:
        assert isinstance(inp, QuantizeInput)
        return [GateCall(gate="ptq", args=["--artifacts", resolved_source(inp, ctx), str(export_dir(inp, ctx)),
                                           "--recipe", gate_recipe(inp, ctx)])]

    def operator_call(self, ctx: SkillContext, last_failure: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
        if last_failure is None:
            cfg = ctx.config
            return {"recipe": cfg.get("recipe") or "fp8", "calib_size": int(cfg.get("calib_size") or 64),
                    "source": default_source(ctx)}
        prev = dict(last_failure.get("input") or {})
        if last_failure.get("failure_class") == "QUANT_COVERAGE_FAILURE":
            suggested = _suggested_exclude(last_failure)
            have = list(prev.get("exclude") or [])
            if suggested and not set(suggested) <= set(have):
                # the one honest repair: leave the layers the format cannot pack in bf16 (the result and
                # the report say so); a second coverage failure gets no further repair
                return {**prev, "exclude": have + [p for p in suggested if p not in have]}
        return None


SKILL = QuantizeSkill()

__all__ = ["QuantizeInput", "QuantizeSkill", "SKILL", "default_source", "export_dir", "gate_recipe",
           "resolved_source"]
