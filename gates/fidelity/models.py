"""Facts for the fidelity gate: how closely the candidate's next-token distributions follow the baseline's
on held-out text, and how many multiple-choice answers changed.

Every statistic is re-derived by the collector from the per-document record of
`skills/fidelity/run.py` (never from its summary). KL divergences and log-likelihoods are in nats per
token; agreement and flip rates are fractions. Standard errors treat documents as the independent
units (tokens of one document are correlated).
"""

from __future__ import annotations

from typing import Optional

from pydantic import Field, model_validator

from gates.contract import StrictModel


class HeldoutFacts(StrictModel):
    path: Optional[str] = Field(default=None, description="the held-out corpus measured (evidence only)")
    sha256: str = Field(min_length=64, max_length=64, description="sha256 of the held-out corpus file")
    documents: int = Field(ge=0, description="documents in the corpus that were measured")
    calibration_overlap: int = Field(ge=0, description="held-out documents that are also calibration text")


class TokenFacts(StrictModel):
    """Pooled over every scored token of every document."""

    documents: int = Field(ge=0, description="documents with at least one scored token")
    tokens: int = Field(ge=0, description="scored tokens (finite on both sides)")
    nonfinite_tokens: int = Field(default=0, ge=0, description="positions with a non-finite KL or log-likelihood")
    kl_mean: Optional[float] = Field(default=None, ge=0, description="mean per-token KL(base || cand), nats")
    kl_mean_se: Optional[float] = Field(default=None, ge=0, description="its standard error (over documents)")
    kl_p99: Optional[float] = Field(default=None, ge=0,
                                    description="99th percentile of the per-token KL (nearest rank)")
    kl_max: Optional[float] = Field(default=None, ge=0, description="largest per-token KL")
    top1_agreement: Optional[float] = Field(default=None, ge=0, le=1, description="fraction of positions whose "
                                                                                  "most likely token is the same")
    top1_agreement_se: Optional[float] = Field(default=None, ge=0)
    ll_diff_per_token: Optional[float] = Field(default=None, description="mean log P_cand - log P_base of the "
                                                                         "text's own tokens, nats per token")
    ll_diff_per_token_se: Optional[float] = Field(default=None, ge=0)
    ll_diff_per_doc: Optional[float] = Field(default=None, description="mean over documents of the document's "
                                                                       "log-likelihood difference, nats")
    ll_diff_per_doc_se: Optional[float] = Field(default=None, ge=0)


class FlipFacts(StrictModel):
    """Multiple-choice answers (the argmax option) of the same documents, baseline vs candidate."""

    n: int = Field(ge=1, description="documents answered on both sides")
    changed: int = Field(ge=0, description="documents whose chosen option changed")
    right_to_wrong: int = Field(ge=0)
    wrong_to_right: int = Field(ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> FlipFacts:
        if self.changed > self.n or self.right_to_wrong + self.wrong_to_right > self.changed:
            raise ValueError(f"flip counts do not add up: n {self.n}, changed {self.changed}, right->wrong "
                             f"{self.right_to_wrong}, wrong->right {self.wrong_to_right}")
        return self


class FidelityThresholds(StrictModel):
    """Defaults from measurements on the embedded model (gates/fidelity/decide.py says which)."""

    max_kl_mean: float = Field(default=0.10, gt=0, description="nats per token")
    max_kl_p99: float = Field(default=0.5, gt=0, description="nats")
    min_top1_agreement: float = Field(default=0.80, gt=0, le=1)
    max_ll_drop_per_token: float = Field(default=0.05, gt=0, description="nats per token the candidate may lose")
    max_flip_rate: float = Field(default=0.08, gt=0, le=1, description="fraction of MC answers that may change")
    min_tokens: int = Field(default=2000, ge=1)
    min_documents: int = Field(default=20, ge=2)


class FidelityFacts(StrictModel):
    baseline_identity: Optional[str] = None
    candidate_identity: Optional[str] = None
    heldout: HeldoutFacts
    tokenizer_match: bool = Field(description="both sides scored the same token ids")
    tokens: TokenFacts
    flips: dict[str, FlipFacts] = Field(default_factory=dict, description="per multiple-choice task")
    thresholds: FidelityThresholds = Field(default_factory=FidelityThresholds)
    confidence: float = Field(default=0.95, gt=0.5, le=0.999, description="one-sided, for the noise rule")


__all__ = ["FidelityFacts", "FidelityThresholds", "FlipFacts", "HeldoutFacts", "TokenFacts"]
