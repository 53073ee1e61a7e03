"""Shared helpers for the TUI tests: the curated transcripts, fixed clocks, an app factory, and a
condition waiter."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import pytest

from conductor.tui.bridge import LoadedTranscript, load_transcript
from conductor.tui.model import parse_ts
from tests.tui import synthetic as mk

ROOT = Path(__file__).resolve().parents[2]
TRANSCRIPTS = ROOT / "transcripts"
# the loop-recorded runs the TUI tests render (scripts/record_transcripts.py writes them)
PASS, REPAIR, APPROVAL, REGRESSION = "scripted_pass", "scripted_repair", "scripted_approval", "scripted_regression"
ALTERED = "scripted_pass_altered"  # scripted_pass with altered compare facts; ALTERED.seq names the verdict
CURATED = (PASS, REPAIR, APPROVAL, REGRESSION, ALTERED)
FIXED_NOW = mk.T0 + 13 * 60  # the injected clock of the synthetic runs: 13 minutes after they started


def fixed_clock() -> float:
    return FIXED_NOW


def curated(name: str) -> Path:
    return TRANSCRIPTS / f"{name}.jsonl"


def recorded(name: str) -> LoadedTranscript:
    return load_transcript(curated(name))


def clock_at(ts: str, after_s: float = 0.0) -> Callable[[], float]:
    """A fixed clock `after_s` seconds after a recorded event's timestamp (live playback of a record)."""
    t = parse_ts(ts)
    assert t is not None, ts
    return lambda: t + after_s


def make_app(**kw: Any):
    from conductor.tui.app import ConductorApp

    kw.setdefault("clock", fixed_clock)
    kw.setdefault("cursor_blink", False)
    kw.setdefault("verify", False)
    return ConductorApp(**kw)


async def until(pilot: Any, cond: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Let the app run until `cond()` holds (the run lives in a thread worker)."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def settled(pilot: Any) -> None:
    """Wait for the run to finish and its last batch to be drawn."""
    from conductor.tui.screens.run import RunScreen
    from conductor.tui.widgets import Conversation

    screen = next(s for s in pilot.app.screen_stack if isinstance(s, RunScreen))
    await until(pilot, lambda: screen.exit_code is not None, what="the run to finish")
    await pilot.pause(0.1)
    conv = screen.query_one(Conversation)
    for _ in range(50):  # the conversation follows the end once the last batch is laid out
        if conv.scroll_y >= conv.max_scroll_y:
            break
        await pilot.pause(0.02)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


@pytest.fixture
def anyio_backend() -> str:
    """Pilot tests are async; anyio's pytest plugin (installed with httpx) runs them on asyncio."""
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def curated_transcripts() -> Path:
    """The curated transcripts are committed (re-recording changes their times, hence the snapshots)."""
    missing = [n for n in CURATED if not curated(n).exists()]
    assert not missing, f"missing curated transcripts {missing}: run .venv/bin/python scripts/record_transcripts.py"
    return TRANSCRIPTS
