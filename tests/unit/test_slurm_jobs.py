"""SLURM job records: parsing output recorded on the test cluster (SLURM 22.05, scripts/slurm_cluster.py)
and what each way a job ends means for the attempt. The jobs behind the recordings:
1 exit 3; 2, 11 scancel; 3 over its --mem; 4 cancelled while PENDING (BeginTime); 5 past its time
limit; 6, 7 exit 4 and 3; 8 preempted by an 'urgent' job (9); 10 its node set down; 12-14 live."""

from __future__ import annotations

from pathlib import Path

import pytest

from conductor.slurm.jobs import (
    JobStatus, SubmittedJob, classify, memory_killed, parse_duration, parse_exit, parse_sacct, parse_sbatch,
    parse_squeue, parse_time,
)

REC = Path(__file__).resolve().parents[1] / "fixtures" / "slurm"


def job(jid: int = 5, **kw) -> SubmittedJob:
    return SubmittedJob(job_id=jid, name="conductor:t:quantize", run_tag="t", script="s", output="o",
                        submitted_at=0.0, **kw)


@pytest.fixture(scope="module")
def sacct() -> dict[int, JobStatus]:
    return parse_sacct((REC / "sacct_ended.txt").read_text())


@pytest.fixture(scope="module")
def squeue() -> dict[int, JobStatus]:
    return parse_squeue((REC / "squeue_ended.txt").read_text())


def test_sacct_states_exit_codes_and_canceller(sacct):
    assert sorted(sacct) == list(range(1, 12))
    assert (sacct[1].state, sacct[1].exit_code, sacct[1].signal) == ("FAILED", 3, None)
    assert (sacct[5].state, sacct[5].signal) == ("TIMEOUT", 15)
    assert sacct[8].state == "PREEMPTED" and sacct[10].state == "NODE_FAIL"
    assert (sacct[11].state, sacct[11].cancelled_by) == ("CANCELLED", "0")
    assert sacct[4].node is None and sacct[4].start_time is None  # cancelled before it ever ran
    assert sacct[5].elapsed_s == 78 and sacct[5].end_time - sacct[5].start_time == 78
    assert sacct[7].name == "conductor:smoke:quantize:quantize"


def test_sacct_step_lines_are_not_jobs():
    with_steps = parse_sacct((REC / "sacct_with_steps.txt").read_text())
    assert sorted(with_steps) == list(range(1, 12))
    assert with_steps[11].state == "CANCELLED" and with_steps[11].cancelled_by == "0"  # the job line, not 11.batch


def test_squeue_ended_jobs_carry_the_reason_sacct_lacks(squeue, sacct):
    assert squeue[5].state == "TIMEOUT" and squeue[5].reason == "TimeLimit" and sacct[5].reason is None
    assert squeue[10].reason == "NodeDown" and squeue[1].reason == "NonZeroExitCode"
    assert squeue[7].node == "vm" and squeue[7].elapsed_s == 3
    assert all(st.exit_code is None for st in squeue.values())  # squeue has no exit code: sacct gives it


def test_live_jobs_pending_with_reason_and_running():
    sq = parse_squeue((REC / "squeue_live.txt").read_text())
    assert (sq[12].state, sq[12].reason, sq[12].node) == ("PENDING", "BeginTime", None)
    assert (sq[14].state, sq[14].reason) == ("PENDING", "Resources")
    assert sq[13].state == "RUNNING" and sq[13].node == "vm" and sq[13].end_time is None and sq[13].live
    assert sq[12].start_time is None  # a PENDING job's StartTime is only the scheduler's guess
    sa = parse_sacct((REC / "sacct_live.txt").read_text())
    assert sa[13].live and sa[13].exit_code is None and sa[13].end_time is None
    assert sq[14].line() == "job 14 PENDING (Resources), 0s" and sq[13].line() == "job 13 RUNNING on vm, 1s"


@pytest.mark.parametrize("text", ["", "garbage\n", "12|RUNNING\n", "JobID|State|x|y|z|a|b|c|d|\n"])
def test_garbage_parses_to_nothing(text):
    assert parse_squeue(text) == {} and parse_sacct(text) == {}


