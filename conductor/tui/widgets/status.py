"""The status line above the key footer: elapsed, turns, tokens, cache reads, cost, budgets left."""

from __future__ import annotations

from typing import Callable, Optional

from textual.content import Content
from textual.widget import Widget

from conductor.tui.model import RunModel, fmt_count, fmt_duration


def status_content(m: RunModel, now: Optional[float], width: int = 100) -> Content:
    b = m.budget
    elapsed = m.elapsed(now)
    parts: list[tuple[str, str] | str] = []
    if m.paused:
        parts.append((" PAUSED ", "reverse $warning bold"))
        parts.append(" ")
    elif m.finished:
        dec = m.report.decision.value if m.report.decision is not None else "done"
        parts.append((f" {dec} ", "reverse " + ("$success" if (m.report.exit_code or 0) == 0 else "$error") + " bold"))
        parts.append(" ")
    parts += [("elapsed ", "$text-muted"), (fmt_duration(elapsed) or "0s", "bold"),
              ("  turns ", "$text-muted"), (str(b.turns), "bold"),
              ("  tok ", "$text-muted"), (f"{fmt_count(b.input_tokens)}/{fmt_count(b.output_tokens)}", "bold"),
              ("  cache ", "$text-muted"), (fmt_count(b.cache_read_tokens), "bold"),
              ("  $", "$text-muted"), (f"{b.cost_usd:.2f}", "bold")]
    left = b.left(elapsed)
    if left:
        parts.append(("  left ", "$text-muted"))
        parts.append(" ".join(f"{k} {v}" if k != "$" else f"${v}" for k, v in left.items()))
    return Content.assemble(*parts)


class StatusLine(Widget):
    DEFAULT_CSS = """
    StatusLine { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self, clock: Callable[[], Optional[float]], **kw):
        super().__init__(**kw)
        self._clock = clock
        self._model: Optional[RunModel] = None

    def show(self, model: RunModel) -> None:
        self._model = model
        self.refresh()

    def on_mount(self) -> None:
        self.set_interval(1.0, self.refresh)  # elapsed ticks with the (injected) clock

    def render(self) -> Content:
        if self._model is None:
            return Content("")
        return status_content(self._model, self._clock(), self.size.width)
