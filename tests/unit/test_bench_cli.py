"""`conductor bench` refuses bad input with exit 2 and one sentence, before any load is generated,
and an endpoint that does not answer is exit 1 (a failure, not the user's input)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.fakes.openai_server import FakeOpenAI


def bench(*args: str, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "conductor.cli", "bench", "--out", str(tmp_path / "out"), *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args,words", [
    (["--model", "m"], "--base-url"),
    (["--base-url", "localhost:8000", "--model", "m"], "not an http(s) URL"),
    (["--base-url", "http://127.0.0.1:1/v1", "--model", "m", "--modes", "fast"], "modes"),
    (["--base-url", "http://127.0.0.1:1/v1", "--model", "m", "--repetitions", "0"], "repetitions"),
    (["--base-url", "http://127.0.0.1:1/v1", "--model", "m", "--api-key-env", "sk-live-123"], "api_key_env"),
])
def test_bad_input_is_exit_2_with_one_sentence(tmp_path, args, words):
    p = bench(*args, tmp_path=tmp_path)
    assert p.returncode == 2 and words in p.stderr and "Traceback" not in p.stderr, p.stderr


def test_a_model_the_endpoint_does_not_serve_is_bad_input(tmp_path):
    with FakeOpenAI(ttft_s=0, token_delay_s=0) as srv:
        p = bench("--base-url", srv.base_url, "--model", "nope", tmp_path=tmp_path)
    assert p.returncode == 2 and "serves ['fake'], not 'nope'" in p.stderr, p.stderr


def test_an_endpoint_that_does_not_answer_is_a_failure(tmp_path):
    with FakeOpenAI() as srv:
        gone = srv.base_url
    p = bench("--base-url", gone, "--model", "fake", tmp_path=tmp_path)
    assert p.returncode == 1 and "INFRA_TRANSIENT" in p.stderr and "Traceback" not in p.stderr, p.stderr
