"""The one module that talks HTTP to a served model (an OpenAI-compatible server such as vLLM).

Every call returns a value, never raises for a network or HTTP failure: a probe that got no
answer is `status=None` with the error text, which is exactly what the serve gate's record wants.

    ep = Endpoint("http://127.0.0.1:8000")
    ep.health()                       # Probe(status=200, error=None, latency_s=0.003)
    ep.models()                       # Listing(status=200, ids=["baseline"], ...)
    ep.chat("baseline", "What is 2 + 2?", max_tokens=32)   # Reply(status=200, text="2 + 2 = 4", ...)

Only the standard library and httpx (a core dependency) are used; no proxy from the environment
is ever taken (the server is on 127.0.0.1).
"""

from __future__ import annotations

import json
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

import httpx

DEFAULT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Probe:
    """One GET /health: the HTTP status (None = no HTTP answer) or the connection error."""

    status: Optional[int]
    error: Optional[str]
    latency_s: float


@dataclass(frozen=True)
class Listing:
    """GET /v1/models: the model ids (None when no usable answer came back)."""

    status: Optional[int]
    ids: Optional[list[str]]
    error: Optional[str]
    max_model_len: dict[str, Optional[int]] = field(default_factory=dict)
    roots: dict[str, Optional[str]] = field(default_factory=dict)  # id -> the checkpoint it serves (vLLM: --model)


@dataclass(frozen=True)
class Reply:
    """One generation request: the text (None = none came back), why it stopped, the usage."""

    status: Optional[int]
    text: Optional[str]
    finish_reason: Optional[str]
    completion_tokens: Optional[int]
    latency_s: float
    error: Optional[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_base_url(url: str) -> str:
    """An OpenAI-style base URL (http(s)://host[:port][/prefix][/v1]) as given, or ValueError saying why not."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL (e.g. http://host:8000/v1)")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ValueError(f"{url!r}: {exc}") from None
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r}: a base URL has no query or fragment")
    return url.strip().rstrip("/")


def endpoint_root(base_url: str) -> str:
    """The server root an Endpoint takes: the base URL without a trailing /v1 (OpenAI clients take it with)."""
    root = base_url.rstrip("/")
    return root[:-3] if root.endswith("/v1") else root


def _error_text(exc: BaseException) -> str:
    msg = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {msg}"[:500]


def _body_error(resp: httpx.Response) -> str:
    """The server's own error message of a non-200 answer (OpenAI shape or plain text)."""
    try:
        data = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}: {resp.text[:300]}"
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        err = err.get("message")
    if not err and isinstance(data, dict):
        err = data.get("message") or data.get("detail")
    return f"HTTP {resp.status_code}: {str(err or data)[:300]}"


class Endpoint:
    """An OpenAI-compatible server at `base_url` (scheme://host:port, without /v1)."""

    def __init__(self, base_url: str, timeout_s: float = DEFAULT_TIMEOUT_S, *, api_key: Optional[str] = None):
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        # sent as a Bearer token, never logged nor stored (an endpoint that already runs may need one)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    # -- plumbing ---------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Optional[dict[str, Any]], timeout_s: float
                 ) -> tuple[Optional[httpx.Response], Optional[str], float]:
        t0 = time.monotonic()
        try:
            with httpx.Client(timeout=timeout_s, trust_env=False) as client:
                resp = client.request(method, self.base_url + path, json=body, headers=self._headers)
        except httpx.HTTPError as exc:
            return None, _error_text(exc), time.monotonic() - t0
        except OSError as exc:  # a socket error httpx did not wrap
            return None, _error_text(exc), time.monotonic() - t0
        return resp, None, time.monotonic() - t0

    # -- calls ------------------------------------------------------------------------------------

    def health(self, timeout_s: float = 5.0) -> Probe:
        resp, err, dt = self._request("GET", "/health", None, timeout_s)
        return Probe(resp.status_code if resp is not None else None, err, dt)

    def get(self, path: str, timeout_s: float = 5.0) -> Probe:
        """GET any path: its HTTP status (None = no HTTP answer) or the connection error."""
        resp, err, dt = self._request("GET", path, None, timeout_s)
        return Probe(resp.status_code if resp is not None else None, err, dt)

    def metrics_text(self, timeout_s: float = 10.0) -> Optional[str]:
        """GET /metrics (Prometheus text, as vLLM serves it); None when there is no usable answer."""
        resp, _, _ = self._request("GET", "/metrics", None, timeout_s)
        return resp.text if resp is not None and resp.status_code == 200 else None

    def models(self, timeout_s: float = 30.0) -> Listing:
        resp, err, _ = self._request("GET", "/v1/models", None, timeout_s)
        if resp is None:
            return Listing(None, None, err)
        if resp.status_code != 200:
            return Listing(resp.status_code, None, _body_error(resp))
        try:
            data = resp.json().get("data") or []
            ids = [str(m["id"]) for m in data]
            lens = {str(m["id"]): m.get("max_model_len") for m in data}
            roots = {str(m["id"]): str(m["root"]) if m.get("root") is not None else None for m in data}
        except (ValueError, AttributeError, KeyError, TypeError) as exc:
            return Listing(resp.status_code, None, f"unreadable /v1/models answer: {_error_text(exc)}")
        return Listing(resp.status_code, ids, None, lens, roots)

    def chat(self, model: str, prompt: str, *, max_tokens: int = 32, temperature: float = 0.0,
             seed: Optional[int] = 0, timeout_s: Optional[float] = None) -> Reply:
        """One user turn through the server's chat template (POST /v1/chat/completions), greedy."""
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": prompt}],
                                "max_tokens": max_tokens, "temperature": temperature}
        if seed is not None:
            body["seed"] = seed
        return self._generate("/v1/chat/completions", body, timeout_s, chat=True)

    def complete(self, model: str, prompt: str, *, max_tokens: int = 32, temperature: float = 0.0,
                 seed: Optional[int] = 0, timeout_s: Optional[float] = None) -> Reply:
        """A raw completion (POST /v1/completions), greedy."""
        body: dict[str, Any] = {"model": model, "prompt": prompt, "max_tokens": max_tokens,
                                "temperature": temperature}
        if seed is not None:
            body["seed"] = seed
        return self._generate("/v1/completions", body, timeout_s, chat=False)

    def _generate(self, path: str, body: dict[str, Any], timeout_s: Optional[float], *, chat: bool) -> Reply:
        resp, err, dt = self._request("POST", path, body, timeout_s or self.timeout_s)
        if resp is None:
            return Reply(None, None, None, None, dt, err)
        if resp.status_code != 200:
            return Reply(resp.status_code, None, None, None, dt, _body_error(resp))
        try:
            data = resp.json()
            choice = data["choices"][0]
            text = choice["message"].get("content") if chat else choice.get("text")
            usage = data.get("usage") or {}
            tokens = usage.get("completion_tokens")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            return Reply(resp.status_code, None, None, None, dt,
                         f"unreadable answer: {_error_text(exc)}: {json.dumps(resp.text)[:200]}")
        return Reply(resp.status_code, text if isinstance(text, str) else None, choice.get("finish_reason"),
                     tokens if isinstance(tokens, int) else None, dt, None)
