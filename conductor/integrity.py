"""Is a transcript whole, and untouched? What replay says before it trusts a record.

Three kinds of problem, each with where it is (line and seq):

- torn / partial: the last line is incomplete, or the record ends before its closing events (the
  decision and run_finished): the run was killed, or the file was cut. `--accept-partial` accepts
  these; without it, replay says so and exits non-zero.
- hole: the record's own structure says lines are missing in the middle (a tool_call without the
  assistant turn that asked for it, a skill without its end, a call without the verdict of a gate its
  stage requires, a seq that goes backwards). A version-1 record cannot tell damage from tampering:
  `--accept-partial` accepts a hole in a version-1 record, never in a version-2 one.
- altered: the hash chain of a version-2 record breaks (conductor.chain). Never accepted.

A version-1 record (no chain) gets a warning: it is not tamper-evident.

    problems = check_record(read_transcript(path))
    blocking = [p for p in problems if p.blocks(accept_partial=False)]
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Optional

from conductor.events import DecisionMade, RunFinished, RunStarted
from conductor.stages import CLOSEOUT

Kind = Literal["torn", "partial", "hole", "altered", "unchained"]


@dataclass
class Problem:
    kind: Kind
    detail: str
    line: Optional[int] = None
    seq: Optional[int] = None
    acceptable: bool = True  # --accept-partial accepts it

    def blocks(self, accept_partial: bool) -> bool:
        """Does this problem make replay exit non-zero?"""
        if self.kind == "unchained":
            return False
        return not (accept_partial and self.acceptable)

    def sentence(self) -> str:
        return self.detail

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_record(t: Any) -> list[Problem]:
    """Every problem of a read transcript (conductor.transcript.Transcript), in file order."""
    out: list[Problem] = []
    chained = t.tamper_evident
    if not chained:
        out.append(Problem("unchained", f"this record is schema_version {t.header.schema_version}, written before "
                                        "transcripts were hash-chained: it is not tamper-evident"))
    elif t.chain_break is not None:
        b = t.chain_break
        out.append(Problem("altered", f"the record was altered after it was written: {b.sentence()}",
                           b.line, b.seq, acceptable=False))
    out += _Walker(t.events, acceptable=not chained).run()
    if t.torn:
        line = len(t.events) + 2
        out.append(Problem("torn", f"the record is torn: line {line} is incomplete (the run was killed mid-write, "
                                   "or the file was cut there)", line, None))
    out += _unclosed(t.events)
    return out


def _line(events: list[Any], i: int) -> int:
    return i + 2  # line 1 is the header


def _unclosed(events: list[Any]) -> list[Problem]:
    """The last run (or resume) must end with its decision and run_finished."""
    start = max((i for i, e in enumerate(events) if isinstance(e, RunStarted)), default=None)
    tail = events[start:] if start is not None else events
    if any(isinstance(e, RunFinished) for e in tail):
        return []
    last = events[-1] if events else None
    where = f"after seq {last.seq} (line {len(events) + 1})" if last is not None else "after its header"
    missing = "run_finished" if any(isinstance(e, DecisionMade) for e in tail) else "the decision and run_finished"
    return [Problem("partial", f"the record is torn: it ends {where} before its closing events ({missing}); the run "
                               "was killed, or the file was cut", len(events) + 1, last.seq if last else None)]


class _Walker:
    """Walks the events of one transcript and reports what its own structure says is missing."""

    def __init__(self, events: list[Any], acceptable: bool):
        self.events, self.acceptable = events, acceptable
        self.out: list[Problem] = []
        self.seg: Optional[_Seg] = None

    def hole(self, i: int, detail: str) -> None:
        ev = self.events[i]
        self.out.append(Problem("hole", f"the record has a hole: {detail}", _line(self.events, i), ev.seq,
                                self.acceptable))

    def run(self) -> list[Problem]:
        prev: Optional[int] = None
        for i, ev in enumerate(self.events):
            if prev is not None and ev.seq <= prev:
                self.hole(i, f"line {_line(self.events, i)} has seq {ev.seq}, not after seq {prev}")
            prev = ev.seq
            if isinstance(ev, RunStarted):
                self._close()
                self.seg = _Seg(gates_of={str(p.get("stage")): list(p.get("gates", [])) for p in ev.plan})
            elif self.seg is None:
                self.hole(i, f"{ev.type} at seq {ev.seq} comes before any run_started")
            else:
                handler = getattr(self, "_" + ev.type, None)
                if handler is not None:
                    handler(self.seg, i, ev)
        self._close()
        return self.out

    def _close(self) -> None:
        """A segment that stopped without its decision (killed, then resumed) may leave things open."""
        seg = self.seg
        if seg is not None and seg.decided and seg.skill_open is not None:
            self.hole(seg.skill_open, f"skill {self.events[seg.skill_open].skill} never finished, yet the run "
                                      "reached its decision")

    def _stage_opened(self, seg: "_Seg", i: int, ev: Any) -> None:
        seg.expect_open, seg.opened, seg.stage = None, True, ev.stage

    def _assistant_message(self, seg: "_Seg", i: int, ev: Any) -> None:
        missing = [t for t in seg.turn_ids if t not in seg.results]
        if missing:
            self.hole(i, f"the tool call(s) {missing} of the previous turn have no tool_result, yet turn {ev.turn} "
                         f"(seq {ev.seq}) follows")
        if seg.expect_open is not None:
            self.hole(i, f"stage {self.events[seg.expect_open].stage} was sealed at seq "
                         f"{self.events[seg.expect_open].seq}, but no stage_opened follows before turn {ev.turn}")
            seg.expect_open = None
        if not seg.opened:
            self.hole(i, f"turn {ev.turn} (seq {ev.seq}) comes before any stage_opened")
            seg.opened = True
        seg.turn_ids = [b.get("id") for b in ev.content if b.get("type") == "tool_use"]
        seg.cut = ev.stop_reason == "max_tokens"

    def _tool_call(self, seg: "_Seg", i: int, ev: Any) -> None:
        if ev.tool_use_id not in seg.turn_ids:
            self.hole(i, f"tool_call {ev.name} ({ev.tool_use_id}) at seq {ev.seq} was not asked for by the turn "
                         "before it")
        seg.calls.add(ev.tool_use_id)

    def _tool_result(self, seg: "_Seg", i: int, ev: Any) -> None:
        if ev.tool_use_id not in seg.calls and not (seg.cut and ev.tool_use_id in seg.turn_ids):
            self.hole(i, f"tool_result {ev.name} ({ev.tool_use_id}) at seq {ev.seq} has no tool_call before it")
        seg.results.add(ev.tool_use_id)
        self._close_call(seg, ev)

    def _close_call(self, seg: "_Seg", result: Any) -> None:
        """A skill call's result: its gates all reported; a pass was sealed, a failure retried or ended."""
        gated, seg.gated = seg.gated, None
        if gated is None or gated.fin.tool_use_id != result.tool_use_id:
            return
        missing = [g for g in seg.gates_of.get(gated.fin.stage, []) if g not in gated.seen]
        if gated.fin.ok and missing:
            self.hole(gated.index, f"the call of skill {gated.fin.skill} at seq {gated.fin.seq} has no verdict of "
                                   f"gate(s) {missing}, which stage {gated.fin.stage} requires")
        elif gated.passed and not seg.sealed_since:
            self.hole(gated.index, f"the call of skill {gated.fin.skill} at seq {gated.fin.seq} passed every gate, "
                                   "but no stage_sealed follows")
        body = _json_object(result.content)
        if body.get("status") == "failed" and "run_ends" not in body and not seg.retry_since:
            self.hole(gated.index, f"the failed call of skill {gated.fin.skill} at seq {gated.fin.seq} was neither "
                                   "retried (no stage_retry) nor ended the run")

    def _skill_started(self, seg: "_Seg", i: int, ev: Any) -> None:
        if ev.stage != seg.stage:
            self.hole(i, f"skill {ev.skill} of stage {ev.stage} started at seq {ev.seq}, but the stage opened last "
                         f"is {seg.stage}")
        if seg.skill_open is not None:
            j = seg.skill_open
            self.hole(j, f"skill {self.events[j].skill} started at seq {self.events[j].seq} never finished, yet the "
                         "run went on")
        seg.skill_open, seg.gated, seg.sealed_since, seg.retry_since = i, None, False, False

    def _skill_finished(self, seg: "_Seg", i: int, ev: Any) -> None:
        j = seg.skill_open
        if j is None or self.events[j].tool_use_id != ev.tool_use_id:
            self.hole(i, f"skill_finished {ev.skill} at seq {ev.seq} has no skill_started before it")
        seg.skill_open = None
        seg.gated = _Gated(i, ev) if j is not None else None
        if not ev.ok and seg.gated is not None:
            seg.gated.passed = False

    def _gate_verdict(self, seg: "_Seg", i: int, ev: Any) -> None:
        if seg.gated is not None:
            seg.gated.seen.add(ev.gate)
            seg.gated.passed = seg.gated.passed and ev.verdict.get("pass") is True

    def _stage_retry(self, seg: "_Seg", i: int, ev: Any) -> None:
        seg.retry_since = True

    def _stage_sealed(self, seg: "_Seg", i: int, ev: Any) -> None:
        seg.sealed_since = True
        if ev.stage != seg.stage:
            self.hole(i, f"stage {ev.stage} was sealed at seq {ev.seq}, but the stage opened last is {seg.stage}")
        if ev.stage == CLOSEOUT:
            seg.closed_out = True
        elif not seg.decided:
            seg.expect_open = i

    def _approval_requested(self, seg: "_Seg", i: int, ev: Any) -> None:
        seg.approval_open = ev.request_id

    def _approval_decided(self, seg: "_Seg", i: int, ev: Any) -> None:
        if seg.approval_open != ev.request_id:
            self.hole(i, f"approval_decided {ev.request_id} at seq {ev.seq} answers no approval_requested")
        seg.approval_open = None

    def _warning(self, seg: "_Seg", i: int, ev: Any) -> None:
        seg.closeout_warned = seg.closeout_warned or "closeout" in ev.message

    def _decision(self, seg: "_Seg", i: int, ev: Any) -> None:
        seg.decided, seg.decision, seg.expect_open = True, ev.decision, None
        if ev.decision in ("INTERRUPTED", "INTERNAL_ERROR"):  # these may stop a call half-way
            return
        unanswered = sorted(seg.calls - seg.results)
        if unanswered:
            self.hole(i, f"the tool call(s) {unanswered} have no tool_result, yet the run decided at seq {ev.seq}")
        if seg.approval_open is not None:
            self.hole(i, f"the approval request {seg.approval_open} has no answer, yet the run decided at seq "
                         f"{ev.seq}")

    def _run_finished(self, seg: "_Seg", i: int, ev: Any) -> None:
        if not seg.decided:
            self.hole(i, f"run_finished at seq {ev.seq} ({ev.decision}) follows no decision")
        elif seg.decision != "INTERRUPTED" and not (seg.closed_out or seg.closeout_warned):
            self.hole(i, f"the run decided {seg.decision} but its closeout (report.md, decision.json) is not in "
                         "the record")


@dataclass
class _Gated:
    """A finished skill whose gate verdicts and result are still to come."""

    index: int
    fin: Any
    seen: set[str] = field(default_factory=set)
    passed: bool = True


@dataclass
class _Seg:
    """What is open in one run segment while the lines are walked."""

    gates_of: dict[str, list[str]] = field(default_factory=dict)
    turn_ids: list[str] = field(default_factory=list)
    cut: bool = False
    calls: set[str] = field(default_factory=set)
    results: set[str] = field(default_factory=set)
    skill_open: Optional[int] = None  # index of a skill_started without its skill_finished
    gated: Optional[_Gated] = None
    sealed_since: bool = False
    retry_since: bool = False
    expect_open: Optional[int] = None  # index of a stage_sealed not yet followed by stage_opened
    opened: bool = False
    stage: Optional[str] = None  # the stage opened last
    approval_open: Optional[str] = None
    decided: bool = False
    decision: Optional[str] = None
    closed_out: bool = False
    closeout_warned: bool = False


def _json_object(text: str) -> dict[str, Any]:
    if not text.startswith("{"):
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
