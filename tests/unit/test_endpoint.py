"""skills/common/endpoint.py: every outcome is a value (status, text or error), never an exception."""

from __future__ import annotations

import httpx
import respx

from conductor.runtime.executor import free_port
from skills.common.endpoint import Endpoint

BASE = "http://127.0.0.1:9"


def test_connection_refused_is_a_value():
    ep = Endpoint(f"http://127.0.0.1:{free_port()}")
    p = ep.health(timeout_s=2)
    assert p.status is None and "Connect" in p.error
    assert ep.models().ids is None
    r = ep.chat("m", "hi", timeout_s=2)
    assert r.status is None and r.text is None and r.error


@respx.mock
def test_health_models_chat_and_complete():
    respx.get(f"{BASE}/health").mock(return_value=httpx.Response(200))
    respx.get(f"{BASE}/v1/models").mock(return_value=httpx.Response(
        200, json={"data": [{"id": "baseline", "max_model_len": 2048}]}))
    chat = respx.post(f"{BASE}/v1/chat/completions").mock(return_value=httpx.Response(200, json={
        "choices": [{"message": {"content": "Paris."}, "finish_reason": "stop"}], "usage": {"completion_tokens": 3}}))
    respx.post(f"{BASE}/v1/completions").mock(return_value=httpx.Response(200, json={
        "choices": [{"text": " Paris", "finish_reason": "length"}], "usage": {"completion_tokens": 1}}))
    ep = Endpoint(BASE + "/")
    assert ep.health().status == 200
    m = ep.models()
    assert m.ids == ["baseline"] and m.max_model_len == {"baseline": 2048}
    r = ep.chat("baseline", "capital of France?", max_tokens=8)
    assert (r.status, r.text, r.finish_reason, r.completion_tokens, r.error) == (200, "Paris.", "stop", 3, None)
    body = chat.calls.last.request.content
    assert b'"temperature": 0.0' in body or b'"temperature":0.0' in body
    c = ep.complete("baseline", "Answer:")
    assert c.text == " Paris" and c.finish_reason == "length"


@respx.mock
def test_server_errors_carry_the_servers_message():
    respx.post(f"{BASE}/v1/chat/completions").mock(return_value=httpx.Response(
        400, json={"error": {"message": "maximum context length exceeded"}}))
    respx.get(f"{BASE}/v1/models").mock(return_value=httpx.Response(500, text="boom"))
    ep = Endpoint(BASE)
    r = ep.chat("m", "x")
    assert r.status == 400 and r.text is None and "maximum context length" in r.error
    m = ep.models()
    assert m.status == 500 and m.ids is None and "boom" in m.error


@respx.mock
def test_unreadable_answers_and_null_content():
    respx.post(f"{BASE}/v1/chat/completions").mock(side_effect=[
        httpx.Response(200, json={"nope": 1}),
        httpx.Response(200, json={"choices": [{"message": {"content": None}, "finish_reason": "length"}]}),
    ])
    ep = Endpoint(BASE)
    bad = ep.chat("m", "x")
    assert bad.status == 200 and bad.text is None and "unreadable answer" in bad.error
    null = ep.chat("m", "x")
    assert null.text is None and null.error is None and null.finish_reason == "length"
