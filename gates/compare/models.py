"""Facts for the compare gate: per-task scores of the baseline and the candidate, the settings
each run used, the threshold, and optional published reference scores for the baseline.

Scores are in the task's own units (0-1 or 0-100); `scale` says which when the producer knows.
Every threshold, gain limit and tolerance is a fraction of the unit scale (0.01 = one point on a
0-100 scale), whatever the scale of the scores, and at least MIN_FRACTION (a millionth): a finer
one is below the float slack of the comparison and would certify nothing.

Each side carries `run`, the eval_run facts its scores were collected from (issue 9, item 6): the
decision judges it with eval_run's own decision, so that compare is safe on its own. The scores
must be exactly what the collector derives from that run (`task_score_of`): a facts file whose
scores, counts, noise or settings contradict its own run is invalid input. A side without `run`
(an older producer) never passes: its sample accounting is unknown.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field, model_validator

from gates.contract import StrictModel
from gates.eval_run.models import EvalRunFacts, EvalSettings, OutputType, Scale, TaskRun

MIN_FRACTION = 1e-6  # the smallest threshold, gain limit or tolerance (fraction of the unit scale)


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


def task_score_of(t: TaskRun) -> TaskScore:
    """The compared score of one eval_run task: the re-derived score (never the reported one), its
    re-derived stderr, the samples scored, and the task's like-for-like settings."""
    return TaskScore(score=t.rederived_score, stderr=t.rederived_stderr, samples=t.samples_scored,  # type: ignore[arg-type]
                     scale=t.scale, higher_is_better=t.higher_is_better, metric=t.primary_metric,
                     num_fewshot=t.num_fewshot, output_type=t.output_type, generation_kwargs=t.generation_kwargs,
                     aggregation=t.aggregation)


class RunScores(StrictModel):
    model_identity: Optional[str] = Field(
        default=None, description="what was evaluated; the same model on both sides (or unknown) is no comparison")
    settings: Optional[EvalSettings] = Field(default=None, description="None = unknown: not like-for-like")
    tasks: dict[str, TaskScore] = Field(
        description="the compared tasks; with `run`, exactly its tasks that have a re-derived score (maybe none)")
    run: Optional[EvalRunFacts] = Field(
        default=None, description="the eval_run facts these scores were collected from; judged by eval_run's own "
                                  "decision. None = not carried: the sample accounting is unknown, never a pass")

    @model_validator(mode="after")
    def _scores_come_from_the_run(self) -> RunScores:
        if self.run is None:
            if not self.tasks:
                raise ValueError("tasks: a side without its run facts needs at least one task")
            return self
        problems = []
        if self.model_identity != self.run.model_identity:
            problems.append(f"model_identity {self.model_identity!r} is not the run's {self.run.model_identity!r}")
        if self.settings != self.run.settings:
            problems.append("settings are not the run's")
        scored = {name for name, r in self.run.tasks.items() if r.rederived_score is not None}
        if set(self.tasks) != scored:
            problems.append(f"tasks {sorted(self.tasks)} are not the run's re-derived ones {sorted(scored)}")
        for name in sorted(set(self.tasks) & scored):
            r = self.run.tasks[name]
            ours, theirs = self.tasks[name].model_dump(), task_score_of(r).model_dump()
            diff = sorted(k for k in ours if ours[k] != theirs[k])
            if diff:
                problems.append(f"{name}: {', '.join(diff)} differ from the run's")
        if problems:
            raise ValueError("the scores contradict the run facts they claim to come from: " + "; ".join(problems))
        return self


class Threshold(StrictModel):
    kind: Literal["absolute", "relative"] = "absolute"
    value: float = Field(default=0.01, ge=MIN_FRACTION, le=1,
                         description="absolute: allowed drop as a fraction of the unit scale (0.01 = 1 point of "
                                     "100); relative: allowed drop as a fraction of the baseline score")


class ReferenceScore(StrictModel):
    score: float
    scale: Optional[Scale] = Field(default=None, description="None = the task's resolved scale")


class ReferenceBaseline(StrictModel):
    """Published numbers our baseline should reproduce."""

    source: Optional[str] = Field(default=None, description="where the numbers come from (paper, model card)")
    tolerance: float = Field(default=0.02, ge=MIN_FRACTION, le=1,
                             description="allowed |ours - published|, fraction of unit scale")
    scores: dict[str, ReferenceScore] = Field(min_length=1)


class CompareFacts(StrictModel):
    baseline: RunScores
    candidate: RunScores
    threshold: Threshold = Field(default_factory=Threshold)
    anomalous_gain: float = Field(default=0.05, ge=MIN_FRACTION, le=1,
                                  description="a gain above this (fraction of unit scale) is implausible")
    confidence: float = Field(default=0.95, ge=0.95, le=0.999,
                              description="one-sided confidence of the resolution (INDETERMINATE) and anomalous-gain "
                                          "rules; at least 0.95: a lower one would make the noise vanish")
    reference: Optional[ReferenceBaseline] = None
    paired: dict[str, PairedStats] = Field(
        default_factory=dict,
        description="per-task paired differences over the same documents (optional); used for the stderr of "
                    "the difference when they cover every scored document and agree with the two scores")

    corpus_paired: dict[str, CorpusPaired] = Field(
        default_factory=dict, description="per-task paired bootstrap of corpus-level scores (optional)")

    @model_validator(mode="after")
    def _paired_tasks_exist(self) -> CompareFacts:
        common = set(self.baseline.tasks) & set(self.candidate.tasks)
        stray = sorted((set(self.paired) | set(self.corpus_paired)) - common)
        if stray:
            raise ValueError(f"paired statistics for tasks not run on both sides: {stray}")
        return self


__all__ = ["MIN_FRACTION", "CompareFacts", "CorpusPaired", "PairedStats", "ReferenceBaseline", "ReferenceScore",
           "RunScores", "TaskScore", "Threshold", "task_score_of"]
