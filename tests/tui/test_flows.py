"""Pilot tests: what a person does in the TUI, end to end, with the run in its worker thread.

Recorded runs come from the curated transcripts (recorded through the real loop by
scripts/record_transcripts.py); the live run with text deltas and log lines, which no transcript
keeps, is a synthetic one (tests/tui/synthetic.py)."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from textual.widgets import DataTable, Input, Log, Static

from conductor.tui.bridge import CoreRun, ScriptedRun
from conductor.tui.replay_model import Divergence
from conductor.tui.screens.modals import ApprovalModal, ConfirmModal
from conductor.tui.screens.replay import ReplayScreen
from conductor.tui.screens.report import ReportScreen
from conductor.tui.screens.run import RunScreen
from conductor.tui.screens.start import StartScreen
from conductor.tui.widgets import Conversation, StageRail, Timeline
from tests.tui import synthetic as mk
from tests.tui.conftest import (
    ALTERED,
    APPROVAL,
    PASS,
    REPAIR,
    clock_at,
    curated,
    make_app,
    recorded,
    settled,
    until,
)

pytestmark = [pytest.mark.timeout(120), pytest.mark.anyio]


def run_screen(app) -> RunScreen:
    return next(s for s in app.screen_stack if isinstance(s, RunScreen))


def kinds(screen: RunScreen) -> list[str]:
    return [i.kind for i in screen.model.items]


# -- a live run (scripted source: recorded events played as they happen) ---------------------------


async def test_live_run_streams_batches_and_ends_with_the_decision():
    events = mk.passing().events  # with the live-only events: text deltas, log lines, progress, budget
    app = make_app(source=ScriptedRun(events), header=mk.passing().header().model_dump(mode="json"))
    async with app.run_test(size=(100, 32)) as pilot:
        await settled(pilot)
        screen = run_screen(app)
        assert screen.exit_code == 0 and app.exit_code == 0
        assert [st.status for st in screen.model.stages.values()] == ["sealed"] * 8
        assert screen.flush_count < len(events) / 4, "events must be folded in batches, not one by one"
        assert len(screen.query_one(Conversation).children) == len(screen.model.items)
        assert screen.query_one(Log).line_count > 10
        assert "ACCEPT" in str(screen.query_one("#status").render())
        await pilot.press("r")
        assert isinstance(app.screen, ReportScreen)
        assert app.screen.query_one("#tasks", DataTable).row_count == 2
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("q")
    assert app.return_value == 0


async def test_a_recorded_transcript_opens_read_only():
    app = make_app(transcript=curated(REPAIR))
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        screen = run_screen(app)
        assert not screen.live and screen.query_one("#steer", Input).has_class("-hidden")
        assert [st.status for st in screen.model.stages.values()] == ["sealed"] * 8
        gates = [i for i in screen.model.items if i.kind == "gate"]
        assert [(g.title, g.ok) for g in gates[:2]] == [("ptq", False), ("ptq", True)]
        assert gates[0].data["failure_class"] == "QUANT_COVERAGE_FAILURE"
        assert screen.exit_code == 0 and screen.model.report.decision == "ACCEPT"
        await pilot.press("a", "p")  # no-ops on a recording
        assert not isinstance(app.screen, ConfirmModal) and not screen.model.paused


# -- human in the loop -------------------------------------------------------------------------


def approval_run() -> tuple:
    """The recorded approval run played live: eval_run's REPORTED_MISMATCH on the candidate asks a person."""
    t = recorded(APPROVAL)
    return ScriptedRun(t.events), t.header, clock_at(t.events[0].ts, 60)


async def _answer_approval(keys: list[str]):
    run, header, clock = approval_run()
    app = make_app(source=run, header=header, clock=clock)
    async with app.run_test(size=(100, 32)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ApprovalModal), what="the approval modal")
        await pilot.pause()
        modal = app.screen
        assert "REPORTED_MISMATCH" in modal.view.question and modal.view.stage == "eval_candidate"
        await pilot.press(*keys)
        await settled(pilot)
        screen = run_screen(app)
        card = next(i for i in screen.model.items if i.kind == "approval")
        return card.data, screen


