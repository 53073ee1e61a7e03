"""The run screen: stage rail, conversation, log tail, steering input, status line, keys.

The run itself lives in a thread worker (`RunSource.run`). Its events reach this screen through
an EventPump: the first event of a batch posts `EventsReady` (thread-safe), the screen waits
BATCH_S so streamed text and log lines pile up, then folds the whole batch into the RunModel and
re-renders only what changed. Nothing here waits on the run.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static
from textual.worker import Worker, WorkerState

from conductor.tui.bridge import EventPump, RunSource, TuiApprover
from conductor.tui.model import ApprovalView, RunModel
from conductor.tui.screens.modals import ApprovalModal, ConfirmModal
from conductor.tui.widgets import Conversation, LogTail, StageRail, StatusLine
from gates.failure_classes import ExitCode

BATCH_S = 0.05


class EventsReady(Message):
    """Posted from the run's thread when a batch of events starts to queue."""


class ApprovalNeeded(Message):
    def __init__(self, view: ApprovalView, answered: Callable[[str, str], None]) -> None:
        super().__init__()
        self.view, self.answered = view, answered


def title_content(header: dict[str, Any], live: bool, run_id: str = "") -> Content:
    cfg = header.get("config") or {}
    bits = [b for b in (
        run_id or header.get("run_id", ""),
        str(cfg.get("model", "")).replace("embedded:", ""),
        str(cfg.get("recipe", "")),
        f"thr {cfg['threshold']:g}" if isinstance(cfg.get("threshold"), (int, float)) else "",
        header.get("provider", "") or str(cfg.get("provider", "")),
    ) if b]
    return Content.assemble(("conductor ", "bold $accent"), ("· " + " · ".join(bits), ""),
                            ("" if live else "  (recorded)", "$text-muted"))


