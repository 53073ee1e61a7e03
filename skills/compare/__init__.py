"""compare: baseline vs candidate on every task, judged by the compare gate.

The criterion is the release's: the threshold, its kind and the anomalous-gain limit come from
the config. The agent may ask for a stricter comparison, never a looser one.

    CompareSkill().gates(inp, ctx, result)
    # [GateCall(gate="compare", args=["--artifacts", BASE, CAND, "--threshold", "0.01", "--absolute",
    #                                  "--anomalous-gain", "0.05"])]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field

from conductor.runtime.skill import GateCall, SkillContext, SkillResult
from skills.common.base import RunnerSkill
from skills.common.sealed import eval_dirs


class CompareInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: Optional[float] = Field(
        default=None, gt=0, lt=1,
        description="allowed drop (fraction of the unit scale, or of the baseline score when relative); "
                    "default: the release's; only a stricter value than the release's is accepted")
    relative: Optional[bool] = Field(
        default=None, description="true: the threshold is a fraction of the baseline score; default: the release's "
                                  "kind (absolute -> relative is stricter and allowed; relative -> absolute is not)")


@dataclass(frozen=True)
class Criterion:
    value: float
    kind: str  # absolute | relative
    anomalous_gain: float


def criterion(config: Mapping[str, Any], inp: CompareInput) -> Criterion:
    """The release's criterion, tightened by the input; a looser request is a ValueError."""
    value = float(config.get("threshold", 0.01))
    kind = str(config.get("threshold_kind", "absolute"))
    gain = float(config.get("anomalous_gain", 0.05))
    want_kind = kind if inp.relative is None else ("relative" if inp.relative else "absolute")
    if kind == "relative" and want_kind == "absolute":
        raise ValueError("the release's threshold is relative to the baseline score; an absolute threshold "
                         "would be looser for every score below 1 and is refused")
    want = value if inp.threshold is None else float(inp.threshold)
    if want > value + 1e-12:
        raise ValueError(f"threshold {want:g} is looser than the release's {value:g}; only a stricter "
                         "comparison may be asked for (the release's criterion is the floor)")
    return Criterion(want, want_kind, gain)


def compare_args(base: Path, cand: Path, c: Criterion) -> list[str]:
    return ["--artifacts", str(base), str(cand), "--threshold", repr(c.value),
            "--relative" if c.kind == "relative" else "--absolute", "--anomalous-gain", repr(c.anomalous_gain)]


class CompareSkill(RunnerSkill):
    name = "compare"
    stage = "compare"
    runner = "skills.compare.run"
    input_model = CompareInput
    doc_path = Path(__file__).with_name("SKILL.md")
    timeout_s = 300.0
    description = ("Compare the sealed baseline and candidate lm-eval runs task by task. The compare gate "
                   "re-derives every score from the per-sample logs and decides ACCEPT, REGRESSION or "
                   "ANOMALOUS at the release's threshold. Input optional: a stricter threshold only.")

    def command(self, inp: BaseModel, ctx: SkillContext) -> list[str]:
        criterion(ctx.config, inp)  # a looser request fails here, before anything runs
        return super().command(inp, ctx)

    def gates(self, inp: BaseModel, ctx: SkillContext, result: SkillResult) -> list[GateCall]:
        base, cand = eval_dirs(ctx.workspace, ctx.sealed)
        return [GateCall(gate="compare", args=compare_args(base, cand, criterion(ctx.config, inp)))]


SKILL = CompareSkill()
