"""The Provider interface: one model turn in the Anthropic Messages shape.

    class Echo:
        name = "echo"; model = "echo-1"
        def complete(self, req, on_text=None):
            return ModelResponse(content=[{"type": "text", "text": "hi"}], stop_reason="end_turn")
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from conductor.events import Usage


class ModelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system: list[dict[str, Any]]  # text blocks; the stable prefix carries cache_control
    tools: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    max_tokens: int = 4096
    stage: str = ""
    turn: int = 0


class ModelResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: list[dict[str, Any]]
    stop_reason: Optional[str]  # end_turn | tool_use | max_tokens | refusal | pause_turn | stop_sequence
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    cost_usd: float = 0.0


class ProviderError(Exception):
    """The provider could not produce a turn after its own retries (network, auth, overload).

    `config_error`: the endpoint refused the request as it is configured (a 400 from a server without
    tool-choice support or with too short a context, a rejected key, an unknown model): the run ends
    as a configuration error (exit 2) with the endpoint's sentence, not as an infrastructure failure."""

    def __init__(self, message: str, *, transient: bool, config_error: bool = False):
        super().__init__(message)
        self.transient = transient
        self.config_error = config_error


@runtime_checkable
class Provider(Protocol):
    name: str
    model: str

    def complete(self, req: ModelRequest, on_text: Optional[Callable[[str], None]] = None) -> ModelResponse:
        """One turn. Streams text through on_text when it can; raises ProviderError on failure."""
