"""Ctrl-C and SIGTERM: stop the running skill (and every child group), close the record, exit 130.

The first signal asks the run to stop: a running skill is cancelled through the executor (its
process group gets SIGTERM, then SIGKILL) and the loop ends with INTERRUPTED; outside a skill the
signal interrupts at once (a model call, a gate). A second signal always interrupts at once.

    with interrupt_on_signals(run):
        outcome = run.run()
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def interrupt_on_signals(run: Any) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signals can only be handled in the main thread; the caller steers instead
        return
    count = 0

    def handler(signum: int, frame: Any) -> None:
        nonlocal count
        count += 1
        run.steering.abort(f"interrupted by {signal.Signals(signum).name}")
        if count > 1 or not (run.in_child or run.finishing):
            raise KeyboardInterrupt

    old = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
