"""The typed event stream: every step of a run is one of these events.

The transcript writer, the headless printer and the TUI are all consumers of the same stream
(`EventBus`). Events are pydantic models in one discriminated union on `type`; the JSON Schema
of one transcript line is committed at conductor/schemas/transcript.schema.json
(`python -m conductor.schemas`).

    >>> bus = EventBus()
    >>> seen = []
    >>> bus.subscribe(seen.append)
    >>> bus.emit(Warning_(message="hello")).type
    'warning'
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Annotated, Any, Callable, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

TRANSCRIPT_SCHEMA_VERSION = 2  # 2: every line carries `hash`, chained to the previous line (conductor.chain)


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seq: int = -1  # set by the bus: monotonic within a run
    ts: str = ""  # UTC ISO-8601, set by the bus
    # ephemeral events go to live consumers (TUI, --json) but not to the transcript
    ephemeral: bool = Field(default=False, exclude=True)


class RunStarted(_Event):
    type: Literal["run_started"] = "run_started"
    run_id: str
    workspace: str
    plan: list[dict[str, Any]]  # [{stage, depends_on, tools, gates}]
    resumed_from: Optional[str] = None
    # sha256 of the gate package's files (conductor.gate_modules.fingerprint): replay with the same
    # gates compares each re-decided verdict whole, not only pass / failure_class / decision
    gates_fingerprint: Optional[str] = None


class StageOpened(_Event):
    type: Literal["stage_opened"] = "stage_opened"
    stage: str
    attempt: int = 1
    tools: list[str] = Field(default_factory=list)


class TextDelta(_Event):
    """A piece of assistant text as it streams; live only."""

    type: Literal["text_delta"] = "text_delta"
    turn: int
    text: str
    ephemeral: bool = Field(default=True, exclude=True)


class Usage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0


class AssistantMessage(_Event):
    """One complete model turn, exactly as the provider returned it (replay serves it back)."""

    type: Literal["assistant_message"] = "assistant_message"
    turn: int
    stage: str
    content: list[dict[str, Any]]  # Anthropic content blocks: text, tool_use, thinking
    stop_reason: Optional[str]
    model: str = ""
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float = 0.0
    latency_s: float = 0.0


class ToolCall(_Event):
    type: Literal["tool_call"] = "tool_call"
    turn: int
    stage: str
    tool_use_id: str
    name: str
    input: dict[str, Any]


class ToolResult(_Event):
    type: Literal["tool_result"] = "tool_result"
    stage: str
    tool_use_id: str
    name: str
    is_error: bool
    content: str  # what the model sees (JSON text for structured results)


class SkillStarted(_Event):
    type: Literal["skill_started"] = "skill_started"
    stage: str
    skill: str
    tool_use_id: str
    argv: list[str]
    log_path: str


class SkillLog(_Event):
    """A batch of log lines from a running skill (the full log is in the workspace)."""

    type: Literal["skill_log"] = "skill_log"
    stage: str
    skill: str
    lines: list[str]
    ephemeral: bool = Field(default=True, exclude=True)


class SkillProgress(_Event):
    type: Literal["skill_progress"] = "skill_progress"
    stage: str
    skill: str
    fraction: Optional[float] = None
    message: str = ""
    ephemeral: bool = Field(default=True, exclude=True)


class SkillFinished(_Event):
    type: Literal["skill_finished"] = "skill_finished"
    stage: str
    skill: str
    tool_use_id: str
    exit_code: Optional[int]
    duration_s: float
    ok: bool
    result: dict[str, Any] = Field(default_factory=dict)  # the skill's result.json (replay serves it)
    error: Optional[str] = None
    timed_out: bool = False
    failure_class: Optional[str] = None  # how the conductor classified a failed attempt (replay needs it)


class GateVerdict(_Event):
    """A gate ran on the stage's artifacts. `facts` is what it decided on; replay re-decides."""

    type: Literal["gate_verdict"] = "gate_verdict"
    stage: str
    gate: str
    attempt: int
    facts: Optional[dict[str, Any]]
    verdict: dict[str, Any]
    exit_code: Optional[int]
    duration_s: float
    # the gate's command line (python -m gates.<gate> ...): replay re-collects the facts with it when
    # the transcript is read in its own run folder; None when the conductor wrote the verdict itself
    argv: Optional[list[str]] = None


