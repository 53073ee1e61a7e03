"""What a model turn costs, from a dated price table (USD per million tokens).

    table = default_price_table()
    cost = table.cost("claude-sonnet-4-5-20250929", Usage(input_tokens=1000, output_tokens=200))
    cost.usd, cost.priced          # 0.006, True

A turn is priced from its usage block: plain input, output, cache reads, and cache writes (the
5-minute rate, or the 1-hour rate for the part the API reports as `ephemeral_1h_input_tokens`).
Models whose price depends on prompt length carry a `long_prompt` tier: when a request's prompt
(input + cache reads + cache writes) exceeds its threshold, every token of that request is billed
at the tier's rates.

Unknown models. A model the table does not list is priced at the table's `fallback` rates and the
cost says `priced=False`. The built-in table's fallback is deliberately conservative: the most
expensive rates in the table, so the run's cost budget still stops a run early rather than late.
A self-hosted endpoint (`self_hosted_price_table()`) costs nothing: every model is priced at zero
and `priced=True`, since zero is the real API cost there.

Not modelled: Batch API discounts, fast mode, data-residency (`inference_geo`) multipliers and
server-tool fees (web search); conductor uses none of them.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from conductor.transcript.events import Usage

PRICES_AS_OF = "2026-11-22"
PRICES_SOURCE = ("https://platform.claude.com/docs/en/about-claude/pricing and the model overview pages "
                 "(read 2026-11-22); verify before relying on figures for billing")
_MTOK = 1_000_000


class Rates(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_write_5m: float = Field(ge=0)
    cache_write_1h: float = Field(ge=0)
    cache_read: float = Field(ge=0)


class LongPromptTier(Rates):
    threshold_tokens: int = Field(gt=0, description="prompt tokens above which these rates apply to the whole request")


class ModelPrice(Rates):
    long_prompt: Optional[LongPromptTier] = None


class Cost(BaseModel):
    model_config = ConfigDict(extra="forbid")

    usd: float
    priced: bool  # False: the model is not in the table, the fallback rates were used
    price_key: Optional[str]  # the table entry used; None for the fallback
    tier: Literal["standard", "long_prompt", "fallback"]


def _p(inp: float, out: float, w5: float, w1: float, rd: float,
       long_prompt: Optional[LongPromptTier] = None) -> ModelPrice:
    return ModelPrice(input=inp, output=out, cache_write_5m=w5, cache_write_1h=w1, cache_read=rd,
                      long_prompt=long_prompt)


_OPUS_45 = _p(5, 25, 6.25, 10, 0.50)  # Opus 4.5 .. Opus 5
_OPUS_OLD = _p(15, 75, 18.75, 30, 1.50)  # Opus 3, 4, 4.1
_SONNET_4 = _p(3, 15, 3.75, 6, 0.30)
# Sonnet 4 / 4.5 above 200K prompt tokens (only reachable with the 1M-context beta)
_SONNET_4_LONG = _p(3, 15, 3.75, 6, 0.30, LongPromptTier(
    threshold_tokens=200_000, input=6, output=22.50, cache_write_5m=7.50, cache_write_1h=12, cache_read=0.60))
_SONNET_5 = _p(2, 10, 2.50, 4, 0.20)
_FABLE = _p(10, 50, 12.50, 20, 1.00)

# Keys are model ids without a date suffix; lookups strip `-YYYYMMDD`, `-latest` and `[1m]`.
BUILTIN_PRICES: dict[str, ModelPrice] = {
    "claude-fable-5-1": _p(10, 50, 12.50, 20, 0.25),
    "claude-mythos-5-1": _p(10, 50, 12.50, 20, 0.25),
    "claude-fable-5": _FABLE,
    "claude-mythos-5": _FABLE,
    "claude-opus-5-5": _p(4, 20, 5.00, 8, 0.20),
    "claude-opus-5": _OPUS_45,
    "claude-opus-4-8": _OPUS_45,
    "claude-opus-4-7": _OPUS_45,
    "claude-opus-4-6": _OPUS_45,
    "claude-opus-4-5": _OPUS_45,
    "claude-opus-4-1": _OPUS_OLD,
    "claude-opus-4-0": _OPUS_OLD,
    "claude-opus-4": _OPUS_OLD,
    "claude-3-opus": _OPUS_OLD,
    "claude-sonnet-5-5": _p(2, 10, 2.50, 4, 0.10),  # cache reads cut to $0.10 on 2026-10-07
    "claude-sonnet-5": _SONNET_5,
    "claude-sonnet-4-6": _SONNET_4,
    "claude-sonnet-4-5": _SONNET_4_LONG,
    "claude-sonnet-4-0": _SONNET_4_LONG,
    "claude-sonnet-4": _SONNET_4_LONG,
    "claude-3-7-sonnet": _SONNET_4,
    "claude-haiku-5-5": _p(0.10, 0.50, 0.125, 0.20, 0.01, LongPromptTier(
        threshold_tokens=100_000, input=0.50, output=2.50, cache_write_5m=0.625, cache_write_1h=1.00, cache_read=0.05)),
    "claude-haiku-4-5": _p(1, 5, 1.25, 2, 0.10),
    "claude-3-5-haiku": _p(0.80, 4, 1.00, 1.6, 0.08),
    "claude-3-haiku": _p(0.25, 1.25, 0.30, 0.50, 0.03),
}

_SUFFIXES = (re.compile(r"\[1m\]$"), re.compile(r"-latest$"), re.compile(r"-\d{8}$"))


def normalize_model(model: str) -> str:
    """'claude-sonnet-4-5-20250929' -> 'claude-sonnet-4-5'; also drops '-latest' and '[1m]'."""
    name = model.strip().lower()
    for pat in _SUFFIXES:
        name = pat.sub("", name)
    return name


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    as_of: str
    source: str
    models: dict[str, ModelPrice]
    fallback: ModelPrice
    fallback_priced: bool = False  # True where the fallback is the real price (self-hosted: zero)
    unknown_model_policy: str

    def lookup(self, model: str) -> Optional[tuple[str, ModelPrice]]:
        for key in (model, normalize_model(model)):
            if key in self.models:
                return key, self.models[key]
        return None

    def cost(self, model: str, usage: Usage, *, cache_write_1h_tokens: int = 0) -> Cost:
        """Price one turn. `cache_write_1h_tokens` is the 1-hour part of cache_creation_input_tokens."""
        found = self.lookup(model)
        price = found[1] if found else self.fallback
        prompt = usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
        rates: Rates = price
        tier: Literal["standard", "long_prompt", "fallback"] = "standard" if found else "fallback"
        if price.long_prompt is not None and prompt > price.long_prompt.threshold_tokens:
            rates, tier = price.long_prompt, "long_prompt"
        w1h = min(max(cache_write_1h_tokens, 0), usage.cache_creation_input_tokens)
        w5m = usage.cache_creation_input_tokens - w1h
        usd = (usage.input_tokens * rates.input + usage.output_tokens * rates.output
               + usage.cache_read_input_tokens * rates.cache_read
               + w5m * rates.cache_write_5m + w1h * rates.cache_write_1h) / _MTOK
        return Cost(usd=round(usd, 9), priced=bool(found) or self.fallback_priced,
                    price_key=found[0] if found else None, tier=tier)

    def snapshot(self) -> dict[str, Any]:
        """The whole table as plain JSON, for the transcript."""
        data = self.model_dump(mode="json", exclude_none=True)
        data["currency"] = "USD"
        data["unit"] = "per million tokens"
        return data


def _most_expensive(prices: dict[str, ModelPrice]) -> ModelPrice:
    fields = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
    top = {f: max(getattr(p, f) for p in prices.values()) for f in fields}
    return ModelPrice(**top)


def default_price_table() -> PriceTable:
    """Anthropic's public list prices, as of PRICES_AS_OF."""
    return PriceTable(
        name="anthropic-list-prices", as_of=PRICES_AS_OF, source=PRICES_SOURCE,
        models=dict(BUILTIN_PRICES), fallback=_most_expensive(BUILTIN_PRICES), fallback_priced=False,
        unknown_model_policy="a model not in the table is charged the highest rates in the table "
                             "(conservative, so cost budgets still bite) and its cost is marked priced=false")


def self_hosted_price_table(endpoint: str = "") -> PriceTable:
    """A self-hosted Messages endpoint (e.g. vLLM): no API cost."""
    zero = ModelPrice(input=0, output=0, cache_write_5m=0, cache_write_1h=0, cache_read=0)
    return PriceTable(
        name="self-hosted", as_of=PRICES_AS_OF, source=f"self-hosted endpoint {endpoint}".strip(),
        models={}, fallback=zero, fallback_priced=True,
        unknown_model_policy="every model costs 0 on a self-hosted endpoint")
