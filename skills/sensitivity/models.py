"""SensitivityInput: the sensitivity tool's arguments; its JSON Schema is the tool's input_schema."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from skills.quantize.models import check_patterns, check_recipe


class SensitivityInput(BaseModel):
    """Per-layer-group sensitivity of one checkpoint to one PTQ recipe, measured on held-out text."""

    model_config = ConfigDict(extra="forbid", strict=True)

    source: str | None = Field(
        default=None, min_length=1,
        description="Checkpoint: a Hugging Face checkpoint directory or 'embedded:smollm2-135m-instruct'. Default "
                    "(null): the baseline checkpoint sealed by preflight, else the run's configured model.")
    recipe: str | None = Field(
        default=None, min_length=1,
        description="The recipe whose sensitivity is measured (catalogue name or recipe file); default (null): "
                    "the run's configured recipe, else fp8. Use the recipe of the attempt that regressed.")
    exclude: list[str] = Field(
        default_factory=list, max_length=256,
        description="Module globs already kept unquantized (an earlier proposal's exclusions): they are left "
                    "out of the measurement, so the ranking says what to exclude next.")
    calib_size: int = Field(default=16, ge=1, le=4096,
                            description="Calibration sequences (use the failed attempt's, to find what broke it).")
    calib_seq_len: int = Field(default=128, ge=16, le=8192, description="Tokens per calibration sequence.")
    granularity: Literal["layer", "block", "kind"] = Field(
        default="layer",
        description="Layer group: 'layer' (one decoder layer: model.layers.7.*), 'block' (its attention or its MLP: "
                    "model.layers.7.mlp.*), 'kind' (one projection in every layer: model.layers.*.mlp.down_proj).")
    measure: Literal["alone", "restore", "both"] = Field(
        default="both",
        description="'alone': loss rise when only this group is quantized; 'restore': loss recovered when every "
                    "group but this one is quantized (what excluding it buys); 'both' costs twice the passes.")
    heldout_seqs: int = Field(default=4, ge=1, le=256, description="Held-out sequences per measurement.")
    heldout_seq_len: int = Field(default=128, ge=16, le=4096, description="Tokens per held-out sequence.")
    top_k: int = Field(default=3, ge=1, le=64,
                       description="How many of the most sensitive groups to suggest as exclusions.")
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Calibration sample order.")

    @field_validator("recipe")
    @classmethod
    def _recipe_known(cls, v: str | None) -> str | None:
        return None if v is None else check_recipe(v)

    @field_validator("exclude")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        return check_patterns(v)
