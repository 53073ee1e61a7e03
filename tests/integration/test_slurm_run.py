"""The engine on SLURM: whole runs (the real loop, fake skills and gates, a scripted agent) whose skill
attempts are batch jobs on the real single-node cluster (`executor: slurm`)."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest

from conductor.app.headless import describe_event
from conductor.engine.config import ConfigError
from conductor.engine.steering import Steering
from conductor.replay.replayer import replay_transcript
from conductor.tui.model import RunModel
from tests import slurm_cluster as cluster_fixture
from tests.fakes import harness as H
from tests.fakes.skills import FakeSkill

slurm_cluster = cluster_fixture.slurm_cluster  # the session fixture: a real cluster, started when needed

pytestmark = [pytest.mark.integration, pytest.mark.slurm, pytest.mark.timeout(600),
              pytest.mark.usefixtures("slurm_cluster")]

ON_SLURM = {"executor": "slurm", "slurm.poll_s": 0.5}


def jobs_named(tag: str) -> list[str]:
    """'<id> <state> <name>' of every job whose name holds the run tag, from the accounting records."""
    out = subprocess.run(["sacct", "-n", "-X", "-P", "-S", "now-1hours", "-o", "JobIDRaw,State,JobName%80"],
                         capture_output=True, text=True, check=True).stdout
    return [" ".join(line.split("|")) for line in out.splitlines() if tag in line]


def live_jobs(tag: str) -> list[str]:
    out = subprocess.run(["squeue", "-h", "--me", "-o", "%i %T %j"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if tag in line]


def test_a_run_on_slurm_runs_every_attempt_as_a_job_and_decides(tmp_path):
    skills = [FakeSkill("quantize", [{"print_env": "SLURM_JOB_ID"}]), FakeSkill("compare")]
    r = H.run(tmp_path, skills, H.operator_script(skills), cfg=ON_SLURM)
    assert r.decision == "ACCEPT" and r.outcome.exit_code == 0
    run_id = r.of("run_started")[0].run_id
    log = "\n".join(line for e in r.of("skill_log") if e.stage == "quantize" for line in e.lines)
    job_id = next(line.split()[1] for line in log.splitlines() if line.startswith("env "))
    assert job_id.isdigit(), log  # the skill ran inside a SLURM job ...
    assert f"[slurm] job {job_id} COMPLETED" in log  # ... that the run followed to its end
    deadline = time.monotonic() + 60  # slurmdbd records lag a few seconds behind
    while len(jobs_named(run_id)) < 2 and time.monotonic() < deadline:
        time.sleep(1)
    names = jobs_named(run_id)
    assert any(n.startswith(f"{job_id} COMPLETED conductor:{run_id}:quantize") for n in names), names
    assert any(":compare" in n and "COMPLETED" in n for n in names), names
    assert (r.workspace.root / "slurm").is_dir()  # scripts and raw output beside the run
    # the transcript keeps the job ids and states (what resume and a reader need), and replays as recorded
    jobs = [e for e in r.recorded() if e.type == "skill_job"]
    assert {(e.stage, e.job_id) for e in jobs if e.state == "COMPLETED"} >= {("quantize", int(job_id))}, jobs
    assert any(e.state == "RUNNING" and e.node for e in jobs) or all(e.state != "RUNNING" for e in jobs)
    assert "quantize: SLURM job" in describe_event(jobs[0])
    assert replay_transcript(r.workspace.transcript_path).divergence is None
    model = RunModel()
    for e in r.recorded():
        model.apply(e)
    assert model.stages["quantize"].job.startswith("job ")


def test_an_abort_cancels_the_runs_jobs_and_leaves_none_behind(tmp_path):
    steering = Steering()
    skills = [FakeSkill("quantize", [{"sleep": 300}]), FakeSkill("compare")]
    started = threading.Event()

    def watch(ev) -> None:
        if ev.type == "skill_log" and any(line == "sleeping" for line in ev.lines) and not started.is_set():
            started.set()
            steering.abort("operator abort")

    t0 = time.monotonic()
    r = H.run(tmp_path, skills, H.operator_script(skills), steering=steering, cfg=ON_SLURM, listeners=[watch])
    assert started.is_set(), "the job never started sleeping"
    assert r.decision == "INTERRUPTED" and r.outcome.exit_code == 130
    assert time.monotonic() - t0 < 240
    run_id = r.of("run_started")[0].run_id
    assert live_jobs(run_id) == []  # no job left behind


def test_slurm_unreachable_is_a_config_error_before_a_run_folder_exists(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_CONF", str(tmp_path / "no-such-slurm.conf"))
    with pytest.raises(ConfigError, match="executor"):
        H.run(tmp_path, [FakeSkill("quantize")], H.operator_script([FakeSkill("quantize")]), cfg=ON_SLURM)
    assert not (tmp_path / "ws").exists()