async def test_approve():
    data, screen = await _answer_approval(["ctrl+a"])
    assert (data["answer"], data["by"]) == ("approve", "human")
    assert screen.exit_code == 0 and screen.model.report.decision == "ACCEPT"  # the record goes on: re-run, ACCEPT


async def test_deny_with_a_note():
    data, _ = await _answer_approval([*"too noisy", "ctrl+d"])
    assert (data["answer"], data["text"], data["by"]) == ("deny", "too noisy", "human")


async def test_answer_with_text():
    data, _ = await _answer_approval([*"run 13000 samples", "enter"])
    assert (data["answer"], data["text"]) == ("answer", "run 13000 samples")


async def test_answering_needs_text_and_the_modal_stays_until_answered():
    run, _, clock = approval_run()
    app = make_app(source=run, clock=clock)
    async with app.run_test(size=(100, 32)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ApprovalModal), what="the approval modal")
        await pilot.press("enter", "escape")
        assert isinstance(app.screen, ApprovalModal)
        await pilot.press("ctrl+a")
        await settled(pilot)


# -- steering, pause, abort on a run in progress ---------------------------------------------------


def blocked_run() -> tuple[ScriptedRun, int]:
    """The recorded passing run played live, held before serve opens (a run in progress)."""
    events = recorded(PASS).events
    at = next(i for i, e in enumerate(events) if e.type == "stage_opened" and e.stage == "serve")
    return ScriptedRun(events, block_at=at), at


def live_clock():
    return clock_at(recorded(PASS).events[0].ts, 60)


async def test_steer():
    run, _ = blocked_run()
    app = make_app(source=run, clock=live_clock())
    async with app.run_test(size=(100, 32)) as pilot:
        screen = run_screen(app)
        await until(pilot, lambda: screen.model.stages["quantize"].status == "sealed", what="quantize sealed")
        await pilot.press("s")
        assert screen.query_one("#steer", Input).has_focus
        await pilot.press(*"use int8_sq next", "enter")
        await until(pilot, lambda: "human" in kinds(screen), what="the steering message")
        human = next(i for i in screen.model.items if i.kind == "human")
        assert human.body == "use int8_sq next"
        assert screen.query_one("#steer", Input).value == ""
        assert screen.query_one(Conversation).has_focus, "enter sends and gives the keys back"
        await pilot.press("s", "x", "escape")
        assert screen.query_one(Conversation).has_focus and screen.query_one("#steer", Input).value == "x"
        run.release()
        await settled(pilot)
        assert screen.exit_code == 0


async def test_pause_and_resume():
    run, _ = blocked_run()
    app = make_app(source=run, clock=live_clock())
    async with app.run_test(size=(100, 32)) as pilot:
        screen = run_screen(app)
        await until(pilot, lambda: screen.model.stages["quantize"].status == "sealed", what="quantize sealed")
        await pilot.press("p")
        await until(pilot, lambda: screen.model.paused, what="paused")
        assert "PAUSED" in str(screen.query_one("#status").render())
        run.release()
        await pilot.pause(0.2)
        assert screen.model.stages["serve"].status == "pending", "a paused run does not move on"
        await pilot.press("p")
        await settled(pilot)
        assert not screen.model.paused and screen.exit_code == 0
        assert [i.body for i in screen.model.items if i.kind == "paused"] == ["paused", "resumed"]


