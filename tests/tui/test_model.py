"""The view models fold events into UI state (run screen, report, replay viewer); no textual here."""

from __future__ import annotations

import pytest

from conductor.engine.stages import Status
from conductor.replay.replayer import Divergence
from conductor.runtime.report import TaskRow
from conductor.transcript.events import (
    ApprovalDecided,
    ApprovalRequested,
    AssistantMessage,
    BudgetUpdate,
    GateVerdict,
    RunFinished,
    StageOpened,
    StageRetry,
    TextDelta,
    Usage,
)
from conductor.tui.chart import delta_chart
from conductor.tui.model import RunModel, fmt_duration, parse_ts
from conductor.tui.replay_model import ReplayModel, event_summary
from gates.contract import check, verdict_from_checks
from gates.failure_classes import FailureClass
from tests.tui import synthetic as mk


def fold(events, header=None, **kw) -> RunModel:
    m = RunModel(header, **kw)
    m.apply_many(events)
    return m


def test_passing_run_seals_every_stage_and_reports_accept():
    s = mk.passing()
    m = fold(s.events, s.header().model_dump(mode="json"))
    assert [st.status for st in m.stages.values()] == [Status.SEALED] * 8
    assert m.finished and m.report.decision == "ACCEPT" and m.report.exit_code == 0
    assert {r.task for r in m.report.rows} == set(mk.TASKS)
    assert all(r.within for r in m.report.rows)
    assert m.report.size_ratio == pytest.approx(0.532)
    assert [g.gate for g in m.report.gates] == ["ptq", "serve", "eval_run", "eval_run", "compare", "verbosity"]
    assert m.report.recommendation.startswith("Publish")
    assert m.elapsed(now=1e12) == m.wall_s  # finished: the recorded wall time, not the clock


def test_failure_then_repair_walks_failed_retrying_sealed():
    s = mk.repair()
    m = RunModel()
    seen = []
    for e in s.events:
        m.apply(e)
        q = m.stages["quantize"]
        if not seen or seen[-1] != q.label:
            seen.append(q.label)
    assert seen == [Status.PENDING, Status.RUNNING, Status.FAILED, "retrying (1 of 2)", Status.PASSED, Status.SEALED]
    assert m.stages["serve"].status == Status.RUNNING and not m.finished
    gate_items = [i for i in m.items if i.kind == "gate"]
    assert [g.ok for g in gate_items] == [False, True]
    assert gate_items[0].data["failure_class"] == "QUANT_COVERAGE_FAILURE"
    assert any(not c.passed for c in gate_items[0].data["checks"])
    retry = next(i for i in m.items if i.kind == "retry")
    assert "retry 1 of 2" in retry.body


def test_running_stage_duration_and_elapsed_come_from_the_clock():
    s = mk.repair()
    m = fold(s.events)
    opened = m.stages["serve"].opened_ts
    assert m.stages["serve"].elapsed(now=opened + 42) == pytest.approx(42)
    assert m.elapsed(now=m.started_ts + 600) == pytest.approx(600)
    assert m.stages["quantize"].elapsed(now=None) == m.stages["quantize"].duration_s


def test_text_deltas_stream_into_one_item_then_the_message_replaces_them():
    m = RunModel()
    m.apply(StageOpened(seq=1, ts="2025-01-01T00:00:00Z", stage="quantize"))
    m.drain_dirty()
    for i, piece in enumerate(["Quanti", "zing ", "now"]):
        m.apply(TextDelta(seq=2 + i, ts="2025-01-01T00:00:01Z", turn=1, text=piece))
    assistant = [i for i in m.items if i.kind == "assistant"]
    assert len(assistant) == 1 and assistant[0].body == "Quantizing now" and assistant[0].streaming
    assert m.drain_dirty() == [1]
    m.apply(AssistantMessage(seq=9, ts="2025-01-01T00:00:02Z", turn=1, stage="quantize",
                             content=[{"type": "text", "text": "Quantizing now."}], stop_reason="end_turn",
                             usage=Usage(input_tokens=10, output_tokens=5, cache_read_input_tokens=7), cost_usd=0.5))
    assistant = [i for i in m.items if i.kind == "assistant"]
    assert len(assistant) == 1 and assistant[0].body == "Quantizing now." and not assistant[0].streaming
    b = m.budget
    assert (b.turns, b.input_tokens, b.output_tokens, b.cache_read_tokens, b.cost_usd) == (1, 10, 5, 7, 0.5)


def test_budget_events_win_and_budgets_left_are_computed():
    m = RunModel()
    m.apply(
        BudgetUpdate(
            seq=1,
            ts="",
            turns=3,
            input_tokens=1000,
            output_tokens=50,
            cache_read_tokens=900,
            cost_usd=1.25,
            elapsed_s=10,
            limits={"max_turns": 10, "max_cost_usd": 5.0, "max_wall_s": 3600},
        )
    )
    assert m.budget.left(elapsed_s=600) == {"turns": "7", "$": "3.75", "time": "50m00s"}


