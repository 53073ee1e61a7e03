"""Compare tasks whose score is a corpus-level aggregate (F1, MCC, BLEU, chrF, TER, perplexity, word /
byte perplexity, bits per byte): bounded or not, higher- or lower-is-better.

Such a task is recognised by its aggregation (TaskScore.aggregation, from the eval_run facts: anything
but a mean). What the aggregate is comes from gates.eval_run.corpus.AGGREGATIONS, never from the run:

  range and direction   F1 [0, 1] up, MCC [-1, 1] up, BLEU / chrF [0, 100] up, TER [0, inf) down,
                        perplexities [1, inf) down, bits per byte [0, inf) down. A score outside its
                        range, or a run that declares the direction the other way round, is
                        ANOMALOUS_GAIN (the numbers are broken; never compared).
  threshold             bounded: the absolute threshold on the unit scale (the score divided by its
                        width: BLEU 67 -> 0.67; MCC in its own units), or the relative one as for any
                        task. Unbounded (perplexities, bits per byte, TER): always relative, a fraction
                        of the baseline (`threshold.value`, 0.01 = 1% worse allowed), since "one point
                        of perplexity" means nothing across models; the anomalous gain is relative too.
                        A baseline so close to 0 that the allowed drop is 0 cannot certify anything:
                        INDETERMINATE, never ACCEPT.
  noise                 the stderr of the difference: the paired bootstrap over the documents both
                        sides answered (CompareFacts.corpus_paired, computed by `paired_bootstrap` from
                        the two per-sample logs with lm-eval's own aggregation: resample documents,
                        aggregate each side, take the difference), floored at the influence of one
                        document (2 * stderr / sqrt(n)), so that two runs identical on a few documents
                        do not claim zero noise; else sqrt(se_b^2 + se_c^2) from the two sides'
                        bootstrapped stderrs; else unknown (INDETERMINATE). No binomial fallback: these
                        scores are not proportions.
  decision              as for every task (decide.py): a drop beyond the allowed one is a regression;
                        within it, INDETERMINATE when z * se_diff exceeds the allowed drop and the
                        drop's upper bound does too. A gain above the anomalous limit is ANOMALOUS_GAIN
                        only when it exceeds the limit by more than z * se_diff; a gain beyond the
                        limit that the noise could explain is INDETERMINATE.
"""

from __future__ import annotations

import math
import random
import warnings
from typing import TYPE_CHECKING, Any, Optional

from gates.compare.models import CompareFacts, CorpusPaired, TaskScore
from gates.eval_run.corpus import AGGREGATIONS, MAX_REPLICATES, MAX_REPLICATES_BY_AGGREGATION, check_item

if TYPE_CHECKING:
    from gates.compare.decide import Row

EPS = 1e-9


# metrics whose score lm-eval never averages: facts that omit the aggregation (hand-written ones) still
# compare them as what they are, never as a 0-100 "percentage" (a perplexity of 20.5 is not 0.205)
DEFAULT_BY_METRIC = {"perplexity": "perplexity", "word_perplexity": "weighted_perplexity",
                     "byte_perplexity": "weighted_perplexity", "bits_per_byte": "bits_per_byte", "ter": "ter",
                     "bleu": "bleu", "chrf": "chrf", "chrf++": "chrf++", "mcc": "matthews_corrcoef"}


def aggregation(t: TaskScore) -> Optional[str]:
    """The score's aggregation: declared, else the only one lm-eval uses for this metric name."""
    return t.aggregation if t.aggregation is not None else DEFAULT_BY_METRIC.get(t.metric or "")


def is_corpus(b: TaskScore, c: TaskScore) -> bool:
    """Either side's score is a corpus-level aggregate (anything but a mean)."""
    return any(aggregation(t) not in (None, "mean") for t in (b, c))


def _width(aggregation: str) -> Optional[float]:
    """What one unit of the unit scale is in the score's own units; None = unbounded (relative)."""
    (low, high), _ = AGGREGATIONS[aggregation]
    if high is None:
        return None
    return 1.0 if (low, high) in ((0.0, 1.0), (-1.0, 1.0)) else high - low


