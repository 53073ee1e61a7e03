"""Re-derive a score that is not a mean of per-sample values (F1, MCC, BLEU, chrF, TER, perplexity,
word / byte perplexity, bits per byte, median) from the per-sample log, with lm-eval's own aggregation.

lm-eval computes these over the whole corpus: per document it logs an *item*, and the score is the
task's aggregation function applied to the list of items (lm_eval/api/metrics.py, registered in
`lm_eval.api.registry`'s aggregation registry; lm_eval/evaluator_utils.py `_compute_task_aggregations`).
What 0.4.13 logs per document (lm_eval/api/task.py `process_results`; tuples become JSON lists):

  perplexity (loglikelihood)             ll                     a log-likelihood, a number <= 0
  word_perplexity, byte_perplexity,      [ll, words or bytes]   (loglikelihood_rolling)
  bits_per_byte
  f1, mcc (multiple_choice)              [gold, pred]           choice indices, integers >= 0
  bleu, chrf, chrf++, ter (generative)   [reference(s), prediction]   strings (the prediction may be [s])
  brier_score                            [gold, probabilities]  written as numpy's text repr: not re-derivable

The aggregation is the one the task's config names (`metric_list[].aggregation`), else the metric's
registered default (METRIC_AGGREGATION_REGISTRY), as lm-eval resolves it. lm-eval is imported lazily,
only here and only for such a score: without it installed, the score "cannot be re-derived" and the
gate fails closed (SAMPLE_ACCOUNTING_FAILED), never passes. A mean needs no lm-eval (samples.py).

The stderr is re-derived as lm-eval computes it (`bootstrap_stderr`): the sample standard deviation
of the aggregate over resamples of the items, drawn in chunks of min(1000, iters) with
random.Random(chunk index), over the items in the log's order (lm-eval's order). lm-eval draws
`config.bootstrap_iters` (100,000 from its CLI; 100 for metrics named bleu / chrf / chrf++ / ter);
here at most MAX_REPLICATES (its first chunk; 200 of it for sklearn's F1 and MCC, which are slow),
so that a gate stays quick: when that covers every
replicate lm-eval drew, the stderr is reproduced exactly; otherwise it is an estimate whose own
relative standard error (from the replicates' kurtosis) is recorded for the decision's tolerance.
Aggregations lm-eval does not bootstrap (weighted_perplexity, bits_per_byte) report "N/A"; they are
bootstrapped here all the same (the compare gate needs a noise estimate).
"""

from __future__ import annotations

import math
import random
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Optional

MEAN = "mean"
MAX_REPLICATES = 1000
# sklearn's f1_score / matthews_corrcoef cost about a millisecond a call (far more on a busy CPU): fewer
# replicates keep the gate quick; the stderr's tolerance widens with them (stderr_rel_se)
MAX_REPLICATES_BY_AGGREGATION = {"f1": 200, "matthews_corrcoef": 200}
_CHUNK = 1000  # lm-eval's bootstrap chunk size
_SMALL_BOOTSTRAP_METRICS = ("bleu", "chrf", "chrf++", "ter")  # lm-eval caps these at 100 replicates
# aggregations lm-eval bootstraps a stderr for (evaluator_utils -> metrics.stderr_for_metric)
LMEVAL_BOOTSTRAPPED = frozenset({"median", "matthews_corrcoef", "f1", "perplexity", "bleu", "chrf", "chrf++", "ter",
                                 "nanmean"})
NOT_REDERIVABLE = {
    "brier_score": "lm-eval logs its per-sample class probabilities as numpy's text repr, not as numbers",
    "bypass": "the 'bypass' aggregation is a placeholder (999), not a score",
}
# aggregation -> (range of the score: low, high or None = unbounded; higher is better)
AGGREGATIONS: dict[str, tuple[tuple[float, Optional[float]], bool]] = {
    "perplexity": ((1.0, None), False), "weighted_perplexity": ((1.0, None), False),
    "bits_per_byte": ((0.0, None), False), "f1": ((0.0, 1.0), True), "matthews_corrcoef": ((-1.0, 1.0), True),
    "bleu": ((0.0, 100.0), True), "chrf": ((0.0, 100.0), True), "chrf++": ((0.0, 100.0), True),
    "ter": ((0.0, None), False),
}


# ---------------------------------------------------------------- items

def _number(v: Any) -> Optional[float]:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


def _loglik(v: Any) -> str:
    x = _number(v)
    return "malformed" if x is None else "ok" if x <= 0.0 else "out_of_domain"


def _loglik_count(v: Any) -> str:
    if not isinstance(v, list) or len(v) != 2:
        return "malformed"
    n = v[1]
    if isinstance(n, bool) or not isinstance(n, int):
        return "malformed"
    state = _loglik(v[0])
    return state if state != "ok" else "ok" if n >= 0 else "out_of_domain"


