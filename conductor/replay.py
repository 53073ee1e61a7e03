"""`conductor replay TRANSCRIPT`: run the recorded run again through the real loop.

Model turns come from the record (`ReplayProvider`), and so do skill results (`ReplayWorld`
serves each call's skill_finished.result instead of running the skill). Gates run again for
real, on the facts they recorded, and each verdict is compared with the recorded one on `pass`,
`failure_class` and `evidence.decision`; so are the tool results' is_error and the decision. The
first difference stops the replay with {seq, expected, found} (exit 1: a divergence is not a run
decision). Gates that recorded no facts (a crash, a timeout, invalid input) keep their verdict.

`gate_mode` says how the gates are re-run: "in-process" (the default: each gate's `python -m` entry
point runs in this process, `conductor.gate_inprocess`) or "processes" (one child per gate, as in a
live run). Either way `gate_runner.judge` checks the verdict and facts against the committed schemas
and fails closed to GATE_ERROR; the report's `gates_mode` says which ran.

Before it trusts the record, replay checks that it is whole and untouched (`conductor.integrity`):
a torn or truncated record, a hole in the middle, or a broken hash chain is reported with its line
and seq, and makes the exit code 1 even when nothing diverged; `accept_partial=True` accepts a torn
or truncated record (and a hole in a version-1 record, which cannot tell damage from tampering),
never a broken chain. A version-1 record replays with a warning: it is not tamper-evident.

`threshold=X` re-gates the compare gate at another threshold and reports the decision the run
would have reached instead of diverging. `fork_at=N` with a live provider (and the real skills)
replays up to seq N, then continues live in a new workspace (hard links to the recorded one).

    report = replay_transcript("runs/r1/transcript.jsonl")
    report.divergence          # None, or Divergence(seq, expected, found, what)
    report.gates_mode          # "in-process" | "processes"
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from pydantic import BaseModel, ConfigDict

from conductor.approver import RecordedApprover
from conductor.attempt import GateOutcome, LiveWorld, SkillCall, SkillRun
from conductor.config import ReleaseConfig
from conductor.events import EventBus, ToolResult
from conductor.executor import LocalExecutor
from conductor.gate_inprocess import InProcessGates
from conductor.gate_modules import gate_kwargs_for
from conductor.integrity import check_record
from conductor.loop import Halt, ResumePoint, RunOutcome, build_run
from conductor.providers.base import ModelRequest, ModelResponse
from conductor.record import Segment, open_stage_counts, sealed_in, segments, totals
from conductor.skill import SkillContext, SkillResult
from conductor.stages import CLOSEOUT
from conductor.steering import Steering
from conductor.transcript import read_transcript
from conductor.triage import classify
from conductor.workspace import Workspace
from gates.failure_classes import EXIT_CODES, Decision, FailureClass

EXIT_DIVERGED = 1
IN_PROCESS, PROCESSES = "in-process", "processes"
GATE_MODES = (IN_PROCESS, PROCESSES)


@dataclass
class Divergence:
    seq: int
    expected: Any
    found: Any
    what: str = ""


class Diverged(Halt):
    def __init__(self, div: Divergence):
        super().__init__(f"divergence at seq {div.seq}: {div.what}")
        self.divergence = div


class RecordEnds(Halt):
    """Re-gating took the run down a path the record never went (its turns end here)."""


@dataclass
class ReplayReport:
    transcript: str
    divergence: Optional[Divergence]
    decision: Optional[str]
    exit_code: int  # 0 | 1 (diverged) | with threshold: the re-gated decision's code
    recorded_decision: Optional[str]
    gates_rerun: int = 0
    gates_kept: int = 0
    regated: list[dict[str, Any]] = field(default_factory=list)
    detail: str = ""
    segments: int = 0
    forked_workspace: Optional[str] = None
    gates_mode: str = IN_PROCESS  # how gates were re-run: "in-process" | "processes" (see GATE_MODES)
    facts_recollected: int = 0  # gates whose facts were collected again from the run folder (in it)
    notes: list[str] = field(default_factory=list)
    tamper_evident: bool = False  # the record is hash-chained (schema_version 2)
    integrity: list[dict[str, Any]] = field(default_factory=list)  # conductor.integrity problems, as dicts
    accept_partial: bool = False

    def blocking(self) -> list[dict[str, Any]]:
        """The integrity problems that make the replay fail (see conductor.integrity.Problem.blocks)."""
        return [p for p in self.integrity if p["kind"] != "unchained"
                and not (self.accept_partial and p["acceptable"])]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def gate_executor(mode: str, executor: Any) -> Any:
    """What re-runs the recorded gates: InProcessGates, or the run's own executor (child processes)."""
    if mode not in GATE_MODES:
        raise ValueError(f"gate_mode must be one of {GATE_MODES}, not {mode!r}")
    return InProcessGates() if mode == IN_PROCESS else executor


