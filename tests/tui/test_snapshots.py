"""Snapshots (pytest-textual-snapshot) rendered from the curated transcripts in transcripts/: runs
recorded through the real loop by scripts/record_transcripts.py (scripted agent, real gates).

Deterministic: fixed terminal sizes, no cursor blink, runs finished before the picture is taken (a
recorded run is shown as of its last event), and where a record is played live, a clock fixed
relative to its own timestamps. Re-recording the transcripts changes their times: update after
that, or after a deliberate change, with `pytest tests/tui/test_snapshots.py --snapshot-update`,
then look at the SVGs in tests/tui/__snapshots__/.
"""

from __future__ import annotations

import pytest

from conductor.replay.replayer import verdict_key
from conductor.tui.bridge import ScriptedRun
from conductor.tui.replay_model import Divergence
from conductor.tui.screens.modals import ApprovalModal
from tests.tui.conftest import (
    ALTERED,
    APPROVAL,
    PASS,
    REGRESSION,
    REPAIR,
    clock_at,
    curated,
    make_app,
    recorded,
    settled,
    until,
)

pytestmark = pytest.mark.timeout(120)


def test_passing_run(snap_compare):
    """A passing run: every stage sealed, the ACCEPT decision card, the status line."""
    app = make_app(transcript=curated(PASS))
    assert snap_compare(app, terminal_size=(100, 32), run_before=settled)


def test_gate_failure_and_repair_80x24(snap_compare):
    """The ptq gate failed QUANT_COVERAGE_FAILURE (one matrix left in bf16), the agent read the facts,
    quantized again, and the run went on to ACCEPT. At 80x24, scrolled up to the failed gate card."""
    app = make_app(transcript=curated(REPAIR))

    async def scrolled_to_failure(pilot):
        await settled(pilot)
        from textual.widgets import Static

        from conductor.tui.widgets import Conversation

        conv = pilot.app.screen.query_one(Conversation)
        fail_card = next(w for w in conv.query(Static) if w.has_class("gate") and w.has_class("fail"))
        conv.scroll_to_widget(fail_card, animate=False, top=True)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=scrolled_to_failure)


def test_approval_modal(snap_compare):
    """eval_run found the candidate's reported score disagreeing with its samples (REPORTED_MISMATCH);
    the conductor asks the person: the approval modal over the run, the record played live."""
    t = recorded(APPROVAL)
    asked = next(e for e in t.events if e.type == "approval_requested")
    app = make_app(source=ScriptedRun(t.events), header=t.header, clock=clock_at(asked.ts, 5))

    async def modal_open(pilot):
        await until(pilot, lambda: isinstance(pilot.app.screen, ApprovalModal), what="the modal")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(100, 32), run_before=modal_open)


def altered_divergence() -> Divergence:
    """What replay finds on the altered transcript (tests/unit/test_replay_resume.py checks it does)."""
    seq = int((curated(ALTERED).with_suffix(".seq")).read_text())
    gate = next(e for e in recorded(ALTERED).events if e.seq == seq)
    return Divergence(seq=seq, expected=verdict_key(gate.verdict),
                      found={"gate": "compare", "pass": False, "failure_class": "ACCURACY_REGRESSION",
                             "decision": "REGRESSION"},
                      what="gate compare of stage compare decided differently")


def test_replay_divergence(snap_compare):
    """The replay viewer on the transcript whose compare facts were altered after the run: the
    divergent verdict highlighted in the timeline, expected vs found in the detail pane."""
    app = make_app(transcript=curated(ALTERED), replay=True, divergence=altered_divergence())
    assert snap_compare(app, terminal_size=(100, 32))


def test_report_screen(snap_compare):
    """A finished run, REGRESSION on conductor_tiny_gen: the per-task table, the delta chart, every gate."""
    app = make_app(transcript=curated(REGRESSION))

    async def report(pilot):
        await settled(pilot)
        await pilot.press("r")
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=(100, 32), run_before=report)