def test_approval_is_pending_until_decided():
    m = RunModel()
    m.apply(ApprovalRequested(seq=1, ts="", request_id="r1", stage="compare", kind="approval", question="ok?"))
    assert list(m.pending_approvals) == ["r1"]
    m.apply(ApprovalDecided(seq=2, ts="", request_id="r1", answer="deny", text="no", by="human"))
    assert not m.pending_approvals
    card = next(i for i in m.items if i.kind == "approval")
    assert card.data["answer"] == "deny" and card.ok is False


def test_run_finished_marks_a_cut_off_stage_stopped_not_failed():
    m = fold(mk.repair().events)
    m.apply(
        RunFinished(
            seq=999,
            ts="",
            decision="INTERRUPTED",
            exit_code=130,
            stage_durations_s={},
            turns=4,
            input_tokens=1,
            output_tokens=1,
            cache_read_tokens=0,
            cost_usd=0,
            wall_s=12.0,
            transcript="",
        )
    )
    assert m.stages["serve"].status == Status.STOPPED and m.report.exit_code == 130
    assert m.stages["eval_baseline"].status == Status.PENDING and m.elapsed(now=None) == 12.0


def test_report_rows_come_from_the_real_compare_evidence_and_flag_the_regression():
    s = mk.report()
    m = fold(s.events)
    rows = {r.task: r for r in m.report.rows}
    assert rows["conductor_facts_gen"].within is False and rows["conductor_facts_gen"].verdict == "REGRESSION"
    assert rows["conductor_facts_mc"].within is True
    assert rows["conductor_facts_gen"].delta == pytest.approx(0.4633 - 0.4830)
    assert m.report.decision == "REGRESSION" and m.report.exit_code == 10
    assert m.stages["compare"].status == Status.FAILED


def test_report_rows_never_decide_again_from_facts_or_other_spellings():
    """Rows are the compare gate's evidence.tasks, read by the gate's own names: a verdict without them
    shows no rows (the screen never re-decides from the facts), and other spellings are not guessed."""
    facts = mk.compare_facts({"conductor_facts_mc": 0.60, "conductor_facts_gen": 0.48})
    bare = verdict_from_checks("compare", [check("c", True, "ok")], pass_detail="ACCEPT")
    m = fold(
        [
            GateVerdict(
                seq=1,
                ts="",
                stage="compare",
                gate="compare",
                attempt=1,
                facts=facts,
                verdict=bare,
                exit_code=0,
                duration_s=0.1,
            )
        ]
    )
    assert m.report.rows == [] and m.report.gates[0].passed
    guessed = verdict_from_checks(
        "compare",
        [check("c", True, "ok")],
        pass_detail="ACCEPT",
        evidence={"per_task": {"t": {"baseline": 62.0, "candidate": 61.5, "within_threshold": True}}},
    )
    m.apply(
        GateVerdict(
            seq=2,
            ts="",
            stage="compare",
            gate="compare",
            attempt=2,
            facts=None,
            verdict=guessed,
            exit_code=0,
            duration_s=0.1,
        )
    )
    assert m.report.rows == []


def test_delta_chart_marks_threshold_zero_and_clamps():
    rows = [
        TaskRow(task="a", baseline_unit=0.5, candidate_unit=0.495, delta=-0.005, stderr_diff=0.001, within=True),
        TaskRow(task="b", baseline_unit=0.5, candidate_unit=0.40, delta=-0.10, stderr_diff=0.001, within=False),
        TaskRow(task="c", baseline_unit=0.5, candidate_unit=0.5, delta=0.0, stderr_diff=0.001, within=True),
    ]
    chart = dict(delta_chart(rows, 0.01, width=21))
    line = {k: "".join(t for t, _ in v) for k, v in chart.items()}
    assert all(len(v) == 21 for v in line.values())
    assert line["a"].index("┊") == 10 and line["a"].index("│") == 5 and "█" in line["a"]
    assert line["b"].startswith("◀") and line["b"][5] == "│" and "█" in line["b"]
    assert {st for _, st in chart["b"]} >= {"fail", "limit", "axis"}
    assert line["c"][10] in "▏▕"


def test_replay_state_at_matches_a_full_fold_everywhere():
    s = mk.repair()
    header = s.header().model_dump(mode="json")
    recorded = [e for e in s.events if not e.ephemeral]
    r = ReplayModel(header, recorded, every=4)
    for i in [0, 3, 4, 5, 11, len(recorded) - 1, 7, 2]:  # forward and back
        want = fold(recorded[: i + 1], header, keep_items=False)
        got = r.state_at(i)
        assert [(n, st.status, st.retry_n) for n, st in got.stages.items()] == [
            (n, st.status, st.retry_n) for n, st in want.stages.items()
        ]
        assert got.budget.turns == want.budget.turns


def test_replay_jumps_to_gates_failures_and_the_divergence():
    s, seq = mk.divergence()
    recorded = [e for e in s.events if not e.ephemeral]
    r = ReplayModel({}, recorded, divergence=Divergence(seq=seq, expected={"pass": True}, found={"pass": False}))
    g = r.next_gate()
    assert recorded[g].type == "gate_verdict"
    r.move(g)
    assert recorded[r.next_gate()].seq > recorded[g].seq
    assert recorded[r.divergence_index].seq == seq
    rep = mk.repair()
    rr = ReplayModel({}, [e for e in rep.events if not e.ephemeral])
    f = rr.next_failure()
    assert rr.events[f].type == "gate_verdict" and rr.events[f].verdict.failure_class == "QUANT_COVERAGE_FAILURE"


