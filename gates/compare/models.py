"""Facts for the compare gate: per-task scores of the baseline and the candidate, the settings
each run used, the threshold, and optional published reference scores for the baseline.

Scores are in the task's own units (0-1 or 0-100); `scale` says which when the producer knows.
Every threshold, gain limit and tolerance is a fraction of the unit scale (0.01 = one point on a
0-100 scale), whatever the scale of the scores.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field, model_validator

from gates.contract import StrictModel
from gates.eval_run.models import EvalSettings, OutputType, Scale


class PairedStats(StrictModel):
    """Per-sample differences (candidate minus baseline, same doc ids) of the task's metric, in the
    task's own units. When present, the stderr of the difference is the paired one."""

    n_pairs: int = Field(ge=2, description="documents scored on both sides")
    mean_diff: float = Field(description="mean of candidate - baseline per document, own units")
    sd_diff: float = Field(ge=0, description="sample standard deviation (ddof=1) of the per-document differences")


class CorpusPaired(StrictModel):
    """Paired bootstrap of a corpus-level score (F1, BLEU, perplexity, ...): documents resampled together,
    each side aggregated with lm-eval's function, candidate minus baseline (gates/compare/corpus.py)."""

    n_docs: int = Field(ge=2, description="documents scored on both sides")
    replicates: int = Field(ge=2, description="bootstrap replicates")
    delta: float = Field(description="candidate - baseline aggregate over those documents, own units")
    se_diff: float = Field(ge=0, description="standard deviation of the replicates' differences, own units")


class TaskScore(StrictModel):
    """One task's result on one side."""

    score: float = Field(description="re-derived score in the task's own units; never the reported one")
    stderr: Optional[float] = Field(default=None, ge=0, description="stderr of the score, own units; None = unknown")
    samples: Optional[int] = Field(default=None, ge=0, description="documents scored")
    scale: Optional[Scale] = Field(default=None, description="declared scale; None = infer (see decide.py)")
    higher_is_better: bool = True
    metric: Optional[str] = Field(default=None, description="the metric the score is (acc, exact_match, ...)")
    num_fewshot: Optional[int] = Field(default=None, ge=0)
    output_type: Optional[OutputType] = None
    generation_kwargs: Optional[dict[str, Any]] = None
    aggregation: Optional[str] = Field(default=None, description="lm-eval's aggregation: mean (or None), or a "
                                                                 "corpus-level one (f1, bleu, perplexity, ...)")


class RunScores(StrictModel):
    model_identity: Optional[str] = Field(default=None, description="what was evaluated (evidence only)")
    settings: Optional[EvalSettings] = Field(default=None, description="None = unknown: not like-for-like")
    tasks: dict[str, TaskScore] = Field(min_length=1)


class Threshold(StrictModel):
    kind: Literal["absolute", "relative"] = "absolute"
    value: float = Field(default=0.01, gt=0, le=1,
                         description="absolute: allowed drop as a fraction of the unit scale (0.01 = 1 point of "
                                     "100); relative: allowed drop as a fraction of the baseline score")


class ReferenceScore(StrictModel):
    score: float
    scale: Optional[Scale] = Field(default=None, description="None = the task's resolved scale")


class ReferenceBaseline(StrictModel):
    """Published numbers our baseline should reproduce."""

    source: Optional[str] = Field(default=None, description="where the numbers come from (paper, model card)")
    tolerance: float = Field(default=0.02, gt=0, le=1, description="allowed |ours - published|, fraction of unit scale")
    scores: dict[str, ReferenceScore] = Field(min_length=1)


class CompareFacts(StrictModel):
    baseline: RunScores
    candidate: RunScores
    threshold: Threshold = Field(default_factory=Threshold)
    anomalous_gain: float = Field(default=0.05, gt=0, le=1,
                                  description="a gain above this (fraction of unit scale) is implausible")
    confidence: float = Field(default=0.95, gt=0.5, le=0.999,
                              description="one-sided confidence of the resolution (INDETERMINATE) rule")
    reference: Optional[ReferenceBaseline] = None
    paired: dict[str, PairedStats] = Field(
        default_factory=dict,
        description="per-task paired differences over the same documents (optional); used for the stderr of "
                    "the difference when they cover every scored document and agree with the two scores")

    corpus_paired: dict[str, CorpusPaired] = Field(
        default_factory=dict, description="per-task paired bootstrap of corpus-level scores (optional)")

    @model_validator(mode="after")
    def _paired_tasks_exist(self) -> "CompareFacts":
        common = set(self.baseline.tasks) & set(self.candidate.tasks)
        stray = sorted((set(self.paired) | set(self.corpus_paired)) - common)
        if stray:
            raise ValueError(f"paired statistics for tasks not run on both sides: {stray}")
        return self


__all__ = ["CompareFacts", "CorpusPaired", "PairedStats", "ReferenceBaseline", "ReferenceScore", "RunScores",
           "TaskScore",
           "Threshold"]