def _label_pair(v: Any) -> str:
    if not isinstance(v, list) or len(v) != 2 or any(isinstance(x, bool) or not isinstance(x, int) for x in v):
        return "malformed"
    return "ok" if all(x >= 0 for x in v) else "out_of_domain"  # lm-eval marks a gold not among the choices -100


def _text_pair(v: Any) -> str:
    if not isinstance(v, list) or len(v) != 2:
        return "malformed"
    ref, pred = v
    refs_ok = isinstance(ref, str) or (isinstance(ref, list) and ref and all(isinstance(r, str) for r in ref))
    pred_ok = isinstance(pred, str) or (isinstance(pred, list) and len(pred) == 1 and isinstance(pred[0], str))
    return "ok" if refs_ok and pred_ok else "malformed"


def _plain_number(v: Any) -> str:
    return "ok" if _number(v) is not None or isinstance(v, bool) else "malformed"


def _number_or_nan(v: Any) -> str:  # nanmean ignores NaN, which lm-eval writes as a bare NaN in JSON
    return "ok" if isinstance(v, float) and math.isnan(v) else _plain_number(v)


ITEM_CHECKS: dict[str, Callable[[Any], str]] = {
    "perplexity": _loglik, "weighted_perplexity": _loglik_count, "bits_per_byte": _loglik_count,
    "f1": _label_pair, "matthews_corrcoef": _label_pair, "bleu": _text_pair, "chrf": _text_pair,
    "chrf++": _text_pair, "ter": _text_pair, "median": _plain_number, "nanmean": _number_or_nan,
}
ITEM_SHAPES = {"perplexity": "a log-likelihood <= 0", "weighted_perplexity": "[log-likelihood <= 0, count >= 0]",
               "bits_per_byte": "[log-likelihood <= 0, bytes >= 0]", "f1": "[gold, pred] choice indices >= 0",
               "matthews_corrcoef": "[gold, pred] choice indices >= 0", "bleu": "[reference(s), prediction]",
               "chrf": "[reference(s), prediction]", "chrf++": "[reference(s), prediction]",
               "ter": "[reference(s), prediction]", "median": "a finite number", "nanmean": "a number or NaN"}


def check_item(aggregation: str, value: Any) -> str:
    """'ok', 'missing' (None), 'malformed' (not the shape lm-eval logs) or 'out_of_domain'."""
    if value is None:
        return "missing"
    return ITEM_CHECKS[aggregation](value)


# ---------------------------------------------------------------- which aggregation

# lm-eval 0.4.13's registered default aggregation of these metrics is the mean: the gate knows that
# much without lm-eval installed (every other default is looked up in lm-eval's registry)
DEFAULT_MEAN_METRICS = frozenset({"acc", "acc_norm", "acc_mutual_info", "acc_bytes", "exact_match", "acc_all",
                                  "likelihood"})


def _lmeval_default(metric: str, listed: bool) -> tuple[Optional[str], Optional[str]]:
    """lm-eval's default for a metric whose config names no aggregation (api/task.py, evaluator_utils.py)."""
    try:
        import lm_eval.api.metrics  # noqa: F401  (registers the aggregations: the registry fills lazily)
        from lm_eval.api.registry import AGGREGATION_REGISTRY, METRIC_AGGREGATION_REGISTRY, get_metric_aggregation
    except Exception as exc:  # ImportError, or a broken install
        if metric in DEFAULT_MEAN_METRICS:
            return MEAN, None
        return None, (f"the config names no aggregation for {metric!r}, and lm-eval is not importable here "
                      f"({type(exc).__name__}) to look up its default")
    if metric not in METRIC_AGGREGATION_REGISTRY:
        if not listed:  # a value process_results returned beyond metric_list: lm-eval averages it
            return MEAN, None
        return None, f"the config names no aggregation for {metric!r} and lm-eval registers no default for it"
    fn = get_metric_aggregation(metric)
    names = [name for name, f in AGGREGATION_REGISTRY.items() if f is fn]
    return (names[0], None) if names else (None, f"lm-eval's default aggregation of {metric!r} has no name")


def aggregation_of(metric: str, cfg: dict[str, Any]) -> tuple[Optional[str], Optional[str]]:
    """(aggregation name, None) as lm-eval resolves it for `metric`, or (None, why it cannot be told)."""
    listed = False
    for m in cfg.get("metric_list") or []:
        if isinstance(m, dict) and m.get("metric") == metric:
            listed = True
            if "aggregation" in m:
                agg = m["aggregation"]
                return (agg, None) if isinstance(agg, str) else (None, f"the aggregation is not a name ({agg!r:.80})")
    return _lmeval_default(metric, listed)


# ---------------------------------------------------------------- re-derivation

