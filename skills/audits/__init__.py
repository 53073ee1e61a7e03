"""audits: the verbosity gate and the audit (caching detection) gate, on the two sealed lm-eval runs.

    AuditsSkill().gates(inp, ctx, result)
    # [GateCall("verbosity", ["--artifacts", BASE, CAND, "--tolerance", "0.05"]),
    #  GateCall("audit", ["--artifacts", BASE, CAND, "--baseline-checkpoint", SRC, "--candidate-checkpoint", EXPORT])]

The checkpoints the audit hashes are the ones being compared in the release: the source
checkpoint preflight sealed, and the export quantize sealed (falling back to what the evaluate
stages name). The tolerance is the release's; the agent cannot change it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict

from conductor.runtime.skill import GateCall, SkillContext, SkillResult
from skills.common.base import RunnerSkill
from skills.common.sealed import BASELINE_STAGE, CANDIDATE_STAGE, eval_dirs, first_checkpoint

BASELINE_CHECKPOINT_FROM = ("preflight", BASELINE_STAGE)
CANDIDATE_CHECKPOINT_FROM = ("quantize", CANDIDATE_STAGE)


class AuditsInput(BaseModel):
    """The audits take everything from the sealed stages and the release config."""

    model_config = ConfigDict(extra="forbid")


def checkpoints(workspace: Path, sealed: Mapping[str, Any]) -> tuple[Path | None, Path | None]:
    return (first_checkpoint(workspace, sealed, BASELINE_CHECKPOINT_FROM),
            first_checkpoint(workspace, sealed, CANDIDATE_CHECKPOINT_FROM))


def gate_calls(workspace: Path, sealed: Mapping[str, Any], config: Mapping[str, Any]) -> list[GateCall]:
    base, cand = eval_dirs(workspace, sealed)
    tolerance = float(config.get("verbosity_tolerance", 0.05))
    audit = ["--artifacts", str(base), str(cand)]
    base_ckpt, cand_ckpt = checkpoints(workspace, sealed)
    if base_ckpt is not None:
        audit += ["--baseline-checkpoint", str(base_ckpt)]
    if cand_ckpt is not None:
        audit += ["--candidate-checkpoint", str(cand_ckpt)]
    return [GateCall(gate="verbosity", args=["--artifacts", str(base), str(cand), "--tolerance", repr(tolerance)]),
            GateCall(gate="audit", args=audit)]


class AuditsSkill(RunnerSkill):
    name = "audits"
    stage = "audits"
    runner = "skills.audits.run"
    input_model = AuditsInput
    doc_path = Path(__file__).with_name("SKILL.md")
    timeout_s = 300.0
    description = ("Audit the sealed baseline and candidate runs: the verbosity gate (average completion "
                   "length within the release's tolerance) and the audit gate (no sign that the candidate's "
                   "results came from a cache or from the baseline's own model). No input.")

    def gates(self, inp: BaseModel, ctx: SkillContext, result: SkillResult) -> list[GateCall]:
        return gate_calls(ctx.workspace, ctx.sealed, ctx.config)


SKILL = AuditsSkill()
