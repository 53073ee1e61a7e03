"""What the closeout report rests on, read from the workspace alone: the seals, the gate verdicts
and facts, and the skill attempts. Never what the agent said.

Sources, in order of trust: `seals/<stage>.json` (written atomically when a stage passed), the
gate verdicts and skill results recorded in `transcript.jsonl` (every attempt, failures too), and
the facts files the gate runner left next to each attempt (`stages/<stage>/attempt-<n>/<gate>.facts.json`).
Without a transcript the report is built from the seals and facts files alone, and says so.

    recs = load_records(Path("runs/r1"), config, decision)
    recs.latest("compare")          # the compare verdict that decided, with its facts
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

_ATTEMPT = re.compile(r"attempt-(\d+)")


@dataclass
class GateRecord:
    stage: str
    gate: str
    attempt: Optional[int]
    passed: bool
    failure_class: Optional[str]
    detail: str
    evidence: dict[str, Any]
    facts: Optional[dict[str, Any]] = None

    def row(self) -> dict[str, Any]:
        return {"stage": self.stage, "gate": self.gate, "attempt": self.attempt, "pass": self.passed,
                "failure_class": self.failure_class, "detail": self.detail}


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
    gates: list[GateRecord] = field(default_factory=list)
    attempts: list[SkillAttempt] = field(default_factory=list)
    approvals: list[dict[str, Any]] = field(default_factory=list)
    source: str = "seals"  # "transcript" when the verdicts of every attempt were read from it
    warnings: list[str] = field(default_factory=list)

    def latest(self, gate: str, stage: Optional[str] = None, *, prefer_pass: bool = False) -> Optional[GateRecord]:
        recs = [g for g in self.gates if g.gate == gate and (stage is None or g.stage == stage)]
        if prefer_pass and any(g.passed for g in recs):
            recs = [g for g in recs if g.passed]
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


def _gate_record(stage: str, attempt: Optional[int], verdict: dict[str, Any],
                 facts: Optional[dict[str, Any]]) -> GateRecord:
    return GateRecord(stage=stage, gate=str(verdict.get("gate", "?")), attempt=attempt,
                      passed=verdict.get("pass") is True, failure_class=verdict.get("failure_class"),
                      detail=str(verdict.get("detail", "")),
                      evidence=verdict.get("evidence") if isinstance(verdict.get("evidence"), dict) else {},
                      facts=facts)


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
            recs.gates.append(_gate_record(str(e.get("stage")), attempt, e["verdict"], facts))
        elif kind == "skill_started":
            m = _ATTEMPT.search(str(e.get("log_path", "")))
            a = SkillAttempt(stage=str(e.get("stage")), skill=str(e.get("skill")), attempt=int(m.group(1)) if m else None,
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
                recs.gates.append(_gate_record(stage, attempt, v, _facts_file(recs.workspace, stage, attempt,
                                                                               str(v.get("gate", "")))))
        if isinstance(seal.get("result"), dict):
            recs.attempts.append(SkillAttempt(stage=stage, skill=stage, attempt=attempt, input=seal.get("input") or {},
                                              ok=True, result=seal["result"]))


def load_records(workspace: Path, config: dict[str, Any], decision: dict[str, Any]) -> Records:
    ws = Path(workspace)
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
