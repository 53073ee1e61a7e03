"""The `anthropic` provider: one model turn through the Anthropic Messages API.

This is the only module that imports the `anthropic` SDK. It works against api.anthropic.com or any
endpoint that serves the same `/v1/messages` API (a self-hosted vLLM: pass `base_url`).

    provider = AnthropicProvider("claude-sonnet-4-5")
    resp = provider.complete(ModelRequest(system=[{"type": "text", "text": "...", "stable": True}],
                                          tools=TOOLS, messages=[{"role": "user", "content": "go"}]),
                             on_text=print)

Prompt caching: the stable prefix. The API caches prefixes in the order tools -> system ->
messages. This provider puts `cache_control: {"type": "ephemeral"}` on
  - the last tool definition, and
  - the last system block of the leading run of system blocks marked `"stable": true`.
The `stable` marker is conductor's own and is removed before sending. A stable block after a
non-stable one is not cacheable (a prefix cache stops at the first change) and gets no mark. Where
the loop already put `cache_control` on a tool or a system block, that group is sent as given.
Message blocks are sent verbatim (a `cache_control` the loop sets there is kept).

Retries are ours (the SDK's are off): 408, 409, 429, 5xx and 529 (overloaded), connection errors,
timeouts, an `error` event mid-stream of those kinds, and a stream cut before `message_stop` are
retried with exponential backoff and jitter, honouring `retry-after-ms` / `retry-after`. After
`max_retries` retries: ProviderError(transient=True). 400, 401, 402, 403, 404, 413, 422:
ProviderError(transient=False) at once, with a sentence that never contains the key.

Streaming: with `on_text` (and stream=True) the turn streams and each text delta goes to on_text.
If a streamed attempt fails and is retried, the text already delivered belongs to the failed
attempt: `on_retry` is told, and the returned ModelResponse is the authority. With stream=False,
on_text is called once with the turn's whole text.

The response is passed through faithfully: content blocks as plain dicts (text, tool_use,
thinking with its signature, ...), stop_reason verbatim (end_turn, tool_use, max_tokens, refusal,
pause_turn, stop_sequence). A tool_use cut off by max_tokens comes back with its partial input and
stop_reason "max_tokens"; the loop must not run it.
"""

from __future__ import annotations

import copy
import email.utils
import logging
import os
import random
import re
import time
from datetime import datetime, timezone
from typing import Any, Callable, Optional
from urllib.parse import urlparse

import anthropic
import httpx2
from pydantic import BaseModel, ConfigDict

from conductor.events import Usage
from conductor.pricing import Cost, PriceTable, default_price_table, self_hosted_price_table
from conductor.providers.base import ModelRequest, ModelResponse, ProviderError

log = logging.getLogger("conductor.providers.anthropic")

EPHEMERAL = {"type": "ephemeral"}
STABLE_MARK = "stable"
RETRY_STATUS = frozenset({408, 409, 429})
RETRY_ERROR_TYPES = frozenset({"overloaded_error", "rate_limit_error", "api_error", "timeout_error"})
# the endpoint refuses the request as configured (model, key, context, tool choice): exit 2, not SYSTEMIC
CONFIG_STATUS = frozenset({400, 401, 403, 404, 413, 422})
STREAM_ABOVE_MAX_TOKENS = 16_384  # long generations stream even without on_text (no 10-minute request)
_KEY_PATTERN = re.compile(r"sk-ant-[A-Za-z0-9_\-]{4,}")


class RetryNotice(BaseModel):
    """One retry about to happen (given to on_retry and kept in `provider.last_retries`)."""

    model_config = ConfigDict(extra="forbid")

    attempt: int  # the attempt that failed, 1-based
    max_retries: int
    delay_s: float
    reason: str
    status_code: Optional[int] = None
    from_retry_after: bool = False


class AnthropicProviderError(ProviderError):
    """ProviderError with what the API said (status, error type, request id, attempts made)."""

    def __init__(self, message: str, *, transient: bool, status_code: Optional[int] = None,
                 error_type: Optional[str] = None, request_id: Optional[str] = None, attempts: int = 1):
        super().__init__(message, transient=transient, config_error=not transient and status_code in CONFIG_STATUS)
        self.status_code = status_code
        self.error_type = error_type
        self.request_id = request_id
        self.attempts = attempts


