"""The replay timeline: one line per event, virtual (only visible lines are rendered), a cursor.

Built on Textual's line API (ScrollView + render_line), so 10,000 events cost no more than 30.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from conductor.tui.replay_model import ReplayModel


class Timeline(ScrollView, can_focus=True):
    COMPONENT_CLASSES = {
        "timeline--cursor", "timeline--pass", "timeline--fail", "timeline--retry", "timeline--dim",
        "timeline--text", "timeline--human", "timeline--seq", "timeline--divergence",
    }
    DEFAULT_CSS = """
    Timeline { height: 1fr; background: $surface; overflow-x: hidden; }
    Timeline > .timeline--cursor { background: $accent 40%; text-style: bold; }
    Timeline:focus > .timeline--cursor { background: $accent 60%; }
    Timeline > .timeline--pass { color: $success; }
    Timeline > .timeline--fail { color: $error; }
    Timeline > .timeline--retry { color: $warning; }
    Timeline > .timeline--dim { color: $text-muted; }
    Timeline > .timeline--text { color: $text; }
    Timeline > .timeline--human { color: $accent; }
    Timeline > .timeline--seq { color: $text-muted; }
    Timeline > .timeline--divergence { background: $error 50%; color: $text; text-style: bold; }
    """
    BINDINGS = [
        Binding("up,k,left", "move(-1)", "Up", show=False),
        Binding("down,j,right", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
    ]

    cursor: reactive[int] = reactive(0, init=False, always_update=True)

    class Moved(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, replay: ReplayModel, **kw):
        super().__init__(**kw)
        self.replay = replay
        self.virtual_size = Size(0, len(replay))
        self._styles: dict[str, Style] = {}
        self._lines: LRUCache[tuple, Strip] = LRUCache(512)

    def on_mount(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.replay))

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.replay))
        self.call_after_refresh(self.scroll_to_cursor)

    def watch_cursor(self, old: int, cursor: int) -> None:
        if not self.scroll_to_cursor():
            top = self.scroll_offset.y
            self.refresh_lines(old - top)  # only the two rows that changed
            self.refresh_lines(cursor - top)
        self.post_message(self.Moved(cursor))

    def scroll_to_cursor(self) -> bool:
        """Scroll so the cursor row is visible; True when it scrolled (everything repaints)."""
        if not self.size.height:
            return False  # not laid out yet: on_resize scrolls once it is
        h = max(1, self.scrollable_content_region.height)
        top = self.scroll_offset.y
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + h:
            self.scroll_to(y=self.cursor - h + 1, animate=False, immediate=True)
        else:
            return False
        return True

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._lines.clear()

    def _style(self, name: str) -> Style:
        st = self._styles.get(name)
        if st is None:
            st = self._styles[name] = self.get_component_rich_style(name) if name != "base" else self.rich_style
        return st

    def go(self, index: int) -> None:
        n = len(self.replay)
        if n:
            self.cursor = max(0, min(index, n - 1))

    def action_move(self, delta: int) -> None:
        self.go(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self.go(self.cursor + direction * max(1, self.scrollable_content_region.height - 1))

    def action_jump(self, index: int) -> None:
        self.go(index if index >= 0 else len(self.replay) - 1)

    def refresh_all(self) -> None:
        """Repaint every row (the divergence arrived, say)."""
        self._lines.clear()
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        i = scroll_y + y
        width = self.scrollable_content_region.width
        if i >= len(self.replay):
            return Strip.blank(width, self._style("base"))
        key = (i, i == self.cursor, i == self.replay.divergence_index, width, scroll_x)
        strip = self._lines.get(key)
        if strip is None:
            strip = self._lines[key] = self._render_row(i, width, scroll_x)
        return strip

    def _render_row(self, i: int, width: int, scroll_x: int) -> Strip:
        ev = self.replay.events[i]
        text, tone = self.replay.summary(i)
        stage = getattr(ev, "stage", "") or ""
        seq_style = self._style("timeline--seq")
        tone_style = self._style(f"timeline--{tone}")
        row_style = Style()
        if i == self.cursor:
            row_style = self._style("timeline--cursor")
        if i == self.replay.divergence_index:  # red wins over the cursor colour; the ▶ marks the cursor
            row_style = row_style + self._style("timeline--divergence")
            text = "≠ DIVERGENCE · " + text
        segs = [
            Segment("▶" if i == self.cursor else " ", row_style),
            Segment(f"{ev.seq:>6} ", seq_style + row_style),
            Segment(f"{ev.type[:17]:<17} ", tone_style + row_style),
            Segment(f"{stage[:14]:<14} ", seq_style + row_style),
            Segment(text, tone_style + row_style),
        ]
        return Strip(segs).crop_extend(scroll_x, scroll_x + width, self._style("base") + row_style)
