"""Process checks for tests: is a pid still running (zombies count as dead)?"""

from __future__ import annotations

import time
from pathlib import Path


def alive(pid: int) -> bool:
    """Exists and is not a zombie (a zombie is dead; only its parent has not reaped it yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_dead(pids: list[int], timeout: float = 5.0) -> list[int]:
    """The pids still running after `timeout` seconds (empty when all are gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return []
        time.sleep(0.05)
    return [p for p in pids if alive(p)]
