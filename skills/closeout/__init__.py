"""closeout: the release report, written after the decision and before decision.json.

The conductor runs this skill itself once the run has its decision (it is never offered to the
agent), then writes decision.json last. The skill writes `<workspace>/report.md` and
`<workspace>/report.json` (the same rows, for the TUI), both atomically, from the workspace's
records alone (seals, gate verdicts and facts, skill results; see records.py). When it fails,
the conductor's minimal report stands in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict

from conductor.runtime.skill import SkillContext
from skills.common.base import RunnerSkill


class CloseoutInput(BaseModel):
    """Closeout takes everything from the workspace and the decision."""

    model_config = ConfigDict(extra="forbid")


class CloseoutSkill(RunnerSkill):
    name = "closeout"
    stage = "closeout"
    runner = "skills.closeout.run"
    input_model = CloseoutInput
    doc_path = Path(__file__).with_name("SKILL.md")
    timeout_s = 120.0
    description = ("Write the release report (report.md and report.json) from the sealed records and gate "
                   "verdicts: decision and recommendation, size, per-task table, every verdict, how each side "
                   "was evaluated, canary, retries, machine. Run by the conductor after the decision.")

    def operator_call(self, ctx: SkillContext, last_failure: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
        return {}


SKILL = CloseoutSkill()
