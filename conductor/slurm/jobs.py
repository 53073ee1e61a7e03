"""SLURM job records, the scheduler output they are parsed from, and what a job's end means for the run.

Two outputs are read, both delimiter-separated with named fields (stable across SLURM versions):
`squeue -h -t all -j ID -O <SQUEUE_FIELDS>` for a job slurmctld still holds (live state, the
scheduler's reason, the node) and `sacct -n -X -P -j ID -o <SACCT_FIELDS>` for the accounting record
(the exit code, who cancelled, and jobs squeue has forgotten). The JSON forms were tried and left
aside on SLURM 22.05: `squeue --json` ignores `-j` (it returns the whole queue) and `sacct --json`
reports exit code 0 for a job that exited 3; their schema also changed shape in 23.02.

    st = parse_sacct(text)[123]          # JobStatus(state="TIMEOUT", exit_code=0, ...)
    v = classify(job, st, cancelled_by_us=False)
    v.failure_class, v.finding           # "INFRA_TRANSIENT", "TIMEOUT"
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Optional

from pydantic import BaseModel, ConfigDict

from gates.failure_classes import FailureClass

SQUEUE_FIELDS = ("JobID", "State", "Reason", "NodeList", "SubmitTime", "StartTime", "EndTime", "TimeUsed", "Name")
SACCT_FIELDS = ("JobIDRaw", "State", "ExitCode", "Reason", "NodeList", "Submit", "Start", "End", "Elapsed",
                "JobName")
SQUEUE_FORMAT = ",".join(f"{f}:|" for f in SQUEUE_FIELDS)  # "JobID:|,State:|,...": '|' after each field
SACCT_FORMAT = ",".join(SACCT_FIELDS)

LIVE = frozenset({"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD",
                  "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD"})
# the scheduler or the machine ended the job, not the skill: the same attempt may succeed again
TRANSIENT = {
    "TIMEOUT": "ran past its time limit",
    "PREEMPTED": "was preempted by a higher-priority job",
    "NODE_FAIL": "lost its node (node failure)",
    "BOOT_FAIL": "could not boot its node",
    "DEADLINE": "reached its deadline before it could finish",
}
# slurmstepd's own lines when it kills a job over its memory: without cgroups (jobacct_gather's
# OverMemoryKill) the job then ends FAILED, with cgroups OUT_OF_MEMORY; both are the same finding
MEMORY_KILL = re.compile(r"slurmstepd\S*: error: .*(exceeded (job )?memory limit|oom[-_ ]kill)", re.IGNORECASE)


class SubmittedJob(BaseModel):
    """What the run records when it submits a job: enough to re-attach to it after a crash."""

    model_config = ConfigDict(extra="forbid")

    job_id: int
    name: str  # the job's SLURM name: conductor:<run_tag>:<spec name>
    run_tag: str
    script: str  # the batch script (argv, cwd; never environment values)
    output: str  # the job's raw output file, tailed (redacted) into log_path, removed once collected
    stdout: Optional[str] = None  # capture_stdout: the job's stdout, apart from output
    log_path: Optional[str] = None
    submitted_at: float  # epoch seconds
    pending_ceiling_s: Optional[float] = None
    mem: Optional[str] = None  # what was requested (for an out-of-memory finding)


class JobStatus(BaseModel):
    """One look at a job: the record the transcript and the stage rail show."""

    model_config = ConfigDict(extra="forbid")

    job_id: int
    state: str  # SLURM base state: PENDING, RUNNING, COMPLETED, FAILED, TIMEOUT, CANCELLED, ...
    reason: Optional[str] = None  # the scheduler's reason (Resources, Priority, BeginTime, TimeLimit)
    node: Optional[str] = None
    name: Optional[str] = None
    submit_time: Optional[float] = None
    start_time: Optional[float] = None
    end_time: Optional[float] = None  # set only once the job has ended
    elapsed_s: Optional[float] = None
    exit_code: Optional[int] = None
    signal: Optional[int] = None
    cancelled_by: Optional[str] = None  # the uid sacct names in "CANCELLED by 1000"
    source: str = "squeue"  # squeue or sacct

    @property
    def live(self) -> bool:
        return self.state in LIVE

    def line(self) -> str:
        """One human line: 'job 12 RUNNING on node3, 42s'."""
        parts = [f"job {self.job_id} {self.state}"]
        if self.reason and self.state == "PENDING":
            parts.append(f"({self.reason})")
        if self.node and self.state != "PENDING":
            parts.append(f"on {self.node}")
        if self.exit_code is not None and not self.live:
            parts.append(f"exit {self.exit_code}" + (f" signal {self.signal}" if self.signal else ""))
        text = " ".join(parts)
        return text + (f", {self.elapsed_s:.0f}s" if self.elapsed_s is not None else "")


class JobVerdict(BaseModel):
    """What a finished job means for the attempt. failure_class None: the skill's own result decides."""

    model_config = ConfigDict(extra="forbid")

    failure_class: Optional[str] = None
    finding: str  # COMPLETED, FAILED, TIMEOUT, OUT_OF_MEMORY, PENDING_TOO_LONG, CANCELLED_BY_RUN, ...
    detail: str
    timed_out: bool = False
    cancelled: bool = False  # cancelled by this run (Ctrl-C, abort, stop)


