"""The one module where the TUI meets the conductor core.

Everything the TUI needs from the engine goes through here, so churn in the core touches one file:

- `load_transcript(path)`: header + events, through the core's reader.
- `RunSource`: what the run screen drives. `CoreRun` adapts `conductor.engine.session.run_session` (the
  real run, in a worker thread, steered through `conductor.engine.steering.Steering`); `ScriptedRun`
  plays recorded events as if a run produced them (tests, demos, a finished transcript).
- `TuiApprover`: the core's Approver, answered by a modal on the UI thread.
- `EventPump`: a bus listener on the run's thread that hands events to the UI in batches.
- `verify_replay` / `regate`: the replay viewer's calls into `conductor.replay.replayer`.

Nothing here blocks the UI thread: the run calls the listener on its own thread, the pump queues
and wakes the UI with one thread-safe message per batch; the approver waits on its own thread.

    run = ScriptedRun(events)
    pump = EventPump(wake=lambda: screen.post_message(EventsReady()))
    exit_code = run.run(pump)          # in a thread worker
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Protocol

from conductor.app import wiring
from conductor.engine.approver import ApprovalAnswer, NoHumanApprover
from conductor.engine.session import run_session
from conductor.engine.steering import Steering
from conductor.replay.replayer import Divergence, replay_transcript
from conductor.replay.replayer import regate as regate_transcript
from conductor.runtime.clock import utc_now
from conductor.transcript.events import (
    ApprovalDecided,
    ApprovalRequested,
    AssistantMessage,
    DecisionMade,
    HumanMessage,
    RunFinished,
    RunPaused,
    RunStarted,
    event_from_dict,
)
from conductor.transcript.jsonl import TranscriptError, read_transcript
from conductor.tui.model import ApprovalView, parse_ts
from gates.failure_classes import Decision, ExitCode

Emit = Callable[[Any], None]


class CoreUnavailable(RuntimeError):
    """What a run needs cannot be built here (the composition root failed); the message says why."""


# ---------------------------------------------------------------------------------- transcripts


@dataclass
class LoadedTranscript:
    header: dict[str, Any]
    events: list[Any]
    warnings: list[str] = field(default_factory=list)
    path: Optional[Path] = None


def load_transcript(path: str | Path) -> LoadedTranscript:
    """Read a transcript with the core's reader (torn tail tolerated, unknown schema refused).
    Raises ValueError with a one-sentence message when it cannot be read."""
    path = Path(path)
    try:
        t = read_transcript(path)
    except TranscriptError as exc:
        raise ValueError(str(exc)) from None
    except OSError as exc:
        raise ValueError(f"cannot read transcript {path}: {exc.strerror}") from None
    return LoadedTranscript(t.header.model_dump(mode="json"), list(t.events), list(t.warnings), path)


# -------------------------------------------------------------------------------- event pump


class EventPump:
    """A Display (bus listener) for any thread; the UI drains it in batches.

    The first event after a drain calls `wake()` (one thread-safe message to the UI); the UI then
    waits a short moment so text deltas and log lines pile up, and folds them all at once.
    """

    def __init__(self, wake: Callable[[], None]):
        self._wake = wake
        self._q: deque[Any] = deque()
        self._lock = threading.Lock()
        self._pending = False
        self.closed = False

    def __call__(self, event: Any) -> None:
        if self.closed:
            return
        with self._lock:
            self._q.append(event)
            need_wake = not self._pending
            self._pending = True
        if need_wake:
            self._wake()

    def drain(self) -> list[Any]:
        with self._lock:
            batch = list(self._q)
            self._q.clear()
            self._pending = False
        return batch


# ---------------------------------------------------------------------------------- approvals


def make_answer(answer: str, text: str = "", by: str = "human") -> Any:
    return ApprovalAnswer(answer=answer, text=text, by=by)


def approval_view(req: Any) -> ApprovalView:
    """An ApprovalRequest (or an approval_requested event) as the modal shows it."""
    ctx = dict(getattr(req, "context", {}) or {})
    fc = getattr(req, "failure_class", None)
    if fc and "failure_class" not in ctx:
        ctx = {"failure_class": fc, **ctx}
    return ApprovalView(req.request_id, req.stage, req.kind, req.question, ctx)


class TuiApprover:
    """The core's Approver for the TUI: `request` (on the run's thread) asks the UI to show the
    modal, then waits for the person's answer. `cancel()` (abort, quit) releases every waiter
    with the answer "none"."""

    def __init__(self, ask: Callable[[ApprovalView, Callable[[str, str], None]], None]):
        self._ask = ask  # must be thread-safe and must not block (e.g. posts a message)
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()

    def request(self, req: Any) -> Any:
        done = threading.Event()
        box: dict[str, str] = {}

        def answered(answer: str, text: str) -> None:
            box.update(answer=answer, text=text)
            done.set()

        if self._cancelled.is_set():
            return make_answer("none", "the run was aborted", by="none")
        self._ask(approval_view(req), answered)
        while not done.wait(0.1):
            if self._cancelled.is_set():
                return make_answer("none", "the run was aborted", by="none")
        return make_answer(box["answer"], box.get("text", ""))


# ------------------------------------------------------------------------------- run sources


class RunSource(Protocol):
    """What the run screen drives. `run` is called on a worker thread and returns the exit code;
    the rest are called from the UI thread at any time."""

    approver: Optional[TuiApprover]

    def run(self, emit: Emit) -> int: ...

    def steer(self, text: str) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def abort(self) -> None: ...

    @property
    def paused(self) -> bool: ...


class ScriptedRun:
    """Plays a list of events as if a run produced them.

    With an approver, each approval_requested event is put to it and its answer becomes an
    approval_decided event (the recorded answers are skipped). `block_at=i` stops before event i
    until `release()` or `abort()` (tests drive a run that is still in progress). New events
    (steering, pause, answers, abort) take the next seq and a ts from `clock`.
    """

    def __init__(self, events: Iterable[Any], *, delay: float = 0.0, block_at: Optional[int] = None,
                 clock: Callable[[], str] = utc_now):
        self.events = [event_from_dict(e) if isinstance(e, dict) else e for e in events]
        self.delay = delay
        self.approver: Optional[TuiApprover] = None
        self.clock = clock
        self._block_at = block_at
        self._released = threading.Event()
        self._resumed = threading.Event()
        self._resumed.set()
        self._aborted = threading.Event()
        self._emit: Optional[Emit] = None
        self._lock = threading.Lock()
        self._seq = 0
        self._totals = {"turns": 0, "input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0, "cost_usd": 0.0}
        self._first_ts: Optional[str] = None
        self.exit_code: Optional[int] = None

    # controls (UI thread)
    def steer(self, text: str) -> None:
        if text.strip():
            self._send(HumanMessage(text=text))

    def pause(self) -> None:
        if self._resumed.is_set():
            self._resumed.clear()
            self._send(RunPaused(paused=True))

    def resume(self) -> None:
        if not self._resumed.is_set():
            self._resumed.set()
            self._send(RunPaused(paused=False))

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    def abort(self) -> None:
        self._aborted.set()
        self._released.set()
        self._resumed.set()
        if self.approver is not None:
            self.approver.cancel()

    def release(self) -> None:
        self._released.set()

    # the run (worker thread)
    def _send(self, event: Any) -> None:
        with self._lock:
            if self._emit is None:
                return
            if event.seq < 0:
                self._seq += 1
                event.seq, event.ts = self._seq, self.clock()
            else:
                self._seq = max(self._seq, event.seq)
            self._first_ts = self._first_ts or event.ts
            if isinstance(event, AssistantMessage):
                t, u = self._totals, event.usage
                t["turns"] += 1
                t["input_tokens"] += u.input_tokens
                t["output_tokens"] += u.output_tokens
                t["cache_read_tokens"] += u.cache_read_input_tokens
                t["cost_usd"] += event.cost_usd
            self._emit(event)

    def _wait(self) -> None:
        while not self._resumed.wait(0.05):
            pass

    def run(self, emit: Emit) -> int:
        self._emit = emit
        code: Optional[int] = None
        for i, event in enumerate(self.events):
            if self._block_at is not None and i == self._block_at:
                self._released.wait()
            self._wait()
            if self._aborted.is_set():
                break
            if isinstance(event, ApprovalDecided) and self.approver is not None:
                continue
            self._send(event)
            if isinstance(event, DecisionMade):
                code = event.exit_code
            if isinstance(event, ApprovalRequested) and self.approver is not None:
                ans = self.approver.request(event)
                if self._aborted.is_set():
                    break
                self._send(ApprovalDecided(request_id=event.request_id, answer=ans.answer, text=ans.text, by=ans.by))
            if self.delay:
                self._aborted.wait(self.delay)
        if self._aborted.is_set():
            self._send(DecisionMade(decision=Decision.INTERRUPTED.value, exit_code=ExitCode.INTERRUPTED,
                                    reason="aborted by the operator"))
            now = self.clock()
            start, end = parse_ts(self._first_ts or now), parse_ts(now)
            wall = max(0.0, end - start) if start is not None and end is not None else 0.0
            self._send(RunFinished(decision=Decision.INTERRUPTED.value, exit_code=ExitCode.INTERRUPTED,
                                   stage_durations_s={}, wall_s=wall,
                                   transcript="", **self._totals))
            code = ExitCode.INTERRUPTED
        self.exit_code = ExitCode.ACCEPT if code is None else code
        return self.exit_code


Wiring = Callable[[Any], tuple[Any, Any]]  # config -> (provider, skills)


def default_wiring(config: Any) -> tuple[Any, Any]:
    """The provider and skills a config asks for, from the composition root (conductor.app.wiring)."""
    try:
        return wiring.build_run_parts(config)
    except Exception as exc:  # the wiring's own error (skills not installed, no API key...): say it inline
        raise CoreUnavailable(str(exc)) from None


class CoreRun:
    """A real run: `conductor.engine.session.run_session` on the worker thread, steered via `Steering`.

    The core owns the bus, the transcript writer, the workspace and the children; the TUI only
    listens. `wiring(config) -> (provider, skills)` defaults to conductor.app.wiring; tests pass their own
    (a scripted provider over fake skills) and `session_kwargs` (e.g. fake gates).
    """

    def __init__(self, config: Any, *, wiring: Optional[Wiring] = None, provider: Any = None, skills: Any = None,
                 session_kwargs: Optional[dict[str, Any]] = None):
        if provider is None or skills is None:
            provider, skills = (wiring or default_wiring)(config)
        self.config, self.provider, self.skills = config, provider, skills
        self.steering = Steering()
        self.approver: Optional[TuiApprover] = None
        self.session_kwargs = dict(session_kwargs or {})
        self.outcome: Any = None
        self.exit_code: Optional[int] = None

    def steer(self, text: str) -> None:
        self.steering.say(text)

    def pause(self) -> None:
        self.steering.pause()

    def resume(self) -> None:
        self.steering.resume()

    @property
    def paused(self) -> bool:
        return self.steering.paused

    def abort(self) -> None:
        self.steering.abort("aborted by the operator")
        if self.approver is not None:
            self.approver.cancel()

    def run(self, emit: Emit) -> int:
        approver = self.approver if self.approver is not None else NoHumanApprover()
        self.outcome = run_session(self.config, self.provider, self.skills, approver, listeners=[emit],
                                   steering=self.steering, **self.session_kwargs)
        self.exit_code = int(self.outcome.exit_code)
        return self.exit_code


# -------------------------------------------------------------------------------------- replay


def replayable(events: Iterable[Any]) -> bool:
    """Was this transcript recorded by the run loop? (Its plan carries each stage's tool
    definitions, which replay needs; hand-made fixtures do not.)"""
    started = next((e for e in events if isinstance(e, RunStarted)), None)
    return started is not None and any("tool_defs" in p for p in started.plan)


@dataclass
class Verification:
    divergence: Optional[Divergence]
    reproduced: bool  # every recorded verdict and the decision came out the same
    detail: str = ""


def verify_replay(path: str | Path) -> Verification:
    """Replay the transcript (conductor.replay.replayer: recorded turns and skill results, gates re-run for
    real) and report its first divergence, if any."""
    result = replay_transcript(path)
    div = result.divergence
    if div is None:
        return Verification(None, result.exit_code == 0, result.detail)
    return Verification(div, False, result.detail)


@dataclass
class RegateResult:
    threshold: float
    decision: str
    exit_code: int
    detail: str = ""


def regate(path: str | Path, threshold: float) -> RegateResult:
    """What the recorded run would decide at another threshold (conductor.replay.replayer)."""
    result = regate_transcript(path, threshold)
    return RegateResult(threshold, str(result.decision or "no decision"), int(result.exit_code), result.detail or "")