class _Retryable(Exception):
    """An attempt failed in a way worth another try."""

    def __init__(self, reason: str, *, status_code: Optional[int] = None, retry_after: Optional[float] = None):
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code
        self.retry_after = retry_after


class _CallbackFailed(Exception):
    """on_text raised: its exception is re-raised as is, never retried or wrapped."""


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, model: str, *, api_key: Optional[str] = None, base_url: Optional[str] = None,
                 max_retries: int = 4, timeout_s: float = 600.0, http_client: Optional[httpx2.Client] = None,
                 price_table: Optional[PriceTable] = None, stream: bool = True,
                 sleep: Callable[[float], None] = time.sleep,
                 on_retry: Optional[Callable[[RetryNotice], None]] = None,
                 rng: Optional[random.Random] = None, backoff_base_s: float = 1.0, backoff_cap_s: float = 30.0,
                 max_retry_after_s: float = 300.0):
        self.model = model
        self.base_url = normalize_base_url(base_url or os.environ.get("ANTHROPIC_BASE_URL"))
        self._key = api_key or os.environ.get("ANTHROPIC_API_KEY") or ""
        if not self._key:
            if self.base_url is None:
                raise AnthropicProviderError(
                    "no Anthropic API key: set ANTHROPIC_API_KEY (or pass base_url for a self-hosted endpoint)",
                    transient=False)
            self._key = "EMPTY"  # a self-hosted endpoint started without --api-key ignores it
        self.max_retries = max(0, max_retries)
        self.stream = stream
        self.price_table = price_table or _table_for(self.base_url)
        self._sleep, self._on_retry = sleep, on_retry
        self._rng = rng or random.Random()
        self._backoff = (backoff_base_s, backoff_cap_s, max_retry_after_s)
        self._client = anthropic.Anthropic(
            api_key=self._key, base_url=self.base_url, max_retries=0, http_client=http_client,
            timeout=httpx2.Timeout(timeout_s, connect=min(10.0, timeout_s)))
        self.last_retries: list[RetryNotice] = []
        self.last_cost: Optional[Cost] = None
        self.last_stop_details: Optional[dict[str, Any]] = None  # e.g. a refusal's category

    # ---- public -------------------------------------------------------------------------

    def complete(self, req: ModelRequest, on_text: Optional[Callable[[str], None]] = None) -> ModelResponse:
        params = build_params(self.model, req)
        streaming = self.stream and (on_text is not None or req.max_tokens > STREAM_ABOVE_MAX_TOKENS)
        message = self._with_retries(lambda: self._attempt(params, on_text if streaming else None, streaming))
        response = self._to_response(message)
        if on_text is not None and not streaming:
            text = "".join(b.get("text", "") for b in response.content if b.get("type") == "text")
            if text:
                on_text(text)
        return response

    def price_table_snapshot(self) -> dict[str, Any]:
        """The price table in use, and how this provider's model resolves in it (for the transcript)."""
        snap = self.price_table.snapshot()
        found = self.price_table.lookup(self.model)
        snap["this_model"] = {"model": self.model, "price_key": found[0] if found else None,
                              "priced": bool(found) or self.price_table.fallback_priced}
        snap["endpoint"] = self.base_url or "https://api.anthropic.com"
        return snap

    # ---- one attempt ----------------------------------------------------------------------

    def _attempt(self, params: dict[str, Any], on_text: Optional[Callable[[str], None]], streaming: bool) -> Any:
        try:
            if not streaming:
                return self._client.messages.create(**params)
            return self._stream_once(params, on_text)
        except _CallbackFailed:
            raise
        except anthropic.APIStatusError as exc:
            raise self._classify_status(exc) from None
        except anthropic.APIConnectionError as exc:
            kind = "timed out" if isinstance(exc, anthropic.APITimeoutError) else "connection failed"
            raise _Retryable(f"{kind}: {self._redact(str(exc))}") from None
        except httpx2.TransportError as exc:  # raised mid-stream, unwrapped by the SDK
            raise _Retryable(f"connection broke mid-response: {type(exc).__name__}") from None

    def _stream_once(self, params: dict[str, Any], on_text: Optional[Callable[[str], None]]) -> Any:
        finished = False
        with self._client.messages.stream(**params) as stream:
            try:
                for event in stream:
                    if event.type == "text" and on_text is not None:
                        _deliver(on_text, event.text)
                    elif event.type == "message_stop":
                        finished = True
            except ValueError as exc:  # the SDK could not parse a streamed tool input
                raise _Retryable(f"malformed streamed response: {self._redact(str(exc))[:200]}") from None
            message = stream.get_final_message()
        if not finished:
            raise _Retryable("the stream ended before message_stop")
        return message

    # ---- retries --------------------------------------------------------------------------

    def _with_retries(self, attempt: Callable[[], Any]) -> Any:
        self.last_retries = []
        for n in range(1, self.max_retries + 2):
            try:
                return attempt()
            except _CallbackFailed as wrapped:
                raise wrapped.__cause__ from None  # type: ignore[misc]
            except _Retryable as exc:
                if n > self.max_retries:
                    raise AnthropicProviderError(
                        f"the {self._who()} was still failing after {n} attempts (last: {exc.reason})",
                        transient=True, status_code=exc.status_code, attempts=n) from None
                self._wait(n, exc)
        raise AssertionError("unreachable")

    def _wait(self, attempt: int, exc: _Retryable) -> None:
        base, cap, max_after = self._backoff
        if exc.retry_after is not None:
            delay, honoured = min(max(exc.retry_after, 0.0), max_after), True
        else:
            full = min(cap, base * 2 ** (attempt - 1))
            delay, honoured = full / 2 + self._rng.random() * full / 2, False
        notice = RetryNotice(attempt=attempt, max_retries=self.max_retries, delay_s=round(delay, 3),
                             reason=exc.reason, status_code=exc.status_code, from_retry_after=honoured)
        self.last_retries.append(notice)
        log.warning("anthropic: attempt %d failed (%s); retrying in %.1fs", attempt, exc.reason, delay)
        if self._on_retry is not None:
            self._on_retry(notice)
        self._sleep(delay)

    # ---- errors ---------------------------------------------------------------------------

    def _classify_status(self, exc: anthropic.APIStatusError) -> Exception:
        status, etype = exc.status_code, exc.type
        detail = self._redact((exc.api_message or "").strip())[:300]
        label = f"{status}{' ' + etype if etype else ''}"
        mid_stream = 200 <= status < 300  # an `error` event inside a 200 stream
        if status in RETRY_STATUS or status >= 500 or (mid_stream and (etype in RETRY_ERROR_TYPES or etype is None)):
            reason = f"{label}: {detail}" if detail else label
            return _Retryable(reason, status_code=status, retry_after=parse_retry_after(exc.response.headers))
        return AnthropicProviderError(self._rejection_sentence(status, label, detail), transient=False,
                                      status_code=status, error_type=etype, request_id=exc.request_id)

    def _rejection_sentence(self, status: int, label: str, detail: str) -> str:
        who, tail = self._who(), (f": {detail}" if detail else "")
        if status == 401:
            return f"the {who} rejected the key ({label}); check ANTHROPIC_API_KEY{tail}"
        if status == 403:
            return f"the {who} refused this key access to model {self.model!r} ({label}){tail}"
        if status == 404:
            hint = "" if self.base_url is None else f" (does {self.base_url} serve POST /v1/messages?)"
            return f"the {who} does not know model {self.model!r} or the endpoint ({label}){hint}{tail}"
        if status == 402:
            return f"the {who} refused the request for billing reasons ({label}){tail}"
        if status == 413:
            return f"the {who} rejected the request as too large ({label}){tail}"
        return f"the {who} rejected the request ({label}){tail}{_self_hosted_hint(detail)}"

    def _who(self) -> str:
        return "Anthropic API" if self.base_url is None else f"endpoint {self.base_url}"

    def _redact(self, text: str) -> str:
        if self._key and len(self._key) >= 6:
            text = text.replace(self._key, "[REDACTED]")
        return _KEY_PATTERN.sub("[REDACTED]", text)

    # ---- response -------------------------------------------------------------------------

    def _to_response(self, message: Any) -> ModelResponse:
        usage, w1h = convert_usage(message.usage)
        model = message.model or self.model
        self.last_cost = self.price_table.cost(model, usage, cache_write_1h_tokens=w1h)
        details = getattr(message, "stop_details", None)
        self.last_stop_details = details.to_dict(mode="json") if details is not None else None
        return ModelResponse(content=[block_to_dict(b) for b in message.content], stop_reason=message.stop_reason,
                             usage=usage, model=model, cost_usd=self.last_cost.usd)


