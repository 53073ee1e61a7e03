"""ReleaseConfig: everything a run needs, validated before anything runs.

Built from CLI flags or a release YAML (flags win over the file). An invalid config is exit 2
with a sentence naming the field (`ConfigError`).

    cfg = load_config(yaml_path="release.yaml", overrides={"recipe": "fp8"})
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Mapping, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from conductor.slurm.options import SlurmSettings

EMBEDDED_MODEL = "embedded:smollm2-135m-instruct"
DEFAULT_TASKS = ["conductor_mc_large", "conductor_facts_gen"]

ProviderName = Literal["auto", "anthropic", "autopilot", "scripted", "replay"]


class Budgets(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    max_turns: int = Field(default=80, ge=1, description="model turns in the whole run")
    max_input_tokens: int = Field(default=3_000_000, ge=1)
    max_output_tokens: int = Field(default=200_000, ge=1)
    max_cost_usd: float = Field(default=10.0, gt=0)
    max_wall_s: float = Field(default=6 * 3600, gt=0, description="wall-clock limit of the whole run")
    max_stage_attempts: int = Field(default=4, ge=1, description="skill calls per stage, all classes together")
    gate_timeout_s: float = Field(default=120, gt=0)


class EvalSettingsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    backend: Literal["auto", "hf", "endpoint"] = Field(
        default="auto", description="auto: endpoint when both checkpoints can be served, else in-process hf for both")
    limit: Optional[int] = Field(default=None, ge=1, description="samples per task (None = whole task)")
    batch_size: int = Field(default=8, ge=1)
    num_fewshot: Optional[int] = Field(default=None, ge=0)
    timeout_s: float = Field(default=3 * 3600, gt=0)


class ServeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    load_ceiling_s: float = Field(default=900, gt=0, description="health must be 200 within this")
    max_model_len: int = Field(default=2048, ge=128)
    skip: bool = Field(default=False, description=(
        "start no server at all (no usable vLLM here): the serve skill refuses with CHECKPOINT_NOT_SERVABLE "
        "(reason 'skipped'), no repair is offered, and the run ends INFEASIBLE at the serve stage, recorded in the "
        "transcript and report.md; the evaluate skill's endpoint backend is refused too"))


class ReleaseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    model: str = Field(default=EMBEDDED_MODEL, description="HF checkpoint directory, or embedded:smollm2-135m-instruct")
    recipe: str = Field(default="fp8",
                        description="quantization recipe name (fp8, int8_sq, int4_awq, nvfp4) or a recipe file")
    tasks: list[str] = Field(default_factory=lambda: list(DEFAULT_TASKS), min_length=1)
    threshold: float = Field(default=0.01, gt=0, lt=1, description="allowed drop, fraction of the score's scale")
    threshold_kind: Literal["absolute", "relative"] = "absolute"
    anomalous_gain: float = Field(default=0.05, gt=0, lt=1)
    verbosity_tolerance: float = Field(default=0.05, gt=0, le=1)
    calib_size: int = Field(default=64, ge=1, le=100_000)
    provider: ProviderName = "auto"
    provider_model: str = Field(default="claude-sonnet-4-6", description="model name for the anthropic provider")
    base_url: Optional[str] = Field(default=None,
                                    description="Anthropic-compatible endpoint (e.g. a self-hosted vLLM /v1/messages)")
    provider_max_tokens: int = Field(default=4096, ge=256, le=128_000, description="the agent's max_tokens per turn "
                                     "(with a self-hosted model, prompt + max_tokens must fit its context)")
    api_key: Optional[SecretStr] = Field(
        default=None, exclude=True, description="the agent's API key (else ANTHROPIC_API_KEY is used); "
        "never written anywhere: it is left out of config.json and the transcript, and redacted wherever it appears")
    workspace: Optional[str] = Field(default=None, description="run folder; default ./runs/<run_id>")
    policy_file: Optional[str] = Field(default=None, description="headless approvals policy (YAML)")
    executor: Literal["local", "slurm"] = Field(default="local", description=(
        "where skill attempts run: local child processes, or one SLURM batch job each (the cluster that "
        "SLURM_CONF reaches; the run folder must be on a filesystem the compute nodes share)"))
    slurm: SlurmSettings = Field(default_factory=SlurmSettings, description=(
        "with executor: slurm, what each job asks for (partition, account, qos, time_limit, cpus, gpus, mem, "
        "extra_sbatch, env, pending_ceiling_s), with per-stage overrides under 'stages' (quantize, serve, ...)"))
    budgets: Budgets = Field(default_factory=Budgets)
    eval: EvalSettingsConfig = Field(default_factory=EvalSettingsConfig)
    serve: ServeSettings = Field(default_factory=ServeSettings)

    @field_validator("tasks")
    @classmethod
    def _tasks_unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("task names must be unique")
        if any(not t.strip() for t in v):
            raise ValueError("task names must be non-empty")
        return v

    @field_validator("policy_file")
    @classmethod
    def _policy_exists(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not Path(v).is_file():
            raise ValueError(f"policy file {v!r} does not exist")
        return v

    def resolved_provider(self, env: Optional[Mapping[str, str]] = None) -> str:
        """auto -> anthropic when ANTHROPIC_API_KEY is set, else autopilot."""
        if self.provider != "auto":
            return self.provider
        env = os.environ if env is None else env
        return "anthropic" if env.get("ANTHROPIC_API_KEY") or self.api_key else "autopilot"

    def api_key_value(self) -> Optional[str]:
        return self.api_key.get_secret_value() if self.api_key is not None else None


class ConfigError(Exception):
    """Invalid configuration: the message is one sentence naming the field."""


def _sentence(err: ValidationError) -> str:
    e = err.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in e["loc"]) or "(config)"
    more = len(err.errors()) - 1
    return f"invalid config field '{loc}': {e['msg']}" + (f" (and {more} more)" if more else "")


def load_config(yaml_path: Optional[str] = None, overrides: Optional[dict[str, Any]] = None) -> ReleaseConfig:
    data: dict[str, Any] = {}
    if yaml_path:
        try:
            loaded = yaml.safe_load(Path(yaml_path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read release file {yaml_path!r}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"release file {yaml_path!r} is not valid YAML: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"release file {yaml_path!r} must hold a mapping of fields, not {type(loaded).__name__}")
        data.update(loaded)
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if "." in key:  # nested override, e.g. "eval.limit"
            head, tail = key.split(".", 1)
            data.setdefault(head, {})
            if isinstance(data[head], dict):
                data[head][tail] = value
        else:
            data[key] = value
    try:
        config = ReleaseConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_sentence(exc)) from None
    check_recipe(config.recipe)
    if config.api_key is not None:  # from here on, every write and print of this process redacts it
        from conductor.runtime.redact import add_secret

        add_secret(config.api_key.get_secret_value())
    return config


def check_recipe(recipe: str) -> None:
    """A shipped recipe name, or a recipe file that exists and is valid; else ConfigError, one
    sentence that lists the known recipes (nothing has run yet: preflight never sees a bad recipe)."""
    from gates.contract import InputError
    from gates.recipes import known_recipes, load_recipe

    try:
        load_recipe(recipe)
    except InputError as exc:
        what = exc.message if exc.field == "--recipe" else f"{exc.field}: {exc.message}"
        if "known recipes are" not in what:
            what += (f"; known recipes are {', '.join(known_recipes())} "
                     "(or give the path of a valid .yaml/.json recipe file)")
        raise ConfigError(" ".join(f"invalid config field 'recipe': {what}".split())) from None
