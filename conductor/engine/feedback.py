"""What the agent reads back from a failed skill call: the evidence, trimmed, as JSON text.

The full verdicts and logs stay in the workspace (the agent can read_artifact them); a tool
result carries the failure's detail, the failed checks, the evidence and the log tail, capped.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from conductor.engine.attempt import SkillRun
from conductor.gating.runner import GateRun
from conductor.transcript.events import verdict_record
from gates.failure_classes import Decision

EVIDENCE_CHARS = 6000  # evidence shown to the agent per failure


def to_json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=False, default=str)


def _cap(obj: Any, limit: int = EVIDENCE_CHARS) -> Any:
    text = to_json(obj)
    return obj if len(text) <= limit else text[:limit] + "… (truncated; read the verdict file for all of it)"


def skill_failure_payload(run: SkillRun) -> dict[str, Any]:
    return {"detail": run.error or "the skill failed", "exit_code": run.exit_code, "timed_out": run.timed_out,
            "log_tail": run.log_tail, "result": _cap(run.raw_result) if run.raw_result else None}


def gate_failure_payload(o: GateRun) -> dict[str, Any]:
    printed = verdict_record(o.verdict)  # the checks as the gate printed them
    failed = [c for c in printed["checks"] if c["pass"] is False]
    return {"gate": o.gate, "detail": o.verdict.detail, "failed_checks": _cap(failed),
            "evidence": _cap(o.verdict.evidence)}


def evidence_decision(gate: Optional[GateRun]) -> Optional[Decision]:
    """The compare gate names the decision itself (evidence.decision); other gates do not."""
    if gate is None or gate.gate != "compare":
        return None
    value = gate.verdict.evidence.get("decision")
    return Decision(value) if value in {Decision.REGRESSION.value, Decision.ANOMALOUS.value} else None
