"""SLURM job options: per-stage settings, the sbatch command line, the environment a job gets."""

from __future__ import annotations

import shlex
import subprocess

import pytest
from pydantic import ValidationError

from conductor.slurm.options import (
    SlurmOptions, SlurmSettings, batch_script, job_environment, sbatch_args, time_limit,
)


def test_stage_options_lay_over_the_defaults():
    s = SlurmSettings(partition="batch", account="llm", mem="8G", extra_sbatch=["--exclusive"], env=["HF_TOKEN"],
                      stages={"quantize": SlurmOptions(gpus="1", mem="64G", extra_sbatch=["--constraint=h100"]),
                              "serve": SlurmOptions(partition="interactive")})
    q = s.for_stage("quantize")
    assert (q.partition, q.account, q.gpus, q.mem) == ("batch", "llm", "1", "64G")
    assert q.extra_sbatch == ["--exclusive", "--constraint=h100"] and q.env == ["HF_TOKEN"]
    assert s.for_stage("serve").partition == "interactive" and s.for_stage("serve").mem == "8G"
    assert s.for_stage("evaluate") == SlurmOptions.model_validate(s.model_dump(include=set(SlurmOptions.model_fields)))


@pytest.mark.parametrize("bad", [
    {"time_limit": "4h"}, {"extra_sbatch": ["exclusive"]}, {"extra_sbatch": ["--output=x"]},
    {"extra_sbatch": ["-J", "x"]}, {"extra_sbatch": ["-o/tmp/x"]}, {"env": ["HF TOKEN"]}, {"cpus": 0},
    {"pending_ceiling_s": 0}, {"gpu": 1}])
def test_bad_options_are_refused_with_a_reason(bad):
    with pytest.raises(ValidationError):
        SlurmOptions(**bad)


def test_harmless_extra_options_pass():
    opts = SlurmOptions(extra_sbatch=["--open-mode=append", "--exclusive", "-N1"])
    assert opts.extra_sbatch == ["--open-mode=append", "--exclusive", "-N1"]


def test_time_limit_from_the_timeout_in_whole_minutes():
    assert time_limit(SlurmOptions(), 3600) == "60" and time_limit(SlurmOptions(), 61) == "2"
    assert time_limit(SlurmOptions(), 5) == "1" and time_limit(SlurmOptions(), None) is None
    assert time_limit(SlurmOptions(time_limit="1-00:00:00"), 60) == "1-00:00:00"


def test_secrets_never_reach_the_job_unless_named():
    base = {"PATH": "/usr/bin", "HOME": "/root", "ANTHROPIC_API_KEY": "sk-ant-xyz", "HF_TOKEN": "hf_abc",
            "WANDB_API_KEY": "w", "RANDOM_VAR": "r", "SLURM_CONF": "/etc/slurm.conf"}
    added, export = job_environment(base, {"PYTHONPATH": "/proj"}, SlurmOptions(env=["HF_TOKEN"]))
    assert export == ["HF_TOKEN", "HOME", "PATH", "PYTHONPATH", "PYTHONUNBUFFERED"]
    assert added == {"PYTHONPATH": "/proj", "PYTHONUNBUFFERED": "1"}
    _, export2 = job_environment(base, {}, SlurmOptions())
    assert export2 == ["HOME", "PATH", "PYTHONUNBUFFERED"]  # no secret, nothing unlisted
    _, export3 = job_environment(base, {}, SlurmOptions(env=["NOT_SET_ANYWHERE"]))
    assert "NOT_SET_ANYWHERE" not in export3  # sbatch is never asked for a variable that does not exist


def test_sbatch_arguments():
    opts = SlurmOptions(partition="p", account="a", qos="q", cpus=4, gpus="h100:2", mem="16G",
                        extra_sbatch=["--container-image=nvcr.io#nvidia/vllm"])
    args = sbatch_args(opts, name="conductor:r1:serve", comment="c", output="/o", error=None, cwd="/w",
                       export=["HOME", "PATH"], timeout_s=90)
    assert args[:8] == ["--parsable", "--job-name=conductor:r1:serve", "--comment=c", "--output=/o", "--error=/o",
                        "--chdir=/w", "--export=HOME,PATH", "--no-requeue"]
    assert args[8:] == ["--time=2", "--partition=p", "--account=a", "--qos=q", "--cpus-per-task=4", "--gpus=h100:2",
                        "--mem=16G", "--container-image=nvcr.io#nvidia/vllm"]
    assert "--time=2" not in sbatch_args(SlurmOptions(), name="n", comment="c", output="/o", error="/e", cwd="/w",
                                         export=["PATH"], timeout_s=None)


def test_batch_script_runs_the_argv_verbatim(tmp_path):
    argv = ["printf", "%s|", "it's", "a $HOME", "`x`", "--flag=1 2"]
    script = tmp_path / "job.sbatch"
    script.write_text(batch_script(argv, "t"))
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True).stdout
    assert out == "it's|a $HOME|`x`|--flag=1 2|"
    assert shlex.join(argv) in script.read_text()
