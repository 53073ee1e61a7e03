"""What lm-eval 0.4.13's metrics are, per sample: the value's domain, and the metric's scale.

A per-sample value outside its metric's domain is a corrupt record, whatever the mean looks like:
an `acc` of 2.0 next to one of -1.0 averages to a plausible 0.5. The domains follow what lm-eval
itself writes (lm_eval/api/task.py, process_results):

  binary {0, 1}   acc, acc_norm, acc_mutual_info, acc_bytes: 1.0 / 0.0 (or int(is_greedy)) per document.
  unit [0, 1]     the other fraction metrics (exact_match, f1 of a generative task, mc2, pass@1 over
                  repeats, the instruction-following accuracies, ...): a fraction per document.
  any finite      a metric this table does not know (a task's own process_results): only a finite
                  number is required; the gate cannot know more, and says so in the facts.

Corpus-level aggregations (f1, mcc, bleu, perplexity, ...) keep a structured item per document;
their domains live with their re-derivation (gates/eval_run/corpus.py).

What a score is, by definition (`nature`): the range it must lie in, its scale for the compare gate
(unit 0-1, percent 0-100, or None when it has neither: MCC in [-1, 1], perplexities and TER
unbounded), and its direction. A run that reports such a metric as higher-is-better the wrong way
round would make compare read a degradation as a gain; the gate says so.
"""

from __future__ import annotations

import math
from typing import Optional

from gates.eval_run.corpus import AGGREGATIONS, MEAN

BINARY_METRICS = frozenset({"acc", "acc_norm", "acc_mutual_info", "acc_bytes"})
# metrics whose value is a fraction in [0, 1] by definition (lm-eval reports them 0-1)
UNIT_METRICS = BINARY_METRICS | frozenset({
    "exact_match", "em", "mc1", "mc2", "f1", "acc_all", "pass@1", "pass_at_1", "prompt_level_strict_acc",
    "inst_level_strict_acc", "prompt_level_loose_acc", "inst_level_loose_acc", "contains"})


def domain_of(metric: str) -> Optional[str]:
    """The per-sample domain of a mean-aggregated metric, as written in the facts; None = any finite number."""
    if metric in BINARY_METRICS:
        return "{0, 1}"
    if metric in UNIT_METRICS:
        return "[0, 1]"
    return None


def in_domain(value: float, domain: Optional[str]) -> bool:
    if not math.isfinite(value):
        return False
    if domain == "{0, 1}":
        return value in (0.0, 1.0)
    if domain == "[0, 1]":
        return 0.0 <= value <= 1.0
    return True


def nature(metric: str, aggregation: Optional[str]) -> tuple[Optional[list[Optional[float]]], Optional[str],
                                                              Optional[bool]]:
    """(score range [low, high or None], scale, higher is better) by definition; None where unknown."""
    if aggregation in AGGREGATIONS:
        (low, high), hib = AGGREGATIONS[aggregation]
        scale = "unit" if (low, high) == (0.0, 1.0) else "percent" if (low, high) == (0.0, 100.0) else None
        return [low, high], scale, hib
    if aggregation in (MEAN, "median", "nanmean") and metric in UNIT_METRICS:
        return [0.0, 1.0], "unit", True
    return None, None, None
