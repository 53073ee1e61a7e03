"""The scripted provider, for tests: a queue of responses, or a function of the request.

    p = ScriptedProvider([tool_use("quantize", {"recipe": "fp8"}), end_turn("done")])
    p = ScriptedProvider(lambda req: tool_use("quantize", {"recipe": "fp8"}))
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from typing import Any, Callable, Iterable, Optional, Union

from conductor.providers.base import ModelRequest, ModelResponse, ProviderError
from conductor.transcript.events import Usage

_ids = itertools.count(1)


def tool_use(name: str, inp: dict[str, Any], *, text: str = "", tool_id: Optional[str] = None,
             usage: Optional[Usage] = None, cost_usd: float = 0.0, stop_reason: str = "tool_use") -> ModelResponse:
    """A turn that calls one tool (a text block first when `text` is given)."""
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    content.append({"type": "tool_use", "id": tool_id or f"toolu_s{next(_ids):05d}", "name": name, "input": inp})
    return ModelResponse(content=content, stop_reason=stop_reason, usage=usage or Usage(), model="scripted",
                         cost_usd=cost_usd)


def tool_uses(calls: Iterable[tuple[str, dict[str, Any]]]) -> ModelResponse:
    content = [{"type": "tool_use", "id": f"toolu_s{next(_ids):05d}", "name": n, "input": i} for n, i in calls]
    return ModelResponse(content=content, stop_reason="tool_use", model="scripted")


def end_turn(text: str = "", stop_reason: str = "end_turn", usage: Optional[Usage] = None,
             cost_usd: float = 0.0) -> ModelResponse:
    return ModelResponse(content=[{"type": "text", "text": text}] if text else [], stop_reason=stop_reason,
                         usage=usage or Usage(), model="scripted", cost_usd=cost_usd)


Script = Union[Iterable[ModelResponse], Callable[[ModelRequest], ModelResponse]]


class ScriptedProvider:
    name = "scripted"
    model = "scripted"

    def __init__(self, script: Script):
        self._fn = script if callable(script) else None
        self._queue: deque[ModelResponse] = deque() if callable(script) else deque(script)
        self.requests: list[ModelRequest] = []
        self._lock = threading.Lock()

    def complete(self, req: ModelRequest, on_text: Optional[Callable[[str], None]] = None) -> ModelResponse:
        with self._lock:
            self.requests.append(req)
            if self._fn is not None:
                resp = self._fn(req)
            elif self._queue:
                resp = self._queue.popleft()
            else:
                raise ProviderError("the script has no more responses", transient=False)
        if on_text:
            for block in resp.content:
                if block.get("type") == "text" and block.get("text"):
                    on_text(block["text"])
        return resp