class StageRetry(_Event):
    type: Literal["stage_retry"] = "stage_retry"
    stage: str
    failure_class: str
    retries_left: int
    budget_for_class: int


class StageSealed(_Event):
    type: Literal["stage_sealed"] = "stage_sealed"
    stage: str
    artifacts: dict[str, str]  # relative path -> sha256
    seal_path: str
    duration_s: float


class ApprovalRequested(_Event):
    type: Literal["approval_requested"] = "approval_requested"
    request_id: str
    stage: str
    kind: Literal["approval", "question"]
    question: str
    context: dict[str, Any] = Field(default_factory=dict)


class ApprovalDecided(_Event):
    type: Literal["approval_decided"] = "approval_decided"
    request_id: str
    answer: Literal["approve", "deny", "answer", "none"]
    text: str = ""
    by: Literal["human", "policy", "none", "replay"]


class HumanMessage(_Event):
    """Steering: a person typed a message to the agent during the run."""

    type: Literal["human_message"] = "human_message"
    text: str


class RunPaused(_Event):
    type: Literal["run_paused"] = "run_paused"
    paused: bool


class BudgetUpdate(_Event):
    type: Literal["budget"] = "budget"
    turns: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cost_usd: float
    elapsed_s: float
    limits: dict[str, float]
    ephemeral: bool = Field(default=True, exclude=True)


class Warning_(_Event):
    type: Literal["warning"] = "warning"
    message: str


class DecisionMade(_Event):
    type: Literal["decision"] = "decision"
    decision: str
    exit_code: int
    reason: str
    failure_class: Optional[str] = None
    stage: Optional[str] = None


class RunFinished(_Event):
    type: Literal["run_finished"] = "run_finished"
    decision: str
    exit_code: int
    stage_durations_s: dict[str, float]
    turns: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cost_usd: float
    wall_s: float
    transcript: str


Event = Annotated[
    Union[
        RunStarted, StageOpened, TextDelta, AssistantMessage, ToolCall, ToolResult, SkillStarted,
        SkillLog, SkillProgress, SkillFinished, GateVerdict, StageRetry, StageSealed,
        ApprovalRequested, ApprovalDecided, HumanMessage, RunPaused, BudgetUpdate, Warning_,
        DecisionMade, RunFinished,
    ],
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


class TranscriptHeader(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["header"] = "header"
    schema_version: int = TRANSCRIPT_SCHEMA_VERSION
    conductor_version: str
    run_id: str
    config: dict[str, Any]
    provider: str
    model: str
    host: str
    started_at: str


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Listener = Callable[[Any], None]


class EventBus:
    """Assigns seq and ts, then hands each event to every listener, in order, synchronously.

    Thread-safe: skills' log readers emit from their own threads. A listener that raises is
    recorded in `errors` and never breaks the run, unless it was subscribed as critical (the
    transcript writer is: a run that cannot record itself must stop).
    """

    def __init__(self, start_seq: int = 0, clock: Callable[[], str] = utc_now):
        self._seq = start_seq
        self._listeners: list[tuple[Listener, bool]] = []
        self._lock = threading.RLock()
        self._clock = clock
        self.errors: list[str] = []
        self.started = time.monotonic()

    def subscribe(self, listener: Listener, *, critical: bool = False) -> None:
        with self._lock:
            self._listeners.append((listener, critical))

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners = [(l, c) for l, c in self._listeners if l is not listener]

    @property
    def seq(self) -> int:
        return self._seq

    def emit(self, event: Any) -> Any:
        with self._lock:
            self._seq += 1
            event.seq = self._seq
            event.ts = self._clock()
            for listener, critical in list(self._listeners):
                try:
                    listener(event)
                except Exception as exc:
                    if critical:
                        raise
                    self.errors.append(f"{getattr(listener, '__qualname__', type(listener).__name__)}: {exc!r}")
        return event


def event_from_dict(data: dict[str, Any]) -> Any:
    return EVENT_ADAPTER.validate_python(data)