def verdict_key(v: dict[str, Any]) -> dict[str, Any]:
    return {"gate": v.get("gate"), "pass": v.get("pass"), "failure_class": v.get("failure_class"),
            "decision": (v.get("evidence") or {}).get("decision")}


def same_gates(seg: Segment) -> bool:
    """The recorded run's gates are the ones installed here (same fingerprint)."""
    from conductor.gate_modules import fingerprint

    recorded = seg.started.gates_fingerprint
    try:
        return recorded is not None and recorded == fingerprint(seg.gate_module_prefix())
    except (ImportError, OSError, TypeError):
        return False


def recollect_call(gate: str, argv: Sequence[str]) -> Any:
    """The recorded gate command as a GateCall (its own --facts-out dropped), or None if it is not one."""
    from conductor.skill import GateCall

    if "-m" not in argv:
        return None
    args = list(argv[argv.index("-m") + 2:])
    if "--facts-out" in args:
        i = args.index("--facts-out")
        del args[i:i + 2]
    return GateCall(gate=gate, args=args)


def first_difference(a: Any, b: Any, path: str = "facts") -> Optional[tuple[str, Any, Any]]:
    """(path, value in a, value in b) of the first difference between two JSON values, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                return f"{path}.{k}", a.get(k, "(absent)"), b.get(k, "(absent)")
            found = first_difference(a[k], b[k], f"{path}.{k}")
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found is not None:
                return found
        return None
    return None if a == b and type(a) is type(b) else (path, a, b)


# -- stand-ins for what the record already decided --------------------------------------------------


class _AnyInput(BaseModel):
    model_config = ConfigDict(extra="allow")


class RecordedSkill:
    """A skill known only from the record: its tool definition validates calls; it never runs."""

    input_model = _AnyInput
    doc_path = None
    timeout_s = 3600.0

    def __init__(self, name: str, stage: str, tool_definition: Optional[dict[str, Any]]):
        self.name, self.stage = name, stage
        self.description = (tool_definition or {}).get("description", "")
        self.tool_definition = tool_definition

    def command(self, inp: BaseModel, ctx: SkillContext) -> list[str]:
        raise RuntimeError(f"replay never runs skill {self.name!r}; it serves the recorded result")

    def gates(self, inp: BaseModel, ctx: SkillContext, result: SkillResult) -> list[Any]:
        return []

    def operator_call(self, ctx: SkillContext, last_failure: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
        return {}


def recorded_skills(seg: Segment) -> list[RecordedSkill]:
    out = []
    for p in seg.started.plan:
        defs = {d["name"]: d for d in p.get("tool_defs", [])}
        for name in p.get("tools", []):
            out.append(RecordedSkill(name, p["stage"], defs.get(name) if p["stage"] != CLOSEOUT else None))
    return out


class ReplayProvider:
    """Serves the recorded assistant messages in order; then the live provider, if any (a fork)."""

    name = "replay"

    def __init__(self, seg: Segment, *, fork_at: Optional[int] = None, live: Any = None,
                 threshold_mode: bool = False):
        self._queue = [m for m in seg.assistant if fork_at is None or m.seq <= fork_at]
        self.model = self._queue[0].model if self._queue else "replay"
        self._seg, self._live, self._threshold = seg, live, threshold_mode
        self.served = 0

    def complete(self, req: ModelRequest, on_text: Optional[Callable[[str], None]] = None) -> ModelResponse:
        if self.served < len(self._queue):
            m = self._queue[self.served]
            self.served += 1
            return ModelResponse.model_construct(content=m.content, stop_reason=m.stop_reason, usage=m.usage,
                                                 model=m.model, cost_usd=m.cost_usd)  # validated when read
        if self._live is not None:
            return self._live.complete(req, on_text)
        if self._seg.ended_by_interruption:
            raise KeyboardInterrupt  # the record stops here: Ctrl-C or kill -9, as it happened
        if self._threshold:
            raise RecordEnds(f"the record has no turn for stage {req.stage!r}")
        raise Diverged(Divergence(self._seg.last_seq, "the recorded turns end here",
                                  f"the replay asks for turn {req.turn} in stage {req.stage!r}", "extra turn"))

    def attach(self, run: Any) -> None:
        attach = getattr(self._live, "attach", None)
        if callable(attach):
            attach(run)


class ReplayWorld:
    """Skill results from the record; gates re-run on the recorded facts (by `gate_executor`: in this
    process or as children, see GATE_MODES); calls not in the record (after a fork) go to the live world."""

    def __init__(self, seg: Segment, ws: Workspace, executor: Any, steering: Steering, *, gate_timeout_s: float,
                 threshold: Optional[float] = None, live: Optional[LiveWorld] = None, fork_at: Optional[int] = None,
                 gate_mode: str = IN_PROCESS, recollect_in: Optional[Path] = None):
        self.seg, self.ws, self.steering = seg, ws, steering
        self.executor = executor
        self.gate_executor = gate_executor(gate_mode, executor)
        self.gate_timeout_s, self.threshold, self.live, self.fork_at = gate_timeout_s, threshold, live, fork_at
        self.gate_kwargs = gate_kwargs_for(seg.gate_module_prefix())
        self.same_gates = same_gates(seg)
        self.recollect_in = recollect_in  # the run folder the record was written in, when it is at hand
        self.rerun = self.kept = self.recollected = 0
        self.regated: list[dict[str, Any]] = []
        self.notes: list[str] = []

    def _off_record(self, div: Divergence) -> Halt:
        """Leaving the record is a divergence, unless re-gating changed a verdict (then it ends)."""
        if self.regated:
            return RecordEnds(f"after re-gating, the run leaves the record ({div.what})")
        return Diverged(div)

    def _record(self, tid: str) -> Any:
        rec = self.seg.calls.get(tid)
        if rec is not None and (self.fork_at is None or rec.started.seq <= self.fork_at):
            return rec
        return None

    def _is_live(self, call: SkillCall) -> bool:
        return self._record(call.tool_use_id) is None and self.live is not None

    def new_attempt(self, stage: str) -> tuple[int, Path]:
        return self.ws.new_attempt_dir(stage)

    def prepare(self, call: SkillCall, ctx: SkillContext) -> tuple[list[str], str]:
        if self._is_live(call):
            return self.live.prepare(call, ctx)  # type: ignore[union-attr]
        rec = self._record(call.tool_use_id)
        if rec is None:
            seq = self.seg.tool_calls[call.tool_use_id].seq if call.tool_use_id in self.seg.tool_calls else self.seg.last_seq
            raise self._off_record(Divergence(seq, "no skill run for this call", f"{call.skill.name} ran",
                                              "extra skill call"))
        return rec.started.argv, rec.started.log_path

    def run_skill(self, call: SkillCall, ctx: SkillContext, argv: list[str], log_path: str,
                  on_line: Callable[[str], None], timeout_s: float) -> SkillRun:
        if self._is_live(call):
            return self.live.run_skill(call, ctx, argv, log_path, on_line, timeout_s)  # type: ignore[union-attr]
        rec = self._record(call.tool_use_id)
        fin = rec.finished
        if fin is None or (rec.result is None and self.seg.ended_by_interruption):
            self.steering.abort("the record was interrupted during this skill")
            return SkillRun(None, 0.0, None, {}, FailureClass.INFRA_TRANSIENT, "interrupted (as recorded)", cancelled=True)
        result = SkillResult.model_validate(fin.result) if fin.result else None
        failure = None if fin.ok else classify(fin.failure_class or (fin.result or {}).get("failure_class"))
        return SkillRun(fin.exit_code, fin.duration_s, result, fin.result, failure, fin.error, fin.timed_out)

    def run_gates(self, call: SkillCall, ctx: SkillContext, result: SkillResult, required: Sequence[str],
                  on_gate: Callable[[GateOutcome], None]) -> list[GateOutcome]:
        if self._is_live(call):
            return self.live.run_gates(call, ctx, result, required, on_gate)  # type: ignore[union-attr]
        outs = []
        for gv in self._record(call.tool_use_id).gates:
            out = self._regate(gv, ctx.out_dir)
            on_gate(out)
            outs.append(out)
        return outs

    def _regate(self, gv: Any, out_dir: Path) -> GateOutcome:
        if gv.facts is None:  # nothing to decide on (the gate crashed, timed out, refused its input)
            self.kept += 1
            return GateOutcome(gv.gate, gv.verdict, None, gv.exit_code, gv.duration_s)
        from conductor.gate_runner import regate_on_facts

        extra = ["--threshold", repr(self.threshold)] if self.threshold is not None and gv.gate == "compare" else []
        gr = regate_on_facts(gv.gate, gv.facts, executor=self.gate_executor, workspace=self.ws, out_dir=out_dir,
                             timeout_s=self.gate_timeout_s, extra_args=extra, **self.gate_kwargs)
        self.rerun += 1
        expected, found = verdict_key(gv.verdict), verdict_key(gr.verdict)
        if extra:
            self.regated.append({"seq": gv.seq, "gate": gv.gate, "recorded": expected, "regated": found})
        elif expected != found:
            raise Diverged(Divergence(gv.seq, expected, found, f"gate {gv.gate} of stage {gv.stage} decided differently"))
        else:
            self._same_verdict(gv, gr.verdict)
            self._recollect(gv, out_dir)
        return GateOutcome(gr.gate, gr.verdict, gr.facts, gr.exit_code, gr.duration_s, gr.error)

    def _same_verdict(self, gv: Any, verdict: dict[str, Any]) -> None:
        """With the very gates that recorded it, the verdict on the recorded facts is the recorded one,
        whole: a fact changed in a way that keeps pass and failure_class still shows in its evidence."""
        if not self.same_gates or verdict == gv.verdict:
            return
        keys = sorted(k for k in set(gv.verdict) | set(verdict) if gv.verdict.get(k) != verdict.get(k))
        raise Diverged(Divergence(gv.seq, {k: gv.verdict.get(k) for k in keys}, {k: verdict.get(k) for k in keys},
                                  f"gate {gv.gate} of stage {gv.stage}: the same gates, on the recorded facts, give a "
                                  f"verdict whose {', '.join(keys)} differ from the recorded one (the facts or the "
                                  "verdict were changed after the run)"))

    def _recollect(self, gv: Any, out_dir: Path) -> None:
        """In its own run folder, the gate collects its facts again from the artifacts: they must be the
        recorded facts (a recorded fact changed after the run, even one that keeps the verdict, differs)."""
        if self.recollect_in is None or not gv.argv:
            return
        from conductor.gate_runner import run_gate

        call = recollect_call(gv.gate, gv.argv)
        if call is None:
            return
        gr = run_gate(call, executor=self.executor, workspace=Workspace(self.recollect_in),
                      out_dir=out_dir / "recollected", timeout_s=self.gate_timeout_s, **self.gate_kwargs)
        if gr.facts is None:
            self.notes.append(f"gate {gv.gate} (seq {gv.seq}): its facts could not be collected again from "
                              f"{self.recollect_in} ({gr.error or gr.verdict.get('detail', '')})"[:300])
            return
        self.recollected += 1
        where = first_difference(gv.facts, gr.facts)
        if where is not None:
            raise Diverged(Divergence(gv.seq, {"fact": where[0], "recorded": where[1]},
                                      {"fact": where[0], "collected": where[2]},
                                      f"gate {gv.gate} of stage {gv.stage}: the recorded facts differ from those "
                                      f"collected again from the run folder's artifacts, at {where[0]}"))

    def read(self, name: str, tool_use_id: str, inp: BaseModel) -> tuple[bool, str]:
        """The workspace may be gone or changed since: serve what the agent read then."""
        rec = self.seg.tool_results.get(tool_use_id)
        if rec is not None and (self.fork_at is None or rec.seq <= self.fork_at):
            return rec.is_error, rec.content
        if self.live is not None:
            return self.live.read(name, tool_use_id, inp)
        raise self._off_record(Divergence(self.seg.last_seq, "no such read in the record", f"{name} {tool_use_id}",
                                          "extra read"))

    def seal(self, stage: str, attempt: int, result: SkillResult, verdicts: list[dict[str, Any]],
             inp: dict[str, Any]) -> tuple[dict[str, str], str]:
        rec = next((r for r in self.seg.calls.values() if r.sealed is not None and r.sealed.stage == stage
                    and (self.fork_at is None or r.sealed.seq <= self.fork_at)), None)
        if rec is None and self.live is not None:
            return self.live.seal(stage, attempt, result, verdicts, inp)
        if rec is None:
            raise self._off_record(Divergence(self.seg.last_seq, f"stage {stage} not sealed",
                                              f"stage {stage} sealed", "extra seal"))
        return dict(rec.sealed.artifacts), rec.sealed.seal_path


class _ResultChecker:
    """Critical bus listener: each tool result must be an error exactly when the record's was."""

    def __init__(self, seg: Segment, fork_at: Optional[int]):
        self.seg, self.fork_at = seg, fork_at

    def __call__(self, ev: Any) -> None:
        if not isinstance(ev, ToolResult):
            return
        rec = self.seg.tool_results.get(ev.tool_use_id)
        if rec is None or (self.fork_at is not None and rec.seq > self.fork_at):
            return
        if rec.is_error != ev.is_error:
            raise Diverged(Divergence(rec.seq, {"tool": rec.name, "is_error": rec.is_error},
                                      {"tool": ev.name, "is_error": ev.is_error}, "a tool result differs"))


