"""FakeSkill: a real Skill (the conductor's interface) whose process is tests/fakes/skill_main.py.

What an attempt does is chosen by attempt number: `behaviours[min(n, len) - 1]`, so a test says
"fail the first time with SIZE_NOT_REDUCED, pass the second" without touching the model's input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from pydantic import BaseModel, ConfigDict, Field

from conductor.runtime.skill import GateCall, SkillContext, SkillResult

MAIN = str(Path(__file__).with_name("skill_main.py"))

STAGE_GATES = {"quantize": ["ptq"], "serve": ["serve"], "eval_baseline": ["eval_run"], "eval_candidate": ["eval_run"],
               "compare": ["compare"], "audits": ["verbosity", "audit"], "preflight": [], "closeout": []}


class FakeInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipe: str = Field(default="fp8", min_length=1)
    calib_size: int = Field(default=64, ge=1)


class FakeSkill:
    input_model = FakeInput
    doc_path = None

    def __init__(self, stage: str, behaviours: Sequence[dict[str, Any]] = ({},), *, name: Optional[str] = None,
                 gates: Optional[Sequence[str]] = None, timeout_s: float = 30.0,
                 operator: Optional[Callable[[SkillContext, Optional[dict]], Optional[dict]]] = None):
        self.stage = stage
        self.name = name or stage
        self.description = f"fake skill of stage {stage}"
        self.behaviours = list(behaviours)
        self.gate_names = list(gates) if gates is not None else list(STAGE_GATES.get(stage, []))
        self.timeout_s = timeout_s
        self.operator = operator
        self.calls: list[dict[str, Any]] = []

    def behaviour(self, ctx: SkillContext) -> dict[str, Any]:
        n = int(ctx.out_dir.name.rsplit("-", 1)[-1])
        return self.behaviours[min(n, len(self.behaviours)) - 1]

    def command(self, inp: BaseModel, ctx: SkillContext) -> list[str]:
        self.calls.append(inp.model_dump())
        return [sys.executable, "-I", "-S", MAIN, str(ctx.out_dir), json.dumps(self.behaviour(ctx))]

    def gates(self, inp: BaseModel, ctx: SkillContext, result: SkillResult) -> list[GateCall]:
        return [GateCall(gate=g, args=["--input", str(ctx.out_dir / "facts.json")]) for g in self.gate_names]

    def operator_call(self, ctx: SkillContext, last_failure: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
        if self.operator is not None:
            return self.operator(ctx, last_failure)
        return {"recipe": "fp8"} if last_failure is None else {"recipe": "int8_sq"}


def chain(**overrides: Sequence[dict[str, Any]]) -> list[FakeSkill]:
    """The six gated stages with fake skills (all passing unless overridden per stage)."""
    stages = ["quantize", "serve", "eval_baseline", "eval_candidate", "compare", "audits"]
    return [FakeSkill(s, overrides.get(s, ({},))) for s in stages]


def fail(fc: str, **facts: Any) -> dict[str, Any]:
    """An attempt whose gate fails with `fc`."""
    return {"facts": {"pass": False, "failure_class": fc, **facts}}


def skill_fail(fc: Optional[str], error: str = "it broke") -> dict[str, Any]:
    """An attempt whose skill itself reports failure (classified or not)."""
    return {"result": {"ok": False, "failure_class": fc, "error": error}}
