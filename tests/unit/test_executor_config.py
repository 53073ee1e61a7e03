"""`executor:` and `slurm:` in the release config: validated with the config, before anything runs."""

from __future__ import annotations

import pytest

from conductor.cli import build_parser, config_from_args
from conductor.engine.config import ConfigError, load_config
from conductor.engine.session import check_executor


def test_local_is_the_default_and_slurm_settings_are_read_per_stage(tmp_path):
    assert load_config().executor == "local"
    f = tmp_path / "release.yaml"
    f.write_text("executor: slurm\nslurm:\n  partition: batch\n  account: llm\n"
                 "  stages:\n    quantize: {gpus: '1', mem: 64G, time_limit: '04:00:00'}\n")
    cfg = load_config(str(f))
    q = cfg.slurm.for_stage("quantize")
    assert (cfg.executor, q.partition, q.account, q.gpus, q.time_limit) == ("slurm", "batch", "llm", "1", "04:00:00")
    assert cfg.slurm.for_stage("evaluate").gpus is None


@pytest.mark.parametrize("yaml_text, field", [
    ("executor: kubernetes\n", "executor"),
    ("slurm: {time_limit: 'two hours'}\n", "slurm.time_limit"),
    ("slurm: {extra_sbatch: ['--output=/tmp/x']}\n", "slurm.extra_sbatch"),
    ("slurm: {stages: {quantize: {cpus: 0}}}\n", "slurm.stages.quantize.cpus"),
    ("slurm: {partiton: gpu}\n", "slurm.partiton"),
])
def test_a_bad_executor_setting_is_one_sentence_naming_the_field(tmp_path, yaml_text, field):
    f = tmp_path / "release.yaml"
    f.write_text(yaml_text)
    with pytest.raises(ConfigError, match=f"'{field}"):
        load_config(str(f))


def test_the_flag_chooses_the_executor():
    args = build_parser().parse_args(["run", "--executor", "slurm"])
    assert config_from_args(args).executor == "slurm"


def test_slurm_without_its_commands_is_a_config_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here
    with pytest.raises(ConfigError, match="SLURM client commands"):
        check_executor(load_config(overrides={"executor": "slurm"}))
    check_executor(load_config())  # local needs nothing