def test_every_event_has_a_summary():
    for s in (mk.passing(), mk.repair(), mk.approval(), mk.report()):
        for e in s.events:
            text, tone = event_summary(e)
            assert isinstance(text, str) and tone in {"pass", "fail", "retry", "dim", "text", "human"}


def test_formatting_helpers():
    assert fmt_duration(4.25) == "4.2s" and fmt_duration(95) == "1m35s" and fmt_duration(7300) == "2h01m"
    assert fmt_duration(None) == ""
    assert parse_ts("2025-06-02T09:00:00.000Z") == mk.T0 and parse_ts("nope") is None


def test_gate_verdict_without_facts_or_evidence_is_tolerated():
    m = RunModel()
    m.apply(StageOpened(seq=1, ts="", stage="serve"))
    crashed = verdict_from_checks(
        "serve",
        [check("gate_ran_cleanly", False, "gate crashed", failure_class=FailureClass.GATE_ERROR)],
        pass_detail="",
    )
    m.apply(
        GateVerdict(
            seq=2,
            ts="",
            stage="serve",
            gate="serve",
            attempt=1,
            facts=None,
            verdict=crashed,
            exit_code=None,
            duration_s=0.1,
        )
    )
    m.apply(StageRetry(seq=3, ts="", stage="serve", failure_class="GATE_ERROR", retries_left=1, budget_for_class=1))
    assert m.stages["serve"].status == Status.RETRYING and m.stages["serve"].label == "retrying (1 of 1)"


def test_unexpected_shapes_never_take_the_view_down(monkeypatch):
    m = RunModel()
    odd = verdict_from_checks(
        "compare",
        [check("c", True, "ok")],
        pass_detail="ACCEPT",
        evidence={"tasks": [{"task": "t", "delta": "a lot"}], "threshold": "odd"},
    )
    m.apply(
        GateVerdict(
            seq=1,
            ts="",
            stage="compare",
            gate="compare",
            attempt=1,
            facts={"drop": 0.05, "threshold": 0.01},
            verdict=odd,
            exit_code=0,
            duration_s=0.1,
        )
    )
    assert m.report.gates[0].passed and m.report.rows == [] and m.report.notes  # unreadable figures: said, not shown
    from conductor.transcript.events import StageSealed

    # a handler that breaks: a warning, not a crash
    monkeypatch.setitem(RunModel.HANDLERS, StageSealed, lambda model, e, ts: 1 / 0)
    m.apply(StageSealed(seq=2, ts="", stage="compare", artifacts={}, seal_path="", duration_s=1))
    assert "could not show event seq 2" in m.warnings[-1] and m.items[-1].kind == "warning"


# -- the curated transcripts, recorded by the real loop ---------------------------------------------


RECORDED = {  # name -> (decision, exit code, the failure classes of its failed gate verdicts, in order)
    "scripted_pass": ("ACCEPT", 0, []),
    "scripted_repair": ("ACCEPT", 0, ["QUANT_COVERAGE_FAILURE"]),
    "scripted_approval": ("ACCEPT", 0, ["REPORTED_MISMATCH"]),
    "scripted_anomalous": ("ANOMALOUS", 11, ["INFRA_TRANSIENT", "INDETERMINATE"]),
    "scripted_regression": ("REGRESSION", 10, ["ACCURACY_REGRESSION"]),
}


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_curated_transcripts_fold_to_their_decision(name):
    from tests.tui.conftest import recorded

    t = recorded(name)
    decision, code, failures = RECORDED[name]
    m = fold(t.events, t.header)
    assert m.finished and (m.report.decision, m.report.exit_code) == (decision, code)
    assert [g.data["failure_class"] for g in m.items if g.kind == "gate" and not g.ok] == failures
    assert {r.task for r in m.report.rows} == {"conductor_tiny_mc", "conductor_tiny_gen"}
    assert m.elapsed(now=1e12) == m.wall_s
    for e in t.events:
        text, tone = event_summary(e)
        assert isinstance(text, str) and tone in {"pass", "fail", "retry", "dim", "text", "human"}


def test_progress_lines_drive_the_bar_not_the_log_tail():
    from conductor.transcript.events import SkillLog, SkillProgress, SkillStarted

    m = fold(
        [
            StageOpened(stage="quantize", attempt=1, tools=["quantize"]),
            SkillStarted(stage="quantize", skill="quantize", tool_use_id="t1", argv=["q"], log_path="l"),
            SkillLog(stage="quantize", skill="quantize", lines=["PROGRESS 0.150 held-out loss", "loss 3.47"]),
            SkillProgress(stage="quantize", skill="quantize", fraction=0.15, message="held-out loss"),
        ]
    )
    assert list(m.log.lines) == ["$ q", "loss 3.47"]
    assert m.log.fraction == pytest.approx(0.15) and m.log.message == "held-out loss"
