"""Pure decision: does the candidate still behave like the baseline, token by token?

Checks, in the order of the failure priority:
  heldout_independent  no held-out document is calibration text (the candidate was tuned on that text,
                       so its fidelity there says nothing): else USER_CONFIG_ERROR.
  same_tokens          both sides scored the same token ids: else COMPARISON_NOT_LIKE_FOR_LIKE.
  finite               no position with a non-finite KL or log-likelihood: else INFERENCE_FAILED.
  not_identical        a quantized candidate whose every distribution equals the baseline's (KL 0 on
                       every token, every top-1 the same, same log-likelihoods) was not measured at all:
                       the baseline was compared with itself: CACHING_DETECTED.
  enough_text          at least min_documents documents and min_tokens tokens: else INDETERMINATE.
  kl_mean, top1_agreement, ll_drop   measured beyond the threshold: DISTRIBUTION_DRIFT; measured within
                       but the one-sided bound (value -/+ z * se) beyond: INDETERMINATE (more text
                       needed); not measured: INDETERMINATE.
  kl_p99               beyond: DISTRIBUTION_DRIFT (a percentile has no simple standard error; with
                       thousands of tokens it is stable, see the measurements).
  flips (per MC task)  the fraction of changed answers beyond max_flip_rate: DISTRIBUTION_DRIFT; within
                       but its upper bound (Agresti-Caffo binomial) beyond: INDETERMINATE.
The largest per-token KL is reported, not gated: one token out of thousands is an extreme statistic.

Why DISTRIBUTION_DRIFT and not ACCURACY_REGRESSION: these figures are not accuracies of any task;
naming a task drop would send the agent, and the report, to look for one. Like a regression, it is a
property of this candidate (action STOP): a retry of the same candidate changes nothing, a new recipe or
a larger calibration is a new candidate. The gate never rescues a candidate the compare gate rejects:
fidelity is a second, independent reason to refuse, never a reason to accept.

Default thresholds (FidelityThresholds), set from measurements on the embedded SmolLM2-135M (held-out
corpus: 48 documents, 2,813 scored tokens; baseline = the bf16 checkpoint evaluated in float32; the
multiple-choice flips on conductor_mc_large; benchmarks/bench_evidence.py prints them again):

  candidate                    KL mean         p99    top-1           ll/token         MC changed
  FP8 (calib 64x256)           0.0361 +-0.0018 0.197  0.884 +-0.007   -0.013 +-0.007   50/1019 (4.9%)
  FP8 (calib 8x64)             0.0367 +-0.0018 0.197  0.889 +-0.006   -0.017 +-0.007   -
  int8_sq (calib 8x64)         0.551  +-0.048  3.76   0.651 +-0.016   -0.486 +-0.057   67/400 (16.8%)
  scrambled linears            18.0   +-0.35   38.1   0.002           -17.5            -
  the baseline itself          0               0      1               0                0

Each default sits about 2-3x FP8's figure (so an FP8 run passes with room for its noise and for another
calibration) and 2-5x inside the broken candidate's: max_kl_mean 0.10 nats, max_kl_p99 0.5,
min_top1_agreement 0.80, max_ll_drop_per_token 0.05, max_flip_rate 0.08. Note what they do NOT say:
this FP8 candidate passes fidelity, yet the compare gate measures a resolved 1.8-point drop on
conductor_mc_large (27 answers worse, 9 better of 1,019): near-identical distributions on free text
do not guarantee the same argmax on close multiple-choice calls, which is why fidelity never rescues
a candidate the accuracy rule rejects. Top-1 agreement is modest even for FP8 (88%): a 135M model's
next-token distributions are flat, so many argmaxes are near-ties.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, Optional

from gates.contract import Check, Verdict, check, verdict_from_checks
from gates.failure_classes import FailureClass as FC
from gates.fidelity.models import FidelityFacts, FlipFacts

GATE = "fidelity"
EPS = 1e-12
PRIORITY = (FC.USER_CONFIG_ERROR, FC.COMPARISON_NOT_LIKE_FOR_LIKE, FC.INFERENCE_FAILED, FC.CACHING_DETECTED,
            FC.DISTRIBUTION_DRIFT, FC.INDETERMINATE)


def _bounded(name: str, value: Optional[float], se: Optional[float], limit: float, z: float, *,
             upper: bool, what: str, unit: str) -> Check:
    """value <= limit (upper) or value >= limit (lower), with the one-sided noise rule."""
    if value is None:
        return check(name, False, f"{what}: not measured", failure_class=FC.INDETERMINATE, expected=limit)
    bound = value + z * (se or 0.0) if upper else value - z * (se or 0.0)
    beyond = value > limit + EPS if upper else value < limit - EPS
    unsure = bound > limit + EPS if upper else bound < limit - EPS
    side = "above the maximum" if upper else "below the minimum"
    observed = {"value": value, "se": se, "bound": bound}
    if beyond:
        return check(name, False, f"{what} {value:.4g}{unit}: {side} {limit:g}{unit}",
                     failure_class=FC.DISTRIBUTION_DRIFT, observed=observed, expected=limit)
    if unsure:
        return check(name, False, f"{what} {value:.4g}{unit} is within {limit:g}{unit} but its one-sided bound "
                                  f"{bound:.4g} is not (se {se:.3g}): more held-out text needed",
                     failure_class=FC.INDETERMINATE, observed=observed, expected=limit)
    return check(name, True, f"{what} {value:.4g}{unit} within {limit:g}{unit} (one-sided bound {bound:.4g})",
                 observed=observed, expected=limit)


def _flip_check(task: str, fl: FlipFacts, limit: float, z: float) -> Check:
    rate = fl.changed / fl.n
    p = (fl.changed + 1.0) / (fl.n + 2.0)  # Agresti-Caffo: never claims zero noise at 0 flips
    se = math.sqrt(p * (1.0 - p) / (fl.n + 2.0))
    c = _bounded(f"flips:{task}", rate, se, limit, z, upper=True, what=f"{task}: changed answers", unit="")
    detail = (f"{c.detail}; {fl.changed} of {fl.n} changed ({fl.right_to_wrong} right->wrong, "
              f"{fl.wrong_to_right} wrong->right)")
    return c.model_copy(update={"detail": detail})


def _identical(f: FidelityFacts) -> bool:
    t = f.tokens
    return (t.tokens > 0 and t.kl_max == 0.0 and t.top1_agreement == 1.0 and t.ll_diff_per_token == 0.0
            and all(fl.changed == 0 for fl in f.flips.values()))


def _input_checks(f: FidelityFacts) -> list[Check]:
    t, th = f.tokens, f.thresholds
    return [
        check("heldout_independent", f.heldout.calibration_overlap == 0,
              f"{f.heldout.calibration_overlap} held-out document(s) are also calibration text: fidelity on text the "
              "candidate was calibrated on proves nothing; use a held-out corpus disjoint from it"
              if f.heldout.calibration_overlap else f"{f.heldout.documents} held-out documents, none calibration text",
              failure_class=FC.USER_CONFIG_ERROR, observed=f.heldout.calibration_overlap, expected=0),
        check("same_tokens", f.tokenizer_match,
              "baseline and candidate tokenize the held-out text differently: per-token figures compare different "
              "things" if not f.tokenizer_match else "same token ids on both sides",
              failure_class=FC.COMPARISON_NOT_LIKE_FOR_LIKE, observed=f.tokenizer_match, expected=True),
        check("finite", t.nonfinite_tokens == 0,
              f"{t.nonfinite_tokens} position(s) with a non-finite KL or log-likelihood: the candidate (or the "
              "baseline) produced NaN/inf logits" if t.nonfinite_tokens else "every scored position is finite",
              failure_class=FC.INFERENCE_FAILED, observed=t.nonfinite_tokens, expected=0),
        check("not_identical", not _identical(f),
              "every distribution of the candidate equals the baseline's (KL 0 everywhere, same top-1, same "
              "log-likelihoods): the baseline was measured against itself, not the quantized candidate"
              if _identical(f) else "the candidate's distributions differ from the baseline's (as a quantized "
                                    "model's must)",
              failure_class=FC.CACHING_DETECTED, observed=t.kl_max),
        check("enough_text", t.documents >= th.min_documents and t.tokens >= th.min_tokens,
              f"{t.documents} documents / {t.tokens} tokens scored (need {th.min_documents} / {th.min_tokens})",
              failure_class=FC.INDETERMINATE, observed={"documents": t.documents, "tokens": t.tokens},
              expected={"documents": th.min_documents, "tokens": th.min_tokens}),
    ]


def _measure_checks(f: FidelityFacts, z: float) -> list[Check]:
    t, th = f.tokens, f.thresholds
    drop = None if t.ll_diff_per_token is None else -t.ll_diff_per_token
    p99 = t.kl_p99
    checks = [
        _bounded("kl_mean", t.kl_mean, t.kl_mean_se, th.max_kl_mean, z, upper=True,
                 what="mean per-token KL", unit=" nats"),
        check("kl_p99", p99 is not None and p99 <= th.max_kl_p99 + EPS,
              "99th percentile per-token KL: not measured" if p99 is None else
              f"99th percentile per-token KL {p99:.4g} nats: "
              f"{'within' if p99 <= th.max_kl_p99 + EPS else 'above the maximum'} {th.max_kl_p99:g} nats",
              failure_class=FC.INDETERMINATE if p99 is None else FC.DISTRIBUTION_DRIFT,
              observed=p99, expected=th.max_kl_p99),
        _bounded("top1_agreement", t.top1_agreement, t.top1_agreement_se, th.min_top1_agreement, z, upper=False,
                 what="top-1 agreement", unit=""),
        _bounded("ll_drop", drop, t.ll_diff_per_token_se, th.max_ll_drop_per_token, z, upper=True,
                 what="log-likelihood lost per token", unit=" nats"),
    ]
    return checks + [_flip_check(task, fl, th.max_flip_rate, z) for task, fl in sorted(f.flips.items())]


def _evidence(f: FidelityFacts, z: float) -> dict[str, Any]:
    t = f.tokens
    flips = {task: {"n": fl.n, "changed": fl.changed, "flip_rate": fl.changed / fl.n,
                    "right_to_wrong": fl.right_to_wrong, "wrong_to_right": fl.wrong_to_right,
                    "net": fl.wrong_to_right - fl.right_to_wrong} for task, fl in sorted(f.flips.items())}
    return {"baseline_identity": f.baseline_identity, "candidate_identity": f.candidate_identity,
            "heldout": f.heldout.model_dump(), "tokens": t.model_dump(), "flips": flips,
            "thresholds": f.thresholds.model_dump(), "confidence": f.confidence, "z": z,
            "priority": [p.value for p in PRIORITY]}


def decide(f: FidelityFacts) -> Verdict:
    z = NormalDist().inv_cdf(f.confidence)
    checks = _input_checks(f) + _measure_checks(f, z)
    t = f.tokens
    pass_detail = (f"the candidate follows the baseline on {t.tokens} held-out tokens: mean KL {t.kl_mean:.4g} nats, "
                   f"top-1 agreement {t.top1_agreement:.4f}, log-likelihood {t.ll_diff_per_token:+.4f} nats/token"
                   + (f"; {sum(fl.changed for fl in f.flips.values())} MC answer(s) changed of "
                      f"{sum(fl.n for fl in f.flips.values())}" if f.flips else "")
                   if t.kl_mean is not None and t.top1_agreement is not None and t.ll_diff_per_token is not None
                   else "PASS")
    return verdict_from_checks(GATE, checks, pass_detail=pass_detail, evidence=_evidence(f, z), priority=PRIORITY)
