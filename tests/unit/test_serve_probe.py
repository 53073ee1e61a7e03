"""serve skill, probe mode: an endpoint that already runs is probed (health, models, canaries) and
the serve gate judges the record exactly as it judges a server the skill started. Test servers on
127.0.0.1: an honest one, one that generates noise, one without /health, one that needs a key,
one that is not there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from gates.serve.canaries import DEFAULT_CANARIES
from gates.serve.collect import facts_from_record
from gates.serve.decide import decide
from skills.common.runner import RunContext, SkillFailure
from skills.serve.probe import ProbeInput, run_probe
from tests.fakes.openai_server import FakeOpenAI

RIGHT = {c.prompt: f"The answer is {c.must_contain[0]}." for c in DEFAULT_CANARIES}


def probe(tmp_path: Path, url: str, **kw: Any) -> tuple[dict[str, Any], Any]:
    import json

    rc = RunContext(out_dir=tmp_path, workspace=tmp_path)
    out = run_probe(ProbeInput.model_validate({"base_url": url, "model": "fake", **kw}), rc)
    record = json.loads((tmp_path / out["artifacts"]["serve_record"]).read_text())
    return record, decide(facts_from_record(record))


def test_a_running_endpoint_that_answers_passes_the_serve_gate(tmp_path):
    with FakeOpenAI(ttft_s=0, token_delay_s=0, answers=RIGHT) as srv:
        record, v = probe(tmp_path, srv.base_url)
    assert v.passed, v.detail
    assert record["server_kind"] == "endpoint" and record["health_path"] == "/health"
    assert record["models_listed"] == ["fake"] and record["started_by_us"] is False
    assert len(record["health_probes"]) == 2 and record["health_probes"][-1]["http_status"] == 200


def test_an_endpoint_that_generates_noise_fails_the_canary(tmp_path):
    with FakeOpenAI(ttft_s=0, token_delay_s=0) as srv:   # words, not answers
        _, v = probe(tmp_path, srv.base_url)
    assert not v.passed and v.failure_class == "INFERENCE_FAILED"


def test_an_endpoint_without_health_is_probed_through_another_path(tmp_path):
    with FakeOpenAI(ttft_s=0, token_delay_s=0, answers=RIGHT, health=False) as srv:
        record, v = probe(tmp_path, srv.base_url)
    assert v.passed, v.detail
    assert record["health_path"] == "/v1/models"


def test_a_missing_endpoint_is_not_healthy_within_the_ceiling(tmp_path):
    with FakeOpenAI() as srv:
        gone = srv.base_url
    record, v = probe(tmp_path, gone, load_ceiling_s=1.0)
    assert not v.passed and v.failure_class == "DEPLOYMENT_HEALTH_FAILED"
    assert record["canaries"] == [] and record["health_probes"][-1]["t_s"] >= 1.0


def test_a_model_the_endpoint_does_not_serve_fails(tmp_path):
    with FakeOpenAI(model="other", ttft_s=0, token_delay_s=0, answers=RIGHT) as srv:
        _, v = probe(tmp_path, srv.base_url)
    assert not v.passed and v.failure_class == "DEPLOYMENT_HEALTH_FAILED"
    assert any(c.name == "model_listed" and not c.passed for c in v.checks)


def test_the_api_key_is_used_and_written_nowhere(tmp_path, monkeypatch):
    secret = "nim-key-0123456789abcdef"
    monkeypatch.setenv("PROBE_KEY", secret)
    with FakeOpenAI(ttft_s=0, token_delay_s=0, answers=RIGHT, api_key=secret) as srv:
        _, v = probe(tmp_path, srv.base_url, api_key_env="PROBE_KEY")
        assert v.passed, v.detail
        monkeypatch.delenv("PROBE_KEY")
        with pytest.raises(SkillFailure, match=r"\$PROBE_KEY is not set"):
            probe(tmp_path / "b", srv.base_url, api_key_env="PROBE_KEY")
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


@pytest.mark.parametrize("bad", [{"base_url": "gpu-node:8000"}, {"api_key_env": "sk-123"}, {"role": "other"}])
def test_bad_probe_input(bad):
    with pytest.raises(ValidationError):
        ProbeInput.model_validate({"base_url": "http://h:1/v1", "model": "m", **bad})
