"""What the closeout report rests on, read from the workspace alone: the seals, the gate verdicts
and facts, and the skill attempts. Never what the agent said.

Sources, in order of trust: `seals/<stage>.json` (written atomically when a stage passed), the
gate verdicts and skill results recorded in `transcript.jsonl` (every attempt, failures too), and
the facts files the gate runner left next to each attempt (`stages/<stage>/attempt-<n>/<gate>.facts.json`).
Without a transcript the report is built from the seals and facts files alone, and says so.

Every verdict is read as the gates' own typed `Verdict` (gates.contract), and the figures every
surface shows (size, per-task rows, the verdict table, the decision) come from the one release
report model folded from them (`recs.report`, conductor.runtime.report).

    recs = load_records(Path("runs/r1"), config, decision)
    recs.latest("compare")          # the compare verdict that decided (a Judged), with its facts
    recs.report.rows                # the compare gate's per-task rows
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from pydantic import ValidationError

from conductor.runtime.report import Judged, ReleaseReport
from gates.contract import Verdict
from gates.failure_classes import Decision

_ATTEMPT = re.compile(r"attempt-(\d+)")


@dataclass
class SkillAttempt:
    stage: str
    skill: str
    attempt: Optional[int]
    input: dict[str, Any]
    ok: Optional[bool] = None  # None: started, never finished (the run was cut off)
    failure_class: Optional[str] = None
    error: Optional[str] = None
    result: dict[str, Any] = field(default_factory=dict)


@dataclass
class Records:
    workspace: Path
    config: dict[str, Any]
    decision: dict[str, Any]
    seals: dict[str, dict[str, Any]] = field(default_factory=dict)
    gates: list[Judged] = field(default_factory=list)
    attempts: list[SkillAttempt] = field(default_factory=list)
    approvals: list[dict[str, Any]] = field(default_factory=list)
    source: str = "seals"  # "transcript" when the verdicts of every attempt were read from it
    warnings: list[str] = field(default_factory=list)
    report: ReleaseReport = field(default_factory=ReleaseReport)  # folded from `gates` and the decision

    def latest(self, gate: str, stage: Optional[str] = None, *, prefer_pass: bool = False) -> Optional[Judged]:
        recs = [g for g in self.gates if g.gate == gate and (stage is None or g.stage == stage)]
        if prefer_pass and any(g.verdict.passed for g in recs):
            recs = [g for g in recs if g.verdict.passed]
        return recs[-1] if recs else None

    def result_of(self, stage: str) -> dict[str, Any]:
        """The sealed result of a stage, else the last result a skill of that stage wrote."""
        seal = self.seals.get(stage)
        if seal and isinstance(seal.get("result"), dict):
            return seal["result"]
        done = [a for a in self.attempts if a.stage == stage and a.result]
        return done[-1].result if done else {}


def _read_json(path: Path) -> Optional[Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _facts_file(ws: Path, stage: str, attempt: Optional[int], gate: str) -> Optional[dict[str, Any]]:
    if attempt is None:
        return None
    data = _read_json(ws / "stages" / stage / f"attempt-{attempt}" / f"{gate}.facts.json")
    return data if isinstance(data, dict) else None


def _add_gate(recs: Records, stage: str, attempt: Optional[int], verdict: Any,
              facts: Optional[dict[str, Any]]) -> None:
    """A recorded verdict, read as the gates' Verdict; one that is not a valid verdict is left out, and said."""
    try:
        recs.gates.append(Judged(stage=stage, attempt=attempt, verdict=Verdict.model_validate(verdict), facts=facts))
    except ValidationError as exc:
        e = exc.errors(include_url=False)[0]
        recs.warnings.append(f"a {stage} verdict on record is not a valid verdict ({'.'.join(map(str, e['loc']))}: "
                             f"{e['msg']}); it was left out")