async def test_abort_asks_first_then_stops_the_run():
    run, _ = blocked_run()
    app = make_app(source=run, clock=live_clock())
    async with app.run_test(size=(100, 32)) as pilot:
        screen = run_screen(app)
        await until(pilot, lambda: screen.model.stages["quantize"].status == "sealed", what="quantize sealed")
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        assert app.screen is screen and screen.running
        await pilot.press("a", "y")
        await settled(pilot)
        assert screen.exit_code == 130 and app.exit_code == 130
        assert screen.model.report.decision == "INTERRUPTED"
        assert screen.model.stages["serve"].status == "pending"


async def test_quit_while_running_aborts_and_exits_130():
    run, _ = blocked_run()
    app = make_app(source=run, clock=live_clock())
    async with app.run_test(size=(100, 32)) as pilot:
        screen = run_screen(app)
        await until(pilot, lambda: screen.model.stages["quantize"].status == "sealed", what="quantize sealed")
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        for _ in range(100):
            if not app.is_running:
                break
            await asyncio.sleep(0.05)
    assert app.return_value == 130 and app.exit_code == 130


# -- replay viewer ---------------------------------------------------------------------------------


async def test_replay_stepping_and_jumps():
    app = make_app(transcript=curated(REPAIR), replay=True)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        tl = screen.query_one(Timeline)
        rp = screen.replay
        assert tl.cursor == 0
        await pilot.press("right", "right", "n")
        assert tl.cursor == 3 and rp.cursor == 3
        await pilot.press("left", "b")
        assert tl.cursor == 1
        await pilot.press("f")
        assert rp.events[tl.cursor].type == "gate_verdict"
        assert rp.events[tl.cursor].verdict.failure_class == "QUANT_COVERAGE_FAILURE"
        failure = tl.cursor
        assert screen.query_one(StageRail)._stages["quantize"].status == "failed"
        await pilot.press("right")  # the loop's order: verdict, retry, then the failed tool result
        assert rp.events[tl.cursor].type == "stage_retry"
        assert screen.query_one(StageRail)._stages["quantize"].label == "retrying (1 of 2)"
        await pilot.press("g")
        assert rp.events[tl.cursor].type == "gate_verdict" and rp.events[tl.cursor].verdict.passed
        await pilot.press("G")
        assert tl.cursor == failure
        await pilot.press("end")
        assert tl.cursor == len(rp) - 1
        await pilot.press("home")
        assert tl.cursor == 0
        await pilot.press("d")  # no divergence: a notice, the cursor stays
        assert tl.cursor == 0
        assert "step 1/" in str(screen.query_one("#position", Static).render())


async def test_replay_shows_the_divergence():
    seq = int(curated(ALTERED).with_suffix(".seq").read_text())
    div = Divergence(seq=seq, expected={"pass": True}, found={"pass": False, "failure_class": "ACCURACY_REGRESSION"})
    app = make_app(transcript=curated(ALTERED), replay=True, divergence=div)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = app.screen
        tl = screen.query_one(Timeline)
        assert screen.replay.events[tl.cursor].seq == seq, "the viewer opens on the divergence"
        body = str(screen.query_one("#detail-body", Static).render())
        assert "diverged" in body and "ACCURACY_REGRESSION" in body
        await pilot.press("home", "d")
        assert screen.replay.events[tl.cursor].seq == seq


async def test_regate_prompt_validates_the_threshold():
    """On a recorded run: an invalid threshold is refused in the prompt; a valid one re-gates the
    recorded compare facts with the real gate (0.5% cannot be resolved on tasks this small)."""
    app = make_app(transcript=curated(PASS), replay=True)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("t")
        await pilot.press(*"2", "enter")
        assert "between 0 and 1" in str(app.screen.query_one("#threshold-error", Static).render())
        await pilot.press("backspace", *"0.5%", "enter")
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, ReplayScreen) and screen.regate_note.startswith("at 0.005")
        await until(pilot, lambda: "running" not in screen.regate_note, timeout=90, what="the re-gated decision")
        # compare at 0.005 is INDETERMINATE, which asks a person; nobody answers in a replay
        assert "NEEDS_HUMAN" in screen.regate_note and "recorded ACCEPT" in screen.regate_note