class RunScreen(Screen):
    BINDINGS = [
        Binding("p", "toggle_pause", "Pause/Resume"),
        Binding("s", "focus_steer", "Steer"),
        Binding("a", "abort", "Abort"),
        Binding("r", "report", "Report"),
        Binding("l", "toggle_log", "Log"),
        Binding("escape", "leave_input", "Back", show=False),
        Binding("q", "quit_run", "Quit"),
    ]
    DEFAULT_CSS = """
    RunScreen #title { height: 1; background: $panel; padding: 0 1; }
    RunScreen #main { height: 1fr; }
    RunScreen #steer { padding: 0 1; }
    RunScreen #steer:focus { background: $accent 20%; }
    RunScreen.-nolog LogTail { display: none; }
    RunScreen #steer.-hidden { display: none; }
    """

    def __init__(self, source: RunSource, header: Optional[dict[str, Any]] = None, *, live: bool = True,
                 clock: Callable[[], float], cursor_blink: bool = True):
        super().__init__()
        self.source = source
        self.live = live
        # a recorded run is shown as of its last event; a live one as of the (injected) clock
        self.header = header or {}
        self.model = RunModel(self.header)
        self.clock: Callable[[], Optional[float]] = clock if live else (lambda: self.model.last_ts)
        self.pump = EventPump(self._wake)
        self.exit_code: Optional[int] = None
        self._flush_timer: Optional[Timer] = None
        self.flush_count = 0  # batches folded (a test checks events are batched)
        self._quit_when_done = False
        self._blink = cursor_blink
        if live and getattr(source, "approver", None) is None:
            source.approver = TuiApprover(self._ask)

    # -- layout

    def compose(self) -> ComposeResult:
        yield Static(title_content(self.header, self.live), id="title")
        with Horizontal(id="main"):
            yield StageRail(self.clock, id="rail")
            yield Conversation(id="conversation")
        yield LogTail(id="logtail")
        steer = Input(placeholder="message the agent: s to type, enter to send, esc to leave", id="steer",
                      compact=True)
        steer.cursor_blink = self._blink
        if not self.live:
            steer.add_class("-hidden")
        yield steer
        yield StatusLine(self.clock, id="status")
        yield Footer()

    def on_resize(self) -> None:
        self.query_one(StageRail).styles.width = 37 if self.size.width >= 100 else 26

    def on_mount(self) -> None:
        self._render_all()
        self.query_one(Conversation).focus()
        self._run()

    def on_unmount(self) -> None:
        # the app is going away (ctrl+q, an error, a test ending): never leave the run behind
        if self.live and self.running:
            self.pump.closed = True
            self.source.abort()

    # -- the run (worker thread) and its events

    @work(thread=True, exclusive=True, name="run", exit_on_error=False)
    def _run(self) -> int:
        return self.source.run(self.pump)

    def _wake(self) -> None:  # any thread
        self.post_message(EventsReady())

    def on_events_ready(self, _: EventsReady) -> None:
        if self._flush_timer is None:
            self._flush_timer = self.set_timer(BATCH_S, self.flush)

    def flush(self) -> None:
        self._flush_timer = None
        batch = self.pump.drain()
        if not batch:
            return
        self.flush_count += 1
        self.model.apply_many(batch)
        self._render_all()

    def _render_all(self) -> None:
        m = self.model
        self.query_one(StageRail).show(m.stages)
        self.query_one(Conversation).sync(m, m.drain_dirty())
        self.query_one(LogTail).show(m.log)
        self.query_one(StatusLine).show(m)
        if m.run_id:
            self.query_one("#title", Static).update(title_content(self.header, self.live, m.run_id))

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name != "run":
            return
        if event.state == WorkerState.SUCCESS:
            self.exit_code = int(event.worker.result)  # type: ignore[arg-type]  # the run returned its code
        elif event.state == WorkerState.ERROR:
            self.exit_code = ExitCode.INTERNAL_ERROR
            self.notify(f"the run failed inside the conductor: {event.worker.error!r}", severity="error", timeout=30)
        else:
            return
        self.flush()
        self.refresh_bindings()
        self.query_one("#steer", Input).add_class("-hidden")  # nobody left to steer
        if self.focused is None or isinstance(self.focused, Input):
            self.query_one(Conversation).focus()
        self.app.exit_code = self.exit_code  # type: ignore[attr-defined]
        if self._quit_when_done:
            self.app.exit(self.exit_code)

    # -- approvals (the approver runs on the run's thread)

    def _ask(self, view: ApprovalView, answered: Callable[[str, str], None]) -> None:
        self.post_message(ApprovalNeeded(view, answered))

    def on_approval_needed(self, msg: ApprovalNeeded) -> None:
        self.flush()  # the request's context (the failed gate card) is on screen behind the modal

        def ask() -> None:
            self.app.push_screen(ApprovalModal(msg.view, cursor_blink=self._blink),
                                 lambda result: msg.answered(*(result or ("none", ""))))

        self.call_after_refresh(lambda: self.call_after_refresh(ask))  # after the conversation scrolled

    # -- actions

    @property
    def running(self) -> bool:
        return self.exit_code is None

    LIVE_ONLY = frozenset({"toggle_pause", "focus_steer", "abort"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Pause, steer and abort exist only while a live run is going (hidden from the footer
        otherwise)."""
        if action in self.LIVE_ONLY:
            return self.live and self.running
        return True

    def action_toggle_pause(self) -> None:
        if not (self.live and self.running):
            return
        if self.source.paused:
            self.source.resume()
            self.notify("resumed")
        else:
            self.source.pause()
            self.notify("pausing: the agent stops before its next turn")

    def action_focus_steer(self) -> None:
        if self.live and self.running:
            self.query_one("#steer", Input).focus()

    def action_leave_input(self) -> None:
        self.query_one(Conversation).focus()

    @on(Input.Submitted, "#steer")
    def _steer(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text and self.running:
            self.source.steer(text)
            event.input.value = ""
            self.notify("sent to the agent (it reads it before its next turn)")
        self.query_one(Conversation).focus()  # back to the keys in the footer

    def action_abort(self) -> None:
        if not (self.live and self.running):
            return

        def confirmed(yes: Optional[bool]) -> None:
            if yes:
                self.source.abort()
                self.notify("aborting: stopping children and closing the transcript")

        self.app.push_screen(ConfirmModal(
            "Abort the run? The running skill and its children are stopped, the transcript is closed, "
            "and the run can be resumed later.", yes="Abort"), confirmed)

    def action_report(self) -> None:
        from conductor.tui.screens.report import ReportScreen

        self.app.push_screen(ReportScreen(self.model.report, self.header))

    def action_toggle_log(self) -> None:
        self.toggle_class("-nolog")

    def action_quit_run(self) -> None:
        if not (self.live and self.running):
            self.app.exit(self.exit_code if self.exit_code is not None else ExitCode.ACCEPT)
            return

        def confirmed(yes: Optional[bool]) -> None:
            if yes:
                self._quit_when_done = True
                self.source.abort()
                self.set_timer(15, lambda: self.app.exit(ExitCode.INTERRUPTED))  # a run that will not stop

        self.app.push_screen(ConfirmModal("The run is still going. Abort it and quit?", yes="Abort and quit"),
                             confirmed)