# -- the replay --------------------------------------------------------------------------------------


def _config(header_config: dict[str, Any], ws: Workspace) -> ReleaseConfig:
    data = {**header_config, "policy_file": None, "workspace": str(ws.root)}
    return ReleaseConfig.model_validate(data)


def _resume_for(earlier: list[Segment], seg: Segment) -> Optional[ResumePoint]:
    if not earlier:
        return None
    events = [e for s in earlier for e in s.events]
    rerun = {c.started.stage for c in seg.calls.values()}
    sealed = {k: v for k, v in sealed_in(earlier).items() if k not in rerun}
    failures, calls = open_stage_counts(events, set(sealed))
    return ResumePoint(sealed=sealed, failures=failures, stage_calls=calls, totals=totals(events),
                       resumed_from=seg.started.resumed_from or "")


def replay_transcript(path: str | os.PathLike[str], *, threshold: Optional[float] = None,
                      fork_at: Optional[int] = None, provider: Any = None, skills: Optional[Sequence[Any]] = None,
                      listeners: Sequence[Callable[[Any], None]] = (), workspace: Optional[str] = None,
                      gate_timeout_s: Optional[float] = None, gate_mode: str = IN_PROCESS,
                      accept_partial: bool = False) -> ReplayReport:
    gate_executor(gate_mode, None)  # refuse an unknown mode before reading anything
    t = read_transcript(path)
    segs = segments(t.events)
    recorded = next((s.decision.decision for s in reversed(segs) if s.decision is not None), None)
    report = ReplayReport(str(path), None, None, 0, recorded, segments=len(segs), gates_mode=gate_mode,
                          tamper_evident=t.tamper_evident, accept_partial=accept_partial,
                          integrity=[p.as_dict() for p in check_record(t)])
    if fork_at is not None:
        return _fork(t, segs, fork_at, provider, skills, listeners, workspace, report)
    with tempfile.TemporaryDirectory(prefix="conductor-replay-") as tmp:
        ws = Workspace(tmp).create()
        executor = LocalExecutor()
        try:
            for i, seg in enumerate(segs):
                outcome = _replay_segment(t.header.config, seg, segs[:i], ws, executor, report, threshold=threshold,
                                          listeners=listeners, gate_timeout_s=gate_timeout_s,
                                          recollect_in=_own_run_folder(path, seg))
                if outcome is None:
                    break
        finally:
            executor.shutdown(grace_s=1.0)
    return _conclude(report, threshold)


