"""Skills as SLURM batch jobs: the `SlurmExecutor` (one job per skill attempt), its job records and
state mapping, and the in-job serve wrapper that publishes a server's endpoint.

    ex = SlurmExecutor(SlurmSettings(partition="gpu", time_limit="04:00:00"), state_dir=run / "slurm")
    out = ex.run(ProcessSpec(argv=[...], cwd=str(run), log_path="skill.log", name="quantize:quantize"))
    out.job.state, out.job.node, out.failure_class   # COMPLETED, "node17", None

The cluster is the one the SLURM commands reach (`SLURM_CONF` as usual); `scripts/slurm_cluster.py`
starts a real single-node one on this machine for tests and trials.
"""

from .executor import SlurmExecutor, SlurmJobHandle, SlurmOutcome
from .jobs import JobStatus, JobVerdict, SubmittedJob, classify
from .options import SlurmOptions, SlurmSettings

__all__ = ["JobStatus", "JobVerdict", "SlurmExecutor", "SlurmJobHandle", "SlurmOptions", "SlurmOutcome",
           "SlurmSettings", "SubmittedJob", "classify"]
