"""Replay (no divergence on every recorded run; altered facts diverge; re-gating; fork), resume,
the autopilot, and a run judged by the real gates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conductor.engine.approver import NoHumanApprover, QueueApprover
from conductor.engine.autopilot import AutopilotProvider
from conductor.engine.stages import plan_stages
from conductor.engine.steering import Steering
from conductor.providers.scripted import ScriptedProvider, tool_use
from conductor.replay.replayer import GATE_MODES, replay_transcript
from conductor.replay.resume import ResumeError, resume_run
from tests.compare_facts import carry
from tests.fakes import harness as H
from tests.fakes.skills import FakeSkill, fail, skill_fail

pytestmark = pytest.mark.timeout(60)
TRANSCRIPTS = Path(__file__).resolve().parents[2] / "transcripts"

REAL_COMPARE = carry({"baseline": {"settings": {"backend": "hf"},
                                   "tasks": {"t1": {"score": 0.60, "stderr": 0.005, "samples": 2000, "scale": "unit"}}},
                      "candidate": {"settings": {"backend": "hf"},
                                    "tasks": {"t1": {"score": 0.595, "stderr": 0.005, "samples": 2000,
                                                     "scale": "unit"}}},
                      "threshold": {"kind": "absolute", "value": 0.02}})
REAL_VERBOSITY = {"baseline": {"tasks": {"g": {"avg_completion_tokens": 20.0, "samples": 50, "complete": True,
                                                "doc_tokens": {str(i): 20.0 for i in range(50)}}}},
                  "candidate": {"tasks": {"g": {"avg_completion_tokens": 20.5, "samples": 50, "complete": True,
                                                "doc_tokens": {str(i): 20.5 for i in range(50)}}}}}


def _scenarios(tmp: Path) -> dict[str, Path]:
    """Record a handful of runs that take different paths through the loop."""
    out = {}

    def rec(name, skills, provider=None, **kw):
        r = H.run(tmp / name, skills, provider or H.operator_script(skills), **kw)
        out[name] = r.workspace.transcript_path
        return r

    rec("retry_then_accept", [FakeSkill("quantize", [fail("SIZE_NOT_REDUCED"), {}]),
                              FakeSkill("compare", [{"facts": {"drop": 0.005, "threshold": 0.01}}])])
    rec("regression", [FakeSkill("quantize"), FakeSkill("compare", [{"facts": {"drop": 0.02, "threshold": 0.01}}]),
                       FakeSkill("audits")])
    rec("gate_crash_and_skill_failures", [FakeSkill("quantize", [{"facts": {"crash": True}},
                                                                 skill_fail("INFRA_TRANSIENT"), {}]),
                                          FakeSkill("compare")])
    rec("approval_then_retry", [FakeSkill("quantize"), FakeSkill("compare", [fail("ANOMALOUS_GAIN"), {}])],
        approver=QueueApprover(["approve"]))
    rec("locked_and_malformed", [FakeSkill("quantize"), FakeSkill("compare")],
        ScriptedProvider([tool_use("compare", {}), tool_use("quantize", {"recipe": 7}), tool_use("quantize", {}),
                          tool_use("read_artifact", {"path": "config.json"}), tool_use("compare", {})]))
    rec("budget", [FakeSkill("quantize", [fail("SIZE_NOT_REDUCED")]), FakeSkill("compare")],
        cfg={"budgets": {"max_turns": 2}})
    return out


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    return _scenarios(tmp_path_factory.mktemp("recorded"))


def test_replay_of_every_recorded_run_finds_no_divergence(recorded):
    for name, path in recorded.items():
        rep = replay_transcript(path)
        assert rep.divergence is None, (name, rep.divergence)
        assert rep.exit_code == 0 and rep.decision == rep.recorded_decision, name
        assert rep.gates_mode == "in-process"  # the default: gates re-decided in this process
    assert replay_transcript(recorded["retry_then_accept"]).gates_rerun == 3
    assert replay_transcript(recorded["gate_crash_and_skill_failures"]).gates_kept == 1  # the crash: no facts


def test_gates_in_process_and_as_processes_replay_alike(recorded):
    for name, path in recorded.items():
        here, children = replay_transcript(path), replay_transcript(path, gate_mode="processes")
        assert (here.gates_mode, children.gates_mode) == ("in-process", "processes")
        here.gates_mode = children.gates_mode
        assert here == children, name
    with pytest.raises(ValueError, match="gate_mode"):
        replay_transcript(recorded["regression"], gate_mode="threads")


def _recorded_by_the_loop(path: Path) -> bool:
    """A transcript the run loop wrote records each stage's tool definitions in its plan;
    hand-made ones (tests/tui/synthetic.py) do not, and cannot be replayed."""
    for line in path.read_text().splitlines()[1:]:
        d = json.loads(line)
        if d.get("type") == "run_started":
            return any("tool_defs" in p for p in d.get("plan", []))
    return False


CURATED = sorted(TRANSCRIPTS.glob("*.jsonl")) if TRANSCRIPTS.is_dir() else []


def test_transcripts_holds_only_loop_recorded_runs():
    """Every fixture in transcripts/ is a run the loop recorded (scripts/record_transcripts.py, or a
    real run copied there); nothing hand-made passes for one."""
    assert len(CURATED) >= 6, [p.name for p in CURATED]
    assert [p.name for p in CURATED if not _recorded_by_the_loop(p)] == []


@pytest.mark.parametrize("path", CURATED, ids=[p.name for p in CURATED])
def test_curated_transcripts_replay_without_divergence(path):
    """Each curated transcript replays to its recorded decision, every gate re-run on its facts; one
    that is meant to diverge (altered after the run) names the seq of its divergence in <name>.seq."""
    seq_file = path.with_suffix(".seq")
    rep = replay_transcript(path)
    if seq_file.exists():
        assert rep.divergence is not None and rep.divergence.seq == int(seq_file.read_text()), path.name
        assert rep.exit_code == 1
    else:
        assert rep.divergence is None, (path.name, rep.divergence)
        assert rep.exit_code == 0 and rep.decision == rep.recorded_decision, path.name
        if path.name.startswith("scripted_"):  # every gate of these decided on facts: all of them re-run
            assert rep.gates_rerun > 0 and rep.gates_kept == 0


def test_the_altered_transcript_diverges_at_its_compare_verdict():
    """scripted_pass_altered is scripted_pass with the candidate's conductor_tiny_gen score lowered in the
    recorded compare facts: the real compare gate now finds a regression where the record says ACCEPT."""
    altered, original = TRANSCRIPTS / "scripted_pass_altered.jsonl", TRANSCRIPTS / "scripted_pass.jsonl"
    seq = int(altered.with_suffix(".seq").read_text())
    diff = [
        (a, b)
        for a, b in zip(original.read_text().splitlines(), altered.read_text().splitlines(), strict=False)
        if a != b
    ]
    assert len(diff) == 1 and json.loads(diff[0][1])["seq"] == seq, "only the one compare verdict's facts differ"
    rep = replay_transcript(altered)
    assert rep.divergence is not None and rep.divergence.seq == seq and rep.exit_code == 1
    assert rep.divergence.expected == {"gate": "compare", "pass": True, "failure_class": None, "decision": "ACCEPT"}
    assert rep.divergence.found == {
        "gate": "compare",
        "pass": False,
        "failure_class": "ACCURACY_REGRESSION",
        "decision": "REGRESSION",
    }


def _alter(src: Path, dst: Path, gate: str, change) -> int:
    lines, seq = [], None
    for line in src.read_text().splitlines():
        d = json.loads(line)
        if seq is None and d.get("type") == "gate_verdict" and d["gate"] == gate:
            change(d["facts"])
            seq = d["seq"]
        lines.append(json.dumps(d))
    dst.write_text("\n".join(lines) + "\n")
    assert seq is not None
    return seq


@pytest.mark.parametrize("gate_mode", GATE_MODES)
def test_altered_facts_diverge_at_that_verdict(recorded, tmp_path, gate_mode):
    bad = tmp_path / "altered.jsonl"
    seq = _alter(recorded["retry_then_accept"], bad, "ptq", lambda f: f.update({"pass": True}))
    rep = replay_transcript(bad, gate_mode=gate_mode)
    assert rep.divergence is not None and rep.exit_code == 1
    assert rep.divergence.seq == seq
    assert rep.divergence.expected["pass"] is False and rep.divergence.found["pass"] is True
    assert rep.divergence.expected["failure_class"] == "SIZE_NOT_REDUCED"


@pytest.mark.parametrize("gate_mode", GATE_MODES)
def test_altered_facts_that_crash_the_gate_diverge_with_gate_error(recorded, tmp_path, gate_mode):
    bad = tmp_path / "crashing.jsonl"
    seq = _alter(recorded["retry_then_accept"], bad, "compare", lambda f: f.update({"crash": True}))
    rep = replay_transcript(bad, gate_mode=gate_mode)
    assert rep.divergence is not None and rep.divergence.seq == seq and rep.exit_code == 1
    assert rep.divergence.expected["pass"] is True
    assert rep.divergence.found["pass"] is False and rep.divergence.found["failure_class"] == "GATE_ERROR"


def test_regate_with_another_threshold_reports_the_new_decision(recorded):
    stricter = replay_transcript(recorded["retry_then_accept"], threshold=0.001)
    assert stricter.divergence is None and stricter.decision == "REGRESSION" and stricter.exit_code == 10
    assert stricter.regated[0]["recorded"]["decision"] == "ACCEPT"
    looser = replay_transcript(recorded["regression"], threshold=0.05)
    assert looser.decision == "ACCEPT" and looser.exit_code == 0
    assert "not run in the record" in looser.detail


def test_fork_continues_live_with_another_provider(recorded, tmp_path):
    path = recorded["retry_then_accept"]
    events = [json.loads(x) for x in path.read_text().splitlines()[1:]]
    first_fail = next(e["seq"] for e in events if e["type"] == "tool_result" and e["is_error"])
    skills = [FakeSkill("quantize", [{}]), FakeSkill("compare", [{"facts": {"drop": 0.5, "threshold": 0.01}}])]
    rep = replay_transcript(
        path, fork_at=first_fail, provider=AutopilotProvider(skills), skills=skills, workspace=str(tmp_path / "fork")
    )
    assert rep.decision == "REGRESSION" and rep.exit_code == 10
    forked = [json.loads(x) for x in (tmp_path / "fork" / "transcript.jsonl").read_text().splitlines()[1:]]
    # the first quantize attempt is served from the record, the rest ran live
    assert [e["stage"] for e in forked if e["type"] == "skill_started"] == ["quantize", "quantize", "compare"]
    assert len(skills[0].calls) == 1 and len(skills[1].calls) == 1
    assert rep.forked_workspace == str(tmp_path / "fork")
    assert rep.gates_mode == "in-process" and "live gates as processes" in rep.detail


def test_interrupt_then_resume_in_process_and_replay_both_segments(tmp_path):
    steering = Steering()
    calls = {"n": 0}

    def respond(req):
        calls["n"] += 1
        if req.stage == "compare":
            steering.abort("stop here")
        return tool_use(req.stage, {})

    skills = [FakeSkill("quantize"), FakeSkill("compare")]
    r = H.run(tmp_path, skills, ScriptedProvider(respond), steering=steering)
    assert r.decision == "INTERRUPTED"
    out = resume_run(
        str(r.workspace.root),
        provider=H.operator_script(skills),
        skills=skills,
        approver=NoHumanApprover(),
        gate_prefix=H.FAKE_GATES,
    )
    assert out.decision == "ACCEPT"
    assert (r.workspace.root / "stages/quantize/attempt-2").exists() is False
    rep = replay_transcript(r.workspace.transcript_path)
    assert rep.divergence is None and rep.segments == 2 and rep.decision == "ACCEPT"
    with pytest.raises(ResumeError, match="already has its decision"):
        resume_run(str(r.workspace.root), provider=H.operator_script(skills), skills=skills, approver=NoHumanApprover())


def test_resume_reruns_a_stage_whose_artifacts_changed(tmp_path):
    steering = Steering()

    def respond(req):
        if req.stage == "compare":
            steering.abort("stop")
        return tool_use(req.stage, {})

    skills = [FakeSkill("quantize"), FakeSkill("compare")]
    r = H.run(tmp_path, skills, ScriptedProvider(respond), steering=steering)
    (r.workspace.root / "stages/quantize/attempt-1/artifact.txt").write_text("tampered")
    events = []
    out = resume_run(
        str(r.workspace.root),
        provider=H.operator_script(skills),
        skills=skills,
        approver=NoHumanApprover(),
        gate_prefix=H.FAKE_GATES,
        listeners=[events.append],
    )
    assert out.decision == "ACCEPT"
    assert [e.stage for e in events if e.type == "skill_started"] == ["quantize", "compare"]
    assert any("runs again" in e.message for e in events if e.type == "warning")


def test_resume_after_budget_with_a_larger_budget(tmp_path):
    skills = [FakeSkill("quantize", [fail("SIZE_NOT_REDUCED"), {}]), FakeSkill("compare")]
    r = H.run(tmp_path, skills, H.operator_script(skills), cfg={"budgets": {"max_turns": 1}})
    assert r.decision == "BUDGET_EXHAUSTED"
    out = resume_run(
        str(r.workspace.root),
        provider=H.operator_script(skills),
        skills=skills,
        approver=NoHumanApprover(),
        gate_prefix=H.FAKE_GATES,
        overrides={"budgets.max_turns": 10},
    )
    assert out.decision == "ACCEPT" and out.budget["turns"] == 3  # the first segment's turn counts
    assert (r.workspace.root / "decision.superseded-1.json").exists()


def test_autopilot_drives_repairs_and_declares_infeasible(tmp_path):
    def no_repair(ctx, last):
        return {"recipe": "fp8"} if last is None else None

    skills = [FakeSkill("quantize", [fail("SIZE_NOT_REDUCED"), {}]), FakeSkill("compare")]
    r = H.run(tmp_path / "a", skills, AutopilotProvider(skills))
    assert r.decision == "ACCEPT"
    assert [c["recipe"] for c in skills[0].calls] == ["fp8", "int8_sq"]  # the operator's repair
    skills2 = [FakeSkill("quantize", [fail("SIZE_NOT_REDUCED")], operator=no_repair), FakeSkill("compare")]
    r2 = H.run(tmp_path / "b", skills2, AutopilotProvider(skills2))
    assert r2.decision == "INFEASIBLE" and "No honest repair" in r2.outcome.reason
    skills3 = [FakeSkill("quantize", [skill_fail("INFRA_TRANSIENT"), {}]), FakeSkill("compare")]
    r3 = H.run(tmp_path / "c", skills3, AutopilotProvider(skills3))
    assert r3.decision == "ACCEPT" and skills3[0].calls[0] == skills3[0].calls[1]  # retry_once: same call


def test_autopilot_asks_a_person_when_it_has_no_repair(tmp_path):
    skills = [
        FakeSkill("quantize"),
        FakeSkill("compare", [fail("INDETERMINATE")], operator=lambda c, last: None if last else {}),
    ]
    r = H.run(tmp_path, skills, AutopilotProvider(skills), approver=QueueApprover(["approve", ("answer", "hm")]))
    assert r.decision == "NEEDS_HUMAN"
    assert [e.kind for e in r.of("approval_requested")] == ["approval", "question"]


def test_a_run_judged_by_the_real_gates_and_replayed(tmp_path):
    skills = [
        FakeSkill("compare", [{"facts": REAL_COMPARE}]),
        FakeSkill("audits", [{"facts": REAL_VERBOSITY}], gates=["verbosity"]),
    ]
    plan = plan_stages(
        {"compare": ["compare"], "audits": ["audits"]}, {"compare": ["compare"], "audits": ["verbosity"]}
    )
    cfg = H.config(tmp_path)
    from conductor.engine.session import run_session

    events = []
    out = run_session(cfg, H.operator_script(skills), skills, NoHumanApprover(), listeners=[events.append], plan=plan)
    assert out.decision == "ACCEPT", out.reason
    v = [e for e in events if e.type == "gate_verdict"]
    assert [x.gate for x in v] == ["compare", "verbosity"] and v[0].verdict.evidence["decision"] == "ACCEPT"
    rep = replay_transcript(Path(out.transcript))
    assert rep.divergence is None and rep.gates_rerun == 2
    assert replay_transcript(Path(out.transcript), threshold=0.001).decision == "REGRESSION"
