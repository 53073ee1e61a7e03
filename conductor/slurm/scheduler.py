"""The one module that talks to SLURM: sbatch, squeue, sacct, scancel, each with a timeout, each a
child process started by the engine's LocalExecutor (the one place that starts processes).

    cli = SlurmCLI()
    jid = cli.submit(["--parsable", "--job-name=x", ...], script, env)
    st = cli.status(jid)        # JobStatus from squeue, completed by sacct once the job has ended
    cli.scancel([jid])
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable, Mapping, Optional

from conductor.executor import LocalExecutor, ProcessSpec

from .jobs import SACCT_FORMAT, SQUEUE_FORMAT, JobStatus, parse_sacct, parse_sbatch, parse_squeue

CALL_TIMEOUT_S = 30.0
# the controller or the database did not answer: the same request may work in a moment
UNREACHABLE = re.compile(r"unable to contact slurm controller|socket timed out|connection refused|"
                         r"temporarily unavailable|zero bytes were transmitted|did not answer|"
                         r"slurmdbd.*(down|not responding)", re.IGNORECASE)


class SlurmError(OSError):
    """A SLURM command failed. `transient`: the cluster did not answer (retry); otherwise the
    request itself was refused (an unknown partition, account or qos: a configuration error)."""

    def __init__(self, message: str, transient: bool):
        super().__init__(message)
        self.transient = transient


class SlurmCLI:
    """SLURM's commands, as this process's environment reaches them (SLURM_CONF, PATH)."""

    def __init__(self, timeout_s: float = CALL_TIMEOUT_S):
        self.timeout_s = timeout_s
        self._local = LocalExecutor()

    def _call(self, argv: list[str], env: Optional[Mapping[str, str]] = None) -> tuple[int, str, str]:
        """(exit code, stdout, stderr); 124 when the command did not answer in time, 127 when it
        could not start. `env` is added to this process's environment."""
        out = self._local.run(ProcessSpec(argv=argv, env_extra=dict(env or {}), timeout_s=self.timeout_s,
                                          capture_stdout=True, grace_s=1.0, name=argv[0]))
        err = "\n".join(out.log_tail)
        if out.error is not None:
            return 127, "", out.error
        if out.timed_out:
            return 124, out.stdout, f"{argv[0]} did not answer within {self.timeout_s:.0f}s"
        return out.exit_code if out.exit_code is not None else 1, out.stdout, err

    def submit(self, args: list[str], script: Path, env: Mapping[str, str]) -> int:
        """sbatch (env: variables added for it); the job id. Raises SlurmError with sbatch's own words."""
        code, out, err = self._call(["sbatch", *args, str(script)], env)
        jid = parse_sbatch(out) if code == 0 else None
        if jid is None:
            msg = " ".join((err or out).split())[-400:] or f"sbatch exited {code}"
            raise SlurmError(f"sbatch refused the job: {msg}", transient=code == 124 or bool(UNREACHABLE.search(msg)))
        return jid

    def squeue(self, ids: Iterable[int]) -> Optional[dict[int, JobStatus]]:
        """Jobs slurmctld still holds (finished ones for MinJobAge); None when squeue failed."""
        ids = list(ids)
        code, out, _ = self._call(["squeue", "-h", "-t", "all", "-j", ",".join(map(str, ids)), "-O", SQUEUE_FORMAT])
        if code != 0:  # one unknown id makes squeue fail for all: the caller asks sacct
            return None
        return parse_squeue(out)

    def sacct(self, ids: Iterable[int]) -> Optional[dict[int, JobStatus]]:
        code, out, _ = self._call(["sacct", "-n", "-X", "-P", "-j", ",".join(map(str, ids)), "-o", SACCT_FORMAT])
        return parse_sacct(out) if code == 0 else None

    def status(self, job_id: int) -> Optional[JobStatus]:
        """The job now: squeue's view (live state, reason, node), with sacct's exit code and
        canceller once it has ended. None when neither command knows the job (yet)."""
        sq = (self.squeue([job_id]) or {}).get(job_id)
        if sq is not None and sq.live:
            return sq
        if sq is not None and sq.state == "COMPLETED":
            return sq.model_copy(update={"exit_code": 0})  # by definition; spares a sacct call
        sa = (self.sacct([job_id]) or {}).get(job_id)
        if sa is None or sa.live:
            return sq  # the accounting record lags: the ended state, exit code still unknown
        if sq is None:
            return sa
        return sq.model_copy(update={"exit_code": sa.exit_code, "signal": sa.signal, "cancelled_by": sa.cancelled_by,
                                     "elapsed_s": sa.elapsed_s if sa.elapsed_s is not None else sq.elapsed_s})

    def my_jobs(self) -> dict[int, JobStatus]:
        """Every job of this user that slurmctld holds (to cancel a run's jobs by name)."""
        code, out, err = self._call(["squeue", "-h", "--me", "-O", SQUEUE_FORMAT])
        if code != 0:
            raise SlurmError(f"squeue failed: {' '.join(err.split())[-300:]}", transient=True)
        return parse_squeue(out)

    def scancel(self, ids: Iterable[int]) -> tuple[bool, str]:
        args = [str(i) for i in ids]
        if not args:
            return True, ""
        code, out, err = self._call(["scancel", *args])
        return code == 0, " ".join((err or out).split())


def slurm_available() -> bool:
    """The SLURM client commands are installed and SLURM_CONF (or the default config) exists."""
    from shutil import which

    conf = os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf")
    return all(which(c) for c in ("sbatch", "squeue", "sacct", "scancel")) and Path(conf).is_file()
