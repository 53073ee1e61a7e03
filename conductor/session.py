"""Wiring one run: workspace, redactor, executor, transcript, bus, signals; then the loop.

    outcome = run_session(config, provider, skills, NoHumanApprover(),
                          listeners=[HeadlessPrinter()], handle_signals=True)

Whatever ends the run (a decision, Ctrl-C, an exception), the executor's children are stopped
and the transcript is closed before this returns or raises.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from conductor.approver import Approver
from conductor.config import ReleaseConfig
from conductor.events import EventBus, TranscriptHeader, utc_now
from conductor.executor import LocalExecutor
from conductor.gate_modules import REAL, gate_kwargs_for
from conductor.interrupt import interrupt_on_signals
from conductor.loop import ResumePoint, Run, RunOutcome, build_run, new_run_id
from conductor.providers.base import Provider
from conductor.redact import add_secret, default_redactor
from conductor.skill import Skill
from conductor.steering import Steering
from conductor.transcript import TranscriptWriter
from conductor.workspace import Workspace


def conductor_version() -> str:
    try:
        from importlib.metadata import version

        return version("conductor")
    except Exception:  # running from a checkout that is not installed
        try:
            import tomllib

            data = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
            return str(data["project"]["version"])
        except Exception:
            return "0.0.0+unknown"


def workspace_for(config: ReleaseConfig, run_id: str) -> Workspace:
    return Workspace(config.workspace or Path("runs") / run_id)


def header_for(config: ReleaseConfig, provider: Provider, run_id: str) -> TranscriptHeader:
    return TranscriptHeader(conductor_version=conductor_version(), run_id=run_id, config=config.model_dump(mode="json"),
                            provider=provider.name, model=getattr(provider, "model", ""),
                            host=socket.gethostname(), started_at=utc_now())


LAST_TRANSCRIPT: list[str] = []  # the transcript of the latest session (the CLI names it on an internal error)


def run_session(config: ReleaseConfig, provider: Provider, skills: Sequence[Skill], approver: Approver, *,
                listeners: Sequence[Callable[[Any], None]] = (), steering: Optional[Steering] = None,
                handle_signals: bool = False, gate_prefix: str = REAL, run_id: Optional[str] = None,
                workspace: Optional[Workspace] = None, resume: Optional[ResumePoint] = None,
                on_run: Optional[Callable[[Run], None]] = None,
                world_factory: Optional[Callable[[Any], Any]] = None, **run_kwargs: Any) -> RunOutcome:
    run_id = run_id or new_run_id()
    ws = (workspace or workspace_for(config, run_id)).create()
    if config.api_key is not None:
        add_secret(config.api_key.get_secret_value())
    redactor = default_redactor()
    executor = LocalExecutor(redact=redactor.redact_text, scrub_env=True)
    writer = TranscriptWriter(ws.transcript_path, header_for(config, provider, run_id), redactor,
                              resume=resume is not None)
    LAST_TRANSCRIPT[:] = [str(ws.transcript_path)]
    try:
        if resume is None:
            ws.write_config(config.model_dump(mode="json"))
        bus = EventBus(start_seq=writer.last_seq)
        bus.subscribe(writer, critical=True)
        for listener in listeners:
            bus.subscribe(listener)
        run = build_run(config, provider, skills, approver, bus, executor, ws, run_id=run_id, steering=steering,
                        redactor=redactor, transcript_path=str(ws.transcript_path), resume=resume,
                        gate_kwargs=gate_kwargs_for(gate_prefix),
                        world=world_factory(executor) if world_factory else None, **run_kwargs)
        if on_run is not None:
            on_run(run)
        if handle_signals:
            with interrupt_on_signals(run):
                return run.run()
        return run.run()
    finally:
        executor.shutdown(grace_s=2.0)
        writer.close()
