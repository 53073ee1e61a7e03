"""The Skill side of a runner: write the input and context next to the attempt, build the argv.

    class Compare(RunnerSkill):
        name = stage = "compare"; runner = "skills.compare.run"; input_model = CompareInput
        description = "..."; doc_path = Path(__file__).with_name("SKILL.md")

`command()` writes `<out_dir>/args.json` (the validated input) and `<out_dir>/context.json`
(config, sealed results, decision, the conductor's cwd) and returns
`[python, skills/common/launch.py, <runner>, --input ..., --out-dir ..., --workspace ..., --context ...]`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel

from conductor.runtime.fsutil import atomic_write_json
from conductor.runtime.skill import GateCall, SkillContext, SkillResult

LAUNCH = Path(__file__).resolve().with_name("launch.py")
ARGS_FILE = "args.json"
CONTEXT_FILE = "context.json"


def context_record(ctx: SkillContext) -> dict[str, Any]:
    """What the runner reads besides its input. `cwd` is the conductor's working directory: a
    relative path the user gave (a model directory) is relative to it, not to the workspace."""
    return {"config": ctx.config, "decision": ctx.decision, "python": ctx.python, "cwd": os.getcwd(),
            "sealed": {k: v.model_dump(mode="json") for k, v in ctx.sealed.items()}}


def runner_argv(ctx: SkillContext, module: str, inp: BaseModel) -> list[str]:
    out = Path(ctx.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    args = atomic_write_json(out / ARGS_FILE, inp.model_dump(mode="json"))
    context = atomic_write_json(out / CONTEXT_FILE, context_record(ctx))
    return [ctx.python, str(LAUNCH), module, "--input", str(args), "--out-dir", str(out),
            "--workspace", str(ctx.workspace), "--context", str(context)]


class RunnerSkill:
    """A Skill whose work is done by the runner module `runner` (see skills.common.runner)."""

    name: str
    stage: str
    description: str
    input_model: type[BaseModel]
    doc_path: Optional[Path] = None
    timeout_s: float = 600.0
    runner: str

    def command(self, inp: BaseModel, ctx: SkillContext) -> list[str]:
        return runner_argv(ctx, self.runner, inp)

    def gates(self, inp: BaseModel, ctx: SkillContext, result: SkillResult) -> list[GateCall]:
        return []

    def operator_call(self, ctx: SkillContext, last_failure: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
        """The defaults first; no repair of our own after a failure (the same input would fail again)."""
        return {} if last_failure is None else None

    def __repr__(self) -> str:
        return f"<skill {self.name} (stage {self.stage})>"
