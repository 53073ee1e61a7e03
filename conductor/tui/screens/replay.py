"""The replay viewer: step through a transcript, jump to gates and failures, see the divergence,
re-gate with another threshold.

The timeline is virtual and the run state at the cursor comes from ReplayModel's checkpoints, so
opening and stepping cost the same for 30 events or 10,000.
"""

from __future__ import annotations

import gc
import json
from typing import Any, Callable, Optional

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from conductor.replay.replayer import Divergence
from conductor.runtime.report import fc_name
from conductor.transcript.events import GateVerdict, ToolResult
from conductor.tui import bridge
from conductor.tui.model import ConvItem, _result_text, fmt_duration, parse_ts
from conductor.tui.replay_model import ReplayModel
from conductor.tui.screens.modals import ThresholdModal
from conductor.tui.widgets import StageRail, Timeline
from conductor.tui.widgets.conversation import gate_content, gate_title
from gates.failure_classes import ExitCode

_SKIP = {"seq", "ts", "type"}
BIG = 2000  # events: above this the viewer freezes the loaded transcript out of the GC


def detail_content(replay: ReplayModel, i: int) -> tuple[str, Content]:
    """(title, body) for the event under the cursor; the divergence gets expected vs found."""
    if not replay.events:
        return "empty transcript", Content("")
    e = replay.events[i]
    summary, _ = replay.summary(i)
    parts: list[Any] = []
    if replay.divergence is not None and i == replay.divergence_index:
        d = replay.divergence
        head = "≠ replay diverged here" + (f": {d.what}" if d.what else "") + "\n"
        parts.append(Content.assemble((head, "$error bold"),
                                      ("expected (recorded): ", "$text-muted"), (_short(d.expected), "$success"),
                                      ("\nfound (re-run):      ", "$text-muted"), (_short(d.found), "$error"), "\n\n"))
    if isinstance(e, GateVerdict):
        v = e.verdict
        item = ConvItem("gate", e.seq, e.stage, title=e.gate, ok=v.passed, body=v.detail,
                        data={"failure_class": fc_name(v), "checks": list(v.checks), "attempt": e.attempt})
        parts.append(gate_content(item))
        title = gate_title(item)
    elif isinstance(e, ToolResult):
        said = (f"{e.name} → {'error' if e.is_error else 'ok'}\n", "$error bold" if e.is_error else "$success")
        parts.append(Content.assemble(said,
                                      (_result_text(e.content), "")))
        title = f"tool_result · {e.name}" + (" · error" if e.is_error else "")
    else:
        data = {k: v for k, v in e.model_dump(mode="json").items() if k not in _SKIP}
        parts.append(Content(json.dumps(data, indent=1, ensure_ascii=False, default=str)[:6000]))
        title = f"{e.type} · {summary[:60]}"
    out = Content("")
    for p in parts:
        out = out + (p if isinstance(p, Content) else Content(str(p)))
    return title, out


def _short(v: Any) -> str:
    text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
    return text if len(text) <= 400 else text[:400] + "…"


