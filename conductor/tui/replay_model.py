"""The replay viewer's model: a transcript's events, a cursor, the run state at the cursor
(rebuilt from checkpoints), one-line summaries, and the divergence. No textual.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional

from conductor.replay.replayer import Divergence
from conductor.runtime.report import fc_name
from conductor.transcript.events import (
    ApprovalDecided,
    ApprovalRequested,
    AssistantMessage,
    DecisionMade,
    GateVerdict,
    HumanMessage,
    RunFinished,
    RunPaused,
    RunStarted,
    SkillFinished,
    SkillStarted,
    StageOpened,
    StageRetry,
    StageSealed,
    ToolCall,
    ToolResult,
    Warning_,
)
from conductor.tui.model import RunModel, _as_event, fmt_duration

# ------------------------------------------------------------------------------- replay model


def _gate(e: GateVerdict) -> tuple[str, str]:
    ok = e.verdict.passed
    return (f"{e.gate} {'PASS' if ok else 'FAIL ' + str(fc_name(e.verdict))}", "pass" if ok else "fail")


def _call(e: ToolCall) -> tuple[str, str]:
    args = ", ".join(f"{k}={json.dumps(v, default=str)[:24]}" for k, v in list(e.input.items())[:3])
    return (f"{e.name}({args})", "text")


def _turn(e: AssistantMessage) -> tuple[str, str]:
    text = " ".join(b.get("text", "") for b in e.content if b.get("type") == "text").replace("\n", " ")
    return (f"turn {e.turn}: {text[:70] or e.stop_reason}", "text")


def _ok(ok: bool) -> str:
    return "pass" if ok else "fail"


# event class -> (one-line summary, tone); typed handlers, looked up by the event's class
_SUMMARIES: dict[type, Callable[[Any], tuple[str, str]]] = {
    GateVerdict: _gate,
    ToolCall: _call,
    ToolResult: lambda e: (f"{e.name} -> {'error' if e.is_error else 'ok'}: {e.content[:60]}",
                           "fail" if e.is_error else "dim"),
    AssistantMessage: _turn,
    StageOpened: lambda e: (f"open {e.stage} (attempt {e.attempt})", "text"),
    StageRetry: lambda e: (f"retry {e.stage}: {e.failure_class}, {e.retries_left} left", "retry"),
    StageSealed: lambda e: (f"sealed {e.stage} in {fmt_duration(e.duration_s)}", "pass"),
    SkillStarted: lambda e: (f"{e.skill} started", "dim"),
    SkillFinished: lambda e: (f"{e.skill} {'ok' if e.ok else 'failed'} in {fmt_duration(e.duration_s)}",
                              "dim" if e.ok else "fail"),
    ApprovalRequested: lambda e: (f"{e.kind}: {e.question[:60]}", "human"),
    ApprovalDecided: lambda e: (f"answer {e.answer} by {e.by} {e.text[:40]}", "human"),
    HumanMessage: lambda e: (f"human: {e.text[:60]}", "human"),
    DecisionMade: lambda e: (f"DECISION {e.decision} (exit {e.exit_code}) {e.reason[:50]}", _ok(e.exit_code == 0)),
    RunFinished: lambda e: (f"finished {e.decision} in {fmt_duration(e.wall_s)}", _ok(e.exit_code == 0)),
    RunStarted: lambda e: (f"run {e.run_id}", "text"),
    Warning_: lambda e: (f"warning: {e.message[:60]}", "retry"),
    RunPaused: lambda e: ("paused" if e.paused else "resumed", "retry"),
}

# event class -> whether this event is a failure (the viewer's "next failure")
_FAILURES: dict[type, Callable[[Any], bool]] = {
    GateVerdict: lambda e: not e.verdict.passed,
    ToolResult: lambda e: e.is_error,
    SkillFinished: lambda e: not e.ok,
    DecisionMade: lambda e: e.exit_code != 0,
    StageRetry: lambda e: True,
}


def event_summary(e: Any) -> tuple[str, str]:
    """(one-line summary, tone) for the timeline; tone: pass | fail | retry | dim | text | human."""
    summary = _SUMMARIES.get(type(e))
    return summary(e) if summary is not None else (e.type, "dim")


def is_failure(e: Any) -> bool:
    check = _FAILURES.get(type(e))
    return check is not None and check(e)


class ReplayModel:
    """A transcript opened for stepping: the events, a cursor, and the run state at the cursor.

    State at step i is rebuilt from the nearest checkpoint (one every `every` events), so
    stepping back costs at most `every` folds, whatever the transcript's length.
    """

    def __init__(self, header: dict[str, Any], events: list[Any], *, every: int = 256,
                 divergence: Optional[Divergence] = None):
        self.header = header
        self.events = [_as_event(e) for e in events]
        self.every = every
        self.cursor = 0
        self.divergence = divergence
        self._summaries: dict[int, tuple[str, str]] = {}
        self._checkpoints: list[RunModel] = []
        m = RunModel(header, keep_items=False)
        for i, e in enumerate(self.events):
            if i % every == 0:
                self._checkpoints.append(m.snapshot())  # state before event i
            m.apply(e)
        self.final = m
        self._at_index = -1
        self._at: Optional[RunModel] = None

    def __len__(self) -> int:
        return len(self.events)

    def summary(self, i: int) -> tuple[str, str]:
        s = self._summaries.get(i)
        if s is None:
            s = self._summaries[i] = event_summary(self.events[i])
        return s

    @property
    def divergence_index(self) -> Optional[int]:
        if self.divergence is None:
            return None
        return next((i for i, e in enumerate(self.events) if e.seq == self.divergence.seq), None)

    def state_at(self, i: int) -> RunModel:
        """The run state after events[0..i] (inclusive)."""
        if not self.events:
            return self.final
        i = max(0, min(i, len(self.events) - 1))
        if self._at is not None and self._at_index <= i and i - self._at_index <= self.every:
            m, start = self._at, self._at_index + 1
        else:
            k = i // self.every
            m, start = self._checkpoints[k].snapshot(), k * self.every
        for j in range(start, i + 1):
            m.apply(self.events[j])
        self._at, self._at_index = m, i
        return m

    def move(self, i: int) -> int:
        self.cursor = max(0, min(i, len(self.events) - 1)) if self.events else 0
        return self.cursor

    def find_next(self, pred, start: Optional[int] = None, backwards: bool = False) -> Optional[int]:
        i = self.cursor if start is None else start
        rng = range(i - 1, -1, -1) if backwards else range(i + 1, len(self.events))
        return next((j for j in rng if pred(self.events[j])), None)

    def next_gate(self, backwards: bool = False) -> Optional[int]:
        return self.find_next(lambda e: isinstance(e, GateVerdict), backwards=backwards)

    def next_failure(self, backwards: bool = False) -> Optional[int]:
        return self.find_next(is_failure, backwards=backwards)
