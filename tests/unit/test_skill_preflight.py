"""skills/preflight: checkpoint checks, task checks, and the runner's result (honest on failure)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from skills.common.base import LAUNCH
from skills.common.runner import RunContext, SkillFailure
from skills.preflight import checks
from skills.preflight import run as P

ROOT = Path(__file__).resolve().parents[2]


def write_safetensors(path: Path, tensors: dict[str, tuple[str, list[int]]]) -> None:
    sizes = {"BF16": 2, "F32": 4, "F8_E4M3": 1}
    header, off = {}, 0
    for name, (dtype, shape) in tensors.items():
        n = sizes[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + n]}
        off += n
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * off)


def fake_checkpoint(d: Path, *, tokenizer: bool = True) -> Path:
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"],
                                               "torch_dtype": "bfloat16"}))
    write_safetensors(d / "model.safetensors", {"a.weight": ("BF16", [4, 8]), "b.weight": ("BF16", [8])})
    if tokenizer:
        (d / "tokenizer.json").write_text("{}")
        (d / "tokenizer_config.json").write_text("{}")
    return d


# -- the checkpoint -----------------------------------------------------------------------------


def test_a_readable_checkpoint(tmp_path):
    facts, problems = checks.inspect_checkpoint(fake_checkpoint(tmp_path / "ck"))
    assert problems == []
    assert facts["model_type"] == "llama" and facts["weights"]["parameters"] == 40
    assert facts["weights"]["bytes"] == 80 and facts["weights"]["dtypes"] == {"BF16": 2}
    assert facts["tokenizer_files"] == ["tokenizer.json", "tokenizer_config.json"]


@pytest.mark.parametrize("damage, expected", [
    ("missing", "does not exist"),
    ("file", "not a directory"),
    ("no_config", "no config.json"),
    ("no_tokenizer", "no tokenizer"),
    ("bad_header", "unreadable safetensors header"),
    ("no_weights", "holds no weights"),
])
def test_a_broken_checkpoint_names_the_problem(tmp_path, damage, expected):
    d = tmp_path / "ck"
    if damage == "file":
        d.write_text("x")
    elif damage != "missing":
        fake_checkpoint(d, tokenizer=damage != "no_tokenizer")
        if damage == "no_config":
            (d / "config.json").unlink()
        elif damage == "bad_header":
            (d / "model.safetensors").write_bytes(b"\xff" * 16)
        elif damage == "no_weights":
            (d / "model.safetensors").unlink()
    _, problems = checks.inspect_checkpoint(d)
    assert any(expected in p for p in problems), problems


# -- the tasks ----------------------------------------------------------------------------------


def test_shipped_tasks_are_found_with_their_data():
    shipped = checks.shipped_tasks()
    assert "conductor_facts_mc" in shipped and shipped["conductor_facts_mc"]["missing_files"] == []


def test_a_shipped_task_with_missing_data(tmp_path):
    (tmp_path / "t.yaml").write_text("task: t1\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
                                     "    test: gone.jsonl\ncustom_dataset: !function utils.load\n")
    out, problems = checks.check_tasks(["t1"], offline=True, shipped=checks.shipped_tasks(tmp_path))
    assert out["t1"]["source"] == "shipped" and "gone.jsonl" in problems[0]


def test_other_tasks_come_from_lmeval_and_need_cached_data_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    (tmp_path / "hf" / "hub" / "datasets--org--cached").mkdir(parents=True)
    index = {"cached_task": {"kind": "Kind.TASK", "yaml": "x.yaml", "dataset_path": "org/cached"},
             "remote_task": {"kind": "Kind.TASK", "yaml": "y.yaml", "dataset_path": "org/remote"}}
    look = lambda: index.get  # noqa: E731
    names = ["cached_task", "remote_task", "no_such_task"]
    out, problems = checks.check_tasks(names, offline=True, shipped={}, index=look)
    assert out["cached_task"]["data"] == "cached" and out["no_such_task"]["source"] == "unknown"
    assert len(problems) == 2 and "org/remote" in problems[0] and "no_such_task" in problems[1]
    _, online = checks.check_tasks(names[:2], offline=False, shipped={}, index=look)
    assert online == []


def test_recipes_that_need_cuda():
    assert checks.recipe_needs_cuda("nvfp4") is True
    assert checks.recipe_needs_cuda("fp8") is False
    assert checks.recipe_needs_cuda("no_such_recipe") is None


# -- the runner ---------------------------------------------------------------------------------


def _rc(tmp_path: Path, **config) -> RunContext:
    return RunContext(out_dir=tmp_path / "out", workspace=tmp_path / "ws", config=config, cwd=tmp_path)


def test_not_a_checkpoint_is_user_config_error_with_the_machine_recorded(tmp_path, monkeypatch):
    monkeypatch.setattr(checks, "hardware", lambda: {"cuda_available": False, "cpus_usable": 2})
    monkeypatch.setattr(P, "probe_vllm", lambda: {"python": None})
    (tmp_path / "notackpt").mkdir()
    with pytest.raises(SkillFailure) as err:
        P.run(P.PreflightInput(), _rc(tmp_path, model="notackpt", tasks=["conductor_facts_mc"], recipe="fp8"))
    f = err.value
    assert f.failure_class == "USER_CONFIG_ERROR" and "not a usable Hugging Face checkpoint" in f.message
    assert f.data["hardware"] == {"cuda_available": False, "cpus_usable": 2} and "versions" in f.data


def test_unknown_embedded_model(tmp_path, monkeypatch):
    monkeypatch.setattr(checks, "hardware", lambda: {"cuda_available": False})
    with pytest.raises(SkillFailure, match="unknown embedded model") as err:
        P.run(P.PreflightInput(), _rc(tmp_path, model="embedded:gpt-5", tasks=["t"]))
    assert err.value.failure_class == "USER_CONFIG_ERROR" and "hardware" in err.value.data


def test_nvfp4_on_a_cpu_is_noted(tmp_path):
    assert "needs a CUDA GPU" in P.notes_for({"recipe": "nvfp4"}, {"cuda_available": False}, _rc(tmp_path))[0]
    assert P.notes_for({"recipe": "nvfp4"}, {"cuda_available": True}, _rc(tmp_path)) == []


def test_the_runner_end_to_end(tmp_path):
    """Through the launcher, from the workspace, with a relative model path (relative to the conductor's cwd)."""
    fake_checkpoint(tmp_path / "models" / "ck")
    ws, out = tmp_path / "ws", tmp_path / "ws" / "stages" / "preflight" / "attempt-1"
    out.mkdir(parents=True)
    (out / "args.json").write_text("{}")
    (out / "context.json").write_text(json.dumps({"cwd": str(tmp_path), "sealed": {}, "decision": None, "config": {
        "model": "models/ck", "recipe": "fp8", "tasks": ["conductor_facts_mc"]}}))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "CONDUCTOR_VLLM_PYTHON": "/nonexistent"}
    proc = subprocess.run([sys.executable, str(LAUNCH), "skills.preflight.run", "--input", str(out / "args.json"),
                           "--out-dir", str(out), "--workspace", str(ws), "--context", str(out / "context.json")],
                          cwd=ws, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PROGRESS 0.050 recording hardware and versions" in proc.stdout
    res = json.loads((out / "result.json").read_text())
    assert res["ok"] and res["artifacts"] == {"checkpoint": str(tmp_path / "models" / "ck")}
    data = res["data"]
    assert set(data) >= {"hardware", "versions", "vllm_python", "tasks", "checkpoint_facts", "notes"}
    assert isinstance(data["hardware"]["cuda_available"], bool) and data["hardware"]["cpus_usable"] >= 1
    assert data["versions"]["python"] and data["vllm_python"] is None
    assert data["tasks"]["conductor_facts_mc"]["source"] == "shipped"
