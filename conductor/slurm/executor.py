"""SlurmExecutor: the engine's Executor protocol on a SLURM cluster, one batch job per process spec.

`run` submits the spec as a batch job (sbatch: the argv in place of the job's shell, the spec's cwd,
only the environment it needs), tails the job's output file into the spec's log (redacted, line by
line, with `[slurm]` progress lines on each state change), polls the job's state, and returns a
`SlurmOutcome`: a ProcessOutcome plus the job record and what its end means (`failure_class`,
`finding`). `spawn` does the same in the background (a server job). `terminate_all` / `cancel_run`
scancel every job of the run; `attach` follows a job already submitted (resume: no resubmission).

    ex = SlurmExecutor(SlurmSettings(poll_s=1), state_dir=run / "slurm", run_tag=run_id)
    out = ex.run(ProcessSpec(argv=["python", "-m", "skills.quantize.run", ...], cwd=str(run),
                             log_path=str(run / "skill.log"), timeout_s=3600, name="quantize:quantize"))
    out.job.job_id, out.status.state, out.failure_class     # 41, "COMPLETED", None
    later = SlurmExecutor(...).attach(out.job)              # the same job, followed again
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Optional

from conductor.executor import MAX_LINE, STDOUT_CAP, LineCallback, ProcessOutcome, ProcessSpec, Redact, _Output
from gates.failure_classes import FailureClass

from .jobs import JobStatus, SubmittedJob, classify, memory_killed
from .options import SlurmSettings, batch_script, job_environment, sbatch_args
from .scheduler import SlurmCLI, SlurmError

TAIL_S = 0.1  # how often the output file is read
SETTLE_S = 15.0  # how long an ended job's exit code may lag in sacct before it is reported unknown
UNKNOWN_S = 120.0  # a job neither squeue nor sacct knows for this long (without a break) is reported lost
KILL_WAIT_S = 60.0  # after scancel, how long to wait for the job to end before giving up on it

JobCallback = Callable[[SubmittedJob, JobStatus], None]


class SlurmOutcome(ProcessOutcome):
    """A ProcessOutcome with the job: its record, its last status, and what its end means."""

    job: Optional[SubmittedJob] = None
    status: Optional[JobStatus] = None
    failure_class: Optional[str] = None  # None: the skill's own result decides
    finding: Optional[str] = None  # COMPLETED, TIMEOUT, OUT_OF_MEMORY, PENDING_TOO_LONG, SUBMIT_FAILED, ...
    detail: Optional[str] = None


class FileTail:
    """Complete lines appended to a file by another process (the job), from where it last read."""

    def __init__(self, path: str, offset: int = 0):
        self.path, self.offset, self._partial = path, offset, b""

    def read_lines(self, final: bool = False) -> list[str]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read(4 * 1024 * 1024)
        except FileNotFoundError:
            data = b""
        self.offset += len(data)
        chunks = (self._partial + data).split(b"\n")
        self._partial = chunks.pop()
        while len(self._partial) > MAX_LINE:  # a line without an end yet: pass its first part on
            chunks.append(self._partial[:MAX_LINE])
            self._partial = self._partial[MAX_LINE:]
        if final and self._partial:
            chunks.append(self._partial)
            self._partial = b""
        # a longer line is cut into MAX_LINE pieces, as LocalExecutor's readline(MAX_LINE) does
        pieces = [c[i:i + MAX_LINE] for c in chunks for i in range(0, max(len(c), 1), MAX_LINE)]
        return [p.decode("utf-8", errors="replace").rstrip("\r") for p in pieces]


def _read_capped(path: Optional[str]) -> tuple[str, bool]:
    if not path:
        return "", False
    try:
        with open(path, "rb") as fh:
            data = fh.read(STDOUT_CAP + 1)
    except FileNotFoundError:
        return "", False
    return data[:STDOUT_CAP].decode("utf-8", errors="replace"), len(data) > STDOUT_CAP


class _Follower:
    """Follows one job to its end: tails its output, polls its state, cancels it when asked."""

    def __init__(self, ex: "SlurmExecutor", job: SubmittedJob, on_line: Optional[LineCallback],
                 cancel: Optional[threading.Event], reattach: bool = False):
        self.ex, self.job, self.cancel = ex, job, cancel
        if reattach and job.log_path and Path(job.log_path).exists():
            Path(job.log_path).write_text("")  # the job's output is read again from its start
        self.out = _Output(job.log_path, on_line, ex._redact)
        self.tail = FileTail(job.output)
        self.status: Optional[JobStatus] = None
        self.cancel_requested = False
        self.scancel_sent: Optional[str] = None  # why this run cancelled it
        self.pending_over: Optional[float] = None
        self.memory_kill = False
        self.done = threading.Event()
        self.outcome: Optional[SlurmOutcome] = None
        self.t0 = time.monotonic()
        self._ended_at: Optional[float] = None
        self._scancel_t: Optional[float] = None
        self._unknown_since: Optional[float] = None

    def say(self, text: str) -> None:
        self.out._line(f"[slurm] {text}")

    def run(self) -> SlurmOutcome:
        try:
            next_poll = 0.0
            while True:
                self._pump()
                if self.cancel_requested or (self.cancel is not None and self.cancel.is_set()):
                    self._scancel("the run cancelled it")
                if time.monotonic() >= next_poll:
                    if self._poll():
                        break
                    quick = self.scancel_sent or self._ended_at is not None
                    next_poll = time.monotonic() + (0.25 if quick else self.ex.settings.poll_s)
                time.sleep(TAIL_S)
            self._drain()
            self.outcome = self._finish()
        finally:
            if self.outcome is None:  # an unexpected error: never leave a job running behind us
                self._scancel("the executor failed while following it")
                self.out.finish()
            self.ex._forget(self.job.job_id)
            self.done.set()
        return self.outcome

    def _pump(self, final: bool = False) -> None:
        for line in self.tail.read_lines(final):
            if memory_killed(line):
                self.memory_kill = True
            self.out._line(line)

    def _drain(self) -> None:
        """The job has ended: read its output until the file stops growing (it may be flushed late)."""
        deadline = time.monotonic() + 2.0
        size = -1
        while time.monotonic() < deadline:
            self._pump()
            try:
                now = os.path.getsize(self.job.output)
            except OSError:
                now = -1
            if now == size:
                break
            size = now
            time.sleep(0.2)
        self._pump(final=True)

    def _scancel(self, why: str) -> None:
        if self.scancel_sent is None:
            self.scancel_sent = why
            self._scancel_t = time.monotonic()
            ok, msg = self.ex.cli.scancel([self.job.job_id])
            self.say(f"scancel job {self.job.job_id}: {why}" + ("" if ok else f" (scancel said: {msg})"))

    def _poll(self) -> bool:
        """Look at the job once; True when following it is over."""
        st = self.ex.cli.status(self.job.job_id)
        if st is None:  # just submitted, or the controller and the database do not answer for now
            self._unknown_since = self._unknown_since or time.monotonic()
            if time.monotonic() - self._unknown_since < UNKNOWN_S:
                return False
            self._scancel(f"neither squeue nor sacct knew the job for {UNKNOWN_S:.0f}s")  # never leave it behind
            st = JobStatus(job_id=self.job.job_id, state="UNKNOWN",
                           reason=f"neither squeue nor sacct knew the job for {UNKNOWN_S:.0f}s")
        self._unknown_since = None
        self._observe(st)
        if st.live:
            self._check_pending(st)
            return self._scancel_t is not None and time.monotonic() - self._scancel_t > KILL_WAIT_S
        if self._ended_at is None:
            self._ended_at = time.monotonic()
        # an ended job's exit code and canceller come from sacct, which may lag a little
        return st.exit_code is not None or st.state == "UNKNOWN" or time.monotonic() - self._ended_at > SETTLE_S

    def _observe(self, st: JobStatus) -> None:
        old = self.status
        self.status = st
        if old is None or (old.state, old.reason, old.node) != (st.state, st.reason, st.node):
            if st.live:
                self.say(st.line())
            self.ex._job_changed(self.job, st)

    def _check_pending(self, st: JobStatus) -> None:
        ceiling = self.job.pending_ceiling_s
        waited = time.time() - self.job.submitted_at
        if st.state == "PENDING" and ceiling is not None and waited > ceiling and self.pending_over is None:
            self.pending_over = waited
            self._scancel(f"pending for {waited:.0f}s ({st.reason}), beyond its ceiling of {ceiling:.0f}s")

    def _finish(self) -> SlurmOutcome:
        st = self.status or JobStatus(job_id=self.job.job_id, state="UNKNOWN")
        v = classify(self.job, st, cancelled_by_us=self.scancel_sent is not None and self.pending_over is None,
                     pending_s=self.pending_over, memory_kill=self.memory_kill)
        if st.live:  # scancel did not end it within KILL_WAIT_S: say so, never claim it is gone
            detail = f"job {st.job_id} was still {st.state} {KILL_WAIT_S:.0f}s after scancel"
            v = v.model_copy(update={"failure_class": FailureClass.UNKNOWN.value, "finding": "NOT_ENDED",
                                     "detail": detail})
        self.say(st.line() + (f": {v.detail}" if v.failure_class else ""))
        stdout, truncated = _read_capped(self.job.stdout)
        self.out.finish()
        if not st.live:
            self.ex._collected(self.job)
        code = -st.signal if st.signal and not st.exit_code else st.exit_code
        return SlurmOutcome(
            exit_code=code, duration_s=round(time.monotonic() - self.t0, 3), timed_out=v.timed_out,
            cancelled=v.cancelled, stdout=stdout, stdout_truncated=truncated, log_tail=list(self.out.tail),
            job=self.job, status=st, failure_class=v.failure_class, finding=v.finding, detail=v.detail)


class SlurmJobHandle:
    """A job followed in the background (a server): `stop()` scancels it and waits for its end."""

    def __init__(self, follower: _Follower, thread: threading.Thread):
        self._f, self._thread = follower, thread
        self.job = follower.job
        self.job_id = follower.job.job_id
        self.name = follower.job.name

    def alive(self) -> bool:
        return not self._f.done.is_set()

    def poll(self) -> Optional[int]:
        return None if self.alive() else self.outcome.exit_code  # type: ignore[union-attr]

    def wait(self, timeout: Optional[float] = None) -> Optional[int]:
        """The exit code once the job has ended, or None if it is still running after `timeout`."""
        if not self._f.done.wait(timeout):
            return None
        return self.outcome.exit_code if self.outcome else None

    def stop(self, grace_s: Optional[float] = None) -> Optional[int]:
        """scancel (SLURM sends SIGTERM, then SIGKILL after its KillWait) and wait for the job's end."""
        self._f.cancel_requested = True
        return self.wait(KILL_WAIT_S + 30 if grace_s is None else grace_s + KILL_WAIT_S)

    @property
    def status(self) -> Optional[JobStatus]:
        return self._f.status

    @property
    def outcome(self) -> Optional[SlurmOutcome]:
        return self._f.outcome

    @property
    def log_tail(self) -> list[str]:
        return list(self._f.out.tail)

    def __enter__(self) -> "SlurmJobHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SlurmExecutor:
    """Runs process specs as SLURM batch jobs. Thread-safe; one per run.

    state_dir: where batch scripts and the jobs' raw output files go; it must be on a filesystem the
    compute nodes share with this machine (the run folder). run_tag names the run's jobs
    (conductor:<run_tag>:<spec name>) so that `cancel_run` finds them even after a crash.
    on_job(job, status) is called on every change of state, reason or node (the stage rail)."""

    def __init__(self, settings: Optional[SlurmSettings] = None, state_dir: str | Path = ".", *,
                 run_tag: Optional[str] = None, redact: Optional[Redact] = None,
                 on_job: Optional[JobCallback] = None, cli: Optional[SlurmCLI] = None):
        self.settings = settings or SlurmSettings()
        self.state_dir = Path(state_dir).resolve()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.run_tag = re.sub(r"[^A-Za-z0-9_.-]", "_", run_tag or uuid.uuid4().hex[:8])
        self.cli = cli or SlurmCLI()
        self._redact, self._on_job = redact, on_job
        self._live: dict[int, _Follower] = {}
        self._lock = threading.RLock()
        self._seq = itertools.count(1)
        self.closed = False
        self.submitted: list[SubmittedJob] = []  # every job submitted (or re-attached) by this executor

    # ------------------------------------------------------------------ Executor protocol

    def run(self, spec: ProcessSpec, on_line: Optional[LineCallback] = None,
            cancel: Optional[threading.Event] = None) -> SlurmOutcome:
        """Submit, follow to the end, collect. Never raises for a failing job or a refused sbatch."""
        t0 = time.monotonic()
        try:
            job = self.submit(spec)
        except (SlurmError, RuntimeError) as exc:
            transient = getattr(exc, "transient", False)
            fc = FailureClass.INFRA_TRANSIENT if transient else FailureClass.USER_CONFIG_ERROR
            return SlurmOutcome(exit_code=None, duration_s=round(time.monotonic() - t0, 3), error=str(exc),
                                failure_class=fc.value, finding="SUBMIT_FAILED", detail=str(exc))
        return self._follow(job, on_line, cancel)

    def spawn(self, spec: ProcessSpec, on_line: Optional[LineCallback] = None) -> SlurmJobHandle:
        """Submit a long-lived job (a server) and return at once; raises SlurmError (an OSError) when
        sbatch refuses it."""
        return self._background(self.submit(spec), on_line, reattach=False)

    def terminate_all(self, grace_s: Optional[float] = None) -> None:
        """scancel every job this executor follows (one call), then wait up to grace_s for their end."""
        with self._lock:
            followers = list(self._live.values())
        for f in followers:
            f.cancel_requested = True
            if f.scancel_sent is None:
                f.scancel_sent = "the run is stopping"
                f._scancel_t = time.monotonic()
        if followers:
            self.cli.scancel([f.job.job_id for f in followers])
        deadline = time.monotonic() + (30.0 if grace_s is None else grace_s)
        for f in followers:
            f.done.wait(max(0.0, deadline - time.monotonic()))

    def shutdown(self, grace_s: Optional[float] = None) -> None:
        with self._lock:
            self.closed = True
        self.terminate_all(grace_s)

    # ------------------------------------------------------------------ jobs

    def submit(self, spec: ProcessSpec) -> SubmittedJob:
        """Write the batch script and sbatch it. Raises SlurmError (refused or unreachable)."""
        with self._lock:
            if self.closed:
                raise RuntimeError("the executor is shut down")
        label = re.sub(r"[^A-Za-z0-9_.:-]", "_", spec.name or Path(spec.argv[0]).name)
        opts = self.settings.for_stage(label.split(":")[0])
        stem = self.state_dir / f"{next(self._seq):03d}-{label.replace(':', '_')}-{uuid.uuid4().hex[:6]}"
        script, output = stem.with_suffix(".sbatch"), str(stem.with_suffix(".out"))
        stdout = str(stem.with_suffix(".stdout")) if spec.capture_stdout else None
        script.write_text(batch_script(spec.argv, label), encoding="utf-8")
        added, export = job_environment(os.environ, spec.env_extra, opts)
        name = f"{self.settings.job_prefix}:{self.run_tag}:{label}"
        args = sbatch_args(opts, name=name, comment=f"conductor run {self.run_tag}", output=stdout or output,
                           error=output if stdout else None, cwd=spec.cwd or os.getcwd(), export=export,
                           timeout_s=spec.timeout_s)
        submitted_at = time.time()
        job_id = self.cli.submit(args, script, added)
        job = SubmittedJob(job_id=job_id, name=name, run_tag=self.run_tag, script=str(script), output=output,
                           stdout=stdout, log_path=spec.log_path, submitted_at=submitted_at,
                           pending_ceiling_s=opts.pending_ceiling_s, mem=opts.mem)
        with self._lock:
            self.submitted.append(job)
        return job

    def attach(self, job: SubmittedJob, on_line: Optional[LineCallback] = None,
               cancel: Optional[threading.Event] = None) -> SlurmOutcome:
        """Follow a job submitted earlier (by this or a crashed conductor) to its end; nothing is
        submitted. Its log is rewritten from the job's output, which is read again from the start."""
        with self._lock:
            self.submitted.append(job)
        return self._follow(job, on_line, cancel, reattach=True)

    def attach_background(self, job: SubmittedJob, on_line: Optional[LineCallback] = None) -> SlurmJobHandle:
        """`attach`, for a server job that must keep running: a handle, at once."""
        with self._lock:
            self.submitted.append(job)
        return self._background(job, on_line, reattach=True)

    def cancel_run(self) -> list[int]:
        """scancel every queued or running job named for this run, followed here or not (a crashed
        predecessor's jobs too); the ids cancelled."""
        try:
            queue = self.cli.my_jobs()
        except SlurmError:
            queue = {}
        prefix = f"{self.settings.job_prefix}:{self.run_tag}:"
        ids = sorted(j for j, st in queue.items() if st.live and (st.name or "").startswith(prefix))
        with self._lock:
            ids = sorted(set(ids) | set(self._live))
        self.terminate_all(grace_s=0)
        self.cli.scancel(ids)
        return ids

    def live_jobs(self) -> list[int]:
        with self._lock:
            return sorted(self._live)

    def _follow(self, job: SubmittedJob, on_line: Optional[LineCallback], cancel: Optional[threading.Event],
                reattach: bool = False) -> SlurmOutcome:
        f = _Follower(self, job, on_line, cancel, reattach)
        with self._lock:
            self._live[job.job_id] = f
        return f.run()

    def _background(self, job: SubmittedJob, on_line: Optional[LineCallback], reattach: bool) -> SlurmJobHandle:
        f = _Follower(self, job, on_line, None, reattach)
        with self._lock:
            self._live[job.job_id] = f
        t = threading.Thread(target=f.run, daemon=True, name=f"slurm-job-{job.job_id}")
        t.start()
        return SlurmJobHandle(f, t)

    def _forget(self, job_id: int) -> None:
        with self._lock:
            self._live.pop(job_id, None)

    def _job_changed(self, job: SubmittedJob, st: JobStatus) -> None:
        if self._on_job is not None:
            try:
                self._on_job(job, st)
            except Exception:  # a broken consumer must not stop following the job
                pass

    @staticmethod
    def _collected(job: SubmittedJob) -> None:
        """The job's raw output is now in its (redacted) log: remove the unredacted copies."""
        for p in (job.output, job.stdout):
            if p:
                Path(p).unlink(missing_ok=True)
