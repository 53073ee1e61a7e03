"""The stage rail: one line per planned stage with its status and duration."""

from __future__ import annotations

from typing import Callable, Optional

from textual.content import Content
from textual.widget import Widget

from conductor.engine.stages import Status
from conductor.tui.model import StageView, fmt_duration

ICONS = {Status.PENDING: "○", Status.RUNNING: "▶", Status.PASSED: "✓", Status.SEALED: "✔", Status.FAILED: "✗",
         Status.RETRYING: "↻", Status.STOPPED: "■", Status.SKIPPED: "–"}
STYLES = {Status.PENDING: "$text-muted", Status.RUNNING: "$accent bold", Status.PASSED: "$success",
          Status.SEALED: "$success bold", Status.FAILED: "$error bold", Status.RETRYING: "$warning bold",
          Status.STOPPED: "$warning", Status.SKIPPED: "$text-muted"}


def stage_line(st: StageView, now: Optional[float], width: int) -> Content:
    """`✔ quantize  sealed  1m02s`; the status word is dropped when the rail is narrow."""
    style = STYLES.get(st.status, "")
    dur = fmt_duration(st.elapsed(now))
    name_w = 15
    words = st.status.value if st.status != Status.RETRYING else f"retry {st.retry_n}/{st.retry_m}"
    show_word = width >= name_w + 2 + 11 + 6
    parts: list[tuple[str, str] | str] = [(ICONS.get(st.status, "?") + " ", style),
                                         (st.name[:name_w].ljust(name_w),
                                          style if st.status != Status.PENDING else "$text-muted")]
    if show_word:
        parts.append((" " + words.ljust(10), style))
    used = 2 + name_w + (11 if show_word else 0)
    parts.append((dur.rjust(max(0, width - used)), "$text-muted"))
    return Content.assemble(*parts)


def stage_note(st: StageView, width: int) -> Optional[Content]:
    """A second line for the states a person must notice: why it is retrying or failed (and, when
    the rail is too narrow for the status column, "retrying (n of m)")."""
    wide = width >= 15 + 2 + 11 + 6
    if st.status == Status.RETRYING:
        text = f"  {st.failure_class or ''}" if wide else f"  retrying ({st.retry_n} of {st.retry_m})"
        return Content.assemble((_fit(text, width), "$warning"))
    if st.status == Status.RUNNING and st.job:
        return Content.assemble((_fit(f"  {st.job}", width), "$text-muted"))
    if st.status == Status.FAILED and st.failure_class:
        return Content.assemble((_fit(f"  {st.failure_class}" if wide else f"  {st.failure_class}", width), "$error"))
    return None


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


class StageRail(Widget):
    """Renders `stages` (name -> StageView) with durations from the injected clock."""

    DEFAULT_CSS = """
    StageRail { width: 26; height: 1fr; padding: 0 1; border-right: vkey $panel-lighten-2; }
    """

    def __init__(self, clock: Callable[[], Optional[float]], **kw):
        super().__init__(**kw)
        self._clock = clock
        self._stages: dict[str, StageView] = {}
        self.border_title = "stages"

    def show(self, stages: dict[str, StageView]) -> None:
        self._stages = stages
        self.refresh()

    def render(self) -> Content:
        width = max(10, self.size.width)
        now = self._clock()
        lines: list[Content] = []
        for st in self._stages.values():
            lines.append(stage_line(st, now, width))
            note = stage_note(st, width)
            if note is not None:
                lines.append(note)
        return Content("\n").join(lines) if lines else Content("no plan yet")