def _own_run_folder(path: str | os.PathLike[str], seg: Segment) -> Optional[Path]:
    """The run folder the segment was recorded in, when the transcript being replayed is the one in it."""
    root = Path(seg.started.workspace)
    try:
        inside = Path(path).resolve().parent == root.resolve()
    except OSError:
        return None
    return root if inside and root.is_dir() else None


def _replay_segment(header_config: dict[str, Any], seg: Segment, earlier: list[Segment], ws: Workspace,
                    executor: Any, report: ReplayReport, *, threshold: Optional[float],
                    listeners: Sequence[Callable[[Any], None]], gate_timeout_s: Optional[float],
                    recollect_in: Optional[Path] = None) -> Optional[RunOutcome]:
    cfg = _config(header_config, ws)
    steering = Steering()
    world = ReplayWorld(seg, ws, executor, steering, threshold=threshold,
                        gate_timeout_s=gate_timeout_s or cfg.budgets.gate_timeout_s, gate_mode=report.gates_mode,
                        recollect_in=recollect_in if threshold is None else None)
    bus = EventBus(start_seq=seg.started.seq - 1)
    if threshold is None:
        bus.subscribe(_ResultChecker(seg, None), critical=True)
    for listener in listeners:
        bus.subscribe(listener)
    provider = ReplayProvider(seg, threshold_mode=threshold is not None)
    run = build_run(cfg, provider, recorded_skills(seg), RecordedApprover(a.model_dump() for a in seg.approvals),
                    bus, executor, ws, run_id=f"replay-{seg.started.run_id}", steering=steering, plan=seg.plan(),
                    resume=_resume_for(earlier, seg), world=world)
    try:
        outcome = run.run()
    except Diverged as exc:
        report.divergence = exc.divergence
        outcome = None
    except RecordEnds as exc:
        report.detail = str(exc)
        outcome = None
    report.gates_rerun += world.rerun
    report.gates_kept += world.kept
    report.facts_recollected += world.recollected
    report.notes += world.notes
    report.regated += world.regated
    if outcome is not None:
        report.decision = outcome.decision
        if threshold is None and seg.decision is not None and outcome.decision != seg.decision.decision:
            report.divergence = Divergence(seg.decision.seq, seg.decision.decision, outcome.decision, "the decision differs")
            return None
    return outcome


