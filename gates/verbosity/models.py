"""Facts for the verbosity gate: completion tokens per generative task and per document, both runs.

`doc_tokens` maps each document a side answered (doc id -> the mean completion tokens of its
completions) so that the decision compares the two sides on the documents both answered, task by
task. A document whose response errored (no completion, a null) is not answered; an empty
completion is an answer of 0 tokens. Without `doc_tokens` (an older producer) a task cannot be
matched: not comparable, never a pass.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Optional

from pydantic import Field, model_validator

from gates.contract import StrictModel

MAX_TOKENS = 1e9  # no completion is a billion tokens long: larger counts are not counts
Tokens = Annotated[float, Field(ge=0, le=MAX_TOKENS)]


class TaskTokens(StrictModel):
    avg_completion_tokens: float = Field(ge=0, le=MAX_TOKENS,
                                         description="mean of doc_tokens (every answered document)")
    samples: int = Field(ge=0, description="documents scored (answered or not)")
    complete: bool = Field(description="eval_run's sample accounting of the task passed: every expected sample "
                                       "scored once")
    token_count_method: Optional[Literal["tokenizer", "whitespace"]] = Field(
        default=None, description="how completions were counted; both runs must count the same way")
    doc_tokens: Optional[dict[str, Tokens]] = Field(
        default=None, description="doc id -> mean completion tokens of that document's completions, for every "
                                  "answered document; None = not collected: the task cannot be matched")

    @model_validator(mode="after")
    def _doc_tokens_agree(self) -> TaskTokens:
        docs = self.doc_tokens
        if docs is None:
            return self
        if len(docs) > self.samples:
            raise ValueError(f"doc_tokens: {len(docs)} documents answered of {self.samples} scored")
        mean = math.fsum(docs.values()) / len(docs) if docs else 0.0
        if abs(mean - self.avg_completion_tokens) > 1e-9 * max(1.0, mean):
            raise ValueError(f"doc_tokens: their mean {mean!r} is not avg_completion_tokens "
                             f"{self.avg_completion_tokens!r}")
        return self


class RunTokens(StrictModel):
    tasks: dict[str, TaskTokens] = Field(description="generative tasks only")
    run_tasks: Optional[list[str]] = Field(
        default=None, description="every task the run evaluated (any output type); [] = the run has no results; "
                                  "None = not recorded: an empty `tasks` cannot then be told from nothing evaluated")


class VerbosityFacts(StrictModel):
    baseline: RunTokens
    candidate: RunTokens
    tolerance: float = Field(default=0.05, ge=1e-6, le=1,
                             description="allowed relative difference, two-sided, per task and in total")