def test_small_parsers():
    assert parse_sbatch("42\n") == 42 and parse_sbatch("sbatch: warning: x\n43;cluster2\n") == 43
    assert parse_sbatch("sbatch: error: Invalid partition name specified") is None
    durations = ("0:02", "1:18", "02:03:04", "1-00:00:01", "INVALID")
    assert [parse_duration(t) for t in durations] == [2, 78, 7384, 86401, None]
    assert parse_exit("3:0") == (3, None) and parse_exit("0:15") == (0, 15) and parse_exit("") == (None, None)
    assert parse_time("Unknown") is None and parse_time("NONE") is None and parse_time("2026-12-03T12:17:11") > 0


def test_memory_kill_lines_from_a_real_job_output():
    lines = (REC / "memory_kill.out").read_text().splitlines()
    assert any(memory_killed(x) for x in lines)
    assert not any(memory_killed(x) for x in (REC / "timeout.out").read_text().splitlines())
    assert not memory_killed("my model exceeded memory limit expectations")  # only slurmstepd's own words


@pytest.mark.parametrize("jid, finding", [(5, "TIMEOUT"), (8, "PREEMPTED"), (10, "NODE_FAIL")])
def test_scheduler_ends_are_infra_transient(sacct, jid, finding):
    v = classify(job(jid), sacct[jid], cancelled_by_us=False)
    assert (v.failure_class, v.finding, v.timed_out) == ("INFRA_TRANSIENT", finding, finding == "TIMEOUT")


@pytest.mark.parametrize("state", ["BOOT_FAIL", "DEADLINE"])
def test_other_transient_states(state):
    v = classify(job(), JobStatus(job_id=5, state=state), cancelled_by_us=False)
    assert v.failure_class == "INFRA_TRANSIENT" and v.finding == state


def test_failed_and_completed_leave_the_decision_to_the_skill(sacct):
    for jid in (1, 9):
        v = classify(job(jid), sacct[jid], cancelled_by_us=False)
        assert v.failure_class is None and v.finding == sacct[jid].state


def test_out_of_memory_is_its_own_finding(sacct):
    killed = classify(job(3, mem="50M"), sacct[3], cancelled_by_us=False, memory_kill=True)
    assert (killed.failure_class, killed.finding) == ("SKILL_FAILED", "OUT_OF_MEMORY") and "50M" in killed.detail
    cgroup = classify(job(3), JobStatus(job_id=3, state="OUT_OF_MEMORY"), cancelled_by_us=False)
    assert cgroup.finding == "OUT_OF_MEMORY" and "default memory" in cgroup.detail
    # the same FAILED record without slurmstepd's words is the skill's own failure
    assert classify(job(3), sacct[3], cancelled_by_us=False).finding == "FAILED"


def test_cancelled_by_the_run_or_by_someone_else(sacct):
    ours = classify(job(11), sacct[11], cancelled_by_us=True)
    assert ours.cancelled and ours.failure_class is None and ours.finding == "CANCELLED_BY_RUN"
    theirs = classify(job(11), sacct[11], cancelled_by_us=False)
    assert theirs.failure_class == "UNKNOWN" and theirs.finding == "CANCELLED_BY_OTHER" and not theirs.cancelled
    assert "uid 0" in theirs.detail and "not by this run" in theirs.detail


def test_pending_past_its_ceiling(sacct):
    v = classify(job(4, pending_ceiling_s=3), sacct[4], cancelled_by_us=True, pending_s=4.2)
    assert (v.failure_class, v.finding) == ("INFRA_TRANSIENT", "PENDING_TOO_LONG") and not v.cancelled
    assert "BeginTime" in v.detail and "ceiling of 3s" in v.detail


def test_an_unknown_end_state_asks_a_person():
    v = classify(job(), JobStatus(job_id=5, state="SPECIAL_EXIT"), cancelled_by_us=False)
    assert v.failure_class == "UNKNOWN" and v.finding == "STATE_SPECIAL_EXIT"