def read_seals(ws: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted((ws / "seals").glob("*.json")):
        data = _read_json(path)
        if isinstance(data, dict) and not path.name.startswith("."):
            out[path.stem] = data
    return out


def _events(path: Path, warnings: list[str]) -> list[dict[str, Any]]:
    out = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                warnings.append(f"transcript line {n} is not JSON (a torn last line?); it was skipped")
                continue
            if isinstance(ev, dict) and ev.get("type") != "header":
                out.append(ev)
    return out


def _from_transcript(recs: Records, events: list[dict[str, Any]]) -> None:
    inputs = {e.get("tool_use_id"): e.get("input") or {} for e in events if e.get("type") == "tool_call"}
    started: dict[str, SkillAttempt] = {}
    for e in events:
        kind = e.get("type")
        if kind == "gate_verdict" and isinstance(e.get("verdict"), dict):
            facts = e.get("facts") if isinstance(e.get("facts"), dict) else None
            attempt = e.get("attempt")
            facts = facts or _facts_file(recs.workspace, e.get("stage", ""), attempt, e.get("gate", ""))
            _add_gate(recs, str(e.get("stage")), attempt, e["verdict"], facts)
        elif kind == "skill_started":
            m = _ATTEMPT.search(str(e.get("log_path", "")))
            a = SkillAttempt(stage=str(e.get("stage")), skill=str(e.get("skill")),
                             attempt=int(m.group(1)) if m else None,
                             input=dict(inputs.get(e.get("tool_use_id")) or {}))
            started[str(e.get("tool_use_id"))] = a
            recs.attempts.append(a)
        elif kind == "skill_finished":
            a = started.get(str(e.get("tool_use_id")))
            if a is not None:
                a.ok, a.failure_class, a.error = bool(e.get("ok")), e.get("failure_class"), e.get("error")
                a.result = e.get("result") if isinstance(e.get("result"), dict) else {}
        elif kind == "approval_requested":
            recs.approvals.append({"stage": e.get("stage"), "question": e.get("question"), "answer": None,
                                   "request_id": e.get("request_id")})
        elif kind == "approval_decided":
            for ap in recs.approvals:
                if ap["request_id"] == e.get("request_id"):
                    ap.update(answer=e.get("answer"), text=e.get("text"), by=e.get("by"))


def _from_seals(recs: Records) -> None:
    for stage, seal in recs.seals.items():
        attempt = seal.get("attempt")
        for v in seal.get("verdicts") or []:
            if isinstance(v, dict):
                _add_gate(recs, stage, attempt, v, _facts_file(recs.workspace, stage, attempt, str(v.get("gate", ""))))
        if isinstance(seal.get("result"), dict):
            recs.attempts.append(SkillAttempt(stage=stage, skill=stage, attempt=attempt, input=seal.get("input") or {},
                                              ok=True, result=seal["result"]))


def load_records(workspace: Path, config: dict[str, Any], decision: dict[str, Any]) -> Records:
    recs = _read(Path(workspace), config, decision)
    recs.report = fold_report(recs)
    return recs


def _read(ws: Path, config: dict[str, Any], decision: dict[str, Any]) -> Records:
    recs = Records(workspace=ws, config=config, decision=decision, seals=read_seals(ws))
    transcript = ws / "transcript.jsonl"
    if transcript.is_file():
        try:
            _from_transcript(recs, _events(transcript, recs.warnings))
            recs.source = "transcript"
            return recs
        except OSError as exc:
            recs.warnings.append(f"the transcript could not be read ({exc}); the report rests on the seals alone")
            recs.gates, recs.attempts, recs.approvals = [], [], []
    else:
        recs.warnings.append("no transcript in the workspace: failed attempts are not on record; "
                             "the report rests on the seals alone")
    _from_seals(recs)
    return recs


def fold_report(recs: Records) -> ReleaseReport:
    """The release report model of these records: every verdict in order, then the decision."""
    report = ReleaseReport.for_config(recs.config)
    for g in recs.gates:
        report.add_verdict(g.stage, g.attempt, g.verdict, facts=g.facts)
    d = recs.decision
    if d.get("decision") in {x.value for x in Decision}:
        code = d.get("exit_code")
        report.decide(d["decision"], code if isinstance(code, int) else Decision(d["decision"]).exit_code,
                      str(d.get("reason") or ""), d.get("failure_class"), d.get("stage"))
    return report
