"""The run loop: the agent's turns, its tool calls, the gates between stages, and the decision.

Each turn offers the model only the open stage's tools. A skill call runs through the World
(the executor and the gates on this machine; the record, in replay), and its gates decide: PASS
seals the stage and opens the next; FAIL goes back to the agent with the failure class, the
evidence, the triage hint and the retries left. Every run ends with a decision, and the exit code
always comes from the decision.

    outcome = run_release(config, provider, skills, approver, bus, executor, workspace)
    sys.exit(outcome.exit_code)
"""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from conductor import prompts
from conductor.approver import ApprovalAnswer, ApprovalRequest, Approver
from conductor.attempt import GateOutcome, LiveWorld, SkillCall, SkillRun, World
from conductor.budget import Budget
from conductor.closeout import decision_record, minimal_report
from conductor.config import ReleaseConfig
from conductor.events import (
    ApprovalDecided, ApprovalRequested, AssistantMessage, DecisionMade, EventBus, GateVerdict, HumanMessage,
    RunFinished, RunPaused, RunStarted, SkillFinished, SkillLog, SkillProgress, SkillStarted, StageOpened, StageRetry,
    StageSealed, TextDelta, ToolCall, ToolResult, Warning_,
)
from conductor.feedback import evidence_decision, gate_failure_payload, skill_failure_payload, to_json
from conductor.logbatch import LogBatcher, parse_progress
from conductor.providers.base import ModelRequest, ModelResponse, Provider, ProviderError
from conductor.redact import NULL_REDACTOR
from conductor.skill import Skill, SkillContext, SkillResult
from conductor.stages import (
    CLOSEOUT, STAGE_ORDER, Failed, Passed, Sealed, Start, StagePlan, initial_state, plan_stages, transition,
    with_failures,
)
from conductor.steering import Steering
from conductor.tools import ACCEPT_FAILURE, ASK_HUMAN, DECLARE_INFEASIBLE, LIST_WORKSPACE, READ_ARTIFACT, Resolved, ToolRefusal, ToolRegistry
from conductor.triage import classify, entry, triage
from gates.failure_classes import EXIT_CODES, Action, Decision, FailureClass

NUDGE_LIMIT = 3  # turns in a row without a tool call while a stage is open -> NEEDS_HUMAN


class Decided(Exception):
    """The run has its decision (raised from wherever it is reached; caught once, in `Run.run`)."""

    def __init__(self, decision: Decision, reason: str, *, failure_class: Optional[str] = None,
                 stage: Optional[str] = None):
        super().__init__(reason)
        self.decision = Decision(decision)
        self.reason = reason
        self.failure_class = failure_class
        self.stage = stage


class Halt(Exception):
    """Raised by a World or a critical listener to stop the run without a decision (replay's
    first divergence). `Run.run` stops every child and re-raises it."""


@dataclass
class RunOutcome:
    decision: str
    exit_code: int
    reason: str
    run_id: str
    workspace: str
    failure_class: Optional[str] = None
    stage: Optional[str] = None
    transcript: Optional[str] = None
    stages: dict[str, str] = field(default_factory=dict)
    stage_durations_s: dict[str, float] = field(default_factory=dict)
    budget: dict[str, float] = field(default_factory=dict)


@dataclass
class ResumePoint:
    """What a resumed run starts from (see conductor.resume)."""

    sealed: dict[str, Any]  # stage -> workspace Seal whose artifacts still verify
    failures: dict[str, dict[str, int]] = field(default_factory=dict)  # open stages: class -> failures
    stage_calls: dict[str, int] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=dict)  # turns, tokens, cost so far
    resumed_from: str = ""
    notes: list[str] = field(default_factory=list)  # e.g. seals that no longer verify (warnings)


