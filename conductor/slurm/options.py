"""What a job asks SLURM for, per skill: partition, account, qos, time, CPUs, GPUs, memory, extra
sbatch options, and which environment variables reach it (never a secret it was not given).

    s = SlurmSettings(partition="batch", account="llm", stages={"quantize": SlurmOptions(gpus="1", mem="64G")})
    s.for_stage("quantize").gpus     # "1"; partition "batch" inherited
"""

from __future__ import annotations

import math
import re
import shlex
from typing import Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

# what every job needs to find its interpreter and caches; secrets are never among them
BASE_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "VIRTUAL_ENV",
            "PYTHONPATH", "HF_HOME", "HF_HUB_CACHE", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE",
            "XDG_CACHE_HOME")
# the executor sets these itself; an extra option naming one would break following the job
RESERVED = ("--output", "--error", "--export", "--job-name", "--parsable", "--chdir", "--wrap", "--comment")
RESERVED_SHORT = ("-o", "-e", "-J", "-D")  # also glued to their value: -oFILE
TIME_LIMIT = re.compile(r"\d+|\d+:\d{2}|\d+:\d{2}:\d{2}|\d+-\d+(:\d{2}){0,2}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SlurmOptions(BaseModel):
    """One skill's request. None leaves a field to the cluster's defaults."""

    model_config = ConfigDict(extra="forbid")

    partition: Optional[str] = None
    account: Optional[str] = None
    qos: Optional[str] = None
    time_limit: Optional[str] = None  # sbatch --time ("90", "04:00:00", "1-00:00:00"); None: from the timeout
    cpus: Optional[int] = Field(default=None, ge=1)  # --cpus-per-task
    gpus: Optional[str] = None  # --gpus ("1", "h100:4")
    mem: Optional[str] = None  # --mem ("16G")
    extra_sbatch: list[str] = Field(default_factory=list)  # e.g. pyxis: ["--container-image=nvcr.io#nvidia/vllm"]
    env: list[str] = Field(default_factory=list)  # names propagated from the conductor's environment
    pending_ceiling_s: Optional[float] = Field(default=None, gt=0)  # cancel and retry a job queued longer

    @field_validator("time_limit")
    @classmethod
    def _time(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not TIME_LIMIT.fullmatch(v):
            raise ValueError(f"time_limit {v!r} is not a SLURM time (minutes, HH:MM:SS or D-HH:MM:SS)")
        return v

    @field_validator("extra_sbatch")
    @classmethod
    def _extra(cls, v: list[str]) -> list[str]:
        for opt in v:
            if not opt.startswith("-"):
                raise ValueError(f"extra sbatch option {opt!r} must start with '-' (write --flag=value as one item)")
            if opt.split("=", 1)[0] in RESERVED or (not opt.startswith("--") and opt[:2] in RESERVED_SHORT):
                raise ValueError(f"extra sbatch option {opt!r} is set by the executor itself")
        return v

    @field_validator("env")
    @classmethod
    def _env(cls, v: list[str]) -> list[str]:
        bad = [n for n in v if not ENV_NAME.fullmatch(n)]
        if bad:
            raise ValueError(f"env lists names of variables, not {bad}")
        return v


class SlurmSettings(SlurmOptions):
    """The executor's defaults, with per-stage overrides (quantize, serve, evaluate can differ)."""

    stages: dict[str, SlurmOptions] = Field(default_factory=dict)
    poll_s: float = Field(default=1.0, gt=0)  # how often squeue is asked about a job
    job_prefix: str = Field(default="conductor", pattern=r"^[A-Za-z0-9_.-]+$")

    def for_stage(self, stage: str) -> SlurmOptions:
        """The defaults with the stage's fields laid over them (lists are added)."""
        base = SlurmOptions.model_validate(self.model_dump(include=set(SlurmOptions.model_fields)))
        over = self.stages.get(stage)
        if over is None:
            return base
        merged = base.model_dump()
        for k, v in over.model_dump(exclude_unset=True).items():
            merged[k] = merged[k] + [x for x in v if x not in merged[k]] if isinstance(v, list) else v
        return SlurmOptions.model_validate(merged)


def time_limit(opts: SlurmOptions, timeout_s: Optional[float]) -> Optional[str]:
    """--time: the option, else the spec's timeout rounded up to whole minutes (SLURM's unit)."""
    if opts.time_limit:
        return opts.time_limit
    return None if timeout_s is None else str(max(1, math.ceil(timeout_s / 60)))


def job_environment(base: Mapping[str, str], extra: Mapping[str, str],
                    opts: SlurmOptions) -> tuple[dict[str, str], list[str]]:
    """(the variables sbatch gets on top of this environment, the names passed with --export).
    Only the listed names reach the job: the base list (no secrets), the options' names, the spec's own."""
    added = {**extra, "PYTHONUNBUFFERED": "1"}
    wanted = set(BASE_ENV) | set(opts.env) | set(added)
    return added, sorted(n for n in wanted if n in base or n in added)


def sbatch_args(opts: SlurmOptions, *, name: str, comment: str, output: str, error: Optional[str], cwd: str,
                export: list[str], timeout_s: Optional[float]) -> list[str]:
    """sbatch's options for one job (the script path comes last, added by the caller)."""
    args = ["--parsable", f"--job-name={name}", f"--comment={comment}", f"--output={output}",
            f"--error={error or output}", f"--chdir={cwd}", f"--export={','.join(export)}", "--no-requeue"]
    limit = time_limit(opts, timeout_s)
    pairs = (("--time", limit), ("--partition", opts.partition), ("--account", opts.account), ("--qos", opts.qos),
             ("--cpus-per-task", opts.cpus), ("--gpus", opts.gpus), ("--mem", opts.mem))
    args += [f"{flag}={value}" for flag, value in pairs if value is not None]
    return args + list(opts.extra_sbatch)


def batch_script(argv: list[str], label: str) -> str:
    """The job runs the skill's argv in place of its shell (exec): its exit code is the job's."""
    return f"#!/bin/bash\n# conductor: {label}\nexec {shlex.join(argv)}\n"
