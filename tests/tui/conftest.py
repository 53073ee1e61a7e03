"""Shared helpers for the TUI tests: a fixed clock, an app factory, and a condition waiter."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.tui import make_transcripts as mk

ROOT = Path(__file__).resolve().parents[2]
TRANSCRIPTS = ROOT / "transcripts"
FIXED_NOW = mk.T0 + 13 * 60  # the injected clock: 13 minutes after every curated run started


def fixed_clock() -> float:
    return FIXED_NOW


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
    """The curated transcripts are committed; regenerate them if missing (same content)."""
    if not (TRANSCRIPTS / "tui_pass.jsonl").exists():
        mk.write_all(TRANSCRIPTS)
    return TRANSCRIPTS