class Run:
    """One run. `run()` returns a RunOutcome and never raises (an internal error is a decision)."""

    def __init__(self, config: ReleaseConfig, provider: Provider, skills: Sequence[Skill], approver: Approver,
                 bus: EventBus, world: World, workspace: Any, *, run_id: str, executor: Any = None,
                 steering: Optional[Steering] = None, redactor: Any = None,
                 plan: Optional[Sequence[StagePlan]] = None, transcript_path: Optional[str] = None,
                 resume: Optional[ResumePoint] = None, gate_module_prefix: str = "gates"):
        self.config, self.provider, self.approver, self.bus = config, provider, approver, bus
        self.world, self.workspace, self.executor = world, workspace, executor
        self.run_id = run_id
        self.steering = steering or Steering()
        self.redact = (lambda s: s) if redactor is None else redactor.redact_text
        self.skills = list(skills)
        self.plan = tuple(plan) if plan is not None else plan_stages(_stage_map(self.skills))
        self.registry = ToolRegistry([s for s in self.skills if s.stage != CLOSEOUT])
        self.closeout_skill = next((s for s in self.skills if s.stage == CLOSEOUT), None)
        self.gates_of = {p.name: p.gates for p in self.plan}
        self.state = initial_state(self.plan)
        self.budget = Budget(config.budgets)
        self.transcript_path = transcript_path
        self.resume = resume
        self.gate_module_prefix = gate_module_prefix
        self.cfg_json = config.model_dump(mode="json")
        # the agent is never told a secret (a task name or a path may hold one)
        self.secret_free_cfg = (redactor or NULL_REDACTOR).redact_obj(self.cfg_json)
        self.prefixes: dict[str, str] = {}  # stage -> its system prefix (its own skills' docs only)
        self.context_stage: Optional[str] = None  # the stage the conversation in self.messages belongs to
        self.sealed: dict[str, SkillResult] = {}
        self.verdicts: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.pending: list[dict[str, Any]] = []
        self.turn = 0
        self.nudges = 0
        self.requests = 0
        self.compare_decision: Optional[str] = None
        self.last_failure: dict[str, tuple[FailureClass, Optional[Decision]]] = {}  # stage -> last failure
        self.stage_t0: dict[str, float] = {}
        self.stage_durations: dict[str, float] = {}
        self.opened: Optional[str] = None  # the stage the last stage_opened event announced
        self.in_child = False  # a skill is running and will stop on steering.cancel
        self.finishing = False
        self._t0 = time.monotonic()

    # -- the whole run ---------------------------------------------------------------------------

    def run(self) -> RunOutcome:
        try:
            self._start()
            while True:
                self._between_turns()
                self._turn()
        except Decided as d:
            decided = d
        except Halt:
            if self.executor is not None:
                self.executor.terminate_all()
            raise
        except KeyboardInterrupt:
            decided = Decided(Decision.INTERRUPTED, self.steering.abort_reason or "interrupted (Ctrl-C)",
                              stage=self.state.current)
        except Exception as exc:  # an invariant broke: the run still ends with a decision
            decided = Decided(Decision.INTERNAL_ERROR, f"internal error: {type(exc).__name__}: {exc}",
                              stage=self.state.current)
        return self._finish(decided)

    def _start(self) -> None:
        self.bus.emit(RunStarted(run_id=self.run_id, workspace=str(self.workspace.root), plan=self._plan_record(),
                                 resumed_from=self.resume.resumed_from if self.resume else None,
                                 gates_fingerprint=_gates_fingerprint(self.gate_module_prefix)))
        self._warn_secrets_in_config()
        missing = [s for s in STAGE_ORDER if s not in self.state.statuses]
        if missing:
            self._warn(f"stages without a skill are not part of this run: {', '.join(missing)}")
        if self.resume:
            for note in self.resume.notes:
                self._warn(note)
            self._apply_resume(self.resume)
        stage = self.state.current
        if stage is None or stage == CLOSEOUT:
            raise self._chain_done()
        self._open_stage(stage)
        self.pending = [_text(prompts.opening(stage, list(self.sealed)))]

    def _warn_secrets_in_config(self) -> None:
        redacted = self.secret_free_cfg
        fields = sorted(k for k in self.cfg_json if redacted.get(k) != self.cfg_json[k])
        if fields:
            self._warn(f"the release config holds the value of a secret in {', '.join(fields)}: it is redacted in "
                       "every record and shown to the agent and the skills redacted, so a skill that needs it "
                       "(a model path, a task name) will not find it; rename it, or unset the variable")

    def _plan_record(self) -> list[dict[str, Any]]:
        out = []
        for p in self.plan:
            d = p.as_dict()
            d["tool_defs"] = [self.registry.definition(n) for n in self.registry.stage_tools(p.name)]
            d["gate_module_prefix"] = self.gate_module_prefix
            out.append(d)
        return out

    def _apply_resume(self, rp: ResumePoint) -> None:
        b = self.budget
        b.turns = int(rp.totals.get("turns", 0))
        b.input_tokens = int(rp.totals.get("input_tokens", 0))
        b.output_tokens = int(rp.totals.get("output_tokens", 0))
        b.cost_usd = float(rp.totals.get("cost_usd", 0.0))
        b.stage_calls = dict(rp.stage_calls)
        self.turn = b.turns
        for stage in self.state.order:
            seal = rp.sealed.get(stage)
            deps_ok = all(self.state.statuses[d].value == "sealed" for d in self.state.depends_on[stage])
            if seal is None or not deps_ok or stage == CLOSEOUT:
                continue
            self.state = transition(self.state, Sealed(stage))
            self.sealed[stage] = seal.result
            for v in seal.verdicts:
                self._note_compare(v)
        self.state = with_failures(self.state, rp.failures)

    # -- between turns ---------------------------------------------------------------------------

    def _between_turns(self) -> None:
        self._check_abort()
        if self.steering.paused:
            self.bus.emit(RunPaused(paused=True))
            self.steering.wait_while_paused()
            self._check_abort()
            self.bus.emit(RunPaused(paused=False))
        spent = self.budget.exhausted()
        if spent:
            raise Decided(Decision.BUDGET_EXHAUSTED, f"budget exhausted: {spent}", stage=self.state.current)
        for text in self.steering.drain():
            self.bus.emit(HumanMessage(text=text))
            self.pending.append(_text(f"[message from the person overseeing the run] {text}"))

    def _check_abort(self) -> None:
        if self.steering.aborted:
            raise KeyboardInterrupt

    # -- one model turn --------------------------------------------------------------------------

    def _turn(self) -> None:
        stage = self.state.current
        assert stage is not None
        self._stage_context(stage)
        if self.pending:
            self.messages.append({"role": "user", "content": self.pending})
            self.pending = []
        self.turn += 1
        resp = self._complete(stage)
        uses = [b for b in resp.content if b.get("type") == "tool_use"]
        if resp.stop_reason == "max_tokens":
            self._cut_off(stage, uses)
        elif resp.stop_reason == "refusal":
            said = " ".join(b.get("text", "") for b in resp.content if b.get("type") == "text").strip()
            raise Decided(Decision.NEEDS_HUMAN, "the model refused to continue" + (f": {said[:300]}" if said else ""),
                          stage=stage)
        elif resp.stop_reason == "pause_turn":
            return  # the conversation ends with the assistant's partial turn; the next call continues it
        elif uses:
            self.nudges = 0
            self.pending = [self._tool(b, stage) for b in uses]
        else:
            self._nudge(stage)

    def _stage_context(self, stage: str) -> None:
        """Each stage has a conversation of its own: when a stage opens, the earlier stages' turns are
        dropped and what the agent has not read yet (the result that sealed the last stage) comes as text."""
        if self.context_stage == stage:
            return
        if self.context_stage is not None:
            names = {b.get("id"): b.get("name") for m in self.messages[-1:] if m["role"] == "assistant"
                     for b in m["content"] if b.get("type") == "tool_use"}
            self.pending = [_result_as_text(b, names) for b in self.pending]
            self.messages = []
        self.context_stage = stage

    def _complete(self, stage: str) -> ModelResponse:
        tools = self.registry.definitions(stage)
        if stage not in self.prefixes:
            self.prefixes[stage] = prompts.system_prefix(self.secret_free_cfg, self.plan, self.skills, stage)
        # built by the loop itself: not re-validated (validating the whole conversation every turn
        # would make a long run quadratic); a shallow copy so a provider may keep it
        req = ModelRequest.model_construct(
            system=prompts.system_blocks(self.prefixes[stage], stage, self.registry.stage_tools(stage),
                                         self.state.starts.get(stage, 0)),
            tools=tools, messages=list(self.messages), max_tokens=self.config.provider_max_tokens, stage=stage,
            turn=self.turn)
        t0 = time.monotonic()
        try:
            resp = self.provider.complete(req, on_text=lambda t: self.bus.emit(TextDelta(turn=self.turn, text=t)))
        except ProviderError as exc:
            if getattr(exc, "config_error", False):
                raise Decided(Decision.CONFIG_ERROR, f"the agent's endpoint refused the request as configured: {exc}",
                              stage=stage) from None
            raise Decided(Decision.SYSTEMIC, f"the agent's provider failed: {exc}", stage=stage) from None
        self.bus.emit(AssistantMessage(turn=self.turn, stage=stage, content=resp.content, stop_reason=resp.stop_reason,
                                       model=resp.model, usage=resp.usage, cost_usd=resp.cost_usd,
                                       latency_s=round(time.monotonic() - t0, 3)))
        self.budget.charge_turn(resp.usage, resp.cost_usd)
        self.bus.emit(self.budget.event())
        self.messages.append({"role": "assistant", "content": resp.content})
        return resp

    def _cut_off(self, stage: str, uses: list[dict[str, Any]]) -> None:
        self.bus.emit(Warning_(message=f"turn {self.turn} was cut off by max_tokens; "
                                       f"{len(uses)} tool call(s) in it were not run"))
        results = []
        for b in uses:
            self.bus.emit(ToolResult(stage=stage, tool_use_id=b["id"], name=b.get("name", ""), is_error=True,
                                     content=prompts.NOT_RUN_CUT_OFF))
            results.append(_tool_result(b["id"], prompts.NOT_RUN_CUT_OFF, True))
        self.pending = results + [_text(prompts.CUT_OFF)]

    def _nudge(self, stage: str) -> None:
        self.nudges += 1
        if self.nudges >= NUDGE_LIMIT:
            raise Decided(Decision.NEEDS_HUMAN, f"the agent ended {self.nudges} turns in a row without calling a tool "
                                                f"while stage {stage!r} was open", stage=stage)
        tools = [d["name"] for d in self.registry.definitions(stage)]
        self.pending = [_text(prompts.nudge(stage, tools, self.nudges, NUDGE_LIMIT))]

    # -- one tool call ---------------------------------------------------------------------------

    def _tool(self, block: dict[str, Any], turn_stage: str) -> dict[str, Any]:
        name, tid, raw = str(block.get("name", "")), str(block.get("id", "")), block.get("input")
        self.bus.emit(ToolCall(turn=self.turn, stage=turn_stage, tool_use_id=tid, name=name,
                               input=raw if isinstance(raw, dict) else {"_not_an_object": raw}))
        decided: Optional[Decided] = None
        res = self.registry.resolve(name, turn_stage, raw)
        if isinstance(res, ToolRefusal):
            is_error, content = True, res.message
        elif res.skill is None:
            is_error, content, decided = self._generic(res, turn_stage, tid)
        elif self.state.current != turn_stage:
            is_error, content = True, (f"stage {turn_stage!r} was sealed earlier in this turn; the open stage is "
                                       f"{self.state.current!r}. Not run.")
        else:
            is_error, content, decided = self._skill(res, tid)
        content = self.redact(content)
        self.bus.emit(ToolResult(stage=turn_stage, tool_use_id=tid, name=name, is_error=is_error, content=content))
        if decided is not None:
            raise decided
        if self.state.current != self.opened:
            self._open_stage(self.state.current)
        return _tool_result(tid, content, is_error)

    def _generic(self, res: Resolved, stage: str, tid: str) -> tuple[bool, str, Optional[Decided]]:
        inp: Any = res.input
        if res.name in (READ_ARTIFACT, LIST_WORKSPACE):
            return (*self.world.read(res.name, tid, inp), None)
        if res.name == DECLARE_INFEASIBLE:
            return False, "recorded: the run ends INFEASIBLE", Decided(
                Decision.INFEASIBLE, f"declared infeasible by the agent: {inp.reason}", stage=stage)
        if res.name == ACCEPT_FAILURE:
            last = self.last_failure.get(stage)
            if last is None:
                return True, "nothing has failed in this stage: there is no failure to accept", None
            fc, decided = last
            decision = decided or fc.terminal_decision
            self._stage_ended(stage)
            return False, f"recorded: the run ends {decision.value} ({fc.value})", Decided(
                decision, f"stage {stage}: {fc.value} accepted without repair: {inp.reason}"[:1000],
                failure_class=fc.value, stage=stage)
        assert res.name == ASK_HUMAN
        ans = self._ask(ApprovalRequest(request_id=self._req_id(), stage=stage, kind="question", question=inp.question))
        if ans.answer == "none":
            return True, "no person or policy answered", Decided(
                Decision.NEEDS_HUMAN, f"the agent asked a question nobody answered: {inp.question[:300]}", stage=stage)
        return False, f"The person answered ({ans.answer}): {ans.text}", None

    def _req_id(self) -> str:
        self.requests += 1
        return f"{self.run_id}-q{self.requests}"

    def _ask(self, req: ApprovalRequest) -> ApprovalAnswer:
        self.bus.emit(ApprovalRequested(request_id=req.request_id, stage=req.stage, kind=req.kind,
                                        question=req.question, context=req.context))
        ans = self.approver.request(req)
        self.bus.emit(ApprovalDecided(request_id=req.request_id, answer=ans.answer, text=ans.text, by=ans.by))
        return ans

    # -- a skill call: run, gate, seal or triage ---------------------------------------------------

    def _skill(self, res: Resolved, tid: str) -> tuple[bool, str, Optional[Decided]]:
        skill = res.skill
        assert skill is not None
        stage = skill.stage
        if self.budget.stage_calls_left(stage) <= 0:
            return True, "not run: no skill calls left in this stage", Decided(
                Decision.BUDGET_EXHAUSTED, f"budget exhausted: stage {stage!r} used its "
                                           f"{self.config.budgets.max_stage_attempts} skill calls", stage=stage)
        self.budget.charge_stage_call(stage)
        self.state = transition(self.state, Start(stage))
        attempt, out_dir = self.world.new_attempt(stage)
        call = SkillCall(stage, skill, res.input, tid, attempt)
        ctx = self._context(out_dir)
        run = self._execute(call, ctx)
        self._check_abort()
        if run.failure is not None:
            return self._failure(call, run.failure, skill_failure_payload(run))
        assert run.result is not None
        outs = self._gates(call, ctx, run.result)
        self._check_abort()
        failed = next((o for o in outs if not o.passed), None)
        if failed is not None:
            fc = classify(failed.verdict.get("failure_class"), FailureClass.GATE_ERROR)
            return self._failure(call, fc, gate_failure_payload(failed), failed)
        return self._passed(call, run.result, outs)

    def _context(self, out_dir: Path, decision: Optional[dict[str, Any]] = None) -> SkillContext:
        return SkillContext(workspace=self.workspace.root, out_dir=out_dir, config=self.cfg_json,
                            sealed=dict(self.sealed), python=sys.executable, decision=decision)

    def skill_context(self, stage: str) -> SkillContext:
        """What the skill of `stage` would see now (the autopilot asks its operator_call with it)."""
        return self._context(self.workspace.root / "stages" / stage / "next")

    def _execute(self, call: SkillCall, ctx: SkillContext) -> SkillRun:
        try:
            argv, log_path = self.world.prepare(call, ctx)
        except Exception as exc:  # a skill that cannot build its command: its own failure, not ours
            argv, log_path = [], ""
            run: Optional[SkillRun] = SkillRun(None, 0.0, None, {}, FailureClass.SKILL_FAILED,
                                               f"the skill could not build its command: {type(exc).__name__}: {exc}")
        else:
            run = None
        self.bus.emit(SkillStarted(stage=call.stage, skill=call.skill.name, tool_use_id=call.tool_use_id,
                                   argv=argv, log_path=self.workspace.rel(log_path) if log_path else ""))
        if run is None:
            timeout = max(1.0, min(call.skill.timeout_s, self.config.budgets.max_wall_s - self.budget.elapsed_s))
            emit = lambda lines: self.bus.emit(SkillLog(stage=call.stage, skill=call.skill.name, lines=lines))
            with LogBatcher(emit) as batch:
                def on_line(line: str) -> None:
                    progress = parse_progress(line)
                    if progress is not None:
                        self.bus.emit(SkillProgress(stage=call.stage, skill=call.skill.name,
                                                    fraction=progress[0], message=progress[1]))
                    batch.add(line)

                self.in_child = True
                try:
                    run = self.world.run_skill(call, ctx, argv, log_path, on_line, timeout)
                finally:
                    self.in_child = False
        self.bus.emit(SkillFinished(stage=call.stage, skill=call.skill.name, tool_use_id=call.tool_use_id,
                                    exit_code=run.exit_code, duration_s=run.duration_s, ok=run.failure is None,
                                    result=run.raw_result, error=run.error, timed_out=run.timed_out,
                                    failure_class=run.failure.value if run.failure else None))
        return run

    def _gates(self, call: SkillCall, ctx: SkillContext, result: SkillResult) -> list[GateOutcome]:
        def on_gate(o: GateOutcome) -> None:
            self.bus.emit(GateVerdict(stage=call.stage, gate=o.gate, attempt=call.attempt, facts=o.facts,
                                      verdict=o.verdict, exit_code=o.exit_code, duration_s=o.duration_s,
                                      argv=o.argv))
            self.verdicts.append({"stage": call.stage, "gate": o.gate, "attempt": call.attempt, "pass": o.passed,
                                  "failure_class": o.verdict.get("failure_class"), "detail": o.verdict.get("detail", "")})

        return self.world.run_gates(call, ctx, result, self.gates_of.get(call.stage, ()), on_gate)

    def _failure(self, call: SkillCall, fc: FailureClass, payload: dict[str, Any],
                 gate: Optional[GateOutcome] = None) -> tuple[bool, str, Optional[Decided]]:
        stage = call.stage
        t = triage(fc, self.state.failures(stage, fc.value) + 1)
        final, decision, human = t.final, t.decision, None
        if fc.action == Action.ASK_HUMAN and not final:
            human = self._ask(ApprovalRequest(
                request_id=self._req_id(), stage=stage, kind="approval", failure_class=fc.value,
                question=f"Stage {stage!r} failed with {fc.value}: {payload.get('detail', '')[:500]} "
                         f"Approve a repair and retry ({t.retries_left} left), or deny to end the run as "
                         f"{fc.terminal_decision.value}?",
                context={k: payload[k] for k in ("detail", "gate") if k in payload}))
            if human.answer == "none":
                final, decision = True, Decision.NEEDS_HUMAN
            elif human.answer == "deny":
                final, decision = True, fc.terminal_decision
        self.state = transition(self.state, Failed(stage, fc.value, final))
        self.last_failure[stage] = (fc, evidence_decision(gate))
        left = min(t.retries_left, self.budget.stage_calls_left(stage))
        body = {"stage": stage, "status": "failed", "failure_class": fc.value, "meaning": fc.meaning,
                "action": fc.action.value, "hint": entry(fc).hint,
                "retries_left": 0 if final else left, **payload}
        if human is not None:
            body["human"] = {"answer": human.answer, "text": human.text, "by": human.by}
        if final:
            self._stage_ended(stage)
            if human is None or human.answer != "none":
                decision = evidence_decision(gate) or decision
            decision = decision or fc.terminal_decision
            body["run_ends"] = decision.value
            reason = f"stage {stage}: {fc.value}: {payload.get('detail', '')}"[:1000]
            if human is not None and human.answer == "none":
                reason = f"stage {stage}: {fc.value} needs a person's decision and nobody answered"
            return True, to_json(body), Decided(decision, reason, failure_class=fc.value, stage=stage)
        self.bus.emit(StageRetry(stage=stage, failure_class=fc.value, retries_left=left, budget_for_class=t.budget))
        return True, to_json(body), None

    def _passed(self, call: SkillCall, result: SkillResult, outs: list[GateOutcome]) -> tuple[bool, str, Optional[Decided]]:
        stage = call.stage
        self.state = transition(self.state, Passed(stage))
        hashes, seal_path = self.world.seal(stage, call.attempt, result, [o.verdict for o in outs],
                                            call.input.model_dump(mode="json"))
        self.state = transition(self.state, Sealed(stage))
        self.sealed[stage] = result
        self._stage_ended(stage)
        self.bus.emit(StageSealed(stage=stage, artifacts=hashes, seal_path=seal_path,
                                  duration_s=self.stage_durations.get(stage, 0.0)))
        for o in outs:
            self._note_compare(o.verdict)
        nxt = self.state.current
        body = {"stage": stage, "status": "sealed", "summary": result.summary,
                "verdicts": [{"gate": o.gate, "pass": True, "detail": o.verdict.get("detail", "")} for o in outs],
                "next_stage": None if nxt in (None, CLOSEOUT) else nxt}
        if nxt is None or nxt == CLOSEOUT:
            return False, to_json(body), self._chain_done()
        return False, to_json(body), None  # the next stage opens after this tool result is recorded

    def _note_compare(self, verdict: dict[str, Any]) -> None:
        if verdict.get("gate") == "compare" and verdict.get("pass") is True:
            self.compare_decision = (verdict.get("evidence") or {}).get("decision", Decision.ACCEPT.value)

    def _chain_done(self) -> Decided:
        if self.compare_decision in {d.value for d in Decision}:
            return Decided(Decision(self.compare_decision), "every stage passed its gates; the compare gate decided "
                                                            f"{self.compare_decision}", stage="compare")
        return Decided(Decision.NEEDS_HUMAN, "every stage passed its gates, but no compare gate decided this run")

    def _open_stage(self, stage: str) -> None:
        self.opened = stage
        self.stage_t0[stage] = time.monotonic()
        self.bus.emit(StageOpened(stage=stage, attempt=self.state.starts.get(stage, 0) + 1,
                                  tools=self.registry.stage_tools(stage)))

    def _stage_ended(self, stage: str) -> None:
        if stage in self.stage_t0:
            self.stage_durations[stage] = round(time.monotonic() - self.stage_t0[stage], 3)

    # -- the end ---------------------------------------------------------------------------------

    def _finish(self, d: Decided) -> RunOutcome:
        self.finishing = True
        code = EXIT_CODES[d.decision]
        if self.executor is not None:
            self.executor.terminate_all()
        undelivered = self.steering.drain()
        if undelivered:  # typed by the person but never read by the agent: kept in the record, said so
            self._warn(f"{len(undelivered)} message(s) from the person were not delivered before the run ended: "
                       + " | ".join(undelivered))
        try:
            self.bus.emit(DecisionMade(decision=d.decision.value, exit_code=code, reason=d.reason,
                                       failure_class=d.failure_class, stage=d.stage))
            if d.decision != Decision.INTERRUPTED:
                self._closeout(d, code)
        except Halt:
            raise
        except Exception as exc:  # the decision stands even when its records could not all be written
            self._warn(f"closeout failed: {type(exc).__name__}: {exc}")
        wall = round(time.monotonic() - self._t0, 3)
        b = self.budget
        self._emit_quietly(RunFinished(
            decision=d.decision.value, exit_code=code, stage_durations_s=dict(self.stage_durations), turns=b.turns,
            input_tokens=b.input_tokens, output_tokens=b.output_tokens, cache_read_tokens=b.cache_read_tokens,
            cost_usd=round(b.cost_usd, 6), wall_s=wall, transcript=str(self.transcript_path or "")))
        return RunOutcome(decision=d.decision.value, exit_code=code, reason=d.reason, run_id=self.run_id,
                          workspace=str(self.workspace.root), failure_class=d.failure_class, stage=d.stage,
                          transcript=str(self.transcript_path) if self.transcript_path else None,
                          stages=self._statuses(closed=d.decision != Decision.INTERRUPTED),
                          stage_durations_s=dict(self.stage_durations), budget=b.snapshot())

    def _statuses(self, closed: bool) -> dict[str, str]:
        out = {s: st.value for s, st in self.state.statuses.items()}
        if closed:  # the run is over: a stage left waiting for a retry failed for good
            out = {s: ("failed" if v == "retrying" else v) for s, v in out.items()}
        if CLOSEOUT in out and closed and self.workspace.decision_path.exists():
            out[CLOSEOUT] = "sealed"
        return out

    def _warn(self, message: str) -> None:
        self._emit_quietly(Warning_(message=message))

    def _emit_quietly(self, event: Any) -> None:
        try:
            self.bus.emit(event)
        except Exception:  # the recorder itself is broken; the outcome is still returned
            pass

    def _closeout(self, d: Decided, code: int) -> None:
        """report.md (the closeout skill's, or the minimal one), then decision.json, last."""
        self._open_stage(CLOSEOUT)
        decision = {"decision": d.decision.value, "exit_code": code, "reason": d.reason,
                    "failure_class": d.failure_class, "stage": d.stage}
        wrote_report = self.closeout_skill is not None and self._run_closeout_skill(decision)
        statuses = {s: v for s, v in self._statuses(closed=True).items() if s != CLOSEOUT}
        report_path = self.workspace.report_path
        if not wrote_report:
            self.workspace.write_report(minimal_report(
                config=self.cfg_json, decision=d.decision.value, exit_code=code, reason=d.reason, statuses=statuses,
                verdicts=self.verdicts, transcript=self.transcript_path, budget=self.budget.snapshot()))
        record = decision_record(run_id=self.run_id, decision=d.decision.value, exit_code=code, reason=d.reason,
                                 failure_class=d.failure_class, stage=d.stage, statuses=statuses,
                                 verdicts=self.verdicts, budget=self.budget.snapshot(),
                                 transcript=str(self.transcript_path) if self.transcript_path else None,
                                 report=self.workspace.rel(report_path))
        self.workspace.write_decision(record)
        self._stage_ended(CLOSEOUT)
        self.bus.emit(StageSealed(stage=CLOSEOUT, artifacts=_hashes(self.workspace, [report_path, self.workspace.decision_path]),
                                  seal_path=self.workspace.rel(self.workspace.decision_path),
                                  duration_s=self.stage_durations.get(CLOSEOUT, 0.0)))

    def _run_closeout_skill(self, decision: dict[str, Any]) -> bool:
        skill = self.closeout_skill
        assert skill is not None
        try:
            attempt, out_dir = self.world.new_attempt(CLOSEOUT)
            ctx = self._context(out_dir, decision)
            raw = skill.operator_call(ctx, None) or {}
            call = SkillCall(CLOSEOUT, skill, skill.input_model.model_validate(raw), f"closeout-{attempt}", attempt)
            run = self._execute(call, ctx)
            if run.failure is None and run.result is not None:
                outs = self._gates(call, ctx, run.result)
                if all(o.passed for o in outs) and self.workspace.report_path.is_file():
                    return True
            self._warn(f"the closeout skill did not produce a report ({run.error or 'gate failed'}); "
                       "the minimal report stands in")
        except Exception as exc:
            self._warn(f"the closeout skill failed: {type(exc).__name__}: {exc}; the minimal report stands in")
        return False