@dataclass
class Rederived:
    score: Optional[float] = None
    stderr: Optional[float] = None
    replicates: Optional[int] = None  # bootstrap replicates drawn here
    lmeval_replicates: Optional[int] = None  # the replicates lm-eval drew for its reported stderr (None: none)
    stderr_rel_se: Optional[float] = None  # relative standard error of the bootstrapped stderr
    note: Optional[str] = None  # why the score could not be re-derived


def lmeval_replicates(metric: str, aggregation: str, bootstrap_iters: Optional[int]) -> Optional[int]:
    """How many replicates lm-eval drew for this metric's stderr (None: it reports "N/A")."""
    if not bootstrap_iters or bootstrap_iters <= 0 or aggregation not in LMEVAL_BOOTSTRAPPED:
        return None
    iters = min(bootstrap_iters, 100) if metric in _SMALL_BOOTSTRAP_METRICS else bootstrap_iters
    chunk = min(_CHUNK, iters)
    return (iters // chunk) * chunk


def _replicates(fn: Callable[[list[Any]], Any], items: list[Any], wanted: int) -> list[float]:
    """lm-eval's own draws (bootstrap_stderr): chunk i uses random.Random(i), min(1000, n) draws each."""
    chunk = min(_CHUNK, wanted)
    out: list[float] = []
    for i in range(max(1, wanted // chunk)):
        rnd = random.Random(i)
        out.extend(float(fn(rnd.choices(items, k=len(items)))) for _ in range(chunk))
    return out


def _rel_se_of_sd(xs: list[float], sd: float) -> Optional[float]:
    """Relative standard error of a sample SD from n draws: sqrt((kurtosis - 1) / (4 n))."""
    n = len(xs)
    if sd <= 0 or n < 4:
        return None
    mu = sum(x / n for x in xs)
    zs = [(x - mu) / sd for x in xs]  # standardised first: a perplexity's replicates may be huge
    m2 = sum(z * z for z in zs) / n
    kurt = (sum(z ** 4 for z in zs) / n) / (m2 * m2) if m2 > 0 else 3.0
    return math.sqrt(max(kurt - 1.0, 0.0) / (4.0 * n)) if math.isfinite(kurt) else None


def rederive(metric: str, aggregation: str, items: list[Any], bootstrap_iters: Optional[int]) -> Rederived:
    """The score and its bootstrapped stderr, with lm-eval's registered `aggregation`; never raises."""
    out = Rederived(lmeval_replicates=lmeval_replicates(metric, aggregation, bootstrap_iters))
    try:
        from lm_eval.api.metrics import sample_stddev  # importing it registers the aggregations
        from lm_eval.api.registry import AGGREGATION_REGISTRY
    except Exception as exc:
        out.note = (f"{metric!r} is a corpus-level {aggregation!r} aggregate and lm-eval is not importable here "
                    f"({type(exc).__name__}): it cannot be re-derived, so it cannot pass")
        return out
    if aggregation not in AGGREGATION_REGISTRY:
        out.note = f"{aggregation!r} is not an aggregation lm-eval registers"
        return out
    fn = AGGREGATION_REGISTRY.get(aggregation)
    with warnings.catch_warnings():  # sklearn warns on a resample of one class; lm-eval ignores it too
        warnings.simplefilter("ignore")
        try:
            score = float(fn(items))
        except Exception as exc:  # the items broke lm-eval's own function: the log is not what lm-eval wrote
            out.note = f"lm-eval's {aggregation!r} aggregation failed on the logged items: " \
                       f"{type(exc).__name__}: {str(exc)[:200]}"
            return out
        if not math.isfinite(score):
            out.note = f"lm-eval's {aggregation!r} aggregation of the logged items is {score!r}, not a finite number"
            return out
        out.score = score
        _bootstrap(out, aggregation, fn, items, sample_stddev)
    return out


def _bootstrap(out: Rederived, aggregation: str, fn: Callable[[list[Any]], Any], items: list[Any],
               sample_stddev: Callable[[list[float]], float]) -> None:
    if len(items) < 2:
        out.note = "a stderr needs at least 2 samples"
        return
    try:
        cap = MAX_REPLICATES_BY_AGGREGATION.get(aggregation, MAX_REPLICATES)
        reps = _replicates(fn, items, min(out.lmeval_replicates or cap, cap))
        sd = float(sample_stddev(reps))
    except Exception as exc:  # e.g. a resample whose counts sum to 0
        out.note = f"the bootstrap of the stderr failed: {type(exc).__name__}: {str(exc)[:200]}"
        return
    if not math.isfinite(sd):
        out.note = "the bootstrap of the stderr is not finite (a resample's aggregate is not a finite number)"
        return
    out.stderr, out.replicates, out.stderr_rel_se = sd, len(reps), _rel_se_of_sd(reps, sd)