class ReplayScreen(Screen):
    BINDINGS = [
        Binding("right,n", "step(1)", "Step"),
        Binding("left,b", "step(-1)", "Back"),
        Binding("g", "next_gate", "Next gate"),
        Binding("G", "prev_gate", "Prev gate", show=False),
        Binding("f", "next_failure", "Next failure"),
        Binding("F", "prev_failure", "Prev failure", show=False),
        Binding("d", "divergence", "Divergence"),
        Binding("t", "regate", "Re-gate"),
        Binding("r", "report", "Report"),
        Binding("q", "quit_app", "Quit"),
    ]
    DEFAULT_CSS = """
    ReplayScreen #title { height: 1; background: $panel; padding: 0 1; }
    ReplayScreen #bottom { height: 10; border-top: solid $panel-lighten-2; border-title-color: $accent; }
    ReplayScreen #detail { width: 1fr; padding: 0 1; }
    ReplayScreen StageRail { width: 26; border-right: none; border-left: vkey $panel-lighten-2; }
    ReplayScreen #position { height: 1; background: $panel; padding: 0 1; }
    """

    def __init__(self, loaded: bridge.LoadedTranscript, *, divergence: Optional[Divergence] = None,
                 verify: bool = False, clock: Callable[[], float]):
        super().__init__()
        self.loaded = loaded
        self.replay = ReplayModel(loaded.header, loaded.events, divergence=divergence)
        self.verify = verify
        self.clock = clock
        self.replay_status = (f"DIVERGED at seq {divergence.seq}" if divergence
                              else "verifying…" if verify
                              else "not verified (replay runs the gates again: conductor replay)")
        self.regate_note = ""

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        yield Timeline(self.replay, id="timeline")
        with Horizontal(id="bottom"):
            with VerticalScroll(id="detail"):
                yield Static(id="detail-body")
            yield StageRail(self._rail_clock, id="rail")
        yield Static(id="position")
        yield Footer()

    def _rail_clock(self) -> Optional[float]:
        # durations at the cursor: "now" is the time of the event under the cursor
        ev = self.replay.events[self.replay.cursor] if self.replay.events else None
        return parse_ts(ev.ts) if ev is not None else None

    def on_mount(self) -> None:
        if len(self.replay) > BIG:
            # the transcript lives as long as the viewer: take its objects out of the cyclic GC's
            # reach, or each full collection walks them all (150-300 ms pauses while stepping)
            gc.freeze()
        self._title()
        tl = self.query_one(Timeline)
        tl.focus()
        if self.replay.divergence_index is not None:
            tl.go(self.replay.divergence_index)
        self._show(tl.cursor)
        for w in self.loaded.warnings:
            self.notify(w, severity="warning", timeout=10)
        if self.verify and self.loaded.path is not None:
            if bridge.replayable(self.loaded.events):
                self._verify()
            else:
                self.replay_status = "not verifiable (not recorded by the run loop)"
                self._title()

    # -- rendering

    def _title(self) -> None:
        h = self.replay.header
        path = self.loaded.path.name if self.loaded.path else ""
        status_style = "$error bold" if self.replay.divergence else "$text-muted"
        self.query_one("#title", Static).update(Content.assemble(
            ("replay ", "bold $accent"), (f"· {path} · {h.get('run_id', '')} · {len(self.replay)} events · ", ""),
            (self.replay_status, status_style)))

    def _show(self, i: int) -> None:
        self.replay.move(i)
        title, body = detail_content(self.replay, i)
        self.query_one("#bottom").border_title = title
        self.query_one("#detail-body", Static).update(body)
        state = self.replay.state_at(i)
        self.query_one(StageRail).show(state.stages)
        self._position(i, state)

    def _position(self, i: int, state: Any) -> None:
        n = len(self.replay)
        ev = self.replay.events[i] if n else None
        t0 = state.started_ts
        at = parse_ts(ev.ts) if ev is not None else None
        into = fmt_duration(at - t0) if at is not None and t0 is not None else "?"
        b = state.budget
        dec = state.report.decision.value if state.report.decision is not None else None
        self.query_one("#position", Static).update(Content.assemble(
            ("step ", "$text-muted"), (f"{i + 1}/{n}", "bold"),
            ("  seq ", "$text-muted"), (str(ev.seq if ev else "-"), "bold"),
            ("  t+", "$text-muted"), (into, "bold"), ("  turns ", "$text-muted"), (str(b.turns), "bold"),
            ("  $", "$text-muted"), (f"{b.cost_usd:.2f}", "bold"),
            (f"  {dec}" if dec else "", "$success bold" if dec == "ACCEPT" else "$error bold"),
            (f"   re-gate {self.regate_note}" if self.regate_note else "", "$warning bold")), layout=False)

    @on(Timeline.Moved)
    def _moved(self, event: Timeline.Moved) -> None:
        self._show(event.index)

    # -- actions

    def _go(self, index: Optional[int], what: str) -> None:
        if index is None:
            self.notify(f"no {what} after this step" if "prev" not in what else f"no {what[5:]} before this step",
                        severity="warning")
            return
        self.query_one(Timeline).go(index)

    def action_step(self, delta: int) -> None:
        tl = self.query_one(Timeline)
        tl.go(tl.cursor + delta)

    def action_next_gate(self) -> None:
        self._go(self.replay.next_gate(), "gate")

    def action_prev_gate(self) -> None:
        self._go(self.replay.next_gate(backwards=True), "prev gate")

    def action_next_failure(self) -> None:
        self._go(self.replay.next_failure(), "failure")

    def action_prev_failure(self) -> None:
        self._go(self.replay.next_failure(backwards=True), "prev failure")

    def action_divergence(self) -> None:
        idx = self.replay.divergence_index
        if idx is None:
            self.notify("no divergence: " + self.replay_status, severity="information")
        else:
            self.query_one(Timeline).go(idx)

    def action_report(self) -> None:
        from conductor.tui.screens.report import ReportScreen

        self.app.push_screen(ReportScreen(self.replay.final.report, self.replay.header))

    def action_quit_app(self) -> None:
        # like `conductor replay`: 1 when the replay diverged, else 0
        self.app.exit(ExitCode.DIVERGED if self.replay.divergence is not None else ExitCode.ACCEPT)

    def action_regate(self) -> None:
        if self.loaded.path is None:
            self.notify("re-gating needs the transcript file", severity="warning")
            return
        thr = self.replay.final.report.threshold
        current = thr.value if thr is not None else None

        def chosen(thr: Optional[float]) -> None:
            if thr is not None:
                self.regate_note = f"at {thr:g}: running…"
                self._show(self.replay.cursor)
                self._regate(thr)

        self.app.push_screen(ThresholdModal(current, cursor_blink=getattr(self.app, "cursor_blink", True)), chosen)

    # -- workers (the core's replay runs gates in subprocesses: never on the UI thread)

    @work(thread=True, exclusive=True, group="verify", name="verify", exit_on_error=False)
    def _verify(self) -> bridge.Verification:
        return bridge.verify_replay(self.loaded.path)  # type: ignore[arg-type]

    @work(thread=True, exclusive=True, group="regate", name="regate", exit_on_error=False)
    def _regate(self, threshold: float) -> bridge.RegateResult:
        return bridge.regate(self.loaded.path, threshold)  # type: ignore[arg-type]

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        w = event.worker
        if event.state == WorkerState.ERROR:
            msg = str(w.error) or type(w.error).__name__
            if w.name == "verify":
                self.replay_status = "not verified"
            else:
                self.regate_note = ""
            self._title()
            self._show(self.replay.cursor)
            self.notify(msg, severity="error", timeout=15)
            return
        if event.state != WorkerState.SUCCESS:
            return
        if w.name == "verify":
            v: bridge.Verification = w.result  # type: ignore[assignment]  # the verify worker's return
            div = v.divergence
            self.replay.divergence = div
            self.replay_status = (f"DIVERGED at seq {div.seq}" if div is not None
                                  else "verified: no divergence" if v.reproduced
                                  else f"not verified: {v.detail}")
            self._title()
            if div is not None and self.replay.divergence_index is not None:
                self.query_one(Timeline).go(self.replay.divergence_index)
            self.query_one(Timeline).refresh_all()
        elif w.name == "regate":
            r: bridge.RegateResult = w.result  # type: ignore[assignment]  # the regate worker's return
            final = self.replay.final.report.decision
            recorded = final.value if final is not None else "?"
            self.regate_note = f"at {r.threshold:g}: {r.decision} (exit {r.exit_code}); recorded {recorded}"
            self._show(self.replay.cursor)
            self.notify(self.regate_note + (f"\n{r.detail}" if r.detail else ""), timeout=15)
