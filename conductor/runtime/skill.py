"""The Skill interface: what the conductor needs to offer a domain skill to the agent and run it.

A skill is a tool the agent calls. The conductor validates the call's input against the skill's
input model (its JSON Schema is the tool's input_schema), builds the skill's command, runs it as a
subprocess through the executor, reads the `result.json` the skill wrote into its output folder,
and then runs the stage's gates on the artifacts the skill left there.

    class Quantize:
        name = "quantize"; stage = "quantize"; input_model = QuantizeInput
        doc_path = Path(__file__).with_name("SKILL.md"); timeout_s = 3600
        description = "Post-training quantization with nvidia-modelopt; exports a HF checkpoint."
        def command(self, inp, ctx): return [sys.executable, "-m", "skills.quantize.run", ...]
        def gates(self, inp, ctx, result): return [GateCall(gate="ptq", args=[...])]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

RESULT_FILE = "result.json"


class GateCall(BaseModel):
    """One gate to run after a skill: `python -m gates.<gate> <args...>`."""

    model_config = ConfigDict(extra="forbid")

    gate: str
    args: list[str]  # e.g. ["--artifacts", src, export, "--recipe", "fp8"] or ["--input", facts]


class SkillResult(BaseModel):
    """What a skill writes to `<out_dir>/result.json` when it exits (atomically)."""

    model_config = ConfigDict(extra="forbid")

    ok: bool
    summary: str = ""
    artifacts: dict[str, str] = Field(default_factory=dict)  # name -> path (relative to workspace or absolute)
    data: dict[str, Any] = Field(default_factory=dict)  # facts the next stages may use
    error: Optional[str] = None
    # a skill may classify its own failure when it knows (HARDWARE_UNAVAILABLE for nvfp4 on CPU)
    failure_class: Optional[str] = None


class SkillContext(BaseModel):
    """What a skill knows when it builds its command: where to write, what earlier stages sealed."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    workspace: Path
    out_dir: Path  # this attempt's folder: <workspace>/stages/<stage>/attempt-<n>
    config: dict[str, Any]  # ReleaseConfig as JSON
    sealed: dict[str, SkillResult] = Field(default_factory=dict)  # stage -> last passing result
    python: str  # interpreter to run skill modules with
    # set only for the closeout stage: the run's decision ({decision, exit_code, reason, ...})
    decision: Optional[dict[str, Any]] = None


@runtime_checkable
class Skill(Protocol):
    name: str
    stage: str
    description: str
    input_model: type[BaseModel]
    doc_path: Optional[Path]
    timeout_s: float

    def command(self, inp: BaseModel, ctx: SkillContext) -> list[str]:
        """argv of the subprocess that does the work and writes out_dir/result.json."""

    def gates(self, inp: BaseModel, ctx: SkillContext, result: SkillResult) -> list[GateCall]:
        """The gates that judge this skill's artifacts (may be empty: the stage is then judged
        by the conductor on the result alone, which is allowed only for stages without a gate)."""

    def operator_call(self, ctx: SkillContext, last_failure: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
        """What a careful operator would pass to this skill next (the autopilot provider asks).

        `last_failure` is the previous attempt's verdict summary ({failure_class, detail, evidence,
        input}) or None on the first attempt. Return None when there is no honest repair left:
        the autopilot then declares the point infeasible or asks a human, per the triage table."""


def tool_schema(skill: Skill) -> dict[str, Any]:
    """The Anthropic tool definition for a skill."""
    schema = skill.input_model.model_json_schema()
    schema.pop("title", None)
    return {"name": skill.name, "description": skill.description, "input_schema": schema}
