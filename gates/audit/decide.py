"""Pure decision: do the candidate's results look served from a cache, or from the baseline itself?

CACHING_DETECTED when any of:
  1. an eval cache was used on either side (lm-eval --use_cache), or whether one was used is not
     recorded (a cache cannot be ruled out; re-run with it off and recorded);
  2. the candidate evaluated the same thing as the baseline (same evaluated identity, or the same
     weight hash), or neither identity nor weight hash can tell them apart: the identity rule the
     compare gate shares, in gates/identity.py (identities normalised: NFC, invisible characters
     removed, paths collapsed);
  3. log-likelihood identity: a loglikelihood / multiple-choice task with >= min_samples documents
     whose every log-likelihood equals the baseline's within loglik_tolerance (1e-9). Quantization
     moves log-likelihoods by 1e-4 to 1e-2; equality to 1e-9 over 20 documents means the numbers did
     not come from a different checkpoint. This rule stands on its own.
  4. generation identity: every generative task with >= min_samples documents and a mean response
     of >= min_response_chars characters is 100% byte-identical to the baseline, and no
     loglikelihood task (with >= min_samples documents) shows that the candidate's numbers differ.
     Greedy decoding of an FP8 model can reproduce the baseline's text, often on short answers,
     sometimes on long ones, so identical text alone is evidence only where nothing contradicts it:
     a loglikelihood task that differs proves a different model answered, and short-answer tasks
     are left out. The numbers (identical fraction, sizes, largest log-likelihood difference) are in
     the evidence either way.
SAMPLE_ACCOUNTING_FAILED when no document could be compared at all (no per-sample logs, or no doc
id in common): the audit has nothing to look at and does not pass by default; and when a document
carries a different number of log-likelihoods on the two sides (not the same requests): such
documents escape rule 3, so a relabelled baseline with one request added per document would pass.
"""

from __future__ import annotations

from typing import Any

from gates.audit.models import AuditFacts, SideIdentity, TaskComparison
from gates.contract import Check, Verdict, check, verdict_from_checks
from gates.failure_classes import FailureClass as FC
from gates.identity import same_model

GATE = "audit"
PRIORITY = (FC.CACHING_DETECTED, FC.SAMPLE_ACCOUNTING_FAILED)


def _cache_check(f: AuditFacts) -> Check:
    used = [s for s, side in (("baseline", f.baseline), ("candidate", f.candidate)) if side.used_cache is True]
    unknown = [s for s, side in (("baseline", f.baseline), ("candidate", f.candidate)) if side.used_cache is None]
    if used:
        detail = f"an eval cache was used on the {' and '.join(used)}: results may be replayed, not computed"
    elif unknown:
        detail = (f"whether an eval cache was used is not recorded for the {' and '.join(unknown)}: "
                  f"a cache cannot be ruled out")
    else:
        detail = "no eval cache on either side"
    return check("no_eval_cache", not used and not unknown, detail, failure_class=FC.CACHING_DETECTED,
                 observed={"baseline": f.baseline.used_cache, "candidate": f.candidate.used_cache}, expected=False)


def _identity_check(b: SideIdentity, c: SideIdentity) -> Check:
    obs = {"baseline": b.evaluated, "candidate": c.evaluated,
           "baseline_sha256": b.weights_sha256, "candidate_sha256": c.weights_sha256}
    why = same_model(b.evaluated, c.evaluated, baseline_sha256=b.weights_sha256, candidate_sha256=c.weights_sha256)
    return check("distinct_models", why is None, why or "the candidate is a different model from the baseline",
                 failure_class=FC.CACHING_DETECTED, observed=obs)


def _row(name: str, t: TaskComparison, f: AuditFacts) -> dict[str, Any]:
    frac = t.identical_responses / t.samples_compared if t.samples_compared else None
    row: dict[str, Any] = {"task": name, "kind": t.kind, "samples_baseline": t.samples_baseline,
                           "samples_candidate": t.samples_candidate, "samples_compared": t.samples_compared,
                           "identical_responses": t.identical_responses, "identical_fraction": frac,
                           "enough_samples": t.samples_compared >= f.min_samples}
    if t.kind == "generative":
        row["mean_response_chars"] = t.mean_response_chars
        row["long_enough"] = (t.mean_response_chars or 0.0) >= f.min_response_chars
    else:
        row["loglik_docs_compared"] = t.loglik_docs_compared
        row["loglik_values_compared"] = t.loglik_values_compared
        row["max_abs_loglik_diff"] = t.max_abs_loglik_diff
        row["loglik_identical"] = (t.max_abs_loglik_diff is not None
                                   and t.max_abs_loglik_diff <= f.loglik_tolerance)
        row["loglik_shape_mismatch"] = t.loglik_shape_mismatch
    return row