# -- helpers ---------------------------------------------------------------------------------------


def _stage_map(skills: Sequence[Skill]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for s in skills:
        out.setdefault(s.stage, []).append(s.name)
    return out


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _result_as_text(block: dict[str, Any], names: dict[str, Any]) -> dict[str, Any]:
    """A tool_result of the previous stage's last turn as a text block (its tool_use is not in the new
    stage's conversation, and a tool_result without its tool_use is refused by the API)."""
    if block.get("type") != "tool_result":
        return block
    name = names.get(block.get("tool_use_id")) or "a tool"
    how = "error" if block.get("is_error") else "result"
    return _text(f"[{how} of {name} ({block.get('tool_use_id')}), from the previous stage] {block.get('content', '')}")


def _tool_result(tid: str, content: str, is_error: bool) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tid, "content": content}
    if is_error:
        block["is_error"] = True
    return block


def _hashes(workspace: Any, paths: list[Path]) -> dict[str, str]:
    from conductor.workspace import hash_path

    return {workspace.rel(p): hash_path(p) for p in paths if p.exists()}


def _gates_fingerprint(prefix: str) -> Optional[str]:
    from conductor.gate_modules import fingerprint

    try:
        return fingerprint(prefix)
    except (ImportError, OSError, TypeError):  # a gate package that cannot be read: replay compares keys only
        return None


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