def parse_time(text: str) -> Optional[float]:
    """'2026-12-03T12:17:11' (the scheduler's local time) -> epoch; Unknown / N/A / None -> None."""
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        return None


def parse_duration(text: str) -> Optional[float]:
    """SLURM durations: '0:02', '1:18', '02:03:04', '1-02:03:04' -> seconds; anything else -> None."""
    m = re.fullmatch(r"(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)(?:\.\d+)?", text.strip())
    if not m:
        return None
    days, hours, minutes, seconds = (int(g) if g else 0 for g in m.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def _state(text: str) -> tuple[str, Optional[str]]:
    """'CANCELLED by 0' -> ('CANCELLED', '0'); 'RUNNING' -> ('RUNNING', None)."""
    m = re.fullmatch(r"([A-Z_]+)\+?(?: by (\S+))?", text.strip())
    return (m.group(1), m.group(2)) if m else (text.strip() or "UNKNOWN", None)


def _none(text: str) -> Optional[str]:
    t = text.strip()
    return None if t in ("", "None", "(null)", "None assigned", "N/A", "Unknown") else t


def parse_squeue(text: str) -> dict[int, JobStatus]:
    """Output of `squeue -h -t all -j IDS -O SQUEUE_FORMAT` -> job id -> status."""
    out: dict[int, JobStatus] = {}
    for line in text.splitlines():
        cols = line.split("|")
        if len(cols) < len(SQUEUE_FIELDS) or not cols[0].strip().isdigit():
            continue
        jid, state, reason, node, submit, start, end, used, name = (c.strip() for c in cols[:len(SQUEUE_FIELDS)])
        st, _ = _state(state)
        live = st in LIVE
        out[int(jid)] = JobStatus(
            job_id=int(jid), state=st, reason=_none(reason), node=_none(node), name=name or None,
            submit_time=parse_time(submit), start_time=None if st == "PENDING" else parse_time(start),
            end_time=None if live else parse_time(end), elapsed_s=parse_duration(used), source="squeue")
    return out


def parse_exit(text: str) -> tuple[Optional[int], Optional[int]]:
    """sacct's ExitCode '3:0' -> (3, None); '0:15' -> (0, 15)."""
    m = re.fullmatch(r"(\d+):(\d+)", text.strip())
    if not m:
        return None, None
    return int(m.group(1)), (int(m.group(2)) or None)


def parse_sacct(text: str) -> dict[int, JobStatus]:
    """Output of `sacct -n -X -P -j IDS -o SACCT_FORMAT` (allocations only) -> job id -> status."""
    out: dict[int, JobStatus] = {}
    for line in text.splitlines():
        cols = line.split("|")
        if len(cols) < len(SACCT_FIELDS) or not cols[0].strip().isdigit():
            continue  # a step line (123.batch) or noise
        jid, state, exit_code, reason, node, submit, start, end, elapsed = (c.strip() for c in cols[:9])
        name = "|".join(cols[9:]).strip()  # the last field: a name may hold '|'
        st, by = _state(state)
        code, sig = parse_exit(exit_code)
        live = st in LIVE
        out[int(jid)] = JobStatus(
            job_id=int(jid), state=st, reason=_none(reason), node=_none(node), name=name or None,
            submit_time=parse_time(submit), start_time=parse_time(start), end_time=None if live else parse_time(end),
            elapsed_s=parse_duration(elapsed), exit_code=None if live else code, signal=None if live else sig,
            cancelled_by=by, source="sacct")
    return out


def parse_sbatch(text: str) -> Optional[int]:
    """`sbatch --parsable` prints 'JOBID' or 'JOBID;CLUSTER' (after any warnings on stderr)."""
    for line in reversed(text.strip().splitlines()):
        m = re.fullmatch(r"(\d+)(?:;\S+)?", line.strip())
        if m:
            return int(m.group(1))
    return None


def memory_killed(line: str) -> bool:
    return MEMORY_KILL.search(line) is not None


def classify(job: SubmittedJob, st: JobStatus, *, cancelled_by_us: bool, pending_s: Optional[float] = None,
             memory_kill: bool = False) -> JobVerdict:
    """What a job's end means for the attempt (the issue's table):

    PENDING past its ceiling, TIMEOUT, PREEMPTED, NODE_FAIL, BOOT_FAIL, DEADLINE -> INFRA_TRANSIENT;
    out of memory -> its own finding (SKILL_FAILED: the same request would fail the same way);
    CANCELLED by this run -> cancelled; CANCELLED by anyone else -> UNKNOWN (a person decides);
    COMPLETED / FAILED -> no class here: the skill's result.json and exit code decide."""
    jid, state = job.job_id, st.state
    if pending_s is not None:
        return JobVerdict(failure_class=FailureClass.INFRA_TRANSIENT.value, finding="PENDING_TOO_LONG",
                          detail=f"job {jid} stayed PENDING ({st.reason or 'no reason given'}) for {pending_s:.0f}s, "
                                 f"beyond its ceiling of {job.pending_ceiling_s:.0f}s; it was cancelled")
    if state == "OUT_OF_MEMORY" or memory_kill:
        asked = f" (it asked for {job.mem})" if job.mem else " (it asked for the partition's default memory)"
        return JobVerdict(failure_class=FailureClass.SKILL_FAILED.value, finding="OUT_OF_MEMORY",
                          detail=f"job {jid} ran out of memory{asked} and was killed by SLURM: "
                                 "raise the skill's `mem` in the SLURM settings, or make it need less")
    if state in TRANSIENT:
        return JobVerdict(failure_class=FailureClass.INFRA_TRANSIENT.value, finding=state, timed_out=state == "TIMEOUT",
                          detail=f"job {jid} {TRANSIENT[state]} ({state} on {st.node or 'no node'})")
    if state == "CANCELLED":
        if cancelled_by_us:
            return JobVerdict(finding="CANCELLED_BY_RUN", cancelled=True, detail=f"job {jid} was cancelled by this run")
        who = f"uid {st.cancelled_by}" if st.cancelled_by else "someone outside this run"
        return JobVerdict(failure_class=FailureClass.UNKNOWN.value, finding="CANCELLED_BY_OTHER",
                          detail=f"job {jid} was cancelled by {who}, not by this run: a person decides on a retry")
    if state in ("COMPLETED", "FAILED"):
        return JobVerdict(finding=state, detail=f"job {jid} {state} with exit code {st.exit_code}")
    return JobVerdict(failure_class=FailureClass.UNKNOWN.value, finding=f"STATE_{state}",
                      detail=f"job {jid} ended in state {state}, which this executor does not know how to judge")

