"""The Textual TUI: the only package of conductor that imports textual.

`launch` imports textual lazily, so `import conductor.tui` stays cheap and the headless CLI can
import it without pulling textual in.

    code = launch()                                   # the start form
    code = launch(config=cfg)                         # start a run at once
    code = launch(transcript="run.jsonl")             # show a recorded run
    code = launch(transcript="run.jsonl", replay=True)  # the replay viewer
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional


def launch(config: Any = None, transcript: Optional[str | Path] = None, replay: bool = False, *,
           wiring: Optional[Callable[[Any], tuple[Any, Any]]] = None) -> int:
    """Run the TUI in this terminal; returns the exit code of the run it showed (DESIGN.md codes):
    the decision's code once a run ended, 130 when the person aborted it, 0 when no run started.

    wiring(config) -> (provider, skills) builds what a run needs (default: conductor.app.wiring's
    build_provider / build_skills)."""
    from conductor.tui.app import ConductorApp

    app = ConductorApp(config=config, transcript=transcript, replay=replay, wiring=wiring)
    result = app.run()
    if app.exit_code is not None:
        return app.exit_code
    return result if isinstance(result, int) else 0


__all__ = ["launch"]
