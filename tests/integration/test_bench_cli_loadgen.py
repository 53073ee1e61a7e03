"""`conductor bench` end to end with GuideLLM against test servers: an endpoint whose model has no
tokenizer here (a server named `fake`, no usage fields) is measured with --tokenizer, and the same
endpoint behind a caching proxy exits 1 with CACHING_DETECTED. Exit codes and verdicts, never times."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.embedded_release import embedded_checkpoint
from tests.fakes.openai_server import CachingProxy, FakeOpenAI

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]
SMALL = ["--queries-offline", "6", "--queries-single-stream", "4", "--repetitions", "2", "--max-tokens", "8"]


def bench(tmp_path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    p = subprocess.run([sys.executable, "-m", "conductor.cli", "bench", "--out", str(tmp_path / "out"), "--json",
                        *SMALL, *args], capture_output=True, text=True, timeout=1500,
                       env={**__import__("os").environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    verdict = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else {}
    return p, verdict


def test_no_usage_and_no_local_model_counts_tokens_with_the_given_tokenizer(tmp_path):
    with FakeOpenAI(ttft_s=0.1, token_delay_s=0.04, usage=False) as srv:
        p, v = bench(tmp_path, "--base-url", srv.base_url, "--model", "fake", "--modes", "single_stream",
                     "--audit", "none", "--tokenizer", str(embedded_checkpoint()))
    assert p.returncode in (0, 1), p.stderr[-2000:]
    assert v["evidence"]["figures"]["endpoint"]["single_stream"]["reference"]["output_unit"] == "tokens_tokenizer"
    if v["failure_class"] not in ("INFRA_TRANSIENT", "INDETERMINATE"):  # a noisy machine may only say so
        assert p.returncode == 0 and v["pass"], v["detail"]


def test_bench_behind_a_caching_proxy_exits_1_with_caching_detected(tmp_path):
    with FakeOpenAI(ttft_s=0.1, token_delay_s=0.04) as srv, CachingProxy(srv.root) as proxy:
        p, v = bench(tmp_path, "--base-url", proxy.base_url, "--model", "fake", "--modes", "offline")
    assert p.returncode == 1 and v["failure_class"] == "CACHING_DETECTED", (v.get("detail"), p.stderr[-2000:])
    assert (tmp_path / "out" / "verdict.json").is_file() and (tmp_path / "out" / "perf_record.json").is_file()
