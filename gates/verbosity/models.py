"""Facts for the verbosity gate: average completion tokens per generative task, both runs."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from gates.contract import StrictModel


class TaskTokens(StrictModel):
    avg_completion_tokens: float = Field(ge=0)
    samples: int = Field(ge=0, description="samples the average is over")
    complete: bool = Field(description="every expected sample was scored")
    token_count_method: Optional[Literal["tokenizer", "whitespace"]] = Field(
        default=None, description="how completions were counted; both runs must count the same way")


class RunTokens(StrictModel):
    tasks: dict[str, TaskTokens] = Field(description="generative tasks only")


class VerbosityFacts(StrictModel):
    baseline: RunTokens
    candidate: RunTokens
    tolerance: float = Field(default=0.05, gt=0, le=1, description="allowed relative difference, two-sided")