def _response_checks(f: AuditFacts, rows: list[dict[str, Any]]) -> list[Check]:
    ll = [r for r in rows if r["kind"] == "loglikelihood" and r["loglik_docs_compared"] >= f.min_samples]
    ll_same = [r["task"] for r in ll if r["loglik_identical"]]
    ll_differs = [r["task"] for r in ll if not r["loglik_identical"]]
    gen = [r for r in rows if r["kind"] == "generative" and r["enough_samples"] and r["long_enough"]]
    gen_same = [r["task"] for r in gen if r["identical_responses"] == r["samples_compared"]]
    checks = [check(
        "logliks_differ", not ll_same,
        f"log-likelihoods identical to the baseline's within {f.loglik_tolerance:g} on {ll_same}: "
        f"a different checkpoint cannot reproduce them" if ll_same else
        (f"log-likelihoods differ from the baseline's on {ll_differs}" if ll_differs else
         f"no loglikelihood task with >= {f.min_samples} documents: rule not applicable"),
        failure_class=FC.CACHING_DETECTED, observed=ll_same, expected=[])]
    flagged = bool(gen) and len(gen_same) == len(gen) and not ll_differs
    if flagged:
        detail = (f"every generative response is byte-identical to the baseline's on {gen_same} "
                  f"(>= {f.min_samples} documents, mean >= {f.min_response_chars:g} chars) and no "
                  f"log-likelihood shows a different model")
    elif gen and len(gen_same) == len(gen):
        detail = (f"generative responses identical on {gen_same}, but log-likelihoods differ on {ll_differs}: "
                  f"plausible greedy agreement of a different model")
    elif gen:
        differ = sorted({r["task"] for r in gen} - set(gen_same))
        detail = f"generative responses differ from the baseline's on {differ}"
    else:
        detail = (f"no generative task with >= {f.min_samples} documents and mean responses >= "
                  f"{f.min_response_chars:g} chars: rule not applicable")
    checks.append(check("generations_differ", not flagged, detail, failure_class=FC.CACHING_DETECTED,
                        observed=gen_same))
    return checks


def decide(f: AuditFacts) -> Verdict:
    rows = [_row(name, t, f) for name, t in sorted(f.tasks.items())]
    compared = sum(r["samples_compared"] for r in rows)
    checks = [_cache_check(f), _identity_check(f.baseline, f.candidate)]
    checks.append(check("samples_compared", compared > 0,
                        f"{compared} document(s) compared over {len(rows)} task(s)" if compared else
                        "no document could be compared (no per-sample logs, or no doc id in common): "
                        "nothing to audit", failure_class=FC.SAMPLE_ACCOUNTING_FAILED, observed=compared))
    checks += _response_checks(f, rows)
    mismatched = {r["task"]: r["loglik_shape_mismatch"] for r in rows if r.get("loglik_shape_mismatch")}
    checks.append(check("loglik_requests_match", not mismatched,
                        "documents whose log-likelihood requests differ between the sides (not the same "
                        f"requests, so the log-likelihood rule cannot look at them): {mismatched}" if mismatched
                        else "every compared document carries the same log-likelihood requests on both sides",
                        failure_class=FC.SAMPLE_ACCOUNTING_FAILED, observed=mismatched))
    bb, cb = f.baseline.weights_bytes, f.candidate.weights_bytes
    evidence = {
        "tasks": rows, "min_samples": f.min_samples, "loglik_tolerance": f.loglik_tolerance,
        "min_response_chars": f.min_response_chars,
        "baseline": f.baseline.model_dump(), "candidate": f.candidate.model_dump(),
        "weights_size_ratio": (cb / bb) if bb and cb is not None else None,
    }
    return verdict_from_checks(GATE, checks, evidence=evidence, priority=PRIORITY,
                               pass_detail=f"no sign of caching: {compared} document(s) compared over "
                                           f"{len(rows)} task(s)")
