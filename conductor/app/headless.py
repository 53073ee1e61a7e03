"""Headless output: one readable line per meaningful event on stderr, and with --json one JSON
object per event on stdout, the last being the run_finished result event. When the run finishes,
stderr ends with the release report's figures (conductor.runtime.report, the model report.md and
the TUI's report screen show), folded from the typed gate verdicts as they passed.

The JSON stream carries every event, ephemeral ones included (budget, skill_progress), except
`text_delta` (the complete text arrives in the next assistant_message) and `skill_log` (the lines
are in the log file whose path skill_started gives). Both streams are redacted when a Redactor
is given (the transcript writer redacts on its own).

    printer = HeadlessPrinter(stream=sys.stderr, json_stream=sys.stdout if args.json else None)
    bus.subscribe(printer)
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, Callable, Mapping, Optional, TextIO

from conductor.runtime.redact import Redactor
from conductor.runtime.report import ReleaseReport, fc_name, summary_lines
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
    SkillJob,
    SkillProgress,
    SkillStarted,
    StageOpened,
    StageRetry,
    StageSealed,
    ToolCall,
    ToolResult,
    Warning_,
)
from conductor.transcript.jsonl import dumps_line

JSON_SKIPPED = frozenset({"text_delta", "skill_log"})
WIDTH = 160  # longest human line before it is cut


def _cut(text: str, n: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _args(inp: dict[str, Any]) -> str:
    return _cut(", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in inp.items()), 80)


def _agent_text(ev: Any) -> Optional[str]:
    text = " ".join(b.get("text", "") for b in ev.content if b.get("type") == "text").strip()
    cut = "" if ev.stop_reason in (None, "end_turn", "tool_use") else f" [stop: {ev.stop_reason}]"
    return f"agent: {_cut(text)}{cut}" if text or cut else None


def _skill_finished(ev: Any) -> str:
    how = "ok" if ev.ok else ("timed out" if ev.timed_out else f"failed (exit {ev.exit_code})")
    tail = f": {_cut(ev.error, 100)}" if ev.error and not ev.ok else ""
    return f"skill {ev.skill} {how} in {ev.duration_s:.1f}s{tail}"


def _gate(ev: GateVerdict) -> str:
    v = ev.verdict
    if v.passed:
        return f"gate {ev.gate} PASS ({ev.duration_s:.1f}s)"
    return f"gate {ev.gate} FAIL {fc_name(v)}: {_cut(v.detail, 110)}"


def _finished(ev: Any) -> str:
    return (f"finished: {ev.decision} (exit {ev.exit_code}) in {ev.wall_s:.1f}s; {ev.turns} turns, "
            f"{ev.input_tokens + ev.output_tokens} tokens, ${ev.cost_usd:.4f}; transcript {ev.transcript}")


def job_text(e: SkillJob) -> str:
    """`SLURM job 12 RUNNING on node3, 42s` / `SLURM job 12 PENDING (Resources)`."""
    where = f" on {e.node}" if e.node and e.state != "PENDING" else ""
    why = f" ({e.reason})" if e.reason else ""
    took = f", {e.elapsed_s:.0f}s" if e.elapsed_s else ""
    return f"{e.stage}: SLURM job {e.job_id} {e.state}{where}{why}{took}"


# event class -> its one-line format (None: nothing worth a line); typed handlers, never a string lookup
_FORMATS: dict[type, Callable[[Any], Optional[str]]] = {
    RunStarted: lambda e: f"run {e.run_id} {'resumed' if e.resumed_from else 'started'} in {e.workspace}: "
                          + " -> ".join(str(s.get("stage")) for s in e.plan),
    StageOpened: lambda e: f"== stage {e.stage}" + (f" (attempt {e.attempt})" if e.attempt > 1 else ""),
    AssistantMessage: _agent_text,
    ToolCall: lambda e: f"-> {e.name}({_args(e.input)})",
    ToolResult: lambda e: f"<- {e.name} error: {_cut(e.content, 110)}" if e.is_error else None,
    SkillStarted: lambda e: f"skill {e.skill} started (log: {e.log_path})",
    SkillJob: job_text,
    SkillFinished: _skill_finished,
    GateVerdict: _gate,
    StageRetry: lambda e: f"retry {e.stage} after {e.failure_class}: {e.retries_left} of {e.budget_for_class} left",
    StageSealed: lambda e: f"stage {e.stage} sealed ({len(e.artifacts)} artifacts, {e.duration_s:.1f}s)",
    ApprovalRequested: lambda e: f"needs a person ({e.kind}): {_cut(e.question, 110)}",
    ApprovalDecided: lambda e: f"answered {e.answer} by {e.by}" + (f": {_cut(e.text, 80)}" if e.text else ""),
    HumanMessage: lambda e: f"human: {_cut(e.text)}",
    RunPaused: lambda e: "paused" if e.paused else "resumed",
    Warning_: lambda e: f"warning: {_cut(e.message, 140)}",
    DecisionMade: lambda e: f"DECISION {e.decision} (exit {e.exit_code}): {_cut(e.reason, 120)}",
    RunFinished: _finished,
}


def describe_event(event: Any) -> Optional[str]:
    """A one-line human summary of an event, or None for events a reader need not see."""
    fmt = _FORMATS.get(type(event))
    return fmt(event) if fmt is not None else None


class HeadlessPrinter:
    """A Display (EventBus listener) for unattended runs. Cheap: one format and one write per event."""

    def __init__(self, stream: Optional[TextIO] = None, json_stream: Optional[TextIO] = None,
                 redactor: Optional[Redactor] = None, clock: Callable[[], float] = time.monotonic,
                 config: Optional[Mapping[str, Any]] = None):
        self._stream = sys.stderr if stream is None else stream
        self._config = config  # the release config (its threshold, until a compare verdict names one)
        self._json = json_stream
        self._redactor = redactor
        self._clock = clock
        self._t0 = clock()
        self._lock = threading.Lock()
        self._progress_at: dict[tuple[str, str], float] = {}
        self.report: Optional[ReleaseReport] = None  # folded from the run's gate verdicts and decision

    PROGRESS_EVERY_S = 15.0  # a long skill shows its progress at most this often on stderr

    def _progress(self, event: Any) -> Optional[str]:
        """skill_progress, throttled per skill: the first, then every PROGRESS_EVERY_S, and the last."""
        key = (event.stage, event.skill)
        now = self._clock()
        last = self._progress_at.get(key)
        done = event.fraction is not None and event.fraction >= 1.0
        if last is not None and now - last < self.PROGRESS_EVERY_S and not done:
            return None
        self._progress_at[key] = now
        pct = f"{event.fraction:4.0%} " if event.fraction is not None else ""
        return f"  {event.skill}: {pct}{_cut(event.message, 100)}"

    def __call__(self, event: Any) -> None:
        line = self._progress(event) if isinstance(event, SkillProgress) else describe_event(event)
        with self._lock:
            self._fold(event)
            if line is not None:
                self._human(line)
            if isinstance(event, RunFinished) and self.report is not None:
                for summary in summary_lines(self.report):
                    self._human(summary)
            if self._json is not None and event.type not in JSON_SKIPPED:
                self._emit_json(event)

    def _fold(self, event: Any) -> None:
        if isinstance(event, RunStarted) and self.report is None:
            self.report = ReleaseReport.for_config(self._config)
        if self.report is None:
            return
        if isinstance(event, GateVerdict):
            self.report.add_verdict(event.stage, event.attempt, event.verdict, facts=event.facts, seq=event.seq)
        elif isinstance(event, DecisionMade):
            self.report.decide(event.decision, event.exit_code, event.reason, event.failure_class, event.stage)

    def _human(self, line: str) -> None:
        if self._redactor is not None:
            line = self._redactor.redact_text(line)
        self._stream.write(f"[{self._clock() - self._t0:7.1f}s] {line[:WIDTH]}\n")
        self._stream.flush()

    def _emit_json(self, event: Any) -> None:
        data = event.model_dump(mode="json")
        if self._redactor is not None:
            data = self._redactor.redact_obj(data)
        assert self._json is not None
        self._json.write(dumps_line(data) + "\n")
        self._json.flush()
