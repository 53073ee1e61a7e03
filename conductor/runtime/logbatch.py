"""Batch a running skill's log lines into skill_log events (one event per interval, not per line).

    with LogBatcher(lambda lines: bus.emit(SkillLog(stage=s, skill=k, lines=lines))) as b:
        executor.run(spec, on_line=b.add)
"""

from __future__ import annotations

import threading
from typing import Callable

MAX_LINES_PER_EVENT = 200


class LogBatcher:
    def __init__(self, flush: Callable[[list[str]], None], interval_s: float = 0.2):
        self._flush = flush
        self._interval = interval_s
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True, name="log-batcher")

    def add(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)
            full = len(self._lines) >= MAX_LINES_PER_EVENT
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            lines, self._lines = self._lines, []
        if lines:
            self._flush(lines)

    def _tick(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()

    def __enter__(self) -> LogBatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.flush()

