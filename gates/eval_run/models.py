"""Facts the eval_run gate decides on: one lm-eval run, task by task, re-derived from its logs.

These models are also what `compare`, `verbosity` and `audit` collect through
(`gates.eval_run.collect.collect_run`), so the shape is shared on purpose.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field

from gates.contract import StrictModel

RunStatus = Literal["SUCCESS", "FAILED", "RUNNING", "PENDING", "TIMEOUT", "CANCELLED", "UNKNOWN"]
OutputType = Literal["loglikelihood", "multiple_choice", "generate_until", "loglikelihood_rolling"]
Scale = Literal["unit", "percent"]


class EvalSettings(StrictModel):
    """What must be identical between baseline and candidate for a like-for-like comparison."""

    backend: str = Field(description="lm-eval model type: hf, local-completions, local-chat-completions, ...")
    lm_eval_version: Optional[str] = None
    limit: Optional[float] = Field(default=None, ge=0, description="lm-eval --limit (count or fraction)")
    apply_chat_template: bool = False
    fewshot_as_multiturn: bool = False
    system_instruction: Optional[str] = None
    gen_kwargs: Optional[dict[str, Any]] = Field(default=None, description="generation settings applied to generative tasks")
    seed: Optional[list[Optional[int]]] = None


class TaskRun(StrictModel):
    output_type: OutputType
    primary_metric: str = Field(min_length=1, description="the metric the score is (acc, exact_match, ...)")
    higher_is_better: bool = True
    scale: Optional[Scale] = Field(default=None, description="declared score scale; None = not declared")
    num_fewshot: Optional[int] = Field(default=None, ge=0)
    samples_expected: Optional[int] = Field(default=None, ge=0, description="dataset size, or the limit")
    samples_scored: Optional[int] = Field(default=None, ge=0, description="lines in the per-sample log")
    reported_score: Optional[float] = Field(default=None, description="the score lm-eval reported")
    reported_stderr: Optional[float] = Field(default=None, ge=0)
    rederived_score: Optional[float] = Field(default=None, description="mean of the per-sample metric")
    rederived_stderr: Optional[float] = Field(default=None, ge=0)
    responses_total: int = Field(default=0, ge=0)
    responses_empty: int = Field(default=0, ge=0)
    responses_errored: int = Field(default=0, ge=0)
    extraction_failed: int = Field(default=0, ge=0, description="samples whose answer the scorer could not extract")
    avg_completion_tokens: Optional[float] = Field(default=None, ge=0, description="generative tasks only")
    generation_kwargs: Optional[dict[str, Any]] = None


class EvalRunFacts(StrictModel):
    run_status: RunStatus = Field(description="terminal status of the run as its runner recorded it")
    exit_code: Optional[int] = None
    error: Optional[str] = Field(default=None, description="the runner's error message, if any")
    model_identity: Optional[str] = Field(default=None, description="what was evaluated (path or served name)")
    used_cache: Optional[bool] = Field(default=None, description="lm-eval --use_cache was on")
    settings: Optional[EvalSettings] = None
    tasks: dict[str, TaskRun] = Field(default_factory=dict)
    max_extraction_failure_fraction: float = Field(default=0.1, ge=0, le=1)
    max_reported_mismatch: float = Field(default=1e-6, ge=0, description="tolerance, in the score's own units")
