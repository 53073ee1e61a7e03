"""Pure decision: is the candidate within the threshold of the baseline on every task, and can the
comparison tell?

Rules (each one is recorded, per task, in the verdict's evidence):

Like for like. Both runs must have the same task set, the same run settings (every field of
`EvalSettings`: backend, lm-eval version, limit, chat template, few-shot as multi-turn, system
instruction, generation kwargs, seed), the same per-task settings (metric, direction, few-shot,
output type, generation kwargs) and the same, known, non-zero sample count per task. Numbers are
compared by value (0 == 0.0, but false != 0). Otherwise: COMPARISON_NOT_LIKE_FOR_LIKE.

Scale. A declared scale wins. If only one side declares, the other side takes it (same task, same
metric). If neither declares, the scale is inferred from the task's two scores together: both in
[0, 1] -> unit; both in [0, 100] and every non-zero score > 1 -> percent; both in [0, 100] but one
non-zero score <= 1 while the other is > 1 -> a scale mismatch (ANOMALOUS, never rescaled: 57 vs
0.54 is either a collapse or a 0-100/0-1 mix, and only the producer knows which); anything outside
[0, 100] -> out of range. Inference therefore reads an ambiguous pair (1.0 vs 0.0) as unit, the
reading that makes a drop largest: a mistake there can block a good candidate, never pass a bad
one. A score outside its scale, or a stderr larger than the whole unit scale, is ANOMALOUS_GAIN.
Everything is normalised to the unit scale (0-1) before any arithmetic.

Threshold. improvement = candidate - baseline (negated for lower-is-better metrics), drop =
-improvement. Absolute: allowed drop = value; relative: allowed drop = value * baseline. Inclusive:
drop <= allowed + 1e-9 is within (0.50 -> 0.49 at 0.01 is within, despite float error). A drop
beyond it is ACCURACY_REGRESSION. improvement > anomalous_gain + 1e-9 is ANOMALOUS_GAIN.

Noise (INDETERMINATE). se_diff is the paired stderr of the per-document differences when paired
statistics cover every scored document and agree with the two scores (the same documents answered
by two close models: far less noise than two independent samples), with the Agresti-Min adjustment
(half a pseudo-document each way, so ten identical answers do not claim zero noise); otherwise
sqrt(se_b^2 + se_c^2) with each side's reported stderr, or, when a side has none (or reports exactly
0, the artefact of a score at 0 or 1), the binomial stderr with the Agresti-Caffo adjustment
p~ = (x + 1) / (n + 2), var = p~(1 - p~) / (n + 2): it never claims zero noise at p = 0 or 1, and
for a non-binary metric bounded in [0, 1] it is an upper bound of the true variance, so it errs
towards INDETERMINATE, never towards ACCEPT.
The resolution of the comparison is mde = z * se_diff, z the one-sided normal quantile of
`confidence` (1.645 at 95%): the smallest drop it can tell from zero. A task whose observed drop is
within the threshold is INDETERMINATE when mde > allowed drop (the instrument cannot see a
threshold-sized drop, so "within 1 point" certifies nothing) AND the one-sided upper bound of the
drop, drop + mde, also exceeds the allowed drop (a candidate that measured so much better that even
the bound is within has established non-inferiority despite the noise). A drop beyond the threshold
is a REGRESSION whatever the noise: the release criterion is the measured drop, and noise is never
a reason to publish (the evidence says whether the drop is also significant, drop > mde).
Pure non-inferiority (ACCEPT only if drop + mde <= allowed) was rejected: at a 1-point threshold it
calls a candidate measured 0.9 points down indeterminate short of ~1.35 million samples per side,
so it would certify almost nothing; it agrees with the rule above for a candidate measured at the
baseline (both need ~13,500 samples per side at p = 0.5). The evidence gives the samples per side
that resolve the threshold: z^2 (p_b q_b + p_c q_c) / allowed^2 when both stderrs are binomial
(2 p (1 - p) z^2 / allowed^2 for p_b = p_c: 13,528 at p = 0.5), else n * (mde / allowed)^2, since
a stderr shrinks as 1 / sqrt(n). Where that exceeds the task's full dataset, the evidence says so.

Corpus-level scores. A task whose score is not a mean (F1, MCC, BLEU, chrF, TER, perplexity, word / byte
perplexity, bits per byte; TaskScore.aggregation, or the metric's name when facts omit it) is compared by
gates/compare/corpus.py: its range and direction by definition (a run that declares them otherwise is
ANOMALOUS_GAIN), a relative threshold for unbounded scores, the paired bootstrap over documents (lm-eval's
own aggregation) for the noise, and a gain anomalous only beyond the noise. The rest of this docstring
applies to it unchanged.

External baseline. With reference (published) scores, |baseline - reference| <= tolerance + 1e-9
on the unit scale for each referenced task, else EXTERNAL_BASELINE_MISMATCH. An undeclared
reference scale is the task's scale; a reference outside it is a mismatch (declare its scale).

Priority when several fail, and why:
  1. COMPARISON_NOT_LIKE_FOR_LIKE: if the runs differ, every delta below compares two different
     experiments; nothing else in the verdict means anything until they are matched.
  2. ANOMALOUS_GAIN (out of range, scale mismatch, implausible gain): the numbers themselves are
     broken (a scale mix-up, a scoring or caching bug), and a regression computed from broken
     numbers could be an artefact of the same fault.
  3. EXTERNAL_BASELINE_MISMATCH: our baseline does not reproduce its published score, so the setup
     that measured the drop is suspect.
  4. ACCURACY_REGRESSION: a measured drop beyond the threshold on one task blocks publishing on its
     own; more samples elsewhere cannot change that, so an INDETERMINATE task must not hide it.
  5. INDETERMINATE: everything measured is within the threshold, but some task cannot resolve it.
Every failed check stays in the verdict, so a lower-priority finding is never lost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Optional

from gates.compare import corpus
from gates.compare.models import CompareFacts, TaskScore
from gates.contract import Check, Verdict, check, verdict_from_checks
from gates.failure_classes import FailureClass as FC

GATE = "compare"
EPS = 1e-9
_MAX_SAMPLES_FIGURE = 10**12
PRIORITY = (FC.COMPARISON_NOT_LIKE_FOR_LIKE, FC.ANOMALOUS_GAIN, FC.EXTERNAL_BASELINE_MISMATCH,
            FC.ACCURACY_REGRESSION, FC.INDETERMINATE)
_TOP = {"unit": 1.0, "percent": 100.0}
_TASK_SETTINGS = ("metric", "higher_is_better", "num_fewshot", "output_type", "generation_kwargs", "aggregation")


# ---------------------------------------------------------------- value helpers

def canon(x: Any) -> Any:
    """A comparable form: numbers by value (0 == 0.0), booleans apart from numbers, dicts unordered."""
    if isinstance(x, bool):
        return ("bool", x)
    if isinstance(x, (int, float)):
        return ("num", float(x)) if not (isinstance(x, float) and math.isnan(x)) else ("nan",)
    if isinstance(x, dict):
        return ("dict", tuple(sorted(((str(k), canon(v)) for k, v in x.items()), key=lambda kv: kv[0])))
    if isinstance(x, (list, tuple)):
        return ("list", tuple(canon(v) for v in x))
    if isinstance(x, str):
        return ("str", x)
    return None if x is None else ("other", repr(x))


def jsonable(x: Any) -> Any:
    """Evidence-safe copy: non-finite floats become strings, so the verdict always serialises."""
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    return repr(x)


def _diffs(a: dict[str, Any], b: dict[str, Any], fields: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    return [{"field": f, "baseline": jsonable(a.get(f)), "candidate": jsonable(b.get(f))}
            for f in fields if canon(a.get(f)) != canon(b.get(f))]


# ---------------------------------------------------------------- scale

@dataclass
class ScaleResult:
    baseline: Optional[str]
    candidate: Optional[str]
    rule: str
    problem: Optional[str] = None  # set when the task's scores cannot be put on the unit scale


def _infer(b: float, c: float) -> ScaleResult:
    vals = (b, c)
    if all(0.0 <= v <= 1.0 for v in vals):
        return ScaleResult("unit", "unit", "inferred: both scores in [0, 1] -> unit")
    if all(0.0 <= v <= 100.0 for v in vals):
        if all(v == 0.0 or v > 1.0 for v in vals):
            return ScaleResult("percent", "percent",
                               "inferred: both scores in [0, 100] and every non-zero score > 1 -> percent")
        low, high = ("baseline", "candidate") if 0.0 < b <= 1.0 else ("candidate", "baseline")
        return ScaleResult(None, None, "inferred: mixed (one score reads 0-1, the other 0-100)",
                           f"scale mismatch: the {low} score reads as 0-1 while the {high} score reads as "
                           f"0-100 (baseline {b!r}, candidate {c!r}); refusing to rescale: declare the scale")
    return ScaleResult(None, None, "inferred: a score outside [0, 100] fits no scale",
                       f"score outside [0, 100] (baseline {b!r}, candidate {c!r}): no scale fits")


def resolve_scale(b: TaskScore, c: TaskScore) -> ScaleResult:
    if b.scale is not None and c.scale is not None:
        rule = "declared" if b.scale == c.scale else f"declared (baseline {b.scale}, candidate {c.scale})"
        res = ScaleResult(b.scale, c.scale, rule)
    elif b.scale is not None or c.scale is not None:
        side, s = ("baseline", b.scale) if b.scale is not None else ("candidate", c.scale)
        other = "candidate" if side == "baseline" else "baseline"
        res = ScaleResult(s, s, f"declared by the {side} ({s}), applied to the undeclared {other} "
                                f"(same task, same metric)")
    else:
        res = _infer(b.score, c.score)
    if res.problem is None:
        res.problem = _range_problem(b, res.baseline, "baseline") or _range_problem(c, res.candidate, "candidate")
    return res


def _range_problem(t: TaskScore, scale: Optional[str], side: str) -> Optional[str]:
    top = _TOP[scale or "unit"]
    if not 0.0 <= t.score <= top:
        return f"the {side} score {t.score!r} lies outside its {scale} scale [0, {top:g}]"
    if t.stderr is not None and t.stderr > top:
        return f"the {side} stderr {t.stderr!r} is larger than its whole {scale} scale"
    return None


def _unit(x: float, scale: Optional[str]) -> float:
    return x / _TOP[scale or "unit"]


# ---------------------------------------------------------------- noise

def _adjusted_p(t: TaskScore, scale: Optional[str]) -> float:
    n = t.samples or 0
    p = min(1.0, max(0.0, _unit(t.score, scale)))
    return (p * n + 1.0) / (n + 2.0)


def _side_se(t: TaskScore, scale: Optional[str]) -> tuple[Optional[float], str]:
    if t.stderr is not None and (t.stderr > 0 or not t.samples):
        return _unit(t.stderr, scale), "reported"
    if t.samples:
        pt = _adjusted_p(t, scale)
        return math.sqrt(pt * (1.0 - pt) / (t.samples + 2.0)), "binomial (Agresti-Caffo)"
    return None, "unknown (no stderr, no sample count)"


def _paired_se(f: CompareFacts, task: str, b: TaskScore, c: TaskScore, sc: ScaleResult) -> tuple[Optional[float], str]:
    p = f.paired.get(task)
    if p is None:
        return None, ""
    if sc.baseline != sc.candidate:
        return None, "paired statistics ignored: the two sides use different scales"
    if not (b.samples == c.samples == p.n_pairs):
        return None, f"paired statistics ignored: {p.n_pairs} pairs do not cover the {b.samples}/{c.samples} samples"
    mean_u, sd_u = _unit(p.mean_diff, sc.baseline), _unit(p.sd_diff, sc.baseline)
    if abs(mean_u - (_unit(c.score, sc.candidate) - _unit(b.score, sc.baseline))) > 1e-6 or sd_u > 2.0:
        return None, "paired statistics ignored: they do not agree with the two scores"
    # Agresti-Min: half a pseudo-pair at +1 and half at -1 (plus one concordant), so that a run of
    # identical answers on a few documents does not claim zero noise
    n = p.n_pairs
    total, squares = n * mean_u, sd_u * sd_u * (n - 1) + n * mean_u * mean_u
    n2 = n + 2.0
    var = max(0.0, (squares + 1.0) / n2 - (total / n2) ** 2)
    return math.sqrt(var / n2), "paired (Agresti-Min adjusted)"


# ---------------------------------------------------------------- one task

@dataclass
class Row:
    task: str
    data: dict[str, Any] = field(default_factory=dict)
    settings_diff: list[str] = field(default_factory=list)
    sample_problem: Optional[str] = None
    scale_baseline: Optional[str] = None
    scale_problem: Optional[str] = None
    computed: bool = False
    within: bool = True
    gain: bool = False
    resolvable: bool = True


def _allowed_drop(f: CompareFacts, b_u: float) -> float:
    return f.threshold.value if f.threshold.kind == "absolute" else f.threshold.value * b_u


def _samples_needed(n: Optional[int], mde: float, allowed: float, binomial: Optional[tuple[float, float]],
                    z: float) -> tuple[Optional[int], str]:
    """Samples per side at which z * se_diff <= allowed. Binomial on both sides: the n with
    z * sqrt((p_b q_b + p_c q_c) / n) <= allowed (2 p q z^2 / allowed^2 when p_b = p_c); otherwise the
    current n scaled by (mde / allowed)^2, since a stderr shrinks as 1 / sqrt(n)."""
    if allowed <= 0:
        return None, "no sample count resolves a zero threshold"
    try:  # a denormal allowed drop overflows the square: that is "unreachable", not a crash
        if binomial is not None:
            (pb, pc) = binomial
            need = z * z * (pb * (1.0 - pb) + pc * (1.0 - pc)) / (allowed * allowed)
            rule = "z^2 (p_b q_b + p_c q_c) / allowed^2 (binomial)"
        elif n:
            need = n * (mde / allowed) ** 2
            rule = "n * (z*se_diff / allowed)^2"
        else:
            return None, "sample count unknown"
    except (OverflowError, ZeroDivisionError):
        need = math.inf
    if not math.isfinite(need) or need > _MAX_SAMPLES_FIGURE:
        return None, f"more than {_MAX_SAMPLES_FIGURE:.0e} samples per side: unreachable"
    return max(1, math.ceil(need - 1e-9)), rule


def _settings_diff(b: TaskScore, c: TaskScore) -> list[str]:
    return [f"{d['field']} differs (baseline {d['baseline']!r}, candidate {d['candidate']!r})"
            for d in _diffs(b.model_dump(), c.model_dump(), _TASK_SETTINGS)]


def _sample_problem(b: TaskScore, c: TaskScore) -> Optional[str]:
    if b.samples is None or c.samples is None:
        return f"sample count unknown (baseline {b.samples}, candidate {c.samples})"
    if b.samples == 0 or c.samples == 0:
        return f"no samples scored (baseline {b.samples}, candidate {c.samples})"
    if b.samples != c.samples:
        return f"sample counts differ (baseline {b.samples}, candidate {c.samples})"
    return None


def _task_row(f: CompareFacts, task: str, z: float) -> Row:
    b, c = f.baseline.tasks[task], f.candidate.tasks[task]
    row = Row(task, settings_diff=_settings_diff(b, c), sample_problem=_sample_problem(b, c))
    if corpus.is_corpus(b, c):  # F1, BLEU, perplexity...: unbounded or lower-is-better (gates/compare/corpus.py)
        return corpus.corpus_row(f, task, b, c, z, row)
    sc = resolve_scale(b, c)
    row.scale_baseline = sc.baseline
    row.data.update(baseline=b.score, candidate=c.score, samples_baseline=b.samples, samples_candidate=c.samples,
                    scale=sc.baseline if sc.baseline == sc.candidate else f"{sc.baseline}/{sc.candidate}",
                    scale_rule=sc.rule, higher_is_better=b.higher_is_better)
    if sc.problem is not None:
        row.scale_problem = sc.problem
        return row
    b_u, c_u = _unit(b.score, sc.baseline), _unit(c.score, sc.candidate)
    sign = 1.0 if b.higher_is_better else -1.0
    improvement = sign * (c_u - b_u)
    drop = -improvement
    allowed = _allowed_drop(f, b_u)
    se, source = _paired_se(f, task, b, c, sc)
    note = source if se is None else ""
    binomial = None
    if se is None:
        (se_b, src_b), (se_c, src_c) = _side_se(b, sc.baseline), _side_se(c, sc.candidate)
        se = None if se_b is None or se_c is None else math.sqrt(se_b * se_b + se_c * se_c)
        source = f"independent: baseline {src_b}, candidate {src_c}"
        if src_b.startswith("binomial") and src_c.startswith("binomial"):
            binomial = (_adjusted_p(b, sc.baseline), _adjusted_p(c, sc.candidate))
    row.computed = True
    row.within = drop <= allowed + EPS
    row.gain = improvement > f.anomalous_gain + EPS
    row.data.update(baseline_unit=b_u, candidate_unit=c_u, delta=improvement, drop=drop, threshold=allowed,
                    within=row.within, stderr_diff=se, stderr_source=source)
    if note:
        row.data["paired_note"] = note
    if se is None:
        row.resolvable = False
        row.data.update(mde=None, significant_drop=None, samples_needed_per_side=None,
                        samples_needed_rule="stderr unknown")
        return row
    mde = z * se
    # confident "within": the comparison resolves the threshold, or the drop's upper bound is within it
    row.resolvable = mde <= allowed + EPS or drop + mde <= allowed + EPS
    need, rule = _samples_needed(b.samples, mde, allowed, binomial, z)
    row.data.update(mde=mde, drop_upper_bound=drop + mde, significant_drop=drop > mde + EPS,
                    samples_needed_per_side=need, samples_needed_rule=rule)
    settings = f.baseline.settings
    if need is not None and b.samples and need > b.samples and settings is not None and settings.limit is None:
        row.data["samples_note"] = ("more than the task's full dataset (no --limit was set): more samples of this "
                                    "task cannot resolve it; raise the threshold, or evaluate on larger tasks")
    return row


def _label(row: Row) -> str:
    if row.settings_diff or row.sample_problem:
        return "NOT_LIKE_FOR_LIKE"
    if row.scale_problem:
        return "SCALE_MISMATCH" if "mismatch" in row.scale_problem else "OUT_OF_RANGE"
    if row.gain:
        return "ANOMALOUS_GAIN"
    if not row.within:
        return "REGRESSION"
    if not row.resolvable:
        return "INDETERMINATE"
    return "OK"


# ---------------------------------------------------------------- the run

def _run_settings_check(f: CompareFacts) -> tuple[Check, list[dict[str, Any]]]:
    bs, cs = f.baseline.settings, f.candidate.settings
    if bs is None or cs is None:
        missing = [s for s, v in (("baseline", bs), ("candidate", cs)) if v is None]
        return check("run_settings_match", False,
                     f"evaluation settings unknown for the {' and '.join(missing)}: cannot establish like-for-like",
                     failure_class=FC.COMPARISON_NOT_LIKE_FOR_LIKE, observed=missing), []
    bd, cd = bs.model_dump(), cs.model_dump()
    diffs = _diffs(bd, cd, sorted(set(bd) | set(cd)))
    detail = ("run settings differ: " + ", ".join(f"{d['field']} ({d['baseline']!r} vs {d['candidate']!r})"
                                                  for d in diffs)) if diffs else "same run settings"
    return check("run_settings_match", not diffs, detail, failure_class=FC.COMPARISON_NOT_LIKE_FOR_LIKE,
                 observed=diffs), diffs


def _reference_check(f: CompareFacts, rows: dict[str, Row]) -> Optional[Check]:
    ref = f.reference
    if ref is None:
        return None
    problems, table = [], []
    for task, rs in sorted(ref.scores.items()):
        row = rows.get(task)
        b = f.baseline.tasks.get(task)
        entry: dict[str, Any] = {"task": task, "reference": rs.score, "tolerance": ref.tolerance}
        if b is None:
            problems.append(f"{task}: a reference is declared but the baseline did not run it")
        elif row is None:
            problems.append(f"{task}: not compared (the candidate did not run it), "
                            f"so not checked against the reference")
        elif row.scale_problem is not None:
            problems.append(f"{task}: the baseline's scale is unresolved, "
                            f"so it cannot be checked against the reference")
        else:
            scale = rs.scale or row.scale_baseline or "unit"
            entry["reference_scale"] = scale
            if not 0.0 <= rs.score <= _TOP[scale]:
                problems.append(f"{task}: reference {rs.score!r} lies outside the {scale} scale (declare its scale)")
            else:
                r_u, b_u = _unit(rs.score, scale), row.data["baseline_unit"]
                entry.update(reference_unit=r_u, baseline_unit=b_u, difference=b_u - r_u)
                if abs(b_u - r_u) > ref.tolerance + EPS:
                    problems.append(f"{task}: baseline {b_u:.4f} does not reproduce the reference {r_u:.4f} "
                                    f"(|diff| {abs(b_u - r_u):.4f} > tolerance {ref.tolerance:g})")
        table.append(entry)
    src = f" ({ref.source})" if ref.source else ""
    return check("reference_reproduced", not problems,
                 "; ".join(problems) if problems else f"the baseline reproduces every reference score{src}",
                 failure_class=FC.EXTERNAL_BASELINE_MISMATCH, observed=table)


def _task_checks(f: CompareFacts, rows: dict[str, Row]) -> list[Check]:
    b_t, c_t = set(f.baseline.tasks), set(f.candidate.tasks)
    computed = [r for r in rows.values() if r.computed]
    settings = {t: r.settings_diff for t, r in rows.items() if r.settings_diff}
    samples = {t: r.sample_problem for t, r in rows.items() if r.sample_problem}
    scale = {t: r.scale_problem for t, r in rows.items() if r.scale_problem}
    gains = {t: r.data["delta"] for t, r in rows.items() if r.gain}
    regress = {t: r.data["drop"] for t, r in rows.items() if r.computed and not r.within}
    indet = {t: r for t, r in rows.items() if r.computed and r.within and not r.resolvable}

    def fmt(d: dict[str, Any]) -> str:
        return "; ".join(f"{t}: {', '.join(v) if isinstance(v, list) else v}" for t, v in sorted(d.items()))

    return [
        check("task_sets_match", b_t == c_t,
              f"task sets differ: baseline only {sorted(b_t - c_t)}, candidate only {sorted(c_t - b_t)}"
              if b_t != c_t else f"same {len(b_t)} task(s)",
              failure_class=FC.COMPARISON_NOT_LIKE_FOR_LIKE, observed=sorted(c_t), expected=sorted(b_t)),
        check("task_settings_match", not settings,
              f"per-task settings differ: {fmt(settings)}" if settings else "same per-task settings",
              failure_class=FC.COMPARISON_NOT_LIKE_FOR_LIKE, observed=settings),
        check("sample_counts_match", not samples,
              f"sample counts do not match: {fmt(samples)}" if samples else "same, known sample counts",
              failure_class=FC.COMPARISON_NOT_LIKE_FOR_LIKE, observed=samples),
        check("compared_any", bool(computed) or bool(scale),
              "no task could be compared" if not (computed or scale) else f"{len(computed)} task(s) compared",
              failure_class=FC.COMPARISON_NOT_LIKE_FOR_LIKE, observed=len(computed)),
        check("scores_on_scale", not scale,
              f"scores that cannot be put on the unit scale: {fmt(scale)}" if scale
              else "every score lies within its scale",
              failure_class=FC.ANOMALOUS_GAIN, observed=scale),
        check("no_anomalous_gain", not gains,
              "implausible gain: " + "; ".join(f"{t}: +{g:.4f} > {f.anomalous_gain:g}"
                                               for t, g in sorted(gains.items()))
              if gains else f"no gain above {f.anomalous_gain:g} of scale",
              failure_class=FC.ANOMALOUS_GAIN, observed=gains, expected=f.anomalous_gain),
        check("within_threshold", not regress,
              "drop beyond the threshold: " + "; ".join(
                  f"{t}: {rows[t].data['baseline_unit']:.4f} -> {rows[t].data['candidate_unit']:.4f} "
                  f"(drop {d:.4f} > allowed {rows[t].data['threshold']:.4f})" for t, d in sorted(regress.items()))
              if regress else "every compared task is within the threshold",
              failure_class=FC.ACCURACY_REGRESSION, observed=regress),
        check("resolvable", not indet,
              "too noisy to tell a threshold-sized drop from chance: " + "; ".join(
                  _indet_detail(t, r) for t, r in sorted(indet.items()))
              if indet else "every within-threshold task resolves a threshold-sized drop",
              failure_class=FC.INDETERMINATE,
              observed={t: r.data.get("samples_needed_per_side") for t, r in indet.items()}),
    ]


def _indet_detail(task: str, r: Row) -> str:
    d = r.data
    if d.get("stderr_diff") is None:
        return f"{task}: stderr of the difference unknown (no stderr and no sample count)"
    need = d.get("samples_needed_per_side")
    need_s = f"~{need} samples per side needed" if need is not None else d.get("samples_needed_rule", "")
    note = f" ({d['samples_note']})" if d.get("samples_note") else ""
    return (f"{task}: z*se_diff {d['mde']:.4f} > allowed drop {d['threshold']:.4f} "
            f"with {d['samples_baseline']} samples per side; {need_s}{note}")


def decide(f: CompareFacts) -> Verdict:
    z = NormalDist().inv_cdf(f.confidence)
    common = sorted(set(f.baseline.tasks) & set(f.candidate.tasks))
    rows = {t: _task_row(f, t, z) for t in common}
    settings_check, settings_diff = _run_settings_check(f)
    checks = [settings_check] + _task_checks(f, rows)
    ref_check = _reference_check(f, rows)
    if ref_check is not None:
        checks.append(ref_check)
    table = []
    for t in sorted(set(f.baseline.tasks) | set(f.candidate.tasks)):
        if t in rows:
            r = rows[t]
            entry = {"task": t, **r.data, "verdict": _label(r)}
            if r.settings_diff or r.sample_problem:
                entry["not_like_for_like"] = r.settings_diff + ([r.sample_problem] if r.sample_problem else [])
            if r.scale_problem:
                entry["scale_problem"] = r.scale_problem
        else:
            entry = {"task": t, "verdict": "MISSING_ON_CANDIDATE" if t in f.baseline.tasks else "MISSING_ON_BASELINE"}
        table.append(entry)
    evidence = {
        "threshold": f.threshold.model_dump(), "anomalous_gain": f.anomalous_gain, "confidence": f.confidence,
        "z": z, "epsilon": EPS, "priority": [p.value for p in PRIORITY], "settings_diff": settings_diff,
        "baseline_identity": f.baseline.model_identity, "candidate_identity": f.candidate.model_identity,
        "tasks": table,
    }
    computed = [rows[t] for t in common if rows[t].computed]
    worst = max(computed, key=lambda r: r.data["drop"]) if computed else None
    pass_detail = (f"ACCEPT: {len(computed)} task(s) within the {f.threshold.kind} threshold {f.threshold.value:g}; "
                   f"worst drop {worst.data['drop']:+.4f} on {worst.task}; every task resolves a threshold-sized drop"
                   if worst else "ACCEPT")
    verdict = verdict_from_checks(GATE, checks, pass_detail=pass_detail, evidence=jsonable(evidence),
                                  priority=PRIORITY)
    decision = "ACCEPT" if verdict.passed else verdict.failure_class.terminal_decision.value  # type: ignore[union-attr]
    verdict.evidence["decision"] = decision
    if not verdict.passed:
        verdict.detail = f"{decision} ({verdict.failure_class.value}): {verdict.detail}"  # type: ignore[union-attr]
    return verdict
