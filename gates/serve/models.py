"""Facts for the serve gate (the canary): a record of one server start-up, its health probes, the
models it lists, and the raw completions of a few fact questions."""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import Field

from gates.contract import StrictModel


class HealthProbe(StrictModel):
    t_s: float = Field(ge=0, description="seconds since the server was started")
    http_status: Optional[int] = Field(default=None, ge=100, le=599, description="null = no HTTP answer")
    error: Optional[str] = Field(default=None, description="connection error, timeout, ...")


class CanaryResult(StrictModel):
    prompt: str = Field(min_length=1)
    must_contain: list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1, description="acceptable answers; one must appear, case-insensitive, as a whole word or phrase")
    completion: Optional[str] = Field(default=None, description="the raw generated text; null = none came back")
    finish_reason: Optional[str] = None
    http_status: Optional[int] = Field(default=None, ge=100, le=599)
    error: Optional[str] = None
    latency_s: Optional[float] = Field(default=None, ge=0)
    completion_tokens: Optional[int] = Field(default=None, ge=0)


class ServerExit(StrictModel):
    exit_code: Optional[int] = None
    signal: Optional[int] = Field(default=None, ge=1)
    t_s: Optional[float] = Field(default=None, ge=0)
    stopped_by_us: bool = Field(default=False, description="a deliberate stop after the canary, not a death")


class ServeFacts(StrictModel):
    server_kind: str = Field(min_length=1, description="vllm, vllm-cpu, ...")
    server_version: Optional[str] = None
    model_requested: str = Field(min_length=1, description="the model name the server was asked to serve")
    base_url: str = Field(min_length=1)
    load_ceiling_s: float = Field(gt=0, description="the server must answer /health 200 within this")
    health_probes: list[HealthProbe] = Field(default_factory=list)
    reported_time_to_healthy_s: Optional[float] = Field(
        default=None, ge=0, description="what the producer reported (evidence only; re-derived from the probes)")
    models_listed: Optional[list[str]] = Field(default=None, description="ids from /v1/models; null = not queried")
    model_roots: Optional[dict[str, Optional[str]]] = Field(
        default=None, description="id -> the checkpoint /v1/models says it serves (vLLM's 'root'); null = not reported")
    checkpoint: Optional[str] = Field(default=None, description="the checkpoint directory the server was started on")
    canaries: list[CanaryResult] = Field(default_factory=list)
    server_exit: Optional[ServerExit] = Field(default=None, description="set when the server process exited")
    log_tail: list[str] = Field(default_factory=list, description="last lines of the server log")
    min_canaries: int = Field(default=3, ge=1, description="distinct canary prompts that must have been asked")
    min_correct_fraction: float = Field(default=2 / 3, gt=0, le=1,
                                        description="fraction of distinct canaries that must answer correctly")
