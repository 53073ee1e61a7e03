"""A recorded run, indexed for replay and resume: segments, calls, verdicts, seals, totals.

A transcript holds one segment per `run_started` (the first run, then one per resume). Within a
segment every skill call is keyed by its tool_use_id, with what it recorded: skill_started,
skill_finished, its gate verdicts, the seal it produced and the tool result the agent got.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from conductor.engine.loop import SealedStage
from conductor.engine.stages import CLOSEOUT, StagePlan
from conductor.runtime.skill import SkillResult
from conductor.transcript.events import (
    ApprovalDecided,
    AssistantMessage,
    DecisionMade,
    GateVerdict,
    RunStarted,
    SkillFinished,
    SkillStarted,
    StageRetry,
    StageSealed,
    ToolCall,
    ToolResult,
)


@dataclass
class CallRecord:
    started: SkillStarted
    finished: Optional[SkillFinished] = None
    gates: list[GateVerdict] = field(default_factory=list)
    sealed: Optional[StageSealed] = None
    result: Optional[ToolResult] = None


@dataclass
class Segment:
    started: RunStarted
    events: list[Any]
    assistant: list[AssistantMessage] = field(default_factory=list)
    calls: dict[str, CallRecord] = field(default_factory=dict)
    tool_calls: dict[str, ToolCall] = field(default_factory=dict)
    tool_results: dict[str, ToolResult] = field(default_factory=dict)
    approvals: list[ApprovalDecided] = field(default_factory=list)
    decision: Optional[DecisionMade] = None

    @property
    def ended_by_interruption(self) -> bool:
        """Interrupted (Ctrl-C) or killed (no decision at all): the record stops mid-run."""
        return self.decision is None or self.decision.decision == "INTERRUPTED"

    @property
    def last_seq(self) -> int:
        return self.events[-1].seq if self.events else self.started.seq

    def plan(self) -> list[StagePlan]:
        return [StagePlan(p["stage"], tuple(p.get("depends_on", ())), tuple(p.get("tools", ())),
                          tuple(p.get("gates", ()))) for p in self.started.plan]

    def gate_module_prefix(self) -> str:
        return next((str(p["gate_module_prefix"]) for p in self.started.plan if p.get("gate_module_prefix")), "gates")


def index_segment(events: list[Any]) -> Segment:
    seg = Segment(started=events[0], events=events)
    current: Optional[CallRecord] = None
    for ev in events[1:]:
        if isinstance(ev, AssistantMessage):
            seg.assistant.append(ev)
        elif isinstance(ev, ToolCall):
            seg.tool_calls[ev.tool_use_id] = ev
        elif isinstance(ev, SkillStarted):
            current = seg.calls[ev.tool_use_id] = CallRecord(ev)
        elif isinstance(ev, SkillFinished) and current is not None:
            current.finished = ev
        elif isinstance(ev, GateVerdict) and current is not None:
            current.gates.append(ev)
        elif isinstance(ev, StageSealed) and current is not None and ev.stage != CLOSEOUT:
            current.sealed = ev
        elif isinstance(ev, ToolResult):
            seg.tool_results[ev.tool_use_id] = ev
            if ev.tool_use_id in seg.calls:
                seg.calls[ev.tool_use_id].result = ev
        elif isinstance(ev, ApprovalDecided):
            seg.approvals.append(ev)
        elif isinstance(ev, DecisionMade):
            seg.decision = ev
    return seg


def segments(events: list[Any]) -> list[Segment]:
    """One Segment per run_started (events before the first run_started are ignored)."""
    out: list[list[Any]] = []
    for ev in events:
        if isinstance(ev, RunStarted):
            out.append([ev])
        elif out:
            out[-1].append(ev)
    return [index_segment(s) for s in out]


def sealed_in(segs: list[Segment]) -> dict[str, SealedStage]:
    """The stages sealed in these segments, as replay restores them."""
    out: dict[str, SealedStage] = {}
    for seg in segs:
        for call in seg.calls.values():
            if call.sealed is not None and call.finished is not None:
                out[call.sealed.stage] = SealedStage(SkillResult.model_validate(call.finished.result),
                                                     [g.verdict for g in call.gates])
    return out


def totals(events: list[Any]) -> dict[str, float]:
    """Turns, tokens and cost of the recorded turns, counted as the Budget counts them."""
    t = {"turns": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
    for ev in events:
        if isinstance(ev, AssistantMessage):
            u = ev.usage
            t["turns"] += 1
            t["input_tokens"] += u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens
            t["output_tokens"] += u.output_tokens
            t["cost_usd"] += ev.cost_usd
    return t


def open_stage_counts(events: list[Any], sealed: set[str]) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """(failures per stage and class, skill calls per stage) for the stages not sealed."""
    failures: dict[str, dict[str, int]] = {}
    calls: dict[str, int] = {}
    for ev in events:
        if isinstance(ev, StageRetry) and ev.stage not in sealed:
            per = failures.setdefault(ev.stage, {})
            per[ev.failure_class] = per.get(ev.failure_class, 0) + 1
        elif isinstance(ev, SkillStarted) and ev.stage not in sealed and ev.stage != CLOSEOUT:
            calls[ev.stage] = calls.get(ev.stage, 0) + 1
    return failures, calls
