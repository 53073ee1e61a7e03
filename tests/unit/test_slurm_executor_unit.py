"""SlurmExecutor pieces that need no cluster: the protocol, following a growing output file."""

from __future__ import annotations

from conductor.executor import MAX_LINE, Executor, ProcessOutcome
from conductor.slurm import SlurmExecutor, SlurmOutcome
from conductor.slurm.executor import FileTail


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
