"""Steering a live run from another thread (the TUI, a signal handler): messages, pause, abort.

    s = Steering()
    s.say("use int8_sq next")   # inserted as user text before the next model turn
    s.pause(); s.resume()       # the loop waits between turns while paused
    s.abort("operator abort")   # the run ends INTERRUPTED (resumable); a running skill is stopped
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Optional


class Steering:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inbox: deque[str] = deque()
        self._resumed = threading.Event()
        self._resumed.set()
        self.cancel = threading.Event()  # handed to the executor: set -> the running child stops
        self.abort_reason: Optional[str] = None

    def say(self, text: str) -> None:
        if text.strip():
            with self._lock:
                self._inbox.append(text)

    def drain(self) -> list[str]:
        with self._lock:
            out = list(self._inbox)
            self._inbox.clear()
        return out

    def pause(self) -> None:
        self._resumed.clear()

    def resume(self) -> None:
        self._resumed.set()

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    def abort(self, reason: str = "aborted") -> None:
        if self.abort_reason is None:
            self.abort_reason = reason
        self.cancel.set()
        self._resumed.set()  # a paused loop wakes up to end

    @property
    def aborted(self) -> bool:
        return self.cancel.is_set()

    def wait_while_paused(self, poll_s: float = 0.1) -> None:
        """Block while paused; returns at once when resumed or aborted."""
        while not self._resumed.wait(poll_s):
            if self.aborted:
                return
