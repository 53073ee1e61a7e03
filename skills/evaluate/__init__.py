"""The `evaluate` skill, one class for two stages: `evaluate_baseline` (eval_baseline) and
`evaluate_candidate` (eval_candidate). It runs lm-eval with --log_samples, in-process (`hf`, the
candidate under modelopt's simulated quantization when it cannot be loaded as is) or against a vLLM
endpoint it starts and stops itself, and leaves the output directory the eval_run gate judges.

    from skills.evaluate import skill_for_stage
    s = skill_for_stage("eval_candidate")     # name "evaluate_candidate"
    s.gates(inp, ctx, result)                 # [GateCall(gate="eval_run", args=["--artifacts", <out>/lmeval])]

Settings are decided once, for the baseline, and the candidate takes the baseline's (see plan.py).
Importing this package imports neither lm-eval nor torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from conductor.skill import GateCall, SkillContext, SkillResult
from conductor.redact import HUB_SECRETS
from skills.common.base import RunnerSkill, runner_argv
from skills.common.sealed import resolve

LMEVAL_DIR = "lmeval"
SIDES = {"eval_baseline": "baseline", "eval_candidate": "candidate"}


class EvaluateInput(BaseModel):
    """One lm-eval run of one side. Every setting left null is decided for you (and, on the candidate,
    copied from the baseline's run: both sides must be evaluated identically)."""

    model_config = ConfigDict(extra="forbid")

    side: Optional[Literal["baseline", "candidate"]] = Field(
        default=None, description="Which checkpoint. Default: the stage's own (eval_baseline -> baseline).")
    backend: Optional[Literal["hf", "endpoint"]] = Field(
        default=None,
        description="hf: in-process transformers (the candidate under modelopt simulated quantization); endpoint: "
                    "a vLLM server this skill starts and stops. Default: the config's eval.backend; 'auto' is "
                    "endpoint only when the serve stage served the candidate, else hf for both sides.")
    tasks: Optional[list[str]] = Field(default=None, min_length=1,
                                       description="lm-eval task names. Default: the release config's tasks.")
    limit: Optional[int] = Field(default=None, ge=2, description="samples per task. Default: config eval.limit (all)")
    batch_size: Optional[int] = Field(default=None, ge=1, le=1024, description="Default: config eval.batch_size")
    num_fewshot: Optional[int] = Field(default=None, ge=0, le=64, description="Default: each task's own")
    apply_chat_template: Optional[bool] = Field(
        default=None, description="Default: on when the baseline's tokenizer has a chat template (instruct models).")
    gen_kwargs: Optional[dict[str, Any]] = Field(
        default=None, description="Generation overrides for generative tasks (e.g. {'max_gen_toks': 64}).")
    seed: Optional[str] = Field(default=None, pattern=r"^\d+(,(\d+|None)){0,3}$",
                                description="lm-eval --seed (python,numpy,torch,fewshot). Default 0,1234,1234,1234.")
    dtype: Optional[Literal["float32", "bfloat16", "float16"]] = Field(
        default=None, description="hf dtype. Default: the dtype the candidate was calibrated in (float32 on a CPU).")
    endpoint_api: Optional[Literal["completions", "chat"]] = Field(
        default=None, description="endpoint backend: local-completions (log-likelihood and generation; default) or "
                                  "local-chat-completions (generative tasks only).")
    candidate_model: Literal["auto", "simulated", "export"] = Field(
        default="auto", description="hf candidate: 'simulated' rebuilds the calibrated model in-process from the "
                                    "quantize stage's simulated_state.pt; 'export' loads the export with plain "
                                    "transformers; auto = simulated when the state exists.")
    include_path: Optional[str] = Field(default=None, min_length=1,
                                        description="An extra lm-eval task directory (the shipped tasks are always included).")
    timeout_s: Optional[float] = Field(default=None, gt=0, le=48 * 3600,
                                       description="lm-eval wall-clock limit. Default: config eval.timeout_s.")

    @field_validator("tasks")
    @classmethod
    def _tasks(cls, v: Optional[list[str]]) -> Optional[list[str]]:
        if v is not None and (len(set(v)) != len(v) or any(not t.strip() or "," in t for t in v)):
            raise ValueError("task names must be unique, non-empty and contain no comma")
        return v


class EvaluateSkill(RunnerSkill):
    runner = "skills.evaluate.run"
    input_model = EvaluateInput
    doc_path: Optional[Path] = Path(__file__).with_name("SKILL.md")
    timeout_s = 3 * 3600.0 + 3 * 900.0  # the eval timeout (config default 3 h) plus a server start
    env_secrets = HUB_SECRETS  # the only secrets this skill's process gets (a gated model on the hub)

    def __init__(self, stage: str):
        self.stage = stage
        self.side = SIDES[stage]
        self.name = f"evaluate_{self.side}"
        self.description = (
            f"Evaluate the {self.side} with lm-eval (--log_samples), in-process (hf) or against a vLLM endpoint "
            "started and stopped by the skill; writes the lm-eval output directory and run.json that the eval_run "
            "gate re-derives every score from. "
            + ("Call it with {} : settings and backend are decided once here and recorded for the candidate."
               if self.side == "baseline" else
               "Call it with {} : it takes the baseline's settings and backend (parity), and evaluates the "
               "candidate under modelopt simulated quantization when it is evaluated in-process."))

    def command(self, inp: BaseModel, ctx: SkillContext) -> list[str]:
        assert isinstance(inp, EvaluateInput)
        if inp.side is not None and inp.side != self.side:
            raise ValueError(f"{self.name} evaluates the {self.side}; side={inp.side!r} belongs to the other stage")
        return runner_argv(ctx, self.runner, inp.model_copy(update={"side": self.side}))

    def gates(self, inp: BaseModel, ctx: SkillContext, result: SkillResult) -> list[GateCall]:
        out = result.artifacts.get("lmeval_dir") or str(Path(ctx.out_dir) / LMEVAL_DIR)
        return [GateCall(gate="eval_run", args=["--artifacts", str(resolve(ctx.workspace, out))])]

    def operator_call(self, ctx: SkillContext, last_failure: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
        """{} first (everything from the config; the candidate copies the baseline); the same call again
        after INFRA_TRANSIENT (the autopilot retries it once itself); no other repair."""
        if last_failure is None:
            return {}
        if last_failure.get("failure_class") == "INFRA_TRANSIENT":
            return dict(last_failure.get("input") or {})
        return None


SKILLS = {stage: EvaluateSkill(stage) for stage in SIDES}


def skill_for_stage(stage: str) -> Optional[EvaluateSkill]:
    return SKILLS.get(stage)


__all__ = ["EvaluateInput", "EvaluateSkill", "SKILLS", "skill_for_stage", "LMEVAL_DIR"]