def _conclude(report: ReplayReport, threshold: Optional[float]) -> ReplayReport:
    _conclude_replay(report, threshold)
    blocking = report.blocking()
    if blocking:
        report.exit_code = EXIT_DIVERGED
        hint = "" if all(not p["acceptable"] for p in blocking) or report.accept_partial else \
            " (--accept-partial accepts a partial record)"
        first = f"{blocking[0]['detail']}{hint}"
        report.detail = first if report.divergence is None else f"{report.detail}; {first}"
    return report


def _conclude_replay(report: ReplayReport, threshold: Optional[float]) -> ReplayReport:
    if report.divergence is not None:
        report.exit_code = EXIT_DIVERGED
        report.detail = report.divergence.what
        return report
    if threshold is not None:
        regated = next((r["regated"] for r in reversed(report.regated) if r["gate"] == "compare"), None)
        if report.decision is None and regated is not None:
            report.decision = regated.get("decision") or ("ACCEPT" if regated.get("pass") else None)
            report.detail = (f"{report.detail}; the decision is the re-gated compare verdict's, and the stages "
                             "after compare were not run in the record").strip("; ")
        if report.decision is None:
            report.detail = report.detail or "the record has no compare verdict to re-gate"
            report.exit_code = EXIT_DIVERGED
            return report
        report.exit_code = EXIT_CODES[Decision(report.decision)]
        report.detail = report.detail or (f"re-gated at threshold {threshold:g}: {report.decision} "
                                          f"(recorded {report.recorded_decision})")
        return report
    report.exit_code = 0
    report.detail = report.detail or "no divergence"
    return report