def _self_hosted_hint(detail: str) -> str:
    """What to change when a self-hosted server (vLLM) refuses the conductor's request."""
    if "tool choice" in detail or "tool_choice" in detail or "tool-call-parser" in detail:
        return ("; the agent calls tools: start the server with tool calling enabled (vLLM: --enable-auto-tool-choice "
                "--tool-call-parser <the model's parser>)")
    if "context length" in detail or "max_tokens" in detail:
        return ("; the request does not fit the model's context: serve it with a longer one (vLLM: --max-model-len), "
                "or lower provider_max_tokens")
    return ""


def _deliver(on_text: Callable[[str], None], text: str) -> None:
    try:
        on_text(text)
    except Exception as exc:
        raise _CallbackFailed() from exc


# ---- request shaping (pure functions) -------------------------------------------------------

def build_params(model: str, req: ModelRequest) -> dict[str, Any]:
    """The Messages API arguments for one turn; the request itself is never mutated."""
    params: dict[str, Any] = {"model": model, "max_tokens": req.max_tokens,
                              "messages": copy.deepcopy(req.messages)}
    system = mark_system(req.system)
    if system:
        params["system"] = system
    tools = mark_tools(req.tools)
    if tools:
        params["tools"] = tools
    return params


def mark_system(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the `stable` markers; cache_control on the last block of the leading stable run."""
    out, last_stable, leading = [], -1, True
    for i, block in enumerate(blocks):
        block = copy.deepcopy(block)
        stable = bool(block.pop(STABLE_MARK, False))
        leading = leading and stable
        if leading:
            last_stable = i
        out.append(block)
    if last_stable >= 0 and not any("cache_control" in b for b in out):
        out[last_stable]["cache_control"] = dict(EPHEMERAL)
    return out


def mark_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = [copy.deepcopy(t) for t in tools]
    for tool in out:
        tool.pop(STABLE_MARK, None)
    if out and not any("cache_control" in t for t in out):
        out[-1]["cache_control"] = dict(EPHEMERAL)
    return out


def normalize_base_url(base_url: Optional[str]) -> Optional[str]:
    """The SDK appends /v1/messages itself: 'http://h:8000/v1/' -> 'http://h:8000'."""
    if not base_url or not base_url.strip():
        return None
    url = base_url.strip().rstrip("/")
    if url.endswith("/v1"):
        url = url[:-3]
    return url


def _table_for(base_url: Optional[str]) -> PriceTable:
    """List prices for Anthropic's own API; zero for any other endpoint (pass price_table to override)."""
    host = (urlparse(base_url).hostname or "") if base_url else "api.anthropic.com"
    if host == "anthropic.com" or host.endswith(".anthropic.com"):
        return default_price_table()
    return self_hosted_price_table(base_url or "")


def parse_retry_after(headers: Any) -> Optional[float]:
    """Seconds to wait from `retry-after-ms`, or `retry-after` (seconds or an HTTP date)."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


# ---- response shaping (pure functions) ------------------------------------------------------

def block_to_dict(block: Any) -> dict[str, Any]:
    """An SDK content block as the plain dict the API would accept back (None fields dropped)."""
    data = block.to_dict(mode="json", exclude_none=True)
    data.pop("parsed_output", None)
    if data.get("type") == "tool_use":
        data["input"] = copy.deepcopy(block.input) if isinstance(block.input, dict) else {}
    return data


def convert_usage(u: Any) -> tuple[Usage, int]:
    """conductor Usage, and the 1-hour part of the cache writes (priced apart)."""
    usage = Usage(input_tokens=u.input_tokens or 0, output_tokens=u.output_tokens or 0,
                  cache_read_input_tokens=getattr(u, "cache_read_input_tokens", None) or 0,
                  cache_creation_input_tokens=getattr(u, "cache_creation_input_tokens", None) or 0)
    breakdown = getattr(u, "cache_creation", None)
    w1h = (getattr(breakdown, "ephemeral_1h_input_tokens", None) or 0) if breakdown is not None else 0
    return usage, w1h
