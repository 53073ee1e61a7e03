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

from conductor.engine.approver import Approver
from conductor.engine.config import ConfigError, ReleaseConfig
from conductor.engine.interrupt import interrupt_on_signals
from conductor.engine.loop import ResumePoint, Run, RunOutcome, build_run, new_run_id
from conductor.engine.steering import Steering
from conductor.gating.modules import REAL, gate_kwargs_for
from conductor.providers.base import Provider
from conductor.runtime.clock import utc_now
from conductor.runtime.executor import Executor, LocalExecutor
from conductor.runtime.redact import add_secret, default_redactor
from conductor.runtime.skill import Skill
from conductor.runtime.workspace import Workspace
from conductor.transcript.events import EventBus, SkillJob, TranscriptHeader
from conductor.transcript.jsonl import TranscriptWriter


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


def check_executor(config: ReleaseConfig) -> None:
    """Before a run folder exists: the chosen executor can reach what it needs (ConfigError, one sentence)."""
    if config.executor != "slurm":
        return
    from conductor.slurm.scheduler import SlurmCLI, SlurmError, slurm_available

    if not slurm_available():
        raise ConfigError("invalid config field 'executor': slurm needs the SLURM client commands (sbatch, squeue, "
                          "sacct, scancel) on PATH and a slurm.conf (SLURM_CONF) that names the cluster")
    try:
        SlurmCLI().my_jobs()
    except SlurmError as exc:
        raise ConfigError(f"invalid config field 'executor': the SLURM cluster does not answer ({exc})") from None


def build_executor(config: ReleaseConfig, ws: Workspace, run_id: str, redact: Callable[[str], str],
                   emit: Callable[[Any], None]) -> Executor:
    """Local child processes (the default), or one SLURM batch job per skill attempt, its scripts and raw
    output under the run folder (`slurm/`), its jobs named conductor:<run_id>:<stage>:<skill>; every change
    of a job's state, reason or node is a `skill_job` event (the transcript keeps the run's job ids)."""
    if config.executor == "slurm":
        from conductor.slurm import SlurmExecutor

        def on_job(job: Any, st: Any) -> None:
            label = job.name.split(":", 2)[-1]  # <stage>:<skill>
            stage, _, skill = label.partition(":")
            emit(SkillJob(stage=stage, skill=skill or stage, job_id=st.job_id, state=st.state, node=st.node,
                          reason=st.reason if st.state == "PENDING" else None, elapsed_s=st.elapsed_s))

        return SlurmExecutor(config.slurm, state_dir=ws.root / "slurm", run_tag=run_id, redact=redact,
                             on_job=on_job)
    return LocalExecutor(redact=redact, scrub_env=True)


def add_note(exc: BaseException, note: str) -> None:
    """PEP 678 notes (exc.add_note from Python 3.11): where to look, carried by the exception itself."""
    exc.__notes__ = [*getattr(exc, "__notes__", []), note]  # type: ignore[attr-defined]


def run_session(config: ReleaseConfig, provider: Provider, skills: Sequence[Skill], approver: Approver, *,
                listeners: Sequence[Callable[[Any], None]] = (), steering: Optional[Steering] = None,
                handle_signals: bool = False, gate_prefix: str = REAL, run_id: Optional[str] = None,
                workspace: Optional[Workspace] = None, resume: Optional[ResumePoint] = None,
                on_run: Optional[Callable[[Run], None]] = None,
                world_factory: Optional[Callable[[Any], Any]] = None, **run_kwargs: Any) -> RunOutcome:
    run_id = run_id or new_run_id()
    check_executor(config)
    ws = (workspace or workspace_for(config, run_id)).create()
    if config.api_key is not None:
        add_secret(config.api_key.get_secret_value())
    redactor = default_redactor()
    writer = TranscriptWriter(ws.transcript_path, header_for(config, provider, run_id), redactor,
                              resume=resume is not None)
    bus = EventBus(start_seq=writer.last_seq)
    executor = build_executor(config, ws, run_id, redactor.redact_text, bus.emit)
    try:
        if resume is None:
            ws.write_config(config.model_dump(mode="json"))
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
    except Exception as exc:  # the caller says where to look: this run's transcript
        add_note(exc, f"the transcript: {ws.transcript_path}")
        raise
    finally:
        executor.shutdown(grace_s=2.0)
        writer.close()
