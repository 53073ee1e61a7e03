"""Run the real loop over fake skills and fake gates, in-process, and collect what happened."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from conductor.engine.approver import Approver, NoHumanApprover
from conductor.engine.config import load_config
from conductor.engine.loop import RunOutcome
from conductor.engine.session import run_session
from conductor.providers.scripted import ScriptedProvider, tool_use
from conductor.runtime.workspace import Workspace
from conductor.transcript.jsonl import read_transcript

FAKE_GATES = "tests.fakes.gates"


@dataclass
class Result:
    outcome: RunOutcome
    events: list[Any] = field(default_factory=list)
    workspace: Optional[Workspace] = None

    def of(self, type_: str) -> list[Any]:
        return [e for e in self.events if e.type == type_]

    @property
    def decision(self) -> str:
        return self.outcome.decision

    def recorded(self) -> list[Any]:
        assert self.workspace is not None
        return read_transcript(self.workspace.transcript_path).events


def config(tmp: Path, **overrides: Any):
    budgets = overrides.pop("budgets", {})
    cfg = {"workspace": str(tmp / "ws"), "provider": "scripted", **overrides}
    for k, v in budgets.items():
        cfg[f"budgets.{k}"] = v
    return load_config(overrides=cfg)


def run(tmp: Path, skills: Sequence[Any], provider: Any, *, approver: Optional[Approver] = None,
        **kwargs: Any) -> Result:
    cfg = config(tmp, **kwargs.pop("cfg", {}))
    events: list[Any] = []
    listeners = [events.append, *kwargs.pop("listeners", [])]
    outcome = run_session(cfg, provider, skills, approver or NoHumanApprover(), listeners=listeners,
                          gate_prefix=FAKE_GATES, **kwargs)
    return Result(outcome, events, Workspace(cfg.workspace))


def operator_script(skills: Sequence[Any]):
    """A scripted provider that calls the open stage's first skill every turn (same input)."""
    by_stage = {s.stage: s for s in skills}

    def respond(req):
        return tool_use(by_stage[req.stage].name, {"recipe": "fp8"})

    return ScriptedProvider(respond)
