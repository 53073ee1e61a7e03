"""The conversation: assistant text, tool-call cards, folded tool results, gate verdict cards.

One small widget per ConvItem; `Conversation.sync` mounts new items and updates changed ones
(streamed text). Only the last MAX_ITEMS stay mounted, so a long run never slows the screen.
"""

from __future__ import annotations

from typing import Optional

from textual.containers import VerticalScroll
from textual.content import Content
from textual.markup import escape
from textual.widget import Widget
from textual.widgets import Collapsible, Static

from conductor.tui.model import ConvItem, RunModel

MAX_ITEMS = 150


def gate_content(item: ConvItem) -> Content:
    """Detail, then every check with its own verdict."""
    parts: list[tuple[str, str] | str] = [(item.body, "")]
    for c in item.data.get("checks", []):  # gates.contract.Check
        ok = c.passed
        parts.append("\n")
        parts.append(("✓ " if ok else "✗ ", "$success" if ok else "$error bold"))
        parts.append((c.name, "bold" if not ok else ""))
        detail = c.detail
        if detail and not ok and detail in item.body:
            detail = ""  # a failing verdict's detail already says it
        if detail:
            parts.append((" · " + detail, "$text-muted" if ok else ""))
        if not ok and c.failure_class is not None:
            parts.append((f" [{c.failure_class.value}]", "$error"))
    return Content.assemble(*parts)


def gate_title(item: ConvItem) -> str:
    verdict = "PASS" if item.ok else f"FAIL · {item.data.get('failure_class')}"
    attempt = item.data.get("attempt")
    return f"gate {item.title} · {verdict}" + (f" · attempt {attempt}" if attempt and attempt > 1 else "")


class Card(Static):
    """A bordered card (tool call, gate verdict, approval, decision)."""


class Line(Static):
    """A one-line entry (stage divider, skill, retry, steering, warning, pause)."""


class ResultFold(Collapsible):
    """A tool result, folded by default."""


def build(item: ConvItem) -> Widget:
    k = item.kind
    if k == "tool_result":
        body = Static(Content(item.text), classes="result-body")
        w: Widget = ResultFold(body, title=escape(f"↳ {item.title} result" + ("" if item.ok else " · error")),
                               collapsed=True, classes="error" if not item.ok else "")
        return w
    w = Card(classes=k) if k in ("tool_call", "gate", "approval", "decision") else (
        Static(classes="assistant") if k == "assistant" else Line(classes=k))
    render(w, item)
    return w


def render(w: Widget, item: ConvItem) -> None:
    """Fill a widget from its item (also called when the item changes)."""
    k = item.kind
    if k == "tool_result" or not isinstance(w, Static):
        return
    if k == "assistant":
        w.update(Content(item.body + (" ▍" if item.streaming else "")))
        w.border_title = f"assistant · turn {item.data.get('turn', '?')}"
    elif k == "tool_call":
        w.border_title = f"⚙ {item.title}"
        w.update(Content(item.text))
    elif k == "gate":
        w.set_class(bool(item.ok), "pass")
        w.set_class(not item.ok, "fail")
        w.border_title = gate_title(item)
        w.update(gate_content(item))
    elif k == "approval":
        ans = item.data.get("answer")
        w.border_title = ("question for you" if item.title == "question" else "approval needed") + (
            f" · {ans} by {item.data.get('by')}" if ans else " · waiting")
        w.set_class(ans is None, "waiting")
        w.set_class(ans in ("deny", "none"), "denied")
        extra = f"\n→ {item.data.get('text')}" if ans and item.data.get("text") else ""
        w.update(Content(item.body + extra))
    elif k == "decision":
        w.set_class(bool(item.ok), "pass")
        w.set_class(not item.ok, "fail")
        w.border_title = f"decision · {item.title} · exit {item.data.get('exit_code')}"
        w.update(Content.assemble((item.body, ""), ("\npress r for the report", "$text-muted")))
    elif k == "stage":
        att = item.data.get("attempt", 1)
        w.update(Content.assemble(("── ", "$text-muted"), (item.title, "bold"),
                                  (f" · attempt {att} ──" if att > 1 else " ──", "$text-muted")))
    elif k == "stage_sealed":
        w.update(Content.assemble(("✔ ", "$success bold"), (item.body, "$success")))
    elif k == "skill":
        w.set_class(not item.ok, "fail")
        w.update(Content.assemble(("▸ ", "$text-muted"), (item.body, "" if item.ok else "$error")))
    elif k == "retry":
        w.update(Content.assemble(("↻ ", "$warning bold"), (item.body, "$warning")))
    elif k == "human":
        w.update(Content.assemble(("you ▸ ", "$accent bold"), (item.body, "")))
    elif k == "warning":
        w.update(Content.assemble(("⚠ ", "$warning bold"), (item.body, "$warning")))
    elif k == "paused":
        icon = "‖ " if item.body == "paused" else "▶ "
        w.update(Content.assemble((icon, "$warning"), (f"run {item.body}", "$warning")))
    else:
        w.update(Content(item.body))


