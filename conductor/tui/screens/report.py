"""The report screen: what closeout decided and why (see widgets/report.py)."""

from __future__ import annotations

from typing import Any, Optional

from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from conductor.runtime.report import ReleaseReport as Report
from conductor.tui.widgets import ReportView
from gates.failure_classes import ExitCode


class ReportScreen(Screen):
    BINDINGS = [Binding("escape,b", "back", "Back"), Binding("q", "quit_app", "Quit")]
    DEFAULT_CSS = """
    ReportScreen #title { height: 1; background: $panel; padding: 0 1; }
    """

    def __init__(self, report: Report, header: Optional[dict[str, Any]] = None):
        super().__init__()
        self.report = report
        self.header = header or {}

    def compose(self) -> ComposeResult:
        cfg = self.header.get("config") or {}
        named = (self.header.get("run_id", ""), cfg.get("model", ""), cfg.get("recipe", ""))
        bits = " · ".join(str(b) for b in named if b)
        yield Static(Content.assemble(("report ", "bold $accent"), ("· " + bits if bits else "", "")), id="title")
        yield ReportView(self.report, id="report")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ReportView).focus()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()

    def action_quit_app(self) -> None:
        quit_ = getattr(self.app, "request_quit", None)
        if quit_ is not None:
            quit_()
        else:
            self.app.exit(self.report.exit_code or ExitCode.ACCEPT)
