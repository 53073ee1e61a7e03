"""The live log tail of the running skill, with a progress bar when the skill reports a fraction."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Log, ProgressBar

from conductor.tui.model import LogView


class LogTail(Vertical):
    DEFAULT_CSS = """
    LogTail { height: 7; border-top: solid $panel-lighten-2; border-title-color: $text-muted; }
    LogTail Log { height: 1fr; background: $surface; color: $text-muted; overflow-x: hidden; }
    LogTail ProgressBar { height: 1; display: none; }
    LogTail ProgressBar.-visible { display: block; }
    LogTail ProgressBar Bar { width: 1fr; }
    """

    def __init__(self, **kw):
        super().__init__(**kw)
        self._seen = 0
        self.border_title = "log"

    def compose(self) -> ComposeResult:
        yield Log(max_lines=500, auto_scroll=True)
        yield ProgressBar(total=100, show_eta=False)

    def show(self, log: LogView) -> None:
        new = log.total_lines - self._seen
        if new > 0:
            tail = list(log.lines)[-min(new, len(log.lines)):]
            view = self.query_one(Log)
            view.write_lines(tail)
            view.scroll_end(animate=False, immediate=True, x_axis=False)  # a tail follows the end
            self._seen = log.total_lines
        state = "running" if log.running else "done"
        title = f"log · {log.skill} ({log.stage}) · {state}" if log.skill else "log"
        if log.message:
            title += f" · {log.message}"
        self.border_title = title
        bar = self.query_one(ProgressBar)
        if log.fraction is not None:
            bar.add_class("-visible")
            bar.update(progress=round(log.fraction * 100, 1))
        else:
            bar.remove_class("-visible")