def build_run(config: ReleaseConfig, provider: Provider, skills: Sequence[Skill], approver: Approver,
              bus: EventBus, executor: Any, workspace: Any, *, run_id: Optional[str] = None,
              steering: Optional[Steering] = None, redactor: Any = None, transcript_path: Optional[str] = None,
              plan: Optional[Sequence[StagePlan]] = None, resume: Optional[ResumePoint] = None,
              world: Optional[World] = None, gate_kwargs: Optional[dict[str, Any]] = None) -> Run:
    steering = steering or Steering()
    gate_kwargs = dict(gate_kwargs or {})
    world = world or LiveWorld(executor, workspace, config.budgets.gate_timeout_s, steering.cancel, gate_kwargs)
    run = Run(config, provider, skills, approver, bus, world, workspace, run_id=run_id or new_run_id(),
              executor=executor, steering=steering, redactor=redactor, plan=plan, transcript_path=transcript_path,
              resume=resume, gate_module_prefix=gate_kwargs.get("module_prefix", "gates"))
    attach = getattr(provider, "attach", None)
    if callable(attach):  # the autopilot reads skill contexts from the run
        attach(run)
    return run


def run_release(config: ReleaseConfig, provider: Provider, skills: Sequence[Skill], approver: Approver,
                bus: EventBus, executor: Any, workspace: Any, **kwargs: Any) -> RunOutcome:
    """Run one release to its decision. The caller owns the bus listeners (transcript, printer);
    `conductor.session.run_session` wires everything for the CLI."""
    return build_run(config, provider, skills, approver, bus, executor, workspace, **kwargs).run()