def _problem(b: TaskScore, c: TaskScore) -> Optional[str]:
    if aggregation(b) != aggregation(c):
        return f"the aggregations differ (baseline {aggregation(b)!r}, candidate {aggregation(c)!r})"
    agg = aggregation(b) or ""
    if agg not in AGGREGATIONS:
        return f"{agg!r} is not a corpus-level aggregation this gate knows how to compare"
    (low, high), hib = AGGREGATIONS[agg]
    for side, t in (("baseline", b), ("candidate", c)):
        if t.higher_is_better != hib:
            return (f"the {side} declares {t.metric or agg} {'higher' if t.higher_is_better else 'lower'}-is-better; "
                    f"a {agg} score is {'higher' if hib else 'lower'}-is-better by definition")
        if t.score < low or (high is not None and t.score > high):
            where = f"[{low:g}, {high:g}]" if high is not None else f"[{low:g}, +inf)"
            return f"the {side} {agg} score {t.score!r} lies outside {where}"
    return None


def _se_diff(f: CompareFacts, task: str, b: TaskScore, c: TaskScore) -> tuple[Optional[float], str]:
    p = f.corpus_paired.get(task)
    if p is not None and b.samples == c.samples == p.n_docs and abs(p.delta - (c.score - b.score)) <= 1e-6 * max(
            1.0, abs(b.score)):
        floor = 2.0 * max(b.stderr or 0.0, c.stderr or 0.0) / math.sqrt(p.n_docs)
        return max(p.se_diff, floor), (f"paired bootstrap over {p.n_docs} documents ({p.replicates} replicates), "
                                       f"floored at one document's influence {floor:.3g}")
    note = "" if p is None else "paired bootstrap ignored (it does not cover both sides' documents or scores); "
    if b.stderr is not None and c.stderr is not None:
        return math.sqrt(b.stderr ** 2 + c.stderr ** 2), note + "independent: the two sides' bootstrapped stderrs"
    return None, note + "unknown: a side has no stderr (these scores are not proportions: no binomial fallback)"


def _allowed(f: CompareFacts, b_score: float, width: Optional[float]) -> tuple[float, float, str]:
    """(allowed drop, anomalous gain limit, rule), in the units the row compares in."""
    if width is None:
        base = abs(b_score)
        return (f.threshold.value * base, f.anomalous_gain * base,
                f"relative: {f.threshold.value:g} of the baseline (an unbounded score)")
    b_u = b_score / width
    if f.threshold.kind == "relative":
        return f.threshold.value * abs(b_u), f.anomalous_gain, f"relative: {f.threshold.value:g} of the baseline"
    return f.threshold.value, f.anomalous_gain, f"absolute: {f.threshold.value:g} of the unit scale"


def corpus_row(f: CompareFacts, task: str, b: TaskScore, c: TaskScore, z: float, row: Row) -> Row:
    """Fill `row` (decide.Row: settings and sample problems already set) for a corpus-level task."""
    agg = aggregation(b) or aggregation(c) or ""
    row.data.update(baseline=b.score, candidate=c.score, samples_baseline=b.samples, samples_candidate=c.samples,
                    aggregation=agg, higher_is_better=b.higher_is_better)
    problem = _problem(b, c)
    if problem is not None:
        row.scale_problem = problem
        row.data.update(scale=None, scale_rule=f"{agg}: {problem}")
        return row
    width = _width(agg)
    row.scale_baseline = None if width is None else ("unit" if width == 1.0 else "percent")
    unit = width or 1.0
    b_u, c_u = b.score / unit, c.score / unit
    improvement = (1.0 if b.higher_is_better else -1.0) * (c_u - b_u)
    allowed, allowed_gain, rule = _allowed(f, b.score, width)
    se, source = _se_diff(f, task, b, c)
    se_u = None if se is None else se / unit
    row.computed = True
    row.within = -improvement <= allowed + EPS
    row.data.update(scale=row.scale_baseline or "unbounded", scale_rule=f"{agg}: range and direction by definition",
                    baseline_unit=b_u,
                    candidate_unit=c_u, delta=improvement, drop=-improvement, threshold=allowed, threshold_rule=rule,
                    anomalous_gain_limit=allowed_gain, within=row.within, stderr_diff=se_u, stderr_source=source)
    if se_u is None:
        row.resolvable = False
        row.gain = False
        row.data.update(mde=None, significant_drop=None, samples_needed_per_side=None,
                        samples_needed_rule="stderr unknown")
        return row
    mde = z * se_u
    row.gain = improvement - mde > allowed_gain + EPS
    noisy_gain = improvement > allowed_gain + EPS and not row.gain
    row.resolvable = allowed > EPS and not noisy_gain and (mde <= allowed + EPS or -improvement + mde <= allowed + EPS)
    need = None if allowed <= EPS or not b.samples else math.ceil(b.samples * (mde / allowed) ** 2 - 1e-9)
    row.data.update(mde=mde, drop_upper_bound=-improvement + mde, significant_drop=-improvement > mde + EPS,
                    samples_needed_per_side=need if need is None or need <= 10**12 else None,
                    samples_needed_rule="n * (z*se_diff / allowed)^2" if allowed > EPS else
                    "no sample count resolves a zero allowed drop (a baseline at 0)")
    if noisy_gain:
        row.data["gain_note"] = (f"a gain of {improvement:.4g} above the anomalous limit {allowed_gain:.4g}, but "
                                 f"within the noise (z*se_diff {mde:.4g}): not shown to be anomalous")
    return row


