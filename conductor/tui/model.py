"""The run screen's view model: folds the event stream into plain UI state. No textual here.

Widgets render this state; they never interpret events themselves. That keeps the rules
(what "retrying 1 of 2" means) unit-testable without a terminal, and makes a 10,000-event
transcript cheap to open (folding is plain Python). Each event type has its typed handler
(`RunModel.HANDLERS`, keyed by the event's class). The report is the one release report model
(conductor.runtime.report), folded from the typed gate verdicts; stage names and statuses are the
engine's (conductor.engine.stages); the replay viewer's stepping is in replay_model.py.

    >>> from conductor.transcript.events import StageOpened
    >>> m = RunModel()
    >>> m.apply(StageOpened(seq=1, ts="2025-01-01T00:00:00Z", stage="quantize"))
    >>> m.stages["quantize"].status
    'running'
"""

from __future__ import annotations

import copy
import json
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, ClassVar, Iterable, Optional

from conductor.engine.stages import STAGE_ORDER, Status
from conductor.runtime.progress import parse_progress
from conductor.runtime.report import ReleaseReport, fc_name
from conductor.transcript.events import (
    ApprovalDecided,
    ApprovalRequested,
    AssistantMessage,
    BudgetUpdate,
    DecisionMade,
    GateVerdict,
    HumanMessage,
    RunFinished,
    RunPaused,
    RunStarted,
    SkillFinished,
    SkillJob,
    SkillLog,
    SkillProgress,
    SkillStarted,
    StageOpened,
    StageRetry,
    StageSealed,
    TextDelta,
    ToolCall,
    ToolResult,
    Warning_,
    event_from_dict,
)
from gates.failure_classes import Decision

Handler = Callable[["RunModel", Any, Optional[float]], None]


def parse_ts(ts: str) -> Optional[float]:
    """ISO-8601 UTC -> epoch seconds (None when absent or unreadable)."""
    if not ts:
        return None
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def fmt_duration(seconds: Optional[float]) -> str:
    if seconds is None or seconds < 0 or math.isnan(seconds):
        return ""
    s = int(seconds)
    if s < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def fmt_count(n: float) -> str:
    n = float(n)
    if abs(n) >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if abs(n) >= 10_000:
        return f"{n / 1000:.0f}k"
    if abs(n) >= 1000:
        return f"{n / 1000:.1f}k"
    return f"{int(n)}"


def _as_event(event: Any) -> Any:
    return event_from_dict(event) if isinstance(event, dict) else event


