"""Whole runs of the real loop over fake skills and fake gates, driven by a scripted provider."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from conductor.engine.approver import PolicyApprover, QueueApprover
from conductor.engine.steering import Steering
from conductor.providers.scripted import ScriptedProvider, end_turn, tool_use, tool_uses
from conductor.transcript.events import Usage
from gates.failure_classes import EXIT_CODES, Decision
from tests.fakes import harness as H
from tests.fakes.skills import FakeSkill, chain, fail, skill_fail

pytestmark = pytest.mark.timeout(60)


def two(quantize=({},), compare=({},), **kw):
    """A short chain: quantize (gate ptq) -> compare (gate compare)."""
    return [FakeSkill("quantize", quantize, **kw), FakeSkill("compare", compare)]


def exit_matches(r: H.Result) -> None:
    assert r.outcome.exit_code == EXIT_CODES[Decision(r.decision)]
    fin = r.of("run_finished")[-1]
    assert (fin.decision, fin.exit_code) == (r.decision, r.outcome.exit_code)


# -- the PASS path -------------------------------------------------------------------------------


def test_pass_path_seals_every_stage_and_accepts(tmp_path):
    skills = chain()
    r = H.run(tmp_path, skills, H.operator_script(skills))
    assert r.decision == "ACCEPT" and r.outcome.exit_code == 0
    exit_matches(r)
    sealed = [e.stage for e in r.of("stage_sealed")]
    assert sealed == ["quantize", "serve", "eval_baseline", "eval_candidate", "compare", "audits", "closeout"]
    ws = r.workspace
    for s in sealed[:-1]:
        assert ws.verify_seal(s) == []
    decision = json.loads(ws.decision_path.read_text())
    assert decision["decision"] == "ACCEPT" and decision["exit_code"] == 0
    assert ws.report_path.read_text().startswith("# Release decision: ACCEPT")
    assert ws.decision_path.stat().st_mtime_ns >= ws.report_path.stat().st_mtime_ns
    rec = r.recorded()
    assert [(e.type, getattr(e, "stage", None)) for e in rec][-4:] == [
        ("decision", "compare"), ("stage_opened", "closeout"), ("stage_sealed", "closeout"), ("run_finished", None)]
    assert [e.seq for e in rec] == sorted({e.seq for e in rec})
    # each tool result comes before the next stage opens; stage tools only
    types = [(e.type, getattr(e, "stage", None)) for e in rec]
    assert types.index(("tool_result", "quantize")) < types.index(("stage_opened", "serve"))


def test_agent_is_offered_only_the_open_stage_tools(tmp_path):
    skills = two()
    p = H.operator_script(skills)
    H.run(tmp_path, skills, p)
    for req in p.requests:
        names = [t["name"] for t in req.tools]
        assert names[:5] == ["read_artifact", "list_workspace", "ask_human", "declare_infeasible", "accept_failure"]
        assert names[5:] == [req.stage]
        assert req.system[0]["cache_control"] == {"type": "ephemeral"}
        assert "Triage table" in req.system[0]["text"] and req.stage in req.system[1]["text"]


# -- failures and their retries ------------------------------------------------------------------


def test_repairable_failure_is_fed_back_then_passes(tmp_path):
    skills = two(quantize=[fail("SIZE_NOT_REDUCED"), fail("SIZE_NOT_REDUCED"), {}])
    r = H.run(tmp_path, skills, H.operator_script(skills))
    assert r.decision == "ACCEPT"
    retries = r.of("stage_retry")
    assert [(e.failure_class, e.retries_left, e.budget_for_class) for e in retries] == [
        ("SIZE_NOT_REDUCED", 2, 2), ("SIZE_NOT_REDUCED", 1, 2)]
    first = json.loads(next(e for e in r.of("tool_result") if e.is_error).content)
    assert first["failure_class"] == "SIZE_NOT_REDUCED" and first["action"] == "repair_and_retry"
    assert first["retries_left"] == 2 and first["hint"] and first["meaning"] and first["gate"] == "ptq"
    assert "evidence" in first


def test_repair_budget_exhausted_ends_with_the_class_decision(tmp_path):
    skills = two(quantize=[fail("QUANT_COVERAGE_FAILURE")])
    r = H.run(tmp_path, skills, H.operator_script(skills))
    assert r.decision == "INFEASIBLE" and r.outcome.exit_code == 12
    assert len(r.of("skill_started")) == 3  # 1 + 2 retries
    assert r.outcome.failure_class == "QUANT_COVERAGE_FAILURE"
    assert r.workspace.decision_path.exists() and r.workspace.report_path.exists()
    exit_matches(r)


def test_accept_failure_ends_with_the_class_decision_not_infeasible(tmp_path):
    """No repair left for CACHING_DETECTED: the run is ANOMALOUS (its class's decision), never INFEASIBLE."""
    skills = two(quantize=[fail("CACHING_DETECTED")])
    p = ScriptedProvider([tool_use("accept_failure", {"reason": "too early"}),
                          tool_use("quantize", {}), tool_use("accept_failure", {"reason": "no repair"})])
    r = H.run(tmp_path, skills, p)
    first = r.of("tool_result")[0]
    assert first.is_error and "no failure to accept" in first.content  # nothing failed yet
    assert r.decision == "ANOMALOUS" and r.outcome.exit_code == 11
    assert r.outcome.failure_class == "CACHING_DETECTED" and "no repair" in r.outcome.reason
    exit_matches(r)
    import json
    stages = json.loads(r.workspace.decision_path.read_text())["stages"]
    assert stages["quantize"] == "failed", stages  # not "retrying": the run is over


def test_autopilot_without_a_repair_accepts_the_failure(tmp_path):
    from conductor.engine.autopilot import AutopilotProvider

    def no_repair(ctx, last):
        return {} if last is None else None

    skills = two(quantize=[fail("CACHING_DETECTED")], operator=no_repair)
    r = H.run(tmp_path, skills, AutopilotProvider(skills))
    assert r.decision == "ANOMALOUS", r.outcome.reason
    assert len(r.of("skill_started")) == 1  # no blind re-run of the same call
    assert [e.name for e in r.of("tool_call")][-1] == "accept_failure"


def test_infra_transient_retried_once_then_systemic(tmp_path):
    skills = two(quantize=[skill_fail("INFRA_TRANSIENT", "connection refused")])
    r = H.run(tmp_path, skills, H.operator_script(skills))
    assert r.decision == "SYSTEMIC" and r.outcome.exit_code == 3
    assert len(r.of("skill_started")) == 2


def test_infra_transient_once_then_pass(tmp_path):
    skills = two(quantize=[skill_fail("INFRA_TRANSIENT"), {}])
    r = H.run(tmp_path, skills, H.operator_script(skills))
    assert r.decision == "ACCEPT"
    assert [e.retries_left for e in r.of("stage_retry")] == [1]


def test_regression_stops_and_closeout_still_runs(tmp_path):
    skills = [FakeSkill("compare", [fail("ACCURACY_REGRESSION")]), FakeSkill("audits")]
    r = H.run(tmp_path, skills, H.operator_script(skills))
    assert r.decision == "REGRESSION" and r.outcome.exit_code == 10
    assert "audits" not in [e.stage for e in r.of("skill_started")]
    assert len([e for e in r.of("skill_started") if e.stage == "compare"]) == 1
    assert json.loads(r.workspace.decision_path.read_text())["decision"] == "REGRESSION"
    assert "| compare | 1 | compare | FAIL | ACCURACY_REGRESSION" in r.workspace.report_path.read_text()


def test_verbosity_exceeded_is_a_regression(tmp_path):
    skills = [FakeSkill("compare"), FakeSkill("audits", [fail("VERBOSITY_EXCEEDED")])]
    r = H.run(tmp_path, skills, H.operator_script(skills))
    assert r.decision == "REGRESSION" and r.outcome.failure_class == "VERBOSITY_EXCEEDED"


def test_skill_declared_hardware_unavailable_is_infeasible_without_retry(tmp_path):
    skills = two(quantize=[skill_fail("HARDWARE_UNAVAILABLE", "nvfp4 needs a CUDA GPU")])
    r = H.run(tmp_path, skills, H.operator_script(skills))
    assert r.decision == "INFEASIBLE" and r.outcome.exit_code == 12
    assert len(r.of("skill_started")) == 1 and not r.of("gate_verdict")
    assert "nvfp4 needs a CUDA GPU" in r.outcome.reason


def test_unknown_skill_failure_class_becomes_skill_failed(tmp_path):
    skills = two(quantize=[skill_fail("NOT_A_CLASS"), {}])
    r = H.run(tmp_path, skills, H.operator_script(skills))
    assert r.of("stage_retry")[0].failure_class == "SKILL_FAILED" and r.decision == "ACCEPT"


def test_missing_and_garbage_result_json_are_skill_failed_with_log_tail(tmp_path):
    skills = two(quantize=[{"no_result": True, "lines": ["Traceback: kaboom"], "exit": 1},
                           {"garbage_result": True}, {}])
    r = H.run(tmp_path, skills, H.operator_script(skills))
    assert r.decision == "ACCEPT"
    errs = [json.loads(e.content) for e in r.of("tool_result") if e.is_error]
    assert errs[0]["failure_class"] == "SKILL_FAILED" and "Traceback: kaboom" in errs[0]["log_tail"]
    assert "no result.json" in errs[0]["detail"]
    assert "invalid" in errs[1]["detail"]


def test_ask_human_class_without_a_person_ends_needs_human(tmp_path):
    skills = two(compare=[fail("ANOMALOUS_GAIN")])
    r = H.run(tmp_path, skills, H.operator_script(skills))
    assert r.decision == "NEEDS_HUMAN" and r.outcome.exit_code == 13
    req, dec = r.of("approval_requested")[0], r.of("approval_decided")[0]
    assert req.kind == "approval" and "ANOMALOUS_GAIN" in req.question
    assert dec.answer == "none" and dec.by == "none"
    assert r.workspace.decision_path.exists()


def test_ask_human_class_denied_ends_with_its_decision(tmp_path):
    skills = two(compare=[fail("INDETERMINATE")])
    r = H.run(tmp_path, skills, H.operator_script(skills), approver=QueueApprover(["deny"]))
    assert r.decision == "ANOMALOUS" and r.outcome.exit_code == 11


def test_ask_human_class_approved_allows_a_retry(tmp_path):
    skills = two(compare=[fail("EXTERNAL_BASELINE_MISMATCH"), {}])
    r = H.run(tmp_path, skills, H.operator_script(skills), approver=QueueApprover([("approve", "ok, retry")]))
    assert r.decision == "ACCEPT"
    res = json.loads(next(e for e in r.of("tool_result") if e.is_error).content)
    assert res["human"]["answer"] == "approve"


def test_policy_file_answers_headless(tmp_path):
    pol = tmp_path / "policy.yaml"
    pol.write_text("approvals:\n  ANOMALOUS_GAIN: deny\n")
    skills = two(compare=[fail("ANOMALOUS_GAIN")])
    r = H.run(tmp_path, skills, H.operator_script(skills), approver=PolicyApprover.from_file(pol))
    assert r.decision == "ANOMALOUS"
    assert r.of("approval_decided")[0].by == "policy"


# -- budgets ---------------------------------------------------------------------------------------


def test_turn_budget_exhausted(tmp_path):
    skills = two() + [FakeSkill("audits")]
    r = H.run(tmp_path, skills, H.operator_script(skills), cfg={"budgets": {"max_turns": 2}})
    assert r.decision == "BUDGET_EXHAUSTED" and r.outcome.exit_code == 4
    assert len(r.of("assistant_message")) == 2 and "turns" in r.outcome.reason
    assert r.workspace.decision_path.exists()


def test_cost_budget_exhausted(tmp_path):
    p = ScriptedProvider(lambda req: tool_use(req.stage, {}, usage=Usage(input_tokens=100, output_tokens=10),
                                              cost_usd=0.75))
    r = H.run(tmp_path, [FakeSkill("quantize", [fail("SIZE_NOT_REDUCED")]), FakeSkill("compare")], p,
              cfg={"budgets": {"max_cost_usd": 1.0}})
    assert r.decision == "BUDGET_EXHAUSTED" and "cost" in r.outcome.reason
    assert r.of("run_finished")[0].cost_usd == 1.5


def test_stage_attempt_budget(tmp_path):
    skills = two(quantize=[skill_fail("SKILL_FAILED")])
    r = H.run(tmp_path, skills, H.operator_script(skills), cfg={"budgets": {"max_stage_attempts": 2}})
    assert r.decision == "BUDGET_EXHAUSTED" and len(r.of("skill_started")) == 2
    assert "skill calls" in r.outcome.reason


# -- what never runs -------------------------------------------------------------------------------


def test_locked_unknown_and_malformed_calls_never_run(tmp_path):
    skills = two()
    p = ScriptedProvider([
        tool_use("compare", {}),  # locked: another stage's tool
        tool_use("rm_rf", {"path": "/"}),  # unknown
        tool_use("quantize", {"recipe": 5}),  # wrong type (JSON Schema)
        tool_use("quantize", {"recipe": "fp8", "evil": True}),  # unknown field
        tool_use("quantize", {"calib_size": 0}),  # below the minimum
        tool_use("quantize", {}), tool_use("compare", {}),
    ])
    r = H.run(tmp_path, skills, p)
    assert r.decision == "ACCEPT"
    errs = [e for e in r.of("tool_result") if e.is_error]
    assert len(errs) == 5
    assert "belongs to stage 'compare'" in errs[0].content
    assert "unknown tool 'rm_rf'" in errs[1].content
    assert all("not run" in e.content.lower() for e in errs[2:])
    assert [e.stage for e in r.of("skill_started")] == ["quantize", "compare"]


def test_max_tokens_turn_runs_no_tool(tmp_path):
    skills = two()
    p = ScriptedProvider([tool_use("quantize", {}, stop_reason="max_tokens"), tool_use("quantize", {}),
                          tool_use("compare", {})])
    r = H.run(tmp_path, skills, p)
    assert r.decision == "ACCEPT" and len(r.of("skill_started")) == 2
    cut = p.requests[1].messages[-1]["content"]
    assert cut[0]["type"] == "tool_result" and cut[0]["is_error"] and "max_tokens" in cut[-1]["text"]
    assert r.of("run_finished")[0].turns == 3  # the cut-off turn counts


def test_refusal_ends_needs_human(tmp_path):
    p = ScriptedProvider([end_turn("I can't help with that.", stop_reason="refusal")])
    r = H.run(tmp_path, two(), p)
    assert r.decision == "NEEDS_HUMAN" and "refused" in r.outcome.reason


def test_pause_turn_continues_the_same_turn(tmp_path):
    p = ScriptedProvider([end_turn("thinking...", stop_reason="pause_turn"), tool_use("quantize", {}),
                          tool_use("compare", {})])
    r = H.run(tmp_path, two(), p)
    assert r.decision == "ACCEPT"
    assert p.requests[1].messages[-1]["role"] == "assistant"


def test_nudges_then_needs_human(tmp_path):
    p = ScriptedProvider([end_turn("done?"), end_turn("really done"), end_turn("bye")])
    r = H.run(tmp_path, two(), p)
    assert r.decision == "NEEDS_HUMAN" and "without calling a tool" in r.outcome.reason
    assert "still open" in p.requests[1].messages[-1]["content"][0]["text"]


def test_nudge_counter_resets_on_a_tool_call(tmp_path):
    p = ScriptedProvider([end_turn("a"), end_turn("b"), tool_use("quantize", {}), end_turn("c"), end_turn("d"),
                          tool_use("compare", {})])
    assert H.run(tmp_path, two(), p).decision == "ACCEPT"


def test_declare_infeasible_and_ask_human(tmp_path):
    p = ScriptedProvider([tool_use("ask_human", {"question": "fp8 or int8?"}),
                          tool_use("declare_infeasible", {"reason": "no GPU for nvfp4"})])
    r = H.run(tmp_path, two(), p, approver=QueueApprover([("answer", "fp8")]))
    assert r.decision == "INFEASIBLE" and "no GPU for nvfp4" in r.outcome.reason
    assert "fp8" in r.of("tool_result")[0].content and not r.of("tool_result")[0].is_error
    r2 = H.run(tmp_path / "b", two(), ScriptedProvider([tool_use("ask_human", {"question": "?"})]))
    assert r2.decision == "NEEDS_HUMAN"


def test_generic_tools_stay_inside_the_workspace(tmp_path):
    p = ScriptedProvider([tool_use("read_artifact", {"path": "config.json"}),
                          tool_use("read_artifact", {"path": "../../../../etc/passwd"}),
                          tool_use("list_workspace", {"subdir": ""}),
                          tool_use("list_workspace", {"subdir": "/"}),
                          tool_use("declare_infeasible", {"reason": "test"})])
    r = H.run(tmp_path, two(), p)
    res = r.of("tool_result")
    assert not res[0].is_error and '"recipe"' in res[0].content
    assert res[1].is_error and "outside the workspace" in res[1].content
    assert not res[2].is_error and "config.json" in res[2].content
    assert res[3].is_error


def test_provider_error_is_systemic(tmp_path):
    r = H.run(tmp_path, two(), ScriptedProvider([]))
    assert r.decision == "SYSTEMIC" and r.outcome.exit_code == 3


# -- gates and skills that misbehave --------------------------------------------------------------


def test_gate_crash_fails_closed_and_retries_once(tmp_path):
    skills = two(quantize=[{"facts": {"crash": True}}, {}])
    r = H.run(tmp_path, skills, H.operator_script(skills))
    assert r.decision == "ACCEPT"
    v = r.of("gate_verdict")[0]
    assert v.verdict.failure_class == "GATE_ERROR" and not v.verdict.passed
    assert r.of("stage_retry")[0].retries_left == 1


def test_gate_crashing_twice_is_an_internal_error(tmp_path):
    skills = two(quantize=[{"facts": {"garbage": True}}])
    r = H.run(tmp_path, skills, H.operator_script(skills))
    assert r.decision == "INTERNAL_ERROR" and r.outcome.exit_code == 5
    assert r.outcome.failure_class == "GATE_ERROR"


def test_gate_that_hangs_is_killed(tmp_path):
    skills = two(quantize=[{"facts": {"sleep": 60}}, {}])
    t0 = time.monotonic()
    r = H.run(tmp_path, skills, H.operator_script(skills), cfg={"budgets": {"gate_timeout_s": 2.5}})
    assert time.monotonic() - t0 < 20
    assert r.decision == "ACCEPT"
    assert "timed out" in r.of("gate_verdict")[0].verdict.detail


def test_missing_required_gate_fails_closed(tmp_path):
    skills = [FakeSkill("quantize", gates=[]), FakeSkill("compare")]
    r = H.run(tmp_path, skills, H.operator_script(skills))
    assert r.decision == "INTERNAL_ERROR"
    assert "must be judged by gate 'ptq'" in r.of("gate_verdict")[0].verdict.detail


def test_skill_that_hangs_is_stopped_with_its_children(tmp_path):
    skills = two(quantize=[{"sleep": 60, "spawn_child": True}, {}], timeout_s=2.5)
    t0 = time.monotonic()
    r = H.run(tmp_path, skills, H.operator_script(skills))
    assert time.monotonic() - t0 < 20
    assert r.decision == "ACCEPT"
    fin = r.of("skill_finished")[0]
    assert fin.timed_out and fin.failure_class == "INFRA_TRANSIENT"
    pid = int((r.workspace.root / "stages/quantize/attempt-1/child.pid").read_text())
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


# -- steering, secrets, closeout ------------------------------------------------------------------


def test_human_message_pause_and_resume(tmp_path):
    steering = Steering()
    gate = threading.Event()

    def respond(req):
        if req.turn == 1:
            steering.say("prefer int8 if fp8 fails")
            steering.pause()
            return tool_use("quantize", {})
        return tool_use("compare", {})

    def resume_once_paused(event):  # resume only after the loop has really paused (no timing race)
        if event.type == "run_paused" and event.paused:
            threading.Timer(0.3, steering.resume).start()

    p = ScriptedProvider(respond)
    r = H.run(tmp_path, two(), p, steering=steering, listeners=[resume_once_paused])
    assert r.decision == "ACCEPT"
    assert [e.paused for e in r.of("run_paused")] == [True, False]
    assert r.of("human_message")[0].text == "prefer int8 if fp8 fails"
    texts = [b.get("text", "") for b in p.requests[1].messages[-1]["content"]]
    assert any("prefer int8" in t for t in texts)
    assert not gate.is_set()


def test_abort_from_another_thread_is_interrupted_and_resumable(tmp_path):
    steering = Steering()
    skills = two(quantize=[{"sleep": 60}])
    threading.Timer(0.8, steering.abort, args=("operator abort",)).start()
    t0 = time.monotonic()
    r = H.run(tmp_path, skills, H.operator_script(skills), steering=steering)
    assert time.monotonic() - t0 < 15
    assert r.decision == "INTERRUPTED" and r.outcome.exit_code == 130
    assert not r.workspace.decision_path.exists()  # resumable
    assert r.recorded()[-1].type == "run_finished"


def test_a_message_typed_just_before_an_abort_is_kept_in_the_record(tmp_path):
    steering = Steering()
    skills = two(quantize=[{"sleep": 60}])

    def say_then_abort():
        steering.say("use calib 8, this is a smoke test")
        steering.abort("operator abort")

    threading.Timer(0.8, say_then_abort).start()
    r = H.run(tmp_path, skills, H.operator_script(skills), steering=steering)
    assert r.decision == "INTERRUPTED"
    assert not r.of("human_message")  # the agent never read it ...
    warnings = [w.message for w in r.of("warning")]
    assert any("not delivered" in w and "use calib 8" in w for w in warnings), warnings  # ... and the record says so


def test_secrets_are_redacted_from_transcript_and_logs(tmp_path, monkeypatch):
    secret = "sk-ant-api03-" + "Z" * 40
    monkeypatch.setenv("FAKE_SERVICE_TOKEN", "tok-1234567890-very-secret")
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)
    skills = two(quantize=[{"print_env": "FAKE_SERVICE_TOKEN", "lines": [f"auth {secret}"],
                            "result": {"ok": False, "error": f"bad key {secret}"}}, {}])
    r = H.run(tmp_path, skills, H.operator_script(skills))
    assert r.decision == "ACCEPT"
    # what the conductor writes: the transcript, every log, the seals, the report, the decision
    # (a skill's own result.json is its artifact; the conductor never rewrites it)
    for path in r.workspace.root.rglob("*"):
        if path.is_file() and (path.suffix in (".log", ".jsonl", ".md") or path.parent.name == "seals"
                               or path.name == "decision.json"):
            text = path.read_text(errors="replace")
            assert secret not in text and "tok-1234567890-very-secret" not in text, path
    assert any("[REDACTED]" in e.content for e in r.of("tool_result"))


