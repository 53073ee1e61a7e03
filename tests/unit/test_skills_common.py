"""skills/common: the runner framework, the launcher, sealed-artifact lookup, where vLLM lives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from conductor.runtime.skill import SkillContext, SkillResult
from skills.common import runner as R
from skills.common.base import LAUNCH, runner_argv
from skills.common.sealed import (
    MissingArtifact,
    checkpoint_dir,
    eval_dirs,
    eval_output_dir,
    first_checkpoint,
)
from skills.common.vllm_env import ENV_VAR, find_vllm_python, locate_vllm

ROOT = Path(__file__).resolve().parents[2]


class Inp(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(default=1, ge=0)


def _args(tmp: Path, inp: dict, context: dict | None = None) -> list[str]:
    (tmp / "args.json").write_text(json.dumps(inp))
    argv = ["--input", str(tmp / "args.json"), "--out-dir", str(tmp / "out"), "--workspace", str(tmp)]
    if context is not None:
        (tmp / "context.json").write_text(json.dumps(context))
        argv += ["--context", str(tmp / "context.json")]
    return argv


def _result(tmp: Path) -> dict:
    return json.loads((tmp / "out" / "result.json").read_text())


def test_runner_writes_an_ok_result_with_context(tmp_path):
    seen = {}

    def fn(inp: Inp, rc: R.RunContext):
        seen.update(n=inp.n, cfg=rc.config, sealed=sorted(rc.sealed), cwd=rc.cwd)
        return {"summary": "done", "artifacts": {"a": rc.rel(rc.out_dir / "a.txt")}, "data": {"n": inp.n}}

    ctx = {"config": {"threshold": 0.01}, "decision": None, "cwd": "/somewhere",
           "sealed": {"preflight": {"ok": True, "artifacts": {"checkpoint": "/ckpt"}}}}
    assert R.main(Inp, fn, _args(tmp_path, {"n": 3}, ctx)) == 0
    res = _result(tmp_path)
    assert res["ok"] is True and res["artifacts"] == {"a": "out/a.txt"} and res["data"] == {"n": 3}
    assert seen == {"n": 3, "cfg": {"threshold": 0.01}, "sealed": ["preflight"], "cwd": Path("/somewhere")}
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["result.json"]  # no temp file left behind


def test_classified_failure_is_kept(tmp_path):
    def fn(inp, rc):
        raise R.SkillFailure("HARDWARE_UNAVAILABLE", "nvfp4 needs a CUDA GPU", data={"cuda": False})

    assert R.main(Inp, fn, _args(tmp_path, {})) == 1
    res = _result(tmp_path)
    assert (res["ok"], res["failure_class"], res["error"], res["data"]) == (
        False, "HARDWARE_UNAVAILABLE", "nvfp4 needs a CUDA GPU", {"cuda": False})


def test_unexpected_exception_is_skill_failed_with_traceback_in_the_log(tmp_path, capsys):
    def fn(inp, rc):
        {}["missing-key"]

    assert R.main(Inp, fn, _args(tmp_path, {})) == 1
    res = _result(tmp_path)
    assert res["ok"] is False and res["failure_class"] == "SKILL_FAILED"
    assert "KeyError" in res["error"] and "missing-key" in res["error"] and "\n" not in res["error"]
    assert "test_skills_common.py" in res["error"]  # where it happened
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "missing-key" in err


def test_invalid_input_is_user_config_error(tmp_path):
    assert R.main(Inp, lambda i, rc: {}, _args(tmp_path, {"n": -1})) == 1
    res = _result(tmp_path)
    assert res["failure_class"] == "USER_CONFIG_ERROR" and "args.json" in res["error"]


def test_a_bad_return_value_is_skill_failed(tmp_path):
    assert R.main(Inp, lambda i, rc: {"artifacts": "not a dict"}, _args(tmp_path, {})) == 1
    assert _result(tmp_path)["failure_class"] == "SKILL_FAILED"


def test_progress_lines(capsys):
    R.progress(0.5, "half\nway")
    R.progress(7, "done")
    R.progress(-1)
    assert capsys.readouterr().out.splitlines() == ["PROGRESS 0.500 half way", "PROGRESS 1.000 done",
                                                    "PROGRESS 0.000"]


def test_runner_argv_writes_input_and_context(tmp_path):
    ctx = SkillContext(workspace=tmp_path, out_dir=tmp_path / "stages" / "x" / "attempt-1", config={"a": 1},
                       sealed={"preflight": SkillResult(ok=True, artifacts={"checkpoint": "/c"})}, python="/py")
    argv = runner_argv(ctx, "skills.compare.run", Inp(n=2))
    assert argv[:3] == ["/py", str(LAUNCH), "skills.compare.run"]
    args = dict(zip(argv[3::2], argv[4::2], strict=False))
    assert json.loads(Path(args["--input"]).read_text()) == {"n": 2}
    context = json.loads(Path(args["--context"]).read_text())
    assert context["config"] == {"a": 1} and context["sealed"]["preflight"]["artifacts"] == {"checkpoint": "/c"}
    assert context["cwd"] == os.getcwd() and args["--workspace"] == str(tmp_path)


def test_launch_runs_a_runner_from_any_directory_without_install(tmp_path):
    """The skill's cwd is its workspace: the launcher must find the project anyway."""
    mod_dir = tmp_path / "elsewhere"
    mod_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, str(LAUNCH), "skills.common.vllm_env"], cwd=mod_dir, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    out = subprocess.run([sys.executable, str(LAUNCH)], cwd=mod_dir, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "usage" in out.stderr


# -- sealed artifacts ---------------------------------------------------------------------------


def _lmeval_dir(p: Path) -> Path:
    p.mkdir(parents=True)
    (p / "run.json").write_text('{"status": "SUCCESS"}')
    return p


def test_eval_output_dir_by_name_and_by_shape(tmp_path):
    _lmeval_dir(tmp_path / "b")
    _lmeval_dir(tmp_path / "c" / "out")
    sealed = {"eval_baseline": SkillResult(ok=True, artifacts={"lmeval_dir": "b", "log": "b/run.json"}),
              "eval_candidate": {"ok": True, "artifacts": {"whatever": "c/out", "log": "c/log.txt"}}}
    assert eval_dirs(tmp_path, sealed) == (tmp_path / "b", tmp_path / "c" / "out")
    with pytest.raises(MissingArtifact, match="'compare' has no sealed result"):
        eval_output_dir(tmp_path, sealed, "compare")
    with pytest.raises(MissingArtifact, match="names no lm-eval output directory"):
        eval_output_dir(tmp_path, {"eval_baseline": SkillResult(ok=True, artifacts={"x": "nowhere"})},
                        "eval_baseline")


def test_checkpoints_from_artifacts_or_data(tmp_path):
    (tmp_path / "export").mkdir()
    (tmp_path / "src").mkdir()
    sealed = {"quantize": SkillResult(ok=True, artifacts={"export": "export"}),
              "preflight": SkillResult(ok=True, artifacts={"checkpoint": str(tmp_path / "src")}),
              "eval_candidate": SkillResult(ok=True, data={"checkpoint": "gone"})}
    assert checkpoint_dir(tmp_path, sealed, "quantize") == tmp_path / "export"
    assert checkpoint_dir(tmp_path, sealed, "eval_candidate") == tmp_path / "gone"
    assert first_checkpoint(tmp_path, sealed, ["eval_candidate", "quantize"]) == tmp_path / "export"  # exists
    assert first_checkpoint(tmp_path, sealed, ["serve"]) is None


# -- vLLM ---------------------------------------------------------------------------------------


def _fake_venv(root: Path, with_vllm: bool) -> Path:
    py = root / ".venv-vllm" / "bin" / "python"
    py.parent.mkdir(parents=True)
    py.write_text("#!/bin/sh\n")
    py.chmod(0o755)
    if with_vllm:
        pkg = root / ".venv-vllm" / "lib" / "python3.12" / "site-packages" / "vllm"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
    return py


def test_vllm_env_var_wins(tmp_path):
    py = _fake_venv(tmp_path, with_vllm=False)
    assert find_vllm_python({ENV_VAR: str(py)}, tmp_path) == str(py)
    loc = locate_vllm({ENV_VAR: str(tmp_path / "nope")}, tmp_path)
    assert loc.python is None and "not an executable" in loc.detail


def test_vllm_repo_venv_then_current_interpreter(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    assert find_vllm_python({}, tmp_path) is None
    _fake_venv(tmp_path / "a", with_vllm=False)
    assert find_vllm_python({}, tmp_path / "a") is None  # an environment without vllm does not count
    py = _fake_venv(tmp_path / "b", with_vllm=True)
    assert locate_vllm({}, tmp_path / "b").python == str(py)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "vllm" else real(name, *a))
    assert locate_vllm({}, tmp_path).python == sys.executable
