"""Facts for the audit gate (caching detection): who was evaluated on each side, whether an eval
cache was used, and how the candidate's per-sample responses compare with the baseline's."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from gates.contract import StrictModel


class SideIdentity(StrictModel):
    evaluated: Optional[str] = Field(description="what lm-eval evaluated (checkpoint path or served model name); "
                                                 "null = not recorded")
    used_cache: Optional[bool] = Field(description="lm-eval's request cache was used; null = not recorded")
    weights_sha256: Optional[str] = Field(default=None, pattern=r"^[0-9a-f]{64}$",
                                          description="sha256 over the checkpoint's weight files (names and bytes)")
    weights_bytes: Optional[int] = Field(default=None, ge=0, description="total size of the weight files")


ResponseKind = Literal["generative", "loglikelihood"]


class TaskComparison(StrictModel):
    """Baseline vs candidate responses of one task, matched by doc id."""

    kind: ResponseKind
    samples_baseline: int = Field(ge=0, description="documents in the baseline's per-sample log")
    samples_candidate: int = Field(ge=0, description="documents in the candidate's per-sample log")
    samples_compared: int = Field(ge=0, description="documents present on both sides")
    identical_responses: int = Field(ge=0, description="compared documents whose raw responses are byte-identical")
    mean_response_chars: Optional[float] = Field(default=None, ge=0,
                                                 description="generative: mean length of the candidate's responses")
    loglik_docs_compared: int = Field(default=0, ge=0,
                                      description="loglikelihood: documents whose log-likelihoods were compared")
    loglik_values_compared: int = Field(default=0, ge=0, description="loglikelihood: values compared")
    max_abs_loglik_diff: Optional[float] = Field(default=None, ge=0,
                                                 description="loglikelihood: largest |candidate - baseline|")
    loglik_shape_mismatch: int = Field(
        default=0, ge=0, description="loglikelihood: compared documents whose number of log-likelihoods differs "
                                     "between the sides (not the same requests: not comparable)")

    @model_validator(mode="after")
    def _counts(self) -> TaskComparison:
        if self.samples_compared > min(self.samples_baseline, self.samples_candidate):
            raise ValueError("samples_compared exceeds the documents on one side")
        if self.identical_responses > self.samples_compared:
            raise ValueError("identical_responses exceeds samples_compared")
        if self.loglik_docs_compared + self.loglik_shape_mismatch > self.samples_compared:
            raise ValueError("loglik_docs_compared + loglik_shape_mismatch exceeds samples_compared")
        if self.loglik_docs_compared > self.samples_compared:
            raise ValueError("loglik_docs_compared exceeds samples_compared")
        if (self.loglik_docs_compared == 0) != (self.loglik_values_compared == 0):
            raise ValueError("loglik_docs_compared and loglik_values_compared are both zero or both positive")
        if (self.max_abs_loglik_diff is None) != (self.loglik_values_compared == 0):
            raise ValueError("max_abs_loglik_diff is set iff loglik_values_compared > 0")
        return self


class AuditFacts(StrictModel):
    baseline: SideIdentity
    candidate: SideIdentity
    tasks: dict[str, TaskComparison] = Field(default_factory=dict)
    min_samples: int = Field(default=20, ge=1, description="documents a task needs before its responses count")
    loglik_tolerance: float = Field(default=1e-9, ge=0, le=1e-3,
                                    description="log-likelihoods this close are 'identical'")
    min_response_chars: float = Field(default=32, ge=0,
                                      description="generative tasks with shorter mean responses are too short "
                                                  "to discriminate (greedy decoding agrees on short answers)")