class _CloseoutSkill(FakeSkill):
    def command(self, inp, ctx):
        assert ctx.decision is not None
        code = (f"import json,os;open(os.path.join({str(ctx.workspace)!r},'report.md'),'w').write("
                f"'# full report {ctx.decision['decision']}\\n');"
                f"json.dump({{'ok':True,'summary':'report'}},open(os.path.join({str(ctx.out_dir)!r},'result.json'),'w'))")
        import sys
        return [sys.executable, "-I", "-S", "-c", code]


def test_closeout_skill_writes_the_report_and_decision_comes_last(tmp_path):
    skills = two() + [_CloseoutSkill("closeout", gates=[])]
    r = H.run(tmp_path, skills, H.operator_script(skills[:2]))
    assert r.decision == "ACCEPT"
    assert r.workspace.report_path.read_text() == "# full report ACCEPT\n"
    assert [e.stage for e in r.of("skill_started")][-1] == "closeout"
    assert r.workspace.decision_path.stat().st_mtime_ns >= r.workspace.report_path.stat().st_mtime_ns


def test_the_agent_cannot_call_closeout(tmp_path):
    skills = two() + [_CloseoutSkill("closeout", gates=[])]
    p = ScriptedProvider([tool_use("closeout", {}), tool_use("quantize", {}), tool_use("compare", {})])
    r = H.run(tmp_path, skills, p)
    assert r.of("tool_result")[0].is_error


def test_two_tool_calls_in_one_turn(tmp_path):
    p = ScriptedProvider([tool_uses([("list_workspace", {}), ("quantize", {})]), tool_use("compare", {})])
    r = H.run(tmp_path, two(), p)
    assert r.decision == "ACCEPT"
    assert len(p.requests[1].messages[-1]["content"]) == 2


def test_a_progress_line_travels_once_as_progress_never_as_a_log_line(tmp_path):
    lines = ["loading", "PROGRESS 0.500 half way", "PROGRESS 2.0 not a fraction", "done"]
    skills = two(quantize=({"lines": lines},))
    r = H.run(tmp_path, skills, H.operator_script(skills))
    logged = [ln for e in r.of("skill_log") if e.stage == "quantize" for ln in e.lines]
    assert logged == ["loading", "PROGRESS 2.0 not a fraction", "done"]
    assert [(p.fraction, p.message) for p in r.of("skill_progress")] == [(0.5, "half way")]
    log = next((r.workspace.root / "stages" / "quantize").glob("attempt-1/skill.log")).read_text()
    assert "PROGRESS 0.500 half way" in log  # the skill's own log keeps every line
