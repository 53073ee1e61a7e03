"""The stage rail shows a running stage's SLURM job (state, node or the scheduler's reason)."""

from __future__ import annotations

from conductor.engine.stages import Status
from conductor.transcript.events import SkillJob
from conductor.tui.model import RunModel
from conductor.tui.widgets.rail import stage_note


def test_a_running_stage_shows_its_job_and_a_queued_one_the_reason():
    m = RunModel()
    m.stages["quantize"].status = Status.RUNNING
    m.apply(SkillJob(seq=1, ts="2026-12-03T00:00:00Z", stage="quantize", skill="quantize", job_id=41,
                     state="PENDING", reason="Resources"))
    assert stage_note(m.stages["quantize"], 26).plain == "  job 41 PENDING Resources"
    m.apply(SkillJob(seq=2, ts="2026-12-03T00:00:01Z", stage="quantize", skill="quantize", job_id=41,
                     state="RUNNING", node="gpu07"))
    assert stage_note(m.stages["quantize"], 26).plain == "  job 41 RUNNING gpu07"
    m.stages["quantize"].status = Status.SEALED
    assert stage_note(m.stages["quantize"], 26) is None  # a finished stage shows no job line