# ---------------------------------------------------------------- the paired bootstrap (collector side)

def _items(samples: Any, metric: str, filt: Optional[str], agg: str) -> Optional[dict[str, Any]]:
    """doc id -> the logged item of `metric`, or None if any document lacks a well-formed one."""
    out: dict[str, Any] = {}
    for doc in samples.records:
        rec = samples.one(doc, filt or None)
        item = rec.metrics.get(metric) if rec is not None else None
        if check_item(agg, item) != "ok":
            return None
        out[doc] = item
    return out


def _paired_sd(fn: Any, b: list[Any], c: list[Any], replicates: int) -> float:
    n, diffs = len(b), []
    rnd = random.Random(0)
    for _ in range(replicates):
        idx = rnd.choices(range(n), k=n)
        diffs.append(float(fn([c[i] for i in idx])) - float(fn([b[i] for i in idx])))
    mu = sum(diffs) / len(diffs)
    return math.sqrt(sum((d - mu) ** 2 for d in diffs) / (len(diffs) - 1))


def paired_bootstrap(base_samples: dict[str, Any], cand_samples: dict[str, Any], task: str, metric: str,
                     filt: Optional[str], agg: str) -> Optional[CorpusPaired]:
    """The paired bootstrap of candidate - baseline over the same documents, with lm-eval's aggregation;
    None when it cannot be computed (lm-eval missing, documents differ, an item malformed)."""
    if agg not in AGGREGATIONS or task not in base_samples or task not in cand_samples:
        return None
    bi = _items(base_samples[task], metric, filt, agg)
    ci = _items(cand_samples[task], metric, filt, agg)
    if bi is None or ci is None or set(bi) != set(ci) or len(bi) < 2:
        return None
    docs = sorted(bi)
    b, c = [bi[d] for d in docs], [ci[d] for d in docs]
    replicates = MAX_REPLICATES_BY_AGGREGATION.get(agg, MAX_REPLICATES)
    try:
        import lm_eval.api.metrics  # noqa: F401  (registers the aggregations)
        from lm_eval.api.registry import AGGREGATION_REGISTRY

        fn = AGGREGATION_REGISTRY.get(agg)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            delta = float(fn(c)) - float(fn(b))
            sd = _paired_sd(fn, b, c, replicates)
    except Exception:  # lm-eval missing, or items its function cannot aggregate: no paired statistics
        return None
    if not (math.isfinite(delta) and math.isfinite(sd)):
        return None
    return CorpusPaired(n_docs=len(docs), replicates=replicates, delta=delta, se_diff=sd)


def corpus_paired_of(base_dir: str, cand_dir: str, base: Any, cand: Any) -> dict[str, CorpusPaired]:
    """task -> the paired bootstrap, for every corpus-level task both runs (EvalRunFacts) scored alike."""
    tasks = [t for t in sorted(set(base.tasks) & set(cand.tasks))
             if base.tasks[t].aggregation in AGGREGATIONS and base.tasks[t].aggregation == cand.tasks[t].aggregation
             and base.tasks[t].primary_metric == cand.tasks[t].primary_metric
             and base.tasks[t].primary_filter == cand.tasks[t].primary_filter]
    if not tasks:
        return {}
    from gates.audit.collect import read_run_samples
    from gates.contract import InputError

    try:
        b_samples, c_samples = read_run_samples(base_dir), read_run_samples(cand_dir)
    except InputError:
        return {}
    out = {}
    for t in tasks:
        bt = base.tasks[t]
        p = paired_bootstrap(b_samples, c_samples, t, bt.primary_metric, bt.primary_filter, bt.aggregation)
        if p is not None:
            out[t] = p
    return out