class Conversation(VerticalScroll):
    """Mirrors RunModel.items; call `sync(model, dirty_indexes)` after each batch."""

    DEFAULT_CSS = """
    Conversation { height: 1fr; padding: 0 1; }
    Conversation > Static.assistant { border-left: outer $accent; padding: 0 1; margin: 0 0 1 0; }
    Conversation > Card { border: round $primary-lighten-1; padding: 0 1; margin: 0 0 0 0; height: auto; }
    Conversation > Card.tool_call { border: round $secondary; color: $text-muted; max-height: 10; }
    Conversation > Card.gate.pass { border: round $success; }
    Conversation > Card.gate.fail { border: heavy $error; }
    Conversation > Card.gate { border-title-style: bold; }
    Conversation > Card.gate.pass { border-title-color: $success; }
    Conversation > Card.gate.fail { border-title-color: $error; }
    Conversation > Card.approval { border: round $warning; border-title-color: $warning; }
    Conversation > Card.approval.denied { border: round $error; }
    Conversation > Card.decision { border: double $primary; margin-top: 1; }
    Conversation > Card.decision.pass { border: double $success; border-title-color: $success; }
    Conversation > Card.decision.fail { border: double $error; border-title-color: $error; }
    Conversation > ResultFold { border: none; padding: 0; margin: 0; background: transparent; }
    Conversation > ResultFold > Contents { padding: 0 0 0 2; }
    Conversation > ResultFold CollapsibleTitle { color: $text-muted; padding: 0; }
    Conversation > ResultFold.error CollapsibleTitle { color: $error; }
    Conversation .result-body { color: $text-muted; }
    Conversation > Line.stage { margin-top: 1; }
    Conversation > Static.earlier { color: $text-muted; text-style: italic; }
    """

    def __init__(self, **kw):
        super().__init__(**kw)
        self._widgets: dict[int, Widget] = {}
        self._earlier: Optional[Static] = None

    def sync(self, model: RunModel, dirty: list[int]) -> None:
        at_end = self.is_vertical_scroll_end or self.max_scroll_y == 0
        new: list[Widget] = []
        for idx in dirty:
            item = model.items[idx]
            w = self._widgets.get(idx)
            if w is not None:
                render(w, item)
            elif idx >= len(model.items) - MAX_ITEMS:
                w = build(item)
                self._widgets[idx] = w
                new.append(w)
        if new:
            self.mount_all(new)
        self._prune(len(model.items))
        if at_end and (new or dirty):
            self.call_after_refresh(self.scroll_end, animate=False)

    def _prune(self, total: int) -> None:
        if len(self._widgets) <= MAX_ITEMS:
            return
        drop = sorted(self._widgets)[: len(self._widgets) - MAX_ITEMS]
        for idx in drop:
            self._widgets.pop(idx).remove()
        hidden = min(self._widgets) if self._widgets else total
        text = Content(f"… {hidden} earlier entries (the replay viewer shows them all)")
        if self._earlier is None:
            self._earlier = Static(text, classes="earlier")
            self.mount(self._earlier, before=0)
        else:
            self._earlier.update(text)
