"""SlurmExecutor pieces that need no cluster: the protocol, following a growing output file, and a
scheduler outage (a fake CLI: the real controller cannot be taken down under the other tests)."""

from __future__ import annotations

import time

from conductor.executor import MAX_LINE, Executor, ProcessOutcome
from conductor.slurm import JobStatus, SlurmExecutor, SlurmOutcome, SlurmSettings, SubmittedJob
from conductor.slurm.executor import FileTail
from conductor.slurm.scheduler import SlurmCLI


def test_slurm_executor_is_an_executor_and_its_outcome_a_process_outcome(tmp_path):
    assert isinstance(SlurmExecutor(state_dir=tmp_path / "s"), Executor)
    out = SlurmOutcome(exit_code=0, duration_s=1.0, failure_class=None, finding="COMPLETED")
    assert isinstance(out, ProcessOutcome) and (tmp_path / "s").is_dir()


def test_file_tail_returns_complete_lines_as_the_file_grows(tmp_path):
    f = tmp_path / "job.out"
    tail = FileTail(str(f))
    assert tail.read_lines() == []  # not created yet: the job has not started
    f.write_bytes(b"one\ntw")
    assert tail.read_lines() == ["one"]
    with f.open("ab") as fh:
        fh.write(b"o\r\nthree")
    assert tail.read_lines() == ["two"]
    assert tail.read_lines(final=True) == ["three"] and tail.read_lines(final=True) == []


def test_file_tail_cuts_a_line_without_end_and_survives_bad_bytes(tmp_path):
    f = tmp_path / "job.out"
    f.write_bytes(b"x" * (MAX_LINE * 2 + 5) + b"\n\xff\xfeok\n")
    lines = FileTail(str(f)).read_lines()
    assert [len(x) for x in lines[:3]] == [MAX_LINE, MAX_LINE, 5] and lines[3].endswith("ok")


class SilentCluster(SlurmCLI):
    """A cluster whose squeue and sacct stop answering (the controller is restarting) after the
    job was seen running; then answer again, or never. Only scancel is recorded."""

    def __init__(self, answers_again_after: int | None):
        super().__init__()
        self.calls, self.cancelled, self.again = 0, [], answers_again_after

    def status(self, job_id: int) -> JobStatus | None:
        self.calls += 1
        if self.calls == 1:
            return JobStatus(job_id=job_id, state="RUNNING", node="n1")
        if self.again is not None and self.calls > self.again:
            return JobStatus(job_id=job_id, state="COMPLETED", node="n1", exit_code=0)
        return None

    def scancel(self, ids) -> tuple[bool, str]:
        self.cancelled += list(ids)
        return True, ""


def follow(tmp_path, cli: SlurmCLI, monkeypatch, unknown_s: float):
    monkeypatch.setattr("conductor.slurm.executor.UNKNOWN_S", unknown_s)
    ex = SlurmExecutor(SlurmSettings(poll_s=0.05), state_dir=tmp_path, cli=cli)
    job = SubmittedJob(job_id=7, name="conductor:x:quantize", run_tag="x", script="s",
                       output=str(tmp_path / "o"), submitted_at=time.time() - 3600)  # submitted an hour ago
    return ex.attach(job)


def test_a_scheduler_outage_is_waited_out_not_taken_for_a_lost_job(tmp_path, monkeypatch):
    cli = SilentCluster(answers_again_after=8)
    out = follow(tmp_path, cli, monkeypatch, unknown_s=5.0)
    assert out.finding == "COMPLETED" and cli.cancelled == []


def test_a_job_nobody_knows_for_long_is_reported_lost_and_cancelled(tmp_path, monkeypatch):
    cli = SilentCluster(answers_again_after=None)
    out = follow(tmp_path, cli, monkeypatch, unknown_s=1.0)
    assert out.failure_class == "UNKNOWN" and out.status.state == "UNKNOWN" and cli.cancelled == [7]
