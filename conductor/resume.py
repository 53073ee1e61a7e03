"""`conductor resume WORKSPACE`: continue a run after Ctrl-C, a crash or kill -9.

Stages whose seal still verifies (every artifact hashes as sealed) are not run again, nor is
anything that depends only on them; the transcript continues in the same file (a torn last line
is cut first) and its seq continues. Budgets span the whole run: the turns, tokens and cost of
the earlier segments count. A run that already has its decision is not resumed, unless that
decision was about the run rather than the model (budget, a missing person, infrastructure, an
internal error): its decision.json is then kept aside as decision.superseded-<n>.json.

    outcome = resume_run("runs/r1", provider=AutopilotProvider(skills), skills=skills,
                         approver=NoHumanApprover(), overrides={"budgets.max_turns": 200})
"""

from __future__ import annotations

import json
from typing import Any, Optional, Sequence

from conductor.config import load_config
from conductor.loop import ResumePoint, RunOutcome
from conductor.record import open_stage_counts, segments, totals
from conductor.session import run_session
from conductor.stages import CLOSEOUT
from conductor.transcript import read_transcript
from conductor.workspace import SealError, Workspace

RESUMABLE_DECISIONS = {"BUDGET_EXHAUSTED", "NEEDS_HUMAN", "SYSTEMIC", "INTERNAL_ERROR"}


class ResumeError(Exception):
    """The workspace cannot be resumed: one sentence for the user (exit 2)."""


def resume_point(ws: Workspace, events: list[Any], run_id: str) -> ResumePoint:
    notes, verified = [], {}
    try:
        seals = ws.load_seals()
    except SealError as exc:
        raise ResumeError(str(exc)) from None
    for stage, seal in seals.items():
        if stage == CLOSEOUT:
            continue
        problems = ws.verify_seal(stage)
        if problems:
            notes.append(f"stage {stage} runs again: its seal no longer verifies ({'; '.join(problems)})")
        else:
            verified[stage] = seal
    failures, calls = open_stage_counts(events, set(verified))
    last = events[-1].seq if events else 0
    return ResumePoint(sealed=verified, failures=failures, stage_calls=calls, totals=totals(events),
                       resumed_from=f"{run_id}@{last}", notes=notes)


def _set_aside_decision(ws: Workspace) -> None:
    if not ws.decision_path.exists():
        return
    try:
        decided = json.loads(ws.decision_path.read_text(encoding="utf-8")).get("decision")
    except (OSError, ValueError):
        decided = None
    if decided not in RESUMABLE_DECISIONS:
        raise ResumeError(f"{ws.root} already has its decision ({decided}); a decided run is not resumed. "
                          "Replay it, or start a new run")
    n = 1
    while (ws.root / f"decision.superseded-{n}.json").exists():
        n += 1
    if ws.report_path.exists():  # the new closeout writes its own report; a stale one must not stand in
        ws.report_path.rename(ws.root / f"report.superseded-{n}.md")
    ws.decision_path.rename(ws.root / f"decision.superseded-{n}.json")


def load_workspace(path: str) -> tuple[Workspace, Any, list[Any]]:
    ws = Workspace(path)
    if not ws.root.is_dir():
        raise ResumeError(f"workspace {path!r} does not exist")
    if not ws.transcript_path.exists() or not ws.config_path.exists():
        raise ResumeError(f"{path!r} is not a conductor workspace (no transcript.jsonl or config.json)")
    t = read_transcript(ws.transcript_path)
    if t.chain_break is not None:
        raise ResumeError(f"{ws.transcript_path} was altered after it was written ({t.chain_break.sentence()}); "
                          "a run whose record cannot be trusted is not resumed")
    return ws, t, t.events


def resume_config(ws: Workspace, overrides: Optional[dict[str, Any]] = None):
    """The run's recorded config, with overrides (e.g. a larger budget: "budgets.max_turns")."""
    data = json.loads(ws.config_path.read_text(encoding="utf-8"))
    data["workspace"] = str(ws.root)
    return load_config(overrides={**data, **(overrides or {})})


def resume_run(workspace: str, *, provider: Any, skills: Sequence[Any], approver: Any,
               overrides: Optional[dict[str, Any]] = None, listeners: Sequence[Any] = (),
               handle_signals: bool = False, **session_kwargs: Any) -> RunOutcome:
    ws, t, events = load_workspace(workspace)
    cfg = resume_config(ws, overrides)
    _set_aside_decision(ws)
    segs = segments(events)
    prefix = segs[0].gate_module_prefix() if segs else "gates"
    rp = resume_point(ws, events, t.header.run_id)
    return run_session(cfg, provider, skills, approver, listeners=listeners, handle_signals=handle_signals,
                       gate_prefix=session_kwargs.pop("gate_prefix", prefix), run_id=t.header.run_id,
                       workspace=ws, resume=rp, **session_kwargs)
