"""Collect compare facts from two lm-eval output directories (baseline, candidate).

Scores are the re-derived ones (mean of the per-sample metric), never the reported ones. Paired
per-document differences are added where both sides' per-sample logs cover the same documents.
"""

from __future__ import annotations

import argparse
import math
import statistics
from typing import Any, Optional

from gates.compare.corpus import corpus_paired_of
from gates.compare.models import CompareFacts, PairedStats, RunScores, TaskScore
from gates.contract import InputError
from gates.eval_run.models import EvalRunFacts


def scores_of(run: EvalRunFacts, side: str) -> RunScores:
    tasks = {}
    for name, t in run.tasks.items():
        if t.rederived_score is None:
            raise InputError(f"{side}.tasks.{name}", "no re-derived score (per-sample log missing?); "
                                                     "the reported score is never compared")
        tasks[name] = TaskScore(score=t.rederived_score, stderr=t.rederived_stderr, samples=t.samples_scored,
                                scale=t.scale, higher_is_better=t.higher_is_better, metric=t.primary_metric,
                                num_fewshot=t.num_fewshot, output_type=t.output_type,
                                generation_kwargs=t.generation_kwargs, aggregation=t.aggregation)
    if not tasks:
        raise InputError(side, "the run has no task to compare")
    return RunScores(model_identity=run.model_identity, settings=run.settings, tasks=tasks)


def _metric_values(samples: Any, metric: str, filt: Optional[str]) -> Optional[dict[str, float]]:
    """doc id -> the per-sample value of `metric` ("acc", or "acc,none" naming its filter) under the
    filter `filt`, or None if any document lacks it."""
    name, _, named = metric.partition(",")
    filt = named or filt
    out: dict[str, float] = {}
    for doc in samples.records:
        rec = samples.one(doc, filt or None)
        v = rec.metrics.get(name) if rec is not None else None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return None
        out[doc] = float(v)
    return out


def paired_of(base_dir: str, cand_dir: str, base: EvalRunFacts, cand: EvalRunFacts) -> dict[str, PairedStats]:
    from gates.audit.collect import read_run_samples

    try:
        b_samples, c_samples = read_run_samples(base_dir), read_run_samples(cand_dir)
    except InputError:
        return {}
    out = {}
    for task in sorted(set(base.tasks) & set(cand.tasks)):
        bt, ct = base.tasks[task], cand.tasks[task]
        if bt.primary_metric != ct.primary_metric or task not in b_samples or task not in c_samples:
            continue
        filt = getattr(bt, "primary_filter", None)
        if filt != getattr(ct, "primary_filter", None):
            continue
        bv = _metric_values(b_samples[task], bt.primary_metric, filt)
        cv = _metric_values(c_samples[task], ct.primary_metric, filt)
        if bv is None or cv is None or set(bv) != set(cv) or len(bv) < 2:
            continue
        diffs = [cv[d] - bv[d] for d in sorted(bv)]
        mean, sd = statistics.fmean(diffs), statistics.stdev(diffs)
        if math.isfinite(mean) and math.isfinite(sd):
            out[task] = PairedStats(n_pairs=len(diffs), mean_diff=mean, sd_diff=sd)
    return out


def collect(args: argparse.Namespace) -> CompareFacts:
    if len(args.artifacts) != 2:
        raise InputError("--artifacts", "expected two lm-eval output directories: BASELINE CANDIDATE")
    from gates.eval_run.collect import collect_run  # lazily: the decision never needs it
    base_dir, cand_dir = args.artifacts
    base, cand = collect_run(base_dir), collect_run(cand_dir)
    return CompareFacts(baseline=scores_of(base, "baseline"), candidate=scores_of(cand, "candidate"),
                        paired=paired_of(base_dir, cand_dir, base, cand),
                        corpus_paired=corpus_paired_of(base_dir, cand_dir, base, cand))