def regate(path: str | os.PathLike[str], threshold: float) -> ReplayReport:
    """What the recorded run would decide with another compare threshold."""
    return replay_transcript(path, threshold=threshold)


def _link_copy(src: Path, dst: Path) -> None:
    """stages/ and seals/ of the recorded workspace, hard-linked (copied across filesystems)."""
    for sub in ("stages", "seals"):
        if (src / sub).is_dir():
            def link(a: str, b: str) -> None:
                try:
                    os.link(a, b)
                except OSError:
                    shutil.copy2(a, b)
            shutil.copytree(src / sub, dst / sub, copy_function=link, dirs_exist_ok=True)


def _fork(t: Any, segs: list[Segment], fork_at: int, provider: Any, skills: Optional[Sequence[Any]],
          listeners: Sequence[Callable[[Any], None]], workspace: Optional[str], report: ReplayReport) -> ReplayReport:
    """Replay up to seq `fork_at` of the segment that holds it, then continue live."""
    from conductor.loop import new_run_id
    from conductor.session import run_session

    if provider is None or skills is None:
        raise ValueError("a fork needs a live provider and the real skills")
    i = next((k for k, s in enumerate(segs) if s.started.seq <= fork_at <= s.last_seq), len(segs) - 1)
    seg = segs[i]
    run_id = new_run_id()
    ws = Workspace(workspace or Path("runs") / run_id).create()
    src = Path(seg.started.workspace)
    if src.is_dir():
        _link_copy(src, ws.root)
    cfg = _config(t.header.config, ws)
    steering = Steering()
    executor_holder: dict[str, Any] = {}

    def world_factory(executor: Any) -> ReplayWorld:
        live = LiveWorld(executor, ws, cfg.budgets.gate_timeout_s, steering.cancel,
                         gate_kwargs_for(seg.gate_module_prefix()))
        executor_holder["e"] = executor
        return ReplayWorld(seg, ws, executor, steering, gate_timeout_s=cfg.budgets.gate_timeout_s, live=live,
                           fork_at=fork_at, gate_mode=report.gates_mode)

    outcome = run_session(cfg, ReplayProvider(seg, fork_at=fork_at, live=provider), skills, RecordedApprover(
        a.model_dump() for a in seg.approvals if a.seq <= fork_at), listeners=listeners, steering=steering,
        gate_prefix=seg.gate_module_prefix(), run_id=run_id, workspace=ws, resume=_resume_for(segs[:i], seg),
        world_factory=world_factory)
    report.decision, report.exit_code = outcome.decision, outcome.exit_code
    report.forked_workspace = str(ws.root)
    report.detail = (f"replayed up to seq {fork_at} (recorded gates re-run {report.gates_mode}), then continued "
                     f"live with {provider.name} (live gates as processes)")
    return report
