"""AnthropicProvider against canned Messages API responses, through an HTTP mock transport.

The anthropic SDK runs on `httpx2`, so the mock is `httpx2.MockTransport` inside an
`httpx2.Client` (respx patches `httpx`, which this SDK does not use). No network anywhere.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Callable, Optional, Union

import httpx2
import pytest

from conductor.providers.anthropic_provider import (
    AnthropicProvider,
    RetryNotice,
    build_params,
    mark_system,
    normalize_base_url,
    parse_retry_after,
)
from conductor.providers.base import ModelRequest, Provider, ProviderError
from conductor.providers.pricing import default_price_table, normalize_model
from conductor.transcript.events import Usage

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "anthropic"
KEY = "sk-ant-api03-TESTSECRET-0123456789abcdef"
TOOLS = [
    {"name": "quantize", "description": "Quantize the checkpoint.",
     "input_schema": {"type": "object", "properties": {"recipe": {"type": "string"}}, "required": ["recipe"]}},
    {"name": "evaluate", "description": "Evaluate a checkpoint.",
     "input_schema": {"type": "object", "properties": {"tasks": {"type": "array"}}}},
]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def sse(events: list[dict[str, Any]]) -> bytes:
    return "".join(f"event: {e['event']}\ndata: {json.dumps(e['data'])}\n\n" for e in events).encode()


Reply = Union[httpx2.Response, Callable[[httpx2.Request], httpx2.Response]]


class FakeAPI:
    """Serves queued responses in order and keeps every request it saw."""

    def __init__(self, *replies: Reply):
        self.replies = list(replies)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        assert self.replies, f"unexpected extra request to {request.url}"
        reply = self.replies.pop(0)
        return reply(request) if callable(reply) else reply

    def body(self, i: int = -1) -> dict[str, Any]:
        return json.loads(self.requests[i].content)


def ok(name: str) -> httpx2.Response:
    return httpx2.Response(200, json=fixture(name))


def stream(name: str) -> httpx2.Response:
    return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=sse(fixture(name)))


def err(status: int, name: str, headers: Optional[dict[str, str]] = None) -> httpx2.Response:
    return httpx2.Response(status, json=fixture(name), headers=headers or {})


def make(api: FakeAPI, **kw: Any) -> tuple[AnthropicProvider, list[float]]:
    slept: list[float] = []
    kw.setdefault("api_key", KEY)
    kw.setdefault("sleep", slept.append)
    kw.setdefault("rng", random.Random(0))
    provider = AnthropicProvider(
        "claude-sonnet-4-6", http_client=httpx2.Client(transport=httpx2.MockTransport(api)), **kw
    )
    return provider, slept


def request(**kw: Any) -> ModelRequest:
    kw.setdefault("system", [{"type": "text", "text": "You are conductor."}])
    kw.setdefault("tools", [])
    kw.setdefault("messages", [{"role": "user", "content": "Release the model."}])
    return ModelRequest(**kw)


# ---- replies passed through ------------------------------------------------------------------


def test_text_reply() -> None:
    api = FakeAPI(ok("text_reply.json"))
    provider, _ = make(api)
    assert isinstance(provider, Provider)
    resp = provider.complete(request())
    assert resp.content == [{"type": "text", "text": "The baseline is ready; I will quantize next."}]
    assert resp.stop_reason == "end_turn"
    assert resp.model == "claude-sonnet-4-6"
    assert resp.usage == Usage(input_tokens=1200, output_tokens=15)
    assert resp.cost_usd == pytest.approx((1200 * 3 + 15 * 15) / 1e6)
    sent = api.requests[0]
    assert sent.url.path == "/v1/messages" and sent.url.host == "api.anthropic.com"
    assert sent.headers["authorization"] == f"Bearer {KEY}"  # this SDK sends the key as a bearer token
    assert sent.headers.get("x-stainless-retry-count") == "0"
    body = api.body()
    assert body["model"] == "claude-sonnet-4-6" and body["max_tokens"] == 4096 and "stream" not in body


def test_tool_use_reply_keeps_thinking_and_input_verbatim() -> None:
    api = FakeAPI(ok("tool_use_reply.json"))
    resp = make(api)[0].complete(request(tools=TOOLS))
    assert resp.stop_reason == "tool_use"
    assert resp.content == [
        {"type": "thinking", "thinking": "The stage needs the quantize skill.", "signature": "sig-abc123"},
        {"type": "text", "text": "Quantizing with fp8."},
        {
            "type": "tool_use",
            "id": "toolu_01A",
            "name": "quantize",
            "input": {"recipe": "fp8", "calib_size": 64, "note": None},
        },
    ]


def test_max_tokens_with_truncated_tool_use_is_passed_through() -> None:
    api = FakeAPI(ok("max_tokens_truncated_tool_use.json"))
    resp = make(api)[0].complete(request(tools=TOOLS))
    assert resp.stop_reason == "max_tokens"  # the loop must not run the tool_use below
    assert resp.content[-1] == {
        "type": "tool_use",
        "id": "toolu_01CUT",
        "name": "evaluate",
        "input": {"tasks": ["conductor_facts_mc"]},
    }


@pytest.mark.parametrize("name, reason", [("refusal.json", "refusal"), ("pause_turn.json", "pause_turn")])
def test_refusal_and_pause_turn_pass_through(name: str, reason: str) -> None:
    provider, _ = make(FakeAPI(ok(name)))
    resp = provider.complete(request())
    assert resp.stop_reason == reason
    assert resp.content and resp.content[0]["type"] == "text"
    if reason == "refusal":
        assert provider.last_stop_details == {"type": "refusal", "category": None, "explanation": None}


# ---- retries ---------------------------------------------------------------------------------


def test_429_then_success_honours_retry_after() -> None:
    api = FakeAPI(err(429, "error_429.json", {"retry-after": "7"}), ok("text_reply.json"))
    notices: list[RetryNotice] = []
    provider, slept = make(api, on_retry=notices.append)
    resp = provider.complete(request())
    assert resp.stop_reason == "end_turn"
    assert slept == [7.0]
    assert len(api.requests) == 2
    assert notices == provider.last_retries
    assert notices[0].status_code == 429 and notices[0].from_retry_after and notices[0].attempt == 1
    assert "rate_limit_error" in notices[0].reason


def test_retry_after_ms_wins_and_is_clamped() -> None:
    api = FakeAPI(
        err(429, "error_429.json", {"retry-after-ms": "1500", "retry-after": "9"}),
        err(429, "error_429.json", {"retry-after": "100000"}),
        ok("text_reply.json"),
    )
    provider, slept = make(api, max_retry_after_s=60)
    provider.complete(request())
    assert slept == [1.5, 60.0]


def test_529_overloaded_gives_up_transient_after_max_retries() -> None:
    api = FakeAPI(*[err(529, "error_529.json") for _ in range(4)])
    provider, slept = make(api, max_retries=3, backoff_base_s=1.0, backoff_cap_s=30.0)
    with pytest.raises(ProviderError) as info:
        provider.complete(request())
    assert info.value.transient is True
    assert len(api.requests) == 4 and len(slept) == 3
    assert "after 4 attempts" in str(info.value) and "529 overloaded_error" in str(info.value)
    for n, delay in enumerate(slept):  # exponential backoff with jitter in [d/2, d]
        full = 2.0**n
        assert full / 2 <= delay <= full
    assert info.value.status_code == 529


def test_500_then_success() -> None:
    api = FakeAPI(err(500, "error_500.json"), ok("text_reply.json"))
    provider, slept = make(api)
    assert provider.complete(request()).stop_reason == "end_turn"
    assert len(slept) == 1 and 0.5 <= slept[0] <= 1.0


def test_connection_error_is_retried() -> None:
    def boom(req: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=req)

    api = FakeAPI(boom, ok("text_reply.json"))
    provider, slept = make(api)
    assert provider.complete(request()).stop_reason == "end_turn"
    assert "connection failed" in provider.last_retries[0].reason


def test_401_is_not_transient_and_never_shows_the_key() -> None:
    body = fixture("error_401.json")
    body["error"]["message"] = f"invalid x-api-key {KEY}"  # a gateway that echoes the key back
    api = FakeAPI(httpx2.Response(401, json=body))
    provider, slept = make(api)
    with pytest.raises(ProviderError) as info:
        provider.complete(request())
    exc = info.value
    assert exc.transient is False and slept == [] and len(api.requests) == 1
    assert "rejected the key (401 authentication_error)" in str(exc)
    assert KEY not in str(exc) and KEY not in repr(exc) and "TESTSECRET" not in str(exc)
    assert exc.__cause__ is None and exc.__suppress_context__


def test_400_is_not_transient_with_the_api_sentence() -> None:
    provider, slept = make(FakeAPI(err(400, "error_400.json")))
    with pytest.raises(ProviderError) as info:
        provider.complete(request())
    assert info.value.transient is False and slept == []
    assert "roles must alternate" in str(info.value)


def test_no_key_and_no_base_url_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    with pytest.raises(ProviderError, match="no Anthropic API key") as info:
        AnthropicProvider("claude-sonnet-4-5")
    assert info.value.transient is False


# ---- streaming -------------------------------------------------------------------------------


def test_streaming_delivers_text_deltas_and_assembles_tool_use() -> None:
    api = FakeAPI(stream("stream_text_tool.json"))
    provider, _ = make(api)
    pieces: list[str] = []
    resp = provider.complete(request(tools=TOOLS), on_text=pieces.append)
    assert pieces == ["Serving the ", "baseline now."]
    assert api.body()["stream"] is True
    assert resp.stop_reason == "tool_use"
    assert resp.content == [
        {"type": "text", "text": "Serving the baseline now."},
        {"type": "tool_use", "id": "toolu_01S", "name": "serve", "input": {"checkpoint": "baseline", "port": 8000}},
    ]
    assert resp.usage == Usage(input_tokens=3000, output_tokens=41, cache_read_input_tokens=2800)


def test_streaming_max_tokens_cut_tool_use_keeps_partial_input() -> None:
    provider, _ = make(FakeAPI(stream("stream_max_tokens_tool.json")))
    resp = provider.complete(request(tools=TOOLS), on_text=lambda t: None)
    assert resp.stop_reason == "max_tokens"
    block = resp.content[0]
    assert block["type"] == "tool_use" and block["name"] == "quantize"
    assert block["input"].get("recipe") == "fp8"  # partial: calib_size never arrived


def test_streaming_error_event_midway_is_retried() -> None:
    api = FakeAPI(stream("stream_overloaded_midway.json"), stream("stream_text_tool.json"))
    provider, slept = make(api)
    pieces: list[str] = []
    resp = provider.complete(request(), on_text=pieces.append)
    assert pieces == ["Partial ", "Serving the ", "baseline now."]  # the first piece belongs to the failed attempt
    assert provider.last_retries[0].reason.startswith("200 overloaded_error")
    assert resp.content[0]["text"] == "Serving the baseline now." and len(slept) == 1


def test_stream_cut_before_message_stop_is_retried() -> None:
    events = fixture("stream_text_tool.json")[:-1]
    cut = httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=sse(events))
    api = FakeAPI(cut, stream("stream_text_tool.json"))
    provider, _ = make(api)
    assert provider.complete(request(), on_text=lambda t: None).stop_reason == "tool_use"
    assert "message_stop" in provider.last_retries[0].reason


def test_malformed_streamed_tool_json_is_retried() -> None:
    events = fixture("stream_max_tokens_tool.json")
    events[2]["data"]["delta"]["partial_json"] = '{"recipe": ]'
    bad = httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=sse(events))
    provider, _ = make(FakeAPI(bad, stream("stream_text_tool.json")))
    assert provider.complete(request(), on_text=lambda t: None).stop_reason == "tool_use"
    assert provider.last_retries[0].reason.startswith("malformed streamed response")


def test_on_text_exception_propagates_unretried() -> None:
    api = FakeAPI(stream("stream_text_tool.json"))
    provider, slept = make(api)

    def bad(_: str) -> None:
        raise ValueError("display gone")  # a ValueError too: never mistaken for a malformed stream

    with pytest.raises(ValueError, match="display gone"):
        provider.complete(request(), on_text=bad)
    assert slept == [] and len(api.requests) == 1


def test_stream_false_calls_on_text_once_with_the_whole_text() -> None:
    api = FakeAPI(ok("text_reply.json"))
    provider, _ = make(api, stream=False)
    pieces: list[str] = []
    provider.complete(request(), on_text=pieces.append)
    assert pieces == ["The baseline is ready; I will quantize next."]
    assert "stream" not in api.body()


# ---- caching, pricing, endpoints -------------------------------------------------------------


def test_cache_control_on_last_tool_and_last_stable_system_block() -> None:
    api = FakeAPI(ok("text_reply.json"))
    system = [
        {"type": "text", "text": "role", "stable": True},
        {"type": "text", "text": "skill docs", "stable": True},
        {"type": "text", "text": "budget left: 12 turns"},
    ]
    req = request(system=system, tools=TOOLS)
    make(api)[0].complete(req)
    body = api.body()
    assert body["system"] == [
        {"type": "text", "text": "role"},
        {"type": "text", "text": "skill docs", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "budget left: 12 turns"},
    ]
    assert [("cache_control" in t) for t in body["tools"]] == [False, True]
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in json.dumps(body["messages"])
    assert req.system[1] == {"type": "text", "text": "skill docs", "stable": True}  # request untouched
    assert "cache_control" not in req.tools[-1]


def test_stable_prefix_rules() -> None:
    # only the leading run is a prefix; a stable block after a volatile one is not marked
    out = mark_system([{"type": "text", "text": "a"}, {"type": "text", "text": "b", "stable": True}])
    assert all("cache_control" not in b and "stable" not in b for b in out)
    # a cache_control the loop set itself is left as given
    given = [
        {"type": "text", "text": "a", "stable": True, "cache_control": {"type": "ephemeral", "ttl": "1h"}},
        {"type": "text", "text": "b", "stable": True},
    ]
    assert mark_system(given) == [
        {"type": "text", "text": "a", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
        {"type": "text", "text": "b"},
    ]
    params = build_params("m", request(system=[], tools=[]))
    assert "system" not in params and "tools" not in params


def test_cache_usage_is_priced_from_the_table() -> None:
    provider, _ = make(FakeAPI(ok("cache_usage.json")))
    resp = provider.complete(request())
    assert resp.usage == Usage(
        input_tokens=1000, output_tokens=2000, cache_creation_input_tokens=10000, cache_read_input_tokens=100000
    )
    # sonnet 4.6: $3 in, $15 out, $3.75 5m write, $6 1h write, $0.30 read (per MTok)
    expected = (1000 * 3 + 2000 * 15 + 8000 * 3.75 + 2000 * 6 + 100000 * 0.30) / 1e6
    assert resp.cost_usd == pytest.approx(expected)
    assert (
        provider.last_cost is not None
        and provider.last_cost.priced
        and provider.last_cost.price_key == "claude-sonnet-4-6"
    )


def test_price_table_snapshot_and_unknown_model_fallback() -> None:
    provider, _ = make(FakeAPI())
    snap = provider.price_table_snapshot()
    json.dumps(snap)
    assert snap["as_of"] and snap["currency"] == "USD" and "claude-sonnet-4-6" in snap["models"]
    assert snap["this_model"] == {"model": "claude-sonnet-4-6", "price_key": "claude-sonnet-4-6", "priced": True}
    table = default_price_table()
    cost = table.cost("claude-unknown-9", Usage(input_tokens=1_000_000))
    assert cost.priced is False and cost.tier == "fallback"
    assert cost.usd == max(p.input for p in table.models.values())  # conservative
    assert normalize_model("claude-3-5-haiku-20241022") == "claude-3-5-haiku"
    assert table.cost("claude-haiku-5-5", Usage(input_tokens=150_000)).tier == "long_prompt"


def test_base_url_goes_to_the_self_hosted_endpoint_at_zero_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    api = FakeAPI(ok("cache_usage.json"))
    provider, _ = make(api, api_key=None, base_url="http://vllm.internal:8000/v1/")
    resp = provider.complete(request())
    sent = api.requests[0]
    assert (sent.url.scheme, sent.url.host, sent.url.port, sent.url.path) == (
        "http",
        "vllm.internal",
        8000,
        "/v1/messages",
    )
    assert sent.headers["authorization"] == "Bearer EMPTY"
    assert resp.cost_usd == 0.0 and provider.last_cost is not None and provider.last_cost.priced
    assert provider.price_table_snapshot()["name"] == "self-hosted"


def test_self_hosted_404_names_the_endpoint() -> None:
    api = FakeAPI(httpx2.Response(404, json={"detail": "Not Found"}))
    provider, _ = make(api, base_url="http://vllm.internal:8000")
    with pytest.raises(ProviderError, match="vllm.internal:8000") as info:
        provider.complete(request())
    assert info.value.transient is False


def test_helpers() -> None:
    assert normalize_base_url("https://gw.example/v1") == "https://gw.example"
    assert normalize_base_url("  ") is None
    assert parse_retry_after(httpx2.Headers({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0
    assert parse_retry_after(httpx2.Headers({"retry-after": "soon"})) is None
