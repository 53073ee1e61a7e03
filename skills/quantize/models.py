"""QuantizeInput: the quantize tool's arguments; its JSON Schema is the tool's input_schema."""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gates.contract import InputError
from skills.quantize.plan import PlanError, backend_for, load_recipe

PATTERN_RE = re.compile(r"^[A-Za-z0-9_.*?\[\]!-]+$")


def check_recipe(v: str) -> str:
    """A recipe name or file this skill can produce; ValueError (one sentence) otherwise."""
    try:
        backend_for(load_recipe(v))
    except InputError as exc:
        raise ValueError(exc.message) from None
    except PlanError as exc:
        raise ValueError(str(exc)) from None
    return v


def check_patterns(v: list[str]) -> list[str]:
    """Module-name globs, each once; ValueError (one sentence) otherwise."""
    for p in v:
        if not p or not PATTERN_RE.match(p):
            raise ValueError(f"exclude pattern {p!r} must be a module-name glob (letters, digits, _ . - * ? [ ])")
    if len(set(v)) != len(v):
        raise ValueError("exclude patterns must be unique")
    return v


class QuantizeInput(BaseModel):
    """Post-training quantization of one Hugging Face checkpoint with nvidia-modelopt."""

    model_config = ConfigDict(extra="forbid", strict=True)

    source: Optional[str] = Field(
        default=None, min_length=1,
        description="Checkpoint to quantize: a Hugging Face checkpoint directory, or 'embedded:smollm2-135m-instruct'. "
                    "Default (null): the baseline checkpoint sealed by preflight, else the run's configured model. "
                    "Leave it: the candidate must come from the same weights as the baseline it is compared with.")
    recipe: str = Field(
        default="fp8", min_length=1,
        description="Recipe from the catalogue (fp8, int8_sq, int4_awq, nvfp4, w4a8_awq) or the path of a recipe "
                    ".yaml/.json (e.g. int4_awq with another block_size). The ptq gate judges the export against "
                    "it. nvfp4 and w4a8_awq need a CUDA GPU.")
    calib_size: int = Field(
        default=64, ge=1, le=4096,
        description="Calibration sequences. Raise it (128-512) when activation scales look noisy or the "
                    "accuracy drop is borderline; lower it only to save time on a CPU.")
    calib_seq_len: int = Field(
        default=256, ge=16, le=8192,
        description="Tokens per calibration sequence (the shipped calibration text is packed to this length). "
                    "Lower it to save memory/time; calib_size x calib_seq_len is the calibration cost.")
    calib_data: Optional[str] = Field(
        default=None, min_length=1, max_length=4096,
        description="Calibration text file (the format of skills/data/calibration.txt: one document per line, "
                    "'[chat] user ||| assistant' lines for conversations). Default (null): the shipped text. Refused "
                    "when it contains a question of the evaluation tasks or a document of the held-out text.")
    exclude: list[str] = Field(
        default_factory=list, max_length=256,
        description="Module-name globs left unquantized, added to the recipe's own exclusions "
                    "(e.g. 'model.layers.*.self_attn.q_proj', '*down_proj*'). The gate then expects them "
                    "unquantized, and the report must say they were excluded. Use it for layers the format "
                    "cannot pack, or sensitive layers; never to hide a failure.")
    kv_cache: Optional[Literal["fp8"]] = Field(
        default=None,
        description="Also quantize the KV cache: 'fp8' writes k/v scales and declares kv_cache_quant_algo FP8 "
                    "(a server then stores the cache in FP8). null: KV cache as the recipe says (none for the "
                    "shipped recipes).")
    out_name: Optional[str] = Field(
        default=None, min_length=1, max_length=120, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$",
        description="Folder name of the export inside this attempt's folder. Default: <source name>-<recipe>.")
    seed: int = Field(default=0, ge=0, le=2**31 - 1,
                      description="Seed for the calibration sample order (same seed, same calibration).")

    @field_validator("recipe")
    @classmethod
    def _recipe_known(cls, v: str) -> str:
        return check_recipe(v)

    @field_validator("exclude")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        return check_patterns(v)
