"""Test servers that speak the OpenAI HTTP API on 127.0.0.1 (standard library only).

    with FakeOpenAI(model="fake", token_delay_s=0.01) as srv:      # slow, honest generator
        srv.base_url                                                # http://127.0.0.1:PORT/v1
    with FakeOpenAI(fail_after=5) as srv: ...                       # HTTP 500 from the 6th generation on
    with FakeOpenAI() as up, CachingProxy(up.root) as proxy: ...    # answers a repeated request from memory

FakeOpenAI streams chat and text completions token by token (SSE, `stream_options.include_usage`
honoured unless usage=False; `answers` maps a prompt to a canned answer), lists one model, answers
/health (unless health=False), and exposes a Prometheus /metrics
with vLLM's prefix-cache counters (hits stay 0 unless prefix_cache=True, then a repeated prompt counts
its length as hits); `slots` bounds how many requests it generates at once, like an engine's capacity.
CachingProxy forwards to an upstream and replays the recorded answer of a request body it has seen (or
has in flight: identical requests are collapsed into one), at once: the cache TEST04 must catch.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

WORDS = ("the sea holds salt and light while ships cross slowly under a grey sky and birds "
         "follow the wake toward harbours far away where people wait").split()


class _Base:
    """A ThreadingHTTPServer in a daemon thread; a context manager that stops it."""

    handler: type[BaseHTTPRequestHandler]

    def __enter__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self.handler)
        self.httpd.daemon_threads = True
        self.httpd.app = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.root + "/v1"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    @property
    def app(self) -> Any:
        return self.server.app  # type: ignore[attr-defined]

    def _json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _text(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")


# ---------------------------------------------------------------- the generator

def _prompt_text(body: dict[str, Any]) -> str:
    msgs = body.get("messages")
    if isinstance(msgs, list):
        parts = []
        for m in msgs:
            c = m.get("content")
            parts.append(c if isinstance(c, str) else " ".join(x.get("text", "") for x in c if isinstance(x, dict)))
        return "\n".join(parts)
    return str(body.get("prompt", ""))


class _GenHandler(_Handler):
    def do_GET(self) -> None:  # noqa: N802
        app = self.app
        if self.path == "/health" and app.has_health:
            self._text(200, "")
        elif self.path == "/v1/models" and app.api_key and self.headers.get("Authorization") != f"Bearer {app.api_key}":
            self._json(401, {"error": {"message": "bad api key"}})
        elif self.path == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": app.model, "object": "model"}]})
        elif self.path == "/metrics" and app.metrics:
            self._text(200, f"# TYPE vllm:prefix_cache_hits counter\n"
                            f'vllm:prefix_cache_hits_total{{engine="0",model_name="{app.model}"}} {app.hits}.0\n'
                            f'vllm:prefix_cache_queries_total{{engine="0",model_name="{app.model}"}} {app.queries}.0\n')
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:  # noqa: N802
        app = self.app
        if self.path not in ("/v1/chat/completions", "/v1/completions"):
            self._json(404, {"error": {"message": f"no route {self.path}"}})
            return
        body = self._body()
        if app.api_key and self.headers.get("Authorization") != f"Bearer {app.api_key}":
            self._json(401, {"error": {"message": "bad api key"}})
            return
        if body.get("model") != app.model:
            self._json(404, {"error": {"message": f"model {body.get('model')!r} does not exist"}})
            return
        n = app.count_request(_prompt_text(body))
        if app.fail_after is not None and n > app.fail_after:
            self._json(500, {"error": {"message": f"injected failure: request {n} after {app.fail_after}"}})
            return
        chat = self.path.endswith("chat/completions")
        if app.slots is None:
            app.generate(self, body, chat=chat, n=n)
            return
        with app.slots:
            app.generate(self, body, chat=chat, n=n)


class FakeOpenAI(_Base):
    handler = _GenHandler

    def __init__(self, model: str = "fake", *, ttft_s: float = 0.02, token_delay_s: float = 0.005,
                 usage: bool = True, fail_after: Optional[int] = None, api_key: Optional[str] = None,
                 metrics: bool = True, prefix_cache: bool = False, slots: Optional[int] = 1,
                 slow_after: Optional[int] = None, slow_factor: float = 3.0,
                 answers: Optional[dict[str, str]] = None, health: bool = True):
        self.model, self.ttft_s, self.token_delay_s, self.usage = model, ttft_s, token_delay_s, usage
        self.fail_after, self.api_key, self.metrics, self.prefix_cache = fail_after, api_key, metrics, prefix_cache
        self.requests, self.hits, self.queries, self.seen = 0, 0, 0, set()
        self.slow_after, self.slow_factor = slow_after, slow_factor  # a machine that gets busy mid-way
        self.answers, self.has_health = dict(answers or {}), health  # canned answers; /health or a 404
        self.lock = threading.Lock()
        # an engine's capacity: with one slot, n requests at once take n times as long as one
        self.slots = threading.Semaphore(slots) if slots else None

    def count_request(self, prompt: str) -> int:
        with self.lock:
            self.requests += 1
            self.queries += len(prompt)
            if self.prefix_cache and prompt in self.seen:
                self.hits += len(prompt)
            self.seen.add(prompt)
            return self.requests

    def tokens(self, body: dict[str, Any]) -> list[str]:
        n = int(body.get("max_tokens") or body.get("max_completion_tokens") or 16)
        if _prompt_text(body) in self.answers:
            return [w + " " for w in self.answers[_prompt_text(body)].split()][:n]
        seed = int(hashlib.sha256(_prompt_text(body).encode()).hexdigest(), 16)
        return [WORDS[(seed + i) % len(WORDS)] + " " for i in range(n)]

    def generate(self, h: _Handler, body: dict[str, Any], *, chat: bool, n: int = 0) -> None:
        toks, created = self.tokens(body), int(time.time())
        slow = self.slow_factor if self.slow_after is not None and n > self.slow_after else 1.0
        ttft_s, token_delay_s = self.ttft_s * slow, self.token_delay_s * slow
        usage = {"prompt_tokens": len(_prompt_text(body).split()), "completion_tokens": len(toks),
                 "total_tokens": len(_prompt_text(body).split()) + len(toks)}
        if not body.get("stream"):
            time.sleep(ttft_s + token_delay_s * len(toks))
            text = "".join(toks)
            choice = {"index": 0, "finish_reason": "length",
                      **({"message": {"role": "assistant", "content": text}} if chat else {"text": text})}
            h._json(200, {"id": "x", "object": "chat.completion", "created": created, "model": self.model,
                          "choices": [choice], **({"usage": usage} if self.usage else {})})
            return
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        time.sleep(ttft_s)
        for i, tok in enumerate(toks):
            if i:
                time.sleep(token_delay_s)
            delta = {"delta": {"content": tok}} if chat else {"text": tok}
            _chunk(h, {"id": "x", "created": created, "model": self.model,
                       "choices": [{"index": 0, **delta, "finish_reason": None}]})
        _chunk(h, {"id": "x", "created": created, "model": self.model,
                   "choices": [{"index": 0, **({"delta": {}} if chat else {"text": ""}), "finish_reason": "length"}]})
        if self.usage and (body.get("stream_options") or {}).get("include_usage"):
            _chunk(h, {"id": "x", "created": created, "model": self.model, "choices": [], "usage": usage})
        _raw(h, b"data: [DONE]\n\n")
        _raw(h, b"")


def _raw(h: _Handler, data: bytes) -> None:
    h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    h.wfile.flush()


def _chunk(h: _Handler, obj: dict[str, Any]) -> None:
    _raw(h, b"data: " + json.dumps(obj).encode() + b"\n\n")


# ---------------------------------------------------------------- the cache

class _ProxyHandler(_Handler):
    def _forward(self, method: str, body: Optional[bytes]) -> tuple[int, dict[str, str], bytes]:
        up = urllib.parse.urlsplit(self.app.upstream)
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=300)
        headers = {"Content-Type": "application/json"}
        if self.headers.get("Authorization"):
            headers["Authorization"] = self.headers["Authorization"]
        conn.request(method, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()  # whole answer (a cache stores it whole), then replayed
        out = (resp.status, {"Content-Type": resp.getheader("Content-Type") or "application/json"}, data)
        conn.close()
        return out

    def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        self._send(*self._forward("GET", None))

    def do_POST(self) -> None:  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = hashlib.sha256(json.dumps(json.loads(raw or b"{}"), sort_keys=True).encode()).hexdigest()
        app = self.app
        with app.lock:  # one upstream request per distinct body; identical ones in flight wait for it
            slot = app.cache.get(key)
            leader = slot is None
            if leader:
                slot = app.cache[key] = _Slot()
            else:
                app.hits += 1
        if leader:
            slot.answer = self._forward("POST", raw)
            slot.done.set()
            if slot.answer[0] != 200:
                with app.lock:
                    app.cache.pop(key, None)
        slot.done.wait(timeout=600)
        self._send(*(slot.answer or (502, {"Content-Type": "application/json"}, b'{"error": "upstream"}')))


class _Slot:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.answer: Optional[tuple[int, dict[str, str], bytes]] = None


class CachingProxy(_Base):
    handler = _ProxyHandler

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.cache: dict[str, _Slot] = {}
        self.hits = 0
        self.lock = threading.Lock()