# -- start form ------------------------------------------------------------------------------------


async def test_start_form_shows_config_errors_inline():
    app = make_app(source_factory=lambda cfg: pytest.fail("must not start"))
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, StartScreen)
        await pilot.click("#threshold")
        await pilot.press(*"1.5", "ctrl+s")
        err = str(app.screen.query_one("#error", Static).render())
        assert "threshold" in err and app.screen.query_one("#threshold").has_class("-invalid")
        await pilot.click("#threshold")
        await pilot.press(*["backspace"] * 3, *"abc", "enter")
        assert "threshold" in str(app.screen.query_one("#error", Static).render())


async def test_start_form_takes_calibration_and_eval_limit_and_names_them_when_wrong():
    started = []
    app = make_app(source_factory=lambda cfg: started.append(cfg) or pytest.fail("must not start"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.click("#eval_limit")
        await pilot.press("0", "ctrl+s")
        err = str(app.screen.query_one("#error", Static).render())
        assert "eval.limit" in err and app.screen.query_one("#eval_limit").has_class("-invalid")
    from conductor.engine.config import load_config
    from conductor.tui.screens.start import form_overrides

    cfg = load_config(overrides=form_overrides({"calib_size": " 8 ", "eval_limit": "5"}, None)[1])
    assert (cfg.calib_size, cfg.eval.limit) == (8, 5)


async def test_start_form_starts_a_run_with_a_scripted_provider(tmp_path, monkeypatch):
    """The whole chain: form -> config -> the core's run loop (scripted provider, fake skills and
    gates) in the worker -> events -> the run screen."""
    from tests.fakes import harness as H
    from tests.fakes.skills import chain

    monkeypatch.chdir(tmp_path)
    skills = chain()
    started = {}

    def factory(cfg):
        started["config"] = cfg
        return CoreRun(cfg, provider=H.operator_script(skills), skills=skills,
                       session_kwargs={"gate_prefix": H.FAKE_GATES})

    app = make_app(source_factory=factory)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.click("#recipe")
        await pilot.press(*"int8_sq")
        await pilot.click("#threshold")
        await pilot.press(*"0.5%", "enter")
        await until(pilot, lambda: any(isinstance(s, RunScreen) for s in app.screen_stack), what="the run screen")
        await settled(pilot)
        screen = run_screen(app)
        assert started["config"].recipe == "int8_sq" and started["config"].threshold == 0.005
        assert screen.exit_code == 0 and screen.model.report.decision == "ACCEPT"
        sealed = [n for n, st in screen.model.stages.items() if st.status == "sealed"]
        assert "quantize" in sealed and "compare" in sealed
        assert any(i.kind == "gate" for i in screen.model.items)


async def test_core_run_steer_pause_and_abort(tmp_path, monkeypatch):
    """Steering, pause and abort reach the real loop through the bridge; abort ends INTERRUPTED."""
    from conductor.providers.scripted import ScriptedProvider, tool_use
    from tests.fakes import harness as H
    from tests.fakes.skills import chain

    monkeypatch.chdir(tmp_path)
    skills = chain()
    hold = {"serve": threading.Event(), "eval_baseline": threading.Event()}
    seen = []

    def respond(req):
        seen.append(req)
        if req.stage in hold:
            hold[req.stage].wait(20)  # the test moves the run on, stage by stage
        return tool_use(next(s.name for s in skills if s.stage == req.stage), {"recipe": "fp8"})

    cfg = H.config(tmp_path)
    run = CoreRun(cfg, provider=ScriptedProvider(respond), skills=skills, session_kwargs={"gate_prefix": H.FAKE_GATES})
    app = make_app(source=run, header={"config": cfg.model_dump(mode="json")})
    async with app.run_test(size=(100, 32)) as pilot:
        screen = run_screen(app)
        await until(pilot, lambda: screen.model.stages["serve"].status == "running", what="serve open")
        await pilot.press("s", *"keep the canary", "enter", "p")
        hold["serve"].set()
        await until(pilot, lambda: screen.model.paused, what="the loop to pause between turns")
        assert "PAUSED" in str(screen.query_one("#status").render())
        await pilot.press("p")
        await until(pilot, lambda: "human" in kinds(screen), what="the steering message")
        assert next(i for i in screen.model.items if i.kind == "human").body == "keep the canary"
        await until(pilot, lambda: screen.model.stages["eval_baseline"].status == "running", what="eval_baseline")
        await until(pilot, lambda: seen[-1].stage == "eval_baseline", what="the eval_baseline turn")
        assert "keep the canary" in json.dumps(seen[-1].messages), "the agent reads the message on its next turn"
        await pilot.press("a", "y")
        hold["eval_baseline"].set()
        await settled(pilot)
        assert screen.exit_code == 130 and screen.model.report.decision == "INTERRUPTED"
        assert run.outcome.decision == "INTERRUPTED"


# -- the core's replay, from the viewer ------------------------------------------------------------


def _recorded_run(tmp_path) -> tuple:
    """A run recorded by the real loop (fake skills and gates), and a copy whose compare facts
    were altered so that re-deciding them disagrees with the recorded verdict."""
    from tests.fakes import harness as H
    from tests.fakes.skills import FakeSkill

    skills = [FakeSkill("quantize"), FakeSkill("compare", [{"facts": {"drop": 0.005, "threshold": 0.01}}])]
    r = H.run(tmp_path / "rec", skills, H.operator_script(skills))
    assert r.decision == "ACCEPT"
    src = r.workspace.transcript_path
    bad, seq = tmp_path / "altered.jsonl", None
    lines = []
    for line in src.read_text().splitlines():
        d = json.loads(line)
        if d.get("type") == "gate_verdict" and d["gate"] == "compare":
            d["facts"]["drop"], seq = 0.05, d["seq"]
        lines.append(json.dumps(d))
    bad.write_text("\n".join(lines) + "\n")
    return src, bad, seq


async def test_viewer_verifies_with_the_core_replay_and_regates(tmp_path):
    good, bad, seq = _recorded_run(tmp_path)
    app = make_app(transcript=bad, replay=True, verify=True)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = app.screen
        await until(pilot, lambda: "DIVERGED" in screen.replay_status, timeout=60, what="the replay's divergence")
        await pilot.pause(0.1)
        tl = screen.query_one(Timeline)
        assert screen.replay.events[tl.cursor].seq == seq
        assert "diverged" in str(screen.query_one("#detail-body", Static).render())
    app = make_app(transcript=good, replay=True, verify=True)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.replay_status.startswith("verified"), timeout=60, what="verification")
        await pilot.press("t", *"0.001", "enter")
        await until(pilot, lambda: "REGRESSION" in screen.regate_note, timeout=60, what="the re-gated decision")
        assert "recorded ACCEPT" in screen.regate_note


async def test_hand_made_transcripts_are_not_replayed(tmp_path):
    path = mk.passing().write(tmp_path / "synthetic_pass.jsonl")
    app = make_app(transcript=path, replay=True, verify=True)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause(0.1)
        assert app.screen.replay_status.startswith("not verifiable")


async def test_quit_from_the_report_still_asks_to_abort_a_live_run():
    run, _ = blocked_run()
    app = make_app(source=run, clock=live_clock())
    async with app.run_test(size=(100, 32)) as pilot:
        screen = run_screen(app)
        await until(pilot, lambda: screen.model.stages["quantize"].status == "sealed", what="quantize sealed")
        await pilot.press("r")
        assert isinstance(app.screen, ReportScreen)
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        assert app.screen is screen and screen.running
        run.release()
        await settled(pilot)
