"""Snapshots (pytest-textual-snapshot) rendered from the curated transcripts in transcripts/.

Deterministic: fixed terminal sizes, no cursor blink, the injected clock (the status line's elapsed
time and the running stage's duration come from it), runs finished before the picture is taken.
Update after a deliberate change: `pytest tests/tui/test_snapshots.py --snapshot-update`, then
look at the SVGs in tests/tui/__snapshots__/.
"""

from __future__ import annotations

import pytest

from conductor.tui.bridge import ScriptedRun, load_transcript
from conductor.tui.replay_model import Divergence
from conductor.tui.screens.modals import ApprovalModal
from tests.tui.conftest import TRANSCRIPTS, make_app, settled, until

pytestmark = pytest.mark.timeout(120)


def test_passing_run(snap_compare):
    """A passing run, recorded: every stage sealed, the ACCEPT decision card, the status line."""
    app = make_app(transcript=TRANSCRIPTS / "tui_pass.jsonl")
    assert snap_compare(app, terminal_size=(100, 32), run_before=settled)


def test_gate_failure_and_repair_80x24(snap_compare):
    """quantize failed QUANT_COVERAGE_FAILURE, was repaired and sealed; serve is running. At 80x24,
    scrolled up to the failed gate card and the retry line."""
    app = make_app(transcript=TRANSCRIPTS / "tui_repair.jsonl")

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
    """compare was INDETERMINATE; the conductor asks the person: the approval modal over the run."""
    t = load_transcript(TRANSCRIPTS / "tui_approval.jsonl")  # the committed record, played live
    app = make_app(source=ScriptedRun(t.events), header=t.header)

    async def modal_open(pilot):
        await until(pilot, lambda: isinstance(pilot.app.screen, ApprovalModal), what="the modal")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(100, 32), run_before=modal_open)


def test_replay_divergence(snap_compare):
    """The replay viewer opened on a transcript whose compare facts were altered: the divergent
    verdict highlighted in the timeline, expected vs found in the detail pane."""
    seq = int((TRANSCRIPTS / "tui_divergence.seq").read_text())
    div = Divergence(seq=seq, expected={"pass": True, "failure_class": None},
                     found={"pass": False, "failure_class": "ACCURACY_REGRESSION"})
    app = make_app(transcript=TRANSCRIPTS / "tui_divergence.jsonl", replay=True, divergence=div)
    assert snap_compare(app, terminal_size=(100, 32))


def test_report_screen(snap_compare):
    """A finished run (REGRESSION on one task): the per-task table, the delta chart, every gate."""
    app = make_app(transcript=TRANSCRIPTS / "tui_report.jsonl")

    async def report(pilot):
        await settled(pilot)
        await pilot.press("r")
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=(100, 32), run_before=report)
