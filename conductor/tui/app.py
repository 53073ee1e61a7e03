"""ConductorApp: picks the first screen (start form, live run, recorded run, replay viewer) and
keeps the exit code of the run it showed."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

from textual import on
from textual.app import App

from conductor.replay.replayer import Divergence
from conductor.tui import bridge
from conductor.tui.screens.replay import ReplayScreen
from conductor.tui.screens.run import RunScreen
from conductor.tui.screens.start import StartScreen
from gates.failure_classes import ExitCode

SourceFactory = Callable[[Any], bridge.RunSource]


def iso_clock(clock: Callable[[], float]) -> Callable[[], str]:
    """An event-timestamp clock (UTC ISO-8601) from an epoch-seconds clock."""
    def now() -> str:
        return datetime.fromtimestamp(clock(), timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return now


def header_for(config: Any) -> dict[str, Any]:
    cfg = config.model_dump(mode="json") if hasattr(config, "model_dump") else dict(config or {})
    return {"config": cfg, "provider": cfg.get("provider", "")}


class ConductorApp(App[int]):
    """The conductor TUI.

    clock: epoch seconds (elapsed time, running durations); inject a fixed one for snapshots.
    source: a RunSource to show at once (tests drive a ScriptedRun through it).
    source_factory: config -> RunSource, used by the start form (default: the core's run loop).
    wiring: config -> (provider, skills) for the default source (default: conductor.app.wiring).
    """

    TITLE = "conductor"
    ENABLE_COMMAND_PALETTE = False
    CSS_PATH = "conductor.tcss"

    def __init__(self, *, config: Any = None, transcript: Optional[str | Path] = None, replay: bool = False,
                 source: Optional[bridge.RunSource] = None, header: Optional[dict[str, Any]] = None,
                 source_factory: Optional[SourceFactory] = None, clock: Optional[Callable[[], float]] = None,
                 divergence: Optional[Divergence] = None, verify: bool = True, cursor_blink: bool = True,
                 wiring: Optional[bridge.Wiring] = None):
        super().__init__()
        self.config, self.transcript, self.replay_mode = config, transcript, replay
        self.source, self.header = source, header
        self.source_factory = source_factory or (lambda cfg: bridge.CoreRun(cfg, wiring=wiring))
        self.clock = clock or time.time
        self.divergence, self.verify = divergence, verify
        self.cursor_blink = cursor_blink
        self.exit_code: Optional[int] = None

    def on_mount(self) -> None:
        if self.transcript is not None:
            try:
                loaded = bridge.load_transcript(self.transcript)
            except ValueError as exc:
                self.push_screen(StartScreen(cursor_blink=self.cursor_blink, error=str(exc)))
                return
            if self.replay_mode:
                self.push_screen(ReplayScreen(loaded, divergence=self.divergence, verify=self.verify, clock=self.clock))
            else:
                run = bridge.ScriptedRun(loaded.events, clock=iso_clock(self.clock))
                self.push_screen(self._run_screen(run, loaded.header, live=False))
        elif self.source is not None:
            self.push_screen(self._run_screen(self.source, self.header or {}, live=True))
        elif self.config is not None:
            self.start_run(self.config)
        else:
            self.push_screen(StartScreen(cursor_blink=self.cursor_blink))

    def _run_screen(self, source: bridge.RunSource, header: dict[str, Any], live: bool) -> RunScreen:
        return RunScreen(source, header, live=live, clock=self.clock, cursor_blink=self.cursor_blink)

    def start_run(self, config: Any) -> bool:
        """Open the run screen on a new run of `config`; False (error shown) when it cannot start."""
        try:
            source = self.source_factory(config)
        except bridge.CoreUnavailable as exc:
            if isinstance(self.screen, StartScreen):
                self.screen.show_error(str(exc))
            else:
                self.push_screen(StartScreen(cursor_blink=self.cursor_blink, error=str(exc)))
            return False
        screen = self._run_screen(source, header_for(config), live=True)
        if isinstance(self.screen, StartScreen):
            self.switch_screen(screen)
        else:
            self.push_screen(screen)
        return True

    def request_quit(self) -> None:
        """Quit from any screen: a live run is aborted first (with its confirmation)."""
        run = next((s for s in reversed(self.screen_stack) if isinstance(s, RunScreen)), None)
        if run is None:
            self.exit(self.exit_code if self.exit_code is not None else ExitCode.ACCEPT)
            return
        while self.screen is not run:
            self.pop_screen()
        run.action_quit_run()

    @on(StartScreen.Submitted)
    def _submitted(self, message: StartScreen.Submitted) -> None:
        self.start_run(message.config)