def _compact_json(data: Any, limit: int = 2000) -> str:
    text = json.dumps(data, indent=1, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "\n…"


def _result_text(content: str) -> str:
    """A tool result as the conversation shows it: pretty JSON when it is JSON, capped."""
    try:
        return _compact_json(json.loads(content), limit=4000)
    except (ValueError, TypeError):
        return content if len(content) <= 4000 else content[:4000] + "\n…"


# ----------------------------------------------------------------------------------------- state


@dataclass
class StageView:
    name: str
    depends_on: list[str] = field(default_factory=list)
    status: Status = Status.PENDING
    attempt: int = 0
    retry_n: int = 0  # this is retry n ...
    retry_m: int = 0  # ... of m allowed for the failure class
    failure_class: Optional[str] = None
    opened_ts: Optional[float] = None
    ended_ts: Optional[float] = None
    duration_s: Optional[float] = None  # authoritative when sealed
    gates: dict[str, bool] = field(default_factory=dict)  # gate -> passed (last attempt)
    job: Optional[str] = None  # the attempt's SLURM job: "job 12 RUNNING vm" (None when local)

    def elapsed(self, now: Optional[float]) -> Optional[float]:
        """Seconds spent in the stage: sealed duration, else opened..ended, else opened..now."""
        if self.duration_s is not None:
            return self.duration_s
        if self.opened_ts is None:
            return None
        end = self.ended_ts if self.status not in (Status.RUNNING, Status.RETRYING) else now
        if end is None:
            end = self.ended_ts
        return None if end is None else max(0.0, end - self.opened_ts)

    @property
    def label(self) -> str:
        if self.status == Status.RETRYING:
            return f"retrying ({self.retry_n} of {self.retry_m})"
        return self.status.value


@dataclass
class ConvItem:
    """One entry of the conversation. `kind` picks the widget; `rev` bumps on every change."""

    # stage | assistant | tool_call | tool_result | skill | gate | retry | human | approval | warning | paused
    # | decision
    kind: str
    seq: int
    stage: str = ""
    title: str = ""
    body: str = ""
    ok: Optional[bool] = None
    data: dict[str, Any] = field(default_factory=dict)
    streaming: bool = False
    rev: int = 0
    fmt: Optional[Callable[[], str]] = field(default=None, repr=False)  # formats `body` on first use

    @property
    def text(self) -> str:
        """The body, formatted on first use (only items that get drawn pay for pretty JSON)."""
        if self.fmt is not None:
            self.body, self.fmt = self.fmt(), None
        return self.body


@dataclass
class BudgetView:
    turns: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: float = 0.0
    limits: dict[str, float] = field(default_factory=dict)

    def left(self, elapsed_s: Optional[float]) -> dict[str, str]:
        """Budgets left, formatted, for the limits we know."""
        out: dict[str, str] = {}
        lim = self.limits
        if "max_turns" in lim:
            out["turns"] = fmt_count(max(0, lim["max_turns"] - self.turns))
        if "max_cost_usd" in lim:
            out["$"] = f"{max(0.0, lim['max_cost_usd'] - self.cost_usd):.2f}"
        if "max_wall_s" in lim and elapsed_s is not None:
            out["time"] = fmt_duration(max(0.0, lim["max_wall_s"] - elapsed_s))
        return out


@dataclass
class LogView:
    stage: str = ""
    skill: str = ""
    running: bool = False
    lines: deque = field(default_factory=lambda: deque(maxlen=500))
    fraction: Optional[float] = None
    message: str = ""
    total_lines: int = 0  # lines ever appended (the widget appends the new tail)


@dataclass
class ApprovalView:
    request_id: str
    stage: str
    kind: str  # approval | question
    question: str
    context: dict[str, Any] = field(default_factory=dict)


# -------------------------------------------------------------------------------------- the fold


class RunModel:
    """Folds events into the state of the run screen. `keep_items=False` keeps only the rail,
    budgets and report (what the replay viewer needs at each step)."""

    HANDLERS: ClassVar[dict[type, Handler]]  # event class -> its handler (set below the class)

    def __init__(self, header: Optional[dict[str, Any]] = None, *, keep_items: bool = True):
        self.keep_items = keep_items
        self.header: dict[str, Any] = header or {}
        cfg = self.header.get("config") or {}
        self.stages: dict[str, StageView] = {s: StageView(s) for s in STAGE_ORDER}
        self.items: list[ConvItem] = []
        self.budget = BudgetView(limits={k: float(v) for k, v in (cfg.get("budgets") or {}).items()
                                         if isinstance(v, (int, float)) and not isinstance(v, bool)})
        self.log = LogView()
        self.report = ReleaseReport.for_config(cfg)
        self.run_id: str = self.header.get("run_id", "")
        self.started_ts: Optional[float] = parse_ts(self.header.get("started_at", ""))
        self.last_ts: Optional[float] = None
        self.current_stage: Optional[str] = None
        self.paused = False
        self.finished = False
        self.wall_s: Optional[float] = None
        self.pending_approvals: dict[str, ApprovalView] = {}
        self.warnings: list[str] = []
        self.event_count = 0
        self.last_seq = 0
        # change tracking for the widgets (drained by the screen after each batch)
        self.dirty_items: set[int] = set()
        self._streams: dict[int, int] = {}  # turn -> index of its streaming assistant item
        self._approvals: dict[str, int] = {}

    # -- bookkeeping

    def _add(self, item: ConvItem) -> Optional[int]:
        if not self.keep_items:
            return None
        self.items.append(item)
        idx = len(self.items) - 1
        self.dirty_items.add(idx)
        return idx

    def _touch(self, idx: Optional[int]) -> None:
        if idx is not None and 0 <= idx < len(self.items):
            self.items[idx].rev += 1
            self.dirty_items.add(idx)

    def _stage(self, name: str) -> StageView:
        if name not in self.stages:
            self.stages[name] = StageView(name)
        return self.stages[name]

    def elapsed(self, now: Optional[float]) -> Optional[float]:
        """Run time: the recorded wall time once finished, else now - start (injected clock)."""
        if self.wall_s is not None:
            return self.wall_s
        if self.started_ts is None or now is None:
            return None
        return max(0.0, now - self.started_ts)

    def drain_dirty(self) -> list[int]:
        out = sorted(self.dirty_items)
        self.dirty_items.clear()
        return out

    def snapshot(self) -> RunModel:
        """A copy to fold on from (the replay viewer's checkpoints): deep where the fold mutates."""
        if self.keep_items:
            return copy.deepcopy(self)
        m = copy.copy(self)
        m.stages = {k: copy.copy(v) for k, v in self.stages.items()}
        for v in m.stages.values():
            v.gates, v.depends_on = dict(v.gates), list(v.depends_on)
        m.budget = copy.copy(self.budget)
        m.budget.limits = dict(self.budget.limits)
        m.log = LogView(self.log.stage, self.log.skill, self.log.running, deque(self.log.lines, maxlen=500),
                        self.log.fraction, self.log.message, self.log.total_lines)
        m.report = self.report.copy_for_fold()
        m.pending_approvals = dict(self.pending_approvals)
        m.warnings = list(self.warnings)
        m.dirty_items, m._streams, m._approvals = set(), {}, {}
        return m

    # -- the fold

    def apply_many(self, events: Iterable[Any]) -> None:
        for e in events:
            self.apply(e)

    def apply(self, event: Any) -> None:
        event = _as_event(event)
        self.event_count += 1
        if event.seq > 0:
            self.last_seq = event.seq
        ts = parse_ts(event.ts)
        if ts is not None:
            self.last_ts = ts
        handler = self.HANDLERS.get(type(event))
        if handler is None:
            return
        try:
            handler(self, event, ts)
        except Exception as exc:  # a shape the view does not expect must not take the screen down
            msg = f"could not show event seq {event.seq} ({event.type}): {type(exc).__name__}: {exc}"
            self.warnings.append(msg)
            self._add(ConvItem("warning", event.seq, getattr(event, "stage", "") or "", body=msg))

    def _on_run_started(self, e: RunStarted, ts: Optional[float]) -> None:
        self.run_id = e.run_id
        if ts is not None:
            self.started_ts = ts
        if e.plan:
            old = self.stages
            self.stages = {}
            for p in e.plan:
                name = p.get("stage")  # engine.stages.StagePlan.as_dict
                if name:
                    sv = old.get(name) or StageView(name)
                    sv.depends_on = list(p.get("depends_on") or [])
                    self.stages[name] = sv

    def _on_stage_opened(self, e: StageOpened, ts: Optional[float]) -> None:
        st = self._stage(e.stage)
        if st.status != Status.RETRYING or st.opened_ts is None:
            st.opened_ts = ts
        st.status = Status.RUNNING if st.status != Status.RETRYING else Status.RETRYING
        st.attempt = e.attempt
        st.ended_ts = None
        self.current_stage = e.stage
        self._add(ConvItem("stage", e.seq, e.stage, title=e.stage, data={"attempt": e.attempt, "tools": e.tools}))

    def _on_text_delta(self, e: TextDelta, ts: Optional[float]) -> None:
        idx = self._streams.get(e.turn)
        if idx is None:
            idx = self._add(ConvItem("assistant", e.seq, self.current_stage or "", body="", streaming=True,
                                     data={"turn": e.turn}))
            if idx is None:
                return
            self._streams[e.turn] = idx
        self.items[idx].body += e.text
        self._touch(idx)

    def _on_assistant_message(self, e: AssistantMessage, ts: Optional[float]) -> None:
        b = self.budget
        b.turns += 1
        b.input_tokens += e.usage.input_tokens
        b.output_tokens += e.usage.output_tokens
        b.cache_read_tokens += e.usage.cache_read_input_tokens
        b.cost_usd += e.cost_usd
        text = "\n\n".join(blk.get("text", "") for blk in e.content if blk.get("type") == "text").strip()
        idx = self._streams.pop(e.turn, None)
        if idx is not None and self.keep_items:
            item = self.items[idx]
            item.body, item.streaming = text or item.body, False
            item.data.update(stop_reason=e.stop_reason, model=e.model)
            self._touch(idx)
        elif text:
            self._add(ConvItem("assistant", e.seq, e.stage, body=text,
                               data={"turn": e.turn, "stop_reason": e.stop_reason, "model": e.model}))
        if e.stop_reason in ("max_tokens", "refusal"):
            self._add(ConvItem("warning", e.seq, e.stage,
                               body=f"model turn {e.turn} ended with stop_reason {e.stop_reason}"))

    def _on_tool_call(self, e: ToolCall, ts: Optional[float]) -> None:
        if not self.keep_items:
            return
        self._add(ConvItem("tool_call", e.seq, e.stage, title=e.name, fmt=lambda: _compact_json(e.input),
                           data={"input": e.input, "tool_use_id": e.tool_use_id}))

    def _on_tool_result(self, e: ToolResult, ts: Optional[float]) -> None:
        if not self.keep_items:
            return
        self._add(ConvItem("tool_result", e.seq, e.stage, title=e.name, fmt=lambda: _result_text(e.content),
                           ok=not e.is_error, data={"tool_use_id": e.tool_use_id}))

    def _on_skill_started(self, e: SkillStarted, ts: Optional[float]) -> None:
        self.log.stage, self.log.skill, self.log.running = e.stage, e.skill, True
        self.log.fraction, self.log.message = None, ""
        self._log_lines([f"$ {' '.join(e.argv)}" if e.argv else f"$ {e.skill}"])

    def _log_lines(self, lines: list[str]) -> None:
        self.log.lines.extend(lines)
        self.log.total_lines += len(lines)

    def _on_skill_log(self, e: SkillLog, ts: Optional[float]) -> None:
        self.log.stage, self.log.skill = e.stage, e.skill
        # the engine sends progress as skill_progress, never as log lines; a hand-made stream may not
        self._log_lines([ln for ln in e.lines if parse_progress(ln) is None])

    def _on_skill_progress(self, e: SkillProgress, ts: Optional[float]) -> None:
        if e.fraction is not None:
            self.log.fraction = max(0.0, min(1.0, e.fraction))
        if e.message:
            self.log.message = e.message

    def _on_skill_job(self, e: SkillJob, ts: Optional[float]) -> None:
        where = e.reason if e.state == "PENDING" else e.node
        self._stage(e.stage).job = f"job {e.job_id} {e.state}" + (f" {where}" if where else "")

    def _on_skill_finished(self, e: SkillFinished, ts: Optional[float]) -> None:
        self.log.running = False
        if e.ok and self.log.fraction is not None:
            self.log.fraction = 1.0
        status = "ok" if e.ok else ("timed out" if e.timed_out else f"failed (exit {e.exit_code})")
        self._log_lines([f"[{e.skill} {status} in {fmt_duration(e.duration_s)}]"])
        self._add(ConvItem("skill", e.seq, e.stage, title=e.skill, ok=e.ok,
                           body=f"{e.skill} {status} in {fmt_duration(e.duration_s)}"
                                + (f": {e.error}" if e.error else "")))

    def _on_gate_verdict(self, e: GateVerdict, ts: Optional[float]) -> None:
        v = e.verdict
        st = self._stage(e.stage)
        st.gates[e.gate] = v.passed
        if v.passed:
            if all(st.gates.values()) and st.status != Status.SEALED:
                st.status = Status.PASSED
            st.failure_class = None
        else:
            st.status, st.failure_class = Status.FAILED, fc_name(v)
            st.ended_ts = ts
        self.report.add_verdict(e.stage, e.attempt, v, facts=e.facts, seq=e.seq)
        self._add(ConvItem("gate", e.seq, e.stage, title=e.gate, ok=v.passed, body=v.detail,
                           data={"failure_class": fc_name(v), "checks": list(v.checks), "attempt": e.attempt,
                                 "duration_s": e.duration_s, "exit_code": e.exit_code}))

    def _on_stage_retry(self, e: StageRetry, ts: Optional[float]) -> None:
        st = self._stage(e.stage)
        st.status, st.failure_class = Status.RETRYING, e.failure_class
        # the core counts retries_left including the retry about to start (budget - failures + 1)
        st.retry_m = e.budget_for_class
        st.retry_n = max(1, min(e.budget_for_class, e.budget_for_class - e.retries_left + 1))
        after = e.retries_left - 1
        self._add(ConvItem("retry", e.seq, e.stage, title=e.failure_class, ok=None,
                           body=f"retry {st.retry_n} of {st.retry_m} for {e.failure_class}"
                                + (f" ({after} more after this one)" if after > 0 else " (the last one)")))

    def _on_stage_sealed(self, e: StageSealed, ts: Optional[float]) -> None:
        st = self._stage(e.stage)
        st.status, st.duration_s, st.ended_ts, st.failure_class = Status.SEALED, e.duration_s, ts, None
        self._add(ConvItem("stage_sealed", e.seq, e.stage, title=e.stage, ok=True,
                           body=f"{e.stage} sealed in {fmt_duration(e.duration_s)} "
                                f"({len(e.artifacts)} artifacts hashed)"))

    def _on_approval_requested(self, e: ApprovalRequested, ts: Optional[float]) -> None:
        self.pending_approvals[e.request_id] = ApprovalView(e.request_id, e.stage, e.kind, e.question, dict(e.context))
        idx = self._add(ConvItem("approval", e.seq, e.stage, title=e.kind, body=e.question,
                                 data={"request_id": e.request_id, "context": e.context, "answer": None}))
        if idx is not None:
            self._approvals[e.request_id] = idx

    def _on_approval_decided(self, e: ApprovalDecided, ts: Optional[float]) -> None:
        self.pending_approvals.pop(e.request_id, None)
        idx = self._approvals.get(e.request_id)
        if idx is not None:
            item = self.items[idx]
            item.data.update(answer=e.answer, text=e.text, by=e.by)
            item.ok = e.answer in ("approve", "answer")
            self._touch(idx)

    def _on_human_message(self, e: HumanMessage, ts: Optional[float]) -> None:
        self._add(ConvItem("human", e.seq, self.current_stage or "", body=e.text))

    def _on_run_paused(self, e: RunPaused, ts: Optional[float]) -> None:
        self.paused = e.paused
        self._add(ConvItem("paused", e.seq, self.current_stage or "", body="paused" if e.paused else "resumed"))

    def _on_budget(self, e: BudgetUpdate, ts: Optional[float]) -> None:
        b = self.budget
        b.turns, b.input_tokens, b.output_tokens = e.turns, e.input_tokens, e.output_tokens
        b.cache_read_tokens, b.cost_usd = e.cache_read_tokens, e.cost_usd
        if e.limits:
            b.limits = dict(e.limits)

    def _on_warning(self, e: Warning_, ts: Optional[float]) -> None:
        self.warnings.append(e.message)
        self._add(ConvItem("warning", e.seq, self.current_stage or "", body=e.message))

    def _on_decision(self, e: DecisionMade, ts: Optional[float]) -> None:
        self.report.decide(e.decision, e.exit_code, e.reason, e.failure_class, e.stage)
        about_the_model = e.decision not in (Decision.ACCEPT, Decision.INTERRUPTED)
        if e.stage and e.stage in self.stages and about_the_model and e.failure_class:
            st = self.stages[e.stage]  # the stage whose failure decided the run
            if st.status in (Status.RUNNING, Status.RETRYING, Status.PASSED):
                st.status, st.ended_ts = Status.FAILED, ts
                st.failure_class = st.failure_class or e.failure_class
        self._add(ConvItem("decision", e.seq, e.stage or "", title=e.decision, ok=e.exit_code == 0,
                           body=e.reason, data={"exit_code": e.exit_code, "failure_class": e.failure_class}))

    def _on_run_finished(self, e: RunFinished, ts: Optional[float]) -> None:
        self.finished = True
        self.wall_s = e.wall_s
        b = self.budget
        b.turns, b.input_tokens, b.output_tokens = e.turns, e.input_tokens, e.output_tokens
        b.cache_read_tokens, b.cost_usd = e.cache_read_tokens, e.cost_usd
        if self.report.decision is None:  # a record cut before its decision event
            self.report.decision = Decision(e.decision)
        if self.report.exit_code is None:
            self.report.exit_code = e.exit_code
        for name, d in e.stage_durations_s.items():
            st = self._stage(name)
            if st.duration_s is None and st.status in (Status.SEALED, Status.PASSED, Status.FAILED):
                st.duration_s = d
        for st in self.stages.values():  # a stage still open at the end was cut off, not failed
            if st.status in (Status.RUNNING, Status.RETRYING, Status.PASSED):
                st.status, st.ended_ts = Status.STOPPED, ts
        self.log.running = False


RunModel.HANDLERS = {
    RunStarted: RunModel._on_run_started, StageOpened: RunModel._on_stage_opened, TextDelta: RunModel._on_text_delta,
    AssistantMessage: RunModel._on_assistant_message, ToolCall: RunModel._on_tool_call,
    ToolResult: RunModel._on_tool_result, SkillStarted: RunModel._on_skill_started, SkillLog: RunModel._on_skill_log,
    SkillProgress: RunModel._on_skill_progress, SkillJob: RunModel._on_skill_job,
    SkillFinished: RunModel._on_skill_finished,
    GateVerdict: RunModel._on_gate_verdict, StageRetry: RunModel._on_stage_retry,
    StageSealed: RunModel._on_stage_sealed, ApprovalRequested: RunModel._on_approval_requested,
    ApprovalDecided: RunModel._on_approval_decided, HumanMessage: RunModel._on_human_message,
    RunPaused: RunModel._on_run_paused, BudgetUpdate: RunModel._on_budget, Warning_: RunModel._on_warning,
    DecisionMade: RunModel._on_decision, RunFinished: RunModel._on_run_finished,
}
