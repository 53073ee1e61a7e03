"""Modal screens: the approval / ask_human modal, a yes-no confirmation, a threshold prompt."""

from __future__ import annotations

import json
from typing import Optional

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static

from conductor.tui.model import ApprovalView


class ApprovalModal(ModalScreen[tuple[str, str]]):
    """Approve, deny, or answer with text. Dismisses with (answer, text); there is no way out
    without an answer, because the run waits on it."""

    AUTO_FOCUS = "#answer-text"

    BINDINGS = [
        Binding("ctrl+a", "approve", "Approve", priority=True),
        Binding("ctrl+d", "deny", "Deny", priority=True),
        Binding("enter", "answer", "Answer", show=True),
    ]
    DEFAULT_CSS = """
    ApprovalModal { align: center middle; }
    ApprovalModal > Vertical { width: 76; max-width: 95%; height: auto; max-height: 90%;
        border: thick $warning; background: $surface; padding: 0 1; }
    ApprovalModal .kind { text-style: bold; color: $warning; }
    ApprovalModal .question { margin: 1 0; text-style: bold; }
    ApprovalModal VerticalScroll { height: auto; max-height: 8; color: $text-muted; }
    ApprovalModal Input { margin-top: 1; }
    ApprovalModal Horizontal { height: auto; margin-top: 1; align-horizontal: right; }
    ApprovalModal Button { margin-left: 1; min-width: 12; }
    """

    def __init__(self, view: ApprovalView, *, cursor_blink: bool = True):
        super().__init__()
        self.view = view
        self._blink = cursor_blink

    def compose(self) -> ComposeResult:
        v = self.view
        is_q = v.kind == "question"
        with Vertical():
            yield Label(("The agent asks you" if is_q else "Approval needed") + f" · stage {v.stage}", classes="kind")
            yield Static(Content(v.question), classes="question")
            if v.context:
                with VerticalScroll():
                    yield Static(Content(json.dumps(v.context, indent=1, ensure_ascii=False, default=str)[:3000]))
            inp = Input(placeholder="your answer (enter sends it)" if is_q else "optional note, or an answer (enter)",
                        id="answer-text")
            inp.cursor_blink = self._blink
            yield inp
            with Horizontal():
                if not is_q:
                    yield Button("Approve ^a", id="approve", variant="success")
                    yield Button("Deny ^d", id="deny", variant="error")
                yield Button("Answer ⏎", id="answer", variant="primary")
        yield Footer()

    def _text(self) -> str:
        return self.query_one("#answer-text", Input).value.strip()

    def action_approve(self) -> None:
        if self.view.kind != "question":
            self.dismiss(("approve", self._text()))

    def action_deny(self) -> None:
        if self.view.kind != "question":
            self.dismiss(("deny", self._text()))

    def action_answer(self) -> None:
        text = self._text()
        if not text:
            self.notify("Type an answer first" + ("" if self.view.kind == "question" else ", or approve / deny"),
                        severity="warning")
            return
        self.dismiss(("answer", text))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_answer()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        actions = {"approve": self.action_approve, "deny": self.action_deny, "answer": self.action_answer}
        actions[event.button.id or "answer"]()


class ConfirmModal(ModalScreen[bool]):
    BINDINGS = [Binding("y", "yes", "Yes"), Binding("n,escape", "no", "No")]
    DEFAULT_CSS = """
    ConfirmModal { align: center middle; }
    ConfirmModal > Vertical {
        width: 64; max-width: 95%; height: auto; border: thick $error; background: $surface; padding: 1 2;
    }
    ConfirmModal Horizontal { height: auto; margin-top: 1; align-horizontal: right; }
    ConfirmModal Button { margin-left: 1; }
    """

    def __init__(self, question: str, yes: str = "Yes"):
        super().__init__()
        self.question, self.yes = question, yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content(self.question))
            with Horizontal():
                yield Button(f"{self.yes} (y)", id="yes", variant="error")
                yield Button("No (n)", id="no")
        yield Footer()

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


def parse_threshold(text: str) -> float:
    """'0.005', '0.5%' -> 0.005; raises ValueError with a sentence."""
    t = text.strip()
    pct = t.endswith("%")
    try:
        v = float(t.rstrip("%").strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a number (write 0.005 or 0.5%)") from None
    v = v / 100 if pct else v
    if not 0 < v < 1:
        raise ValueError("the threshold must be between 0 and 1 (a fraction of the score's scale)")
    return v


class ThresholdModal(ModalScreen[Optional[float]]):
    AUTO_FOCUS = "#threshold"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    ThresholdModal { align: center middle; }
    ThresholdModal > Vertical {
        width: 64; max-width: 95%; height: auto; border: thick $accent; background: $surface; padding: 0 1;
    }
    ThresholdModal #threshold-error { color: $error; height: auto; }
    """

    def __init__(self, current: Optional[float], *, cursor_blink: bool = True):
        super().__init__()
        self.current = current
        self._blink = cursor_blink

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Re-gate the recorded run with another threshold")
            inp = Input(placeholder=f"e.g. 0.005 or 0.5%  (recorded: {self.current})", id="threshold")
            inp.cursor_blink = self._blink
            yield inp
            yield Static("", id="threshold-error")
        yield Footer()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        try:
            self.dismiss(parse_threshold(event.value))
        except ValueError as exc:
            self.query_one("#threshold-error", Static).update(Content(str(exc)))

    def action_cancel(self) -> None:
        self.dismiss(None)
