"""Evidence on the real stack (small limits): the quality packs through real lm-eval (its dummy model
scores 0 on every pack; the embedded model is scored per item), greedy determinism of two real runs,
and the fidelity measurement + gate on the embedded model against itself, a scrambled copy and FP8."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.embedded_release import OFFLINE, embedded_checkpoint, gate, quantized_candidate, scrambled_checkpoint

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]

REPO = Path(__file__).resolve().parents[2]
TASKS = REPO / "skills" / "evaluate" / "tasks"
PACKS = ("tool_call", "instruct", "struct_output", "extract", "math")


def lm_eval(out: Path, *args: str, limit: int) -> Path:
    cmd = [sys.executable, "-m", "lm_eval", "run", "--include_path", str(TASKS), "--output_path", str(out),
           "--log_samples", "--limit", str(limit), *args]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env={**os.environ, **OFFLINE}, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return out


def results(out: Path) -> dict:
    return json.loads(sorted(out.rglob("results_*.json"))[-1].read_text())["results"]


def test_lm_evals_dummy_model_scores_zero_on_every_pack(tmp_path):
    """The negative control through the real harness: lm-eval's dummy model answers "lol" to everything."""
    out = lm_eval(tmp_path / "dummy", "--model", "dummy", "--tasks", ",".join(f"conductor_pack_{p}" for p in PACKS),
                  limit=20)
    res = results(out)
    for p in PACKS:
        metrics = {k: v for k, v in res[f"conductor_pack_{p}"].items() if "," in k and "stderr" not in k}
        assert metrics and all(v == 0 for v in metrics.values()), (p, metrics)


@pytest.fixture(scope="module")
def base() -> Path:
    return embedded_checkpoint()


def hf(out: Path, base: Path, tasks: str, limit: int, *extra: str) -> Path:
    return lm_eval(out, "--model", "hf", "--model_args", f"pretrained={base},dtype=float32", "--tasks", tasks,
                   "--apply_chat_template", "--batch_size", "4", "--seed", "0,1234,1234,1234", *extra, limit=limit)


def test_a_pack_on_the_embedded_model_is_scored_per_item_and_greedy_runs_are_identical(tmp_path, base):
    tasks = "conductor_pack_math"  # CI time: one pack, 3 items, generations capped (the dummy test covers all five)
    a = hf(tmp_path / "a", base, tasks, 3, "--gen_kwargs", "max_gen_toks=48")
    b = hf(tmp_path / "b", base, tasks, 3, "--gen_kwargs", "max_gen_toks=48")
    for task in tasks.split(","):
        lines = [json.loads(x) for f in a.rglob(f"samples_{task}_*.jsonl") for x in f.read_text().splitlines()]
        assert len(lines) == 3 and all(x["pass"] in (0, 1, 0.0, 1.0) for x in lines)
    assert gate("eval_run", a)["pass"]
    proc = subprocess.run([sys.executable, "-m", "gates.noise", "determinism", str(a), str(b)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["identical"] is True


DOCS = "20"  # CI time: the first 20 held-out documents (the gate's minimum); bench_evidence.py measures all
SMALL = ("--min-tokens", "500")  # 20 short documents hold fewer than the default 2,000 tokens


def measure(out: Path, base: Path, *candidate: str) -> Path:
    record = out / "fidelity_measure.json"
    proc = subprocess.run([sys.executable, "-m", "skills.fidelity.run", "--baseline", str(base), *candidate,
                           "--max-docs", DOCS, "--out", str(record)], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, **OFFLINE}, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return record


def test_fidelity_says_no_to_a_scrambled_copy_and_to_the_baseline_itself(tmp_path_factory, base):
    scrambled = scrambled_checkpoint(tmp_path_factory.getbasetemp(), base)
    v = gate("fidelity", measure(tmp_path_factory.mktemp("scr"), base, "--candidate", str(scrambled)), args=SMALL)
    assert v["failure_class"] == "DISTRIBUTION_DRIFT", v["detail"]
    assert v["evidence"]["tokens"]["kl_mean"] > 1.0
    v = gate("fidelity", measure(tmp_path_factory.mktemp("self"), base, "--candidate", str(base)), args=SMALL)
    assert v["failure_class"] == "CACHING_DETECTED", v["detail"]


def test_fidelity_passes_fp8_and_stops_int8_sq_under_calibrated(tmp_path_factory, base):
    root = tmp_path_factory.getbasetemp()
    fp8 = quantized_candidate(root, "fp8", base)
    v = gate("fidelity", measure(tmp_path_factory.mktemp("fp8"), base, "--simulated-state",
                                 fp8.artifacts["simulated_state"]), args=SMALL)
    assert v["pass"], v["detail"]
    int8 = quantized_candidate(root, "int8_sq", base)
    v = gate("fidelity", measure(tmp_path_factory.mktemp("int8"), base, "--simulated-state",
                                 int8.artifacts["simulated_state"]), args=SMALL)
    assert v["failure_class"] == "DISTRIBUTION_DRIFT", v["detail"]
