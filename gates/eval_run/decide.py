"""Pure decision: can this lm-eval run's scores be trusted as a complete, honest measurement?

Run level
  run_status      SUCCESS passes. RUNNING / PENDING / TIMEOUT: the run is not finished (a TIMEOUT may
                  be resumed): INFRA_TRANSIENT, never a pass. KILLED, or FAILED / ERROR with a negative
                  exit code: lm-eval died of a signal the conductor did not send (the OOM killer, a
                  scheduler, a crash signal): INFRA_TRANSIENT (retried once; the signal is named).
                  FAILED / ERROR / CANCELLED otherwise: the runner's error classified (`classify_error`;
                  UNKNOWN when nothing matches). UNKNOWN: UNKNOWN.
  exit_code       a SUCCESS with a non-zero exit code contradicts itself: the error classified
                  (INFRA_TRANSIENT when the code says a signal ended it).
  run_error       a SUCCESS that carries an error message (one that prints something, gates/text.py)
                  contradicts itself too: the error classified, never a pass.
  results         a results file that exists but cannot be read: SAMPLE_ACCOUNTING_FAILED.
  tasks_present   a SUCCESS without any task (or a task the results name but that cannot be read)
                  is SAMPLE_ACCOUNTING_FAILED: no tasks at all is not a pass. When the run did not
                  succeed and left no tasks, the status check alone carries the failure.

Per task (every task, whatever the status: a terminal failure must be seen even in a RUNNING run)
  samples_accounted   expected and scored both known, equal, > 0; no corrupt, duplicated or
                      metric-less line; every doc_id a non-negative JSON integer, documents compared by
                      canonical identity (5, 5.0, "5" and " 5" are one document, so a padded log cannot
                      pass); every per-sample value inside its metric's domain (gates/eval_run/metrics.py:
                      an acc of 2.0 or -1.0 is a corrupt record, whatever the mean); lm-eval's own
                      sample_len agrees; the response counts add up: else SAMPLE_ACCOUNTING_FAILED ("a
                      task with missing counts is not a pass"). Exception: in a run that did not finish
                      (RUNNING / PENDING / TIMEOUT / killed by a signal), counts not written yet (and a
                      per-sample log not written yet) are INFRA_TRANSIENT when nothing else is wrong.
  inference           (judged when samples were logged; a missing log is an accounting failure)
                      every sample empty (its completions print nothing: gates/text.py, Unicode
                      categories, so zero-width or control characters are empty too) or errored:
                      INFERENCE_FAILED, never a score. Partial: more
                      than `max_failed_response_fraction` (default 0.5) of the samples empty or errored
                      is INFERENCE_FAILED too. Why 0.5: an empty answer can be a legitimate (wrong)
                      answer of a weak model, and a minority of them is a score the compare gate can
                      judge; once most samples carry no answer the number measures the serving path,
                      not the model, and comparing it would report the pipeline's failure as a
                      regression (or hide one behind a failed baseline).
  score_rederived     the score re-derived from the per-sample log must exist: a mean of the per-sample
                      values, or lm-eval's own corpus-level aggregation (F1, MCC, BLEU, chrF, TER,
                      perplexity, word / byte perplexity, bits per byte, median) of the per-sample items
                      (gates/eval_run/corpus.py). If the log lacks the metric, its items are not what
                      lm-eval logs, the aggregation is unknown or not re-derivable (brier_score), or
                      lm-eval is not installed for a corpus-level one, the score cannot be accounted for:
                      SAMPLE_ACCOUNTING_FAILED (never a pass).
  reported_score      a reported score that is missing or not a number ("N/A", a string, NaN) while
                      the per-sample records give one is REPORTED_MISMATCH: what the tool reported is
                      not the score of its own records. (Never read as a pass, never converted.)
  rescored            each per-sample value re-scored from the model's own recorded response as lm-eval
                      scores it (gates/eval_run/rescore.py: multiple-choice acc / F1 / MCC from the
                      log-likelihoods, perplexity items from the responses, exact_match with lm-eval's
                      own function, BLEU items from the filtered response): any disagreement is
                      REPORTED_MISMATCH (the values were edited after lm-eval scored them).
  reported_matches    |reported - rederived| <= max_reported_mismatch, in the score's own units (lm-eval
                      reports 0-1; a 0-100 number against 0-1 records is a mismatch), relative to the score
                      for an unbounded one (a perplexity of 2e6 carries float rounding): REPORTED_MISMATCH.
  in_scale            a score outside the range its metric has by definition (`score_range`: [0, 1] for
                      acc, exact_match, F1; [-1, 1] for MCC; [0, 100] for BLEU, chrF; >= 1 for perplexities;
                      >= 0 for bits per byte, TER; else the declared scale), reported or re-derived:
                      REPORTED_MISMATCH.
  direction           a metric whose direction is fixed by definition (acc up, perplexity down) reported
                      the other way round: REPORTED_MISMATCH (a comparison would read a degradation as
                      a gain).
  stderr              a stderr must be known: the re-derived one needs n >= 2, else
                      SAMPLE_ACCOUNTING_FAILED (too few samples to measure anything). A reported stderr
                      that is a number must agree with the re-derived one (REPORTED_MISMATCH): exactly for
                      a mean or when this gate redrew every bootstrap replicate lm-eval drew; else within
                      five relative standard errors of a bootstrap standard deviation, on a log scale; "N/A"
                      (lm-eval writes it for n = 1, --bootstrap_iters 0, or an aggregation it does not
                      bootstrap) is not a contradiction where lm-eval writes it, and is one elsewhere; any
                      other reported stderr (negative, NaN, Infinity, another string) is REPORTED_MISMATCH:
                      a stderr is never negative or non-finite, so such a report is not lm-eval's.
  extraction          (generative tasks) extraction failures among the non-empty, non-errored samples above
                      `max_extraction_failure_fraction`: EVAL_JUDGE_FAILED.

Aggregation. Pass iff every check passes. Otherwise the failure_class is the first of PRIORITY that
some failed check carries: terminal classes first (INFERENCE_FAILED, SAMPLE_ACCOUNTING_FAILED,
REPORTED_MISMATCH, EVAL_JUDGE_FAILED), then UNKNOWN, and INFRA_TRANSIENT last, so that a terminal
failure in any task is never masked by a non-terminal status. Within the terminal classes the
root cause goes first: a model that did not answer explains missing extractions and low scores;
dropped samples explain a reported/re-derived difference.
"""

from __future__ import annotations

import math
import re
import signal
from typing import Any, Optional

from gates.contract import Check, Verdict, check
from gates.eval_run.models import EvalRunFacts, TaskRun
from gates.failure_classes import FailureClass as FC
from gates.text import is_blank

GATE = "eval_run"

PRIORITY: tuple[FC, ...] = (FC.INFERENCE_FAILED, FC.SAMPLE_ACCOUNTING_FAILED, FC.REPORTED_MISMATCH,
                            FC.EVAL_JUDGE_FAILED, FC.UNKNOWN, FC.INFRA_TRANSIENT)
NON_TERMINAL = ("RUNNING", "PENDING", "TIMEOUT")
NOT_COMPUTED = "N/A"  # what lm-eval writes for a stderr it did not compute (n = 1, --bootstrap_iters 0)
_TOP = {"unit": 1.0, "percent": 100.0}

# error text -> class; first match wins. Kept to classes this gate may emit.
_ERROR_PATTERNS: tuple[tuple[re.Pattern[str], FC], ...] = tuple((re.compile(p, re.IGNORECASE), fc) for p, fc in (
    (r"probability tensor contains|\bnan\b.*(logit|loss|output)|(logit|output)s?.*\bnan\b|"
     r"device-side assert|illegal memory access|generation (failed|raised)|inference failed", FC.INFERENCE_FAILED),
    (r"connection (refused|reset|aborted|error)|timed? ?out|temporar(y|ily)|service unavailable|\b50[234]\b|\b429\b|"
     r"rate.?limit|too many requests|max retries|remotedisconnected|broken pipe|network is unreachable|"
     r"name or service not known|nccl", FC.INFRA_TRANSIENT),
    (r"\bjudge\b|could not (parse|extract)|answer extraction", FC.EVAL_JUDGE_FAILED),
))


_BOILERPLATE = ("Traceback (most recent call last)", "During handling of the above exception",
                "The above exception was the direct cause")


def error_summary(error: str, lines: int = 5) -> str:
    """The exception lines of a traceback (the unindented ones, last `lines`), not the code it quotes:
    source lines such as `timeout=self.timeout` must not make an unrelated error look transient."""
    keep = [ln.strip() for ln in error.splitlines()
            if ln.strip() and not ln[:1].isspace() and not ln.startswith(_BOILERPLATE)]
    return "\n".join(keep[-lines:])


def classify_error(error: Optional[str]) -> FC:
    """The class of a runner's error message; UNKNOWN when nothing matches (a person must look)."""
    if error:
        summary = error_summary(error)
        for pattern, fc in _ERROR_PATTERNS:
            if pattern.search(summary):
                return fc
    return FC.UNKNOWN


def shorten_error(err: str, limit: int = 300) -> str:
    """At most `limit` characters of an error summary for a check's detail, cut at line boundaries: its
    first line (often the explanation, e.g. the server died) and its last (the exception), each cut
    in its middle if it must be; never a fragment starting mid-word. The whole text stays in the facts."""
    err = " | ".join(ln.strip() for ln in err.splitlines() if ln.strip())
    if len(err) <= limit:
        return err
    parts = err.split(" | ")
    first, last = parts[0], parts[-1]

    def cut(text: str, n: int) -> str:
        return text if len(text) <= n else text[: n - 25].rstrip() + " … " + text[-20:].lstrip()

    if len(parts) == 1:
        return cut(first, limit)
    half = (limit - 5) // 2
    return cut(first, half) + " | … | " + cut(last, limit - 7 - min(len(first), half))


# ---------------------------------------------------------------- run level

def signal_of(exit_code: Optional[int]) -> Optional[str]:
    """'signal 9 (SIGKILL)' for a negative exit code (the process died of that signal), else None."""
    if exit_code is None or exit_code >= 0:
        return None
    try:
        name = signal.Signals(-exit_code).name
    except ValueError:
        name = "unknown signal"
    return f"signal {-exit_code} ({name})"


def unfinished(f: EvalRunFacts) -> bool:
    """The run stopped before lm-eval wrote everything: not finished yet, or killed by a signal."""
    return f.run_status in NON_TERMINAL or f.run_status == "KILLED" or (
        f.run_status in ("FAILED", "ERROR") and signal_of(f.exit_code) is not None)


def _success_checks(f: EvalRunFacts, short: str) -> list[Check]:
    sig = signal_of(f.exit_code)
    ok = f.exit_code in (None, 0)
    code = "exit code 0" if ok else f"the run says SUCCESS but exited with code {f.exit_code}" + (
        f", killed by {sig}" if sig else "") + short
    fc = FC.INFRA_TRANSIENT if sig else classify_error(f.error)  # a signal death explains its log's error
    checks = [check("run_status", True, "the run finished (SUCCESS)", observed=f.run_status),
              check("run_exit_code", ok, code, failure_class=fc, observed=f.exit_code, expected=0)]
    if f.error is not None and not is_blank(f.error):
        checks.append(check("run_error", False, f"the run says SUCCESS but carries an error{short or ': (no summary)'}",
                            failure_class=fc, observed=shorten_error(f.error), expected=None))
    return checks


def _status_checks(f: EvalRunFacts, short: str) -> list[Check]:
    status, sig = f.run_status, signal_of(f.exit_code)
    if status == "SUCCESS":
        return _success_checks(f, short)
    if status in NON_TERMINAL:
        return [check("run_status", False, f"the run is not finished ({status}): no score is final yet",
                      failure_class=FC.INFRA_TRANSIENT, observed=status, expected="SUCCESS")]
    if status == "KILLED" or (sig is not None and status in ("FAILED", "ERROR")):
        return [check("run_status", False,
                      f"the run ended {status}: killed by {sig or 'a signal (which one was not recorded)'}, not by "
                      f"the conductor (an OOM killer, a scheduler, a crash signal): a transient death, retried once"
                      f"{short}", failure_class=FC.INFRA_TRANSIENT, observed=status, expected="SUCCESS")]
    if status in ("FAILED", "ERROR", "CANCELLED"):
        how = f"exit code {f.exit_code}" + (f", {sig}" if sig else "")
        return [check("run_status", False, f"the run ended {status} ({how}){short}",
                      failure_class=classify_error(f.error), observed=status, expected="SUCCESS")]
    return [check("run_status", False, f"the run's status is {status}{short}",
                  failure_class=FC.UNKNOWN, observed=status, expected="SUCCESS")]


def _run_checks(f: EvalRunFacts) -> list[Check]:
    status = f.run_status
    err = error_summary(f.error or "")
    short = f": {shorten_error(err)}" if err else ""
    checks = _status_checks(f, short)
    if f.results_error is not None:
        checks.append(check("results_readable", False, f"the results file cannot be read: {f.results_error}",
                            failure_class=FC.SAMPLE_ACCOUNTING_FAILED, observed=f.results_file))
    if status == "SUCCESS" or f.tasks or f.task_errors:
        ok = bool(f.tasks) and not f.task_errors
        detail = (f"{len(f.tasks)} task(s)" if ok else
                  "the run has no task: nothing was evaluated" if not f.tasks and not f.task_errors else
                  "task(s) the results name but that cannot be read: "
                  + "; ".join(f"{t}: {why}" for t, why in sorted(f.task_errors.items())))
        checks.append(check("tasks_present", ok, detail, failure_class=FC.SAMPLE_ACCOUNTING_FAILED,
                            observed=sorted(f.tasks), expected="at least one readable task"))
    return checks


# ---------------------------------------------------------------- per task

def _accounting(name: str, t: TaskRun, not_finished: bool = False) -> Check:
    """SAMPLE_ACCOUNTING_FAILED; counts not written yet by a run that did not finish are INFRA_TRANSIENT
    when nothing else is wrong with the task's records."""
    exp, got = t.samples_expected, t.samples_scored
    problems = []
    missing = [k for k, v in (("expected", exp), ("scored", got)) if v is None]
    if missing:
        problems.append(f"sample count(s) missing: {', '.join(missing)}" +
                        (f" ({t.rederive_note})" if got is None and t.rederive_note else "") +
                        (" (the run did not finish: not written yet)" if not_finished else ""))
    elif got != exp:
        problems.append(f"scored {got} of {exp} expected samples")
    elif exp == 0:
        problems.append("no samples expected or scored")
    if t.samples_corrupt:
        problems.append(f"{t.samples_corrupt} corrupt line(s) in the per-sample log")
    if t.samples_duplicated:
        problems.append(f"{t.samples_duplicated} line(s) repeating a document already scored (doc_id compared "
                        f"canonically)")
    if t.samples_bad_doc_id:
        problems.append(f"{t.samples_bad_doc_id} line(s) whose doc_id is not a non-negative integer")
    if t.samples_expected_by_limit is not None and exp is not None and exp != t.samples_expected_by_limit:
        problems.append(f"n-samples effective {exp} differs from the {t.samples_expected_by_limit} documents that "
                        f"the dataset size (n-samples original) and --limit imply")
    if t.samples_outside_range:
        problems.append(f"{t.samples_outside_range} document(s) whose doc_id lies outside 0..{(exp or 0) - 1} "
                        f"(lm-eval numbers the documents it evaluates from 0)")
    if t.samples_hash_mismatch:
        problems.append(f"{t.samples_hash_mismatch} line(s) whose document, prompt or target no longer match the "
                        f"hashes lm-eval wrote (edited after the run)")
    problems += _filter_problems(t)
    if t.samples_out_of_domain:
        problems.append(f"{t.samples_out_of_domain} per-sample value(s) of {t.primary_metric} outside its domain "
                        f"{t.metric_domain or 'of finite numbers'}")
    if t.samples_without_metric and not t.rederive_note:
        problems.append(f"{t.samples_without_metric} sample(s) without a value of {t.primary_metric}")
    if t.reported_sample_len is not None and exp is not None and t.reported_sample_len != exp:
        problems.append(f"lm-eval's sample_len {t.reported_sample_len} differs from n-samples {exp}")
    if got is not None and t.responses_total != got:
        problems.append(f"{t.responses_total} responses counted for {got} samples")
    if t.responses_empty + t.responses_errored > t.responses_total or t.extraction_failed > t.responses_total:
        problems.append("more empty/errored/unextracted responses than responses: inconsistent counts")
    ok = not problems
    transient = not_finished and bool(missing) and len(problems) == 1
    return check(f"{name}:samples_accounted", ok,
                 f"{name}: {got} of {exp} samples scored" if ok else f"{name}: " + "; ".join(problems),
                 failure_class=FC.INFRA_TRANSIENT if transient else FC.SAMPLE_ACCOUNTING_FAILED,
                 observed=got, expected=exp)


def _filter_problems(t: TaskRun) -> list[str]:
    """lm-eval writes every document once per filter: the other filters' lines must match the primary's."""
    out = []
    odd = {f: n for f, n in sorted(t.filter_lines.items()) if t.samples_scored is not None and n != t.samples_scored}
    if odd:
        out.append(f"filter(s) with another number of lines than the {t.samples_scored} of {t.primary_filter!r}: "
                   + ", ".join(f"{f!r} {n}" for f, n in odd.items()))
    if t.samples_duplicated_other_filters:
        out.append(f"{t.samples_duplicated_other_filters} line(s) of other filters repeating a document")
    unknown = sorted(set(t.filter_lines) - set(t.known_filters)) if t.known_filters is not None else []
    if unknown:
        out.append(f"lines of filter(s) the task does not define: {unknown}")
    return out


def _inference(name: str, t: TaskRun, max_frac: float) -> Optional[Check]:
    """None when no sample was logged: a missing log is an accounting failure, not proof of silence."""
    bad, total = t.responses_empty + t.responses_errored, t.responses_total
    if total == 0:
        return None
    frac = bad / total
    split = f"{t.responses_empty} empty, {t.responses_errored} errored"
    if bad >= total:
        return check(f"{name}:inference", False,
                     f"{name}: every one of {total} responses is empty or errored ({split}): the model did not "
                     f"generate, so no score is valid", failure_class=FC.INFERENCE_FAILED, observed=frac,
                     expected=max_frac)
    ok = frac <= max_frac
    return check(f"{name}:inference", ok,
                 f"{name}: {bad} of {total} responses empty or errored ({split}; allowed {max_frac:.0%})",
                 failure_class=FC.INFERENCE_FAILED, observed=frac, expected=max_frac)


def _score_checks(name: str, t: TaskRun, tol: float, not_finished: bool = False) -> list[Check]:
    out: list[Check] = []
    if t.rederived_score is None:
        pending = not_finished and t.samples_scored is None  # the per-sample log is not written yet
        out.append(check(f"{name}:score_rederived", False,
                         f"{name}: the score cannot be re-derived from the per-sample log"
                         + (f" ({t.rederive_note})" if t.rederive_note else ""),
                         failure_class=FC.INFRA_TRANSIENT if pending else FC.SAMPLE_ACCOUNTING_FAILED,
                         observed=t.reported_score))
        return out
    out.append(check(f"{name}:score_rederived", True,
                     f"{name}: {t.primary_metric} = {t.rederived_score:.6g} re-derived from {t.samples_scored} samples"
                     + (f" with lm-eval's {t.aggregation!r} aggregation" if t.aggregation not in (None, "mean")
                        else ""),
                     observed=t.rederived_score))
    if t.samples_rescore_mismatch:
        out.append(check(f"{name}:rescored", False,
                         f"{name}: {t.samples_rescore_mismatch} of {t.samples_rescored} per-sample value(s) of "
                         f"{t.primary_metric} disagree with the model's own recorded responses (re-scored as lm-eval "
                         f"scores them): the per-sample log was edited", failure_class=FC.REPORTED_MISMATCH,
                         observed=t.samples_rescore_mismatch, expected=0))
    out.append(_reported_check(name, t, _score_tolerance(t, tol)))
    range_check = _range_check(name, t)
    if range_check is not None:
        out.append(range_check)
    if t.expected_higher_is_better is not None:
        ok = t.higher_is_better == t.expected_higher_is_better
        way = "higher" if t.expected_higher_is_better else "lower"
        out.append(check(f"{name}:direction", ok,
                         f"{name}: {t.primary_metric} is {way}-is-better by definition" + (
                             "" if ok else f", but the run reports higher_is_better={t.higher_is_better}: a "
                                           f"comparison would read a degradation as a gain"),
                         failure_class=FC.REPORTED_MISMATCH, observed=t.higher_is_better,
                         expected=t.expected_higher_is_better))
    out.append(_stderr_check(name, t, tol))
    return out


def _score_tolerance(t: TaskRun, tol: float) -> float:
    """`tol` in the score's own units; relative (tol * |score|, at least tol) for an unbounded score such as a
    perplexity, whose float rounding grows with its size."""
    unbounded = t.score_range is not None and t.score_range[1] is None
    return tol * max(1.0, abs(t.rederived_score or 0.0)) if unbounded else tol


def _reported_check(name: str, t: TaskRun, tol: float) -> Check:
    if t.reported_score is None:
        what = f"non-numeric ({t.reported_score_raw!r})" if t.reported_score_raw is not None else "missing"
        return check(f"{name}:reported_score", False,
                     f"{name}: the reported {t.primary_metric} is {what} while the per-sample records give "
                     f"{t.rederived_score:.6g}", failure_class=FC.REPORTED_MISMATCH,
                     observed=t.reported_score_raw, expected=t.rederived_score)
    diff = abs(t.reported_score - (t.rederived_score or 0.0))
    return check(f"{name}:reported_matches", diff <= tol,
                 f"{name}: reported {t.reported_score:.6g} vs re-derived {t.rederived_score:.6g} "
                 f"(|diff| {diff:.3g}, tolerance {tol:.3g})", failure_class=FC.REPORTED_MISMATCH,
                 observed=t.reported_score, expected=t.rederived_score)


def _range_check(name: str, t: TaskRun) -> Optional[Check]:
    """The score inside the range its metric has by definition (score_range, else the declared scale)."""
    if t.score_range is not None:
        low, high = t.score_range
    elif t.scale is not None:
        low, high = 0.0, _TOP[t.scale]
    else:
        return None
    where = f"[{low:g}, {high:g}]" if high is not None else f"[{low:g}, +inf)"
    off = [f"{label} {v:.6g}" for label, v in (("reported", t.reported_score), ("re-derived", t.rederived_score))
           if v is not None and not ((low is None or v >= low) and (high is None or v <= high))]
    what = f"a {t.scale}-scale metric" if t.scale else f"a metric in {where}"
    return check(f"{name}:in_scale", not off,
                 f"{name}: {t.primary_metric} is {what} but " + ", ".join(off) + f" lies outside {where}"
                 if off else f"{name}: within {where}", failure_class=FC.REPORTED_MISMATCH,
                 observed=off or None, expected=[low, high])


def _stderr_agrees(t: TaskRun, reported: float, tol: float) -> tuple[bool, str]:
    """Exact (within `tol`) for a mean, or when this gate drew the very replicates lm-eval drew. Otherwise
    both are estimates of one standard deviation from different numbers of replicates: they must agree
    within five of their combined relative standard errors, on a log scale (a standard deviation is a
    scale: shrinking it 100-fold is as wrong as growing it 100-fold, however heavy the bootstrap's tail)."""
    base = max(_score_tolerance(t, tol), 1e-9)
    red = t.rederived_stderr or 0.0
    if abs(reported - red) <= base:
        return True, f"tolerance {base:.3g}"
    b, lb = t.bootstrap_replicates, t.lmeval_bootstrap_replicates
    if t.stderr_method != "bootstrap" or b is None or lb is None or b >= lb or t.stderr_rel_se is None:
        return False, f"tolerance {base:.3g}, exact"
    allowed = 5.0 * t.stderr_rel_se * math.sqrt(1.0 + b / lb)
    off = abs(math.log(reported / red)) if reported > 0 and red > 0 else math.inf
    return off <= allowed, (f"|log ratio| {off:.3g}, allowed {allowed:.3g}: {b} of lm-eval's {lb} bootstrap "
                            f"replicates redrawn")


def _stderr_check(name: str, t: TaskRun, tol: float) -> Check:
    if t.rederived_stderr is None:
        why = t.rederive_note or f"needs at least 2 samples, got {t.samples_scored}"
        return check(f"{name}:stderr", False, f"{name}: no stderr can be re-derived ({why})",
                     failure_class=FC.SAMPLE_ACCOUNTING_FAILED, observed=t.reported_stderr_raw)
    if t.reported_stderr is None and t.reported_stderr_raw not in (None, NOT_COMPUTED):
        return check(f"{name}:stderr", False,
                     f"{name}: the reported stderr is {t.reported_stderr_raw!r}, not a non-negative number (nor "
                     f"lm-eval's {NOT_COMPUTED!r}); re-derived {t.rederived_stderr:.6g}",
                     failure_class=FC.REPORTED_MISMATCH, observed=t.reported_stderr_raw, expected=t.rederived_stderr)
    if t.reported_stderr is None and t.lmeval_computes_stderr:
        return check(f"{name}:stderr", False,
                     f"{name}: the reported stderr is {t.reported_stderr_raw!r}, but lm-eval computes one here "
                     f"(bootstrap_iters > 0, {t.samples_scored} samples); re-derived {t.rederived_stderr:.6g}",
                     failure_class=FC.REPORTED_MISMATCH, observed=t.reported_stderr_raw, expected=t.rederived_stderr)
    if t.reported_stderr is None:
        note = f" (lm-eval wrote {t.reported_stderr_raw!r})" if t.reported_stderr_raw is not None else ""
        return check(f"{name}:stderr", True, f"{name}: stderr {t.rederived_stderr:.4g} re-derived; none reported{note}",
                     observed=t.rederived_stderr)
    ok, how = _stderr_agrees(t, t.reported_stderr, tol)
    return check(f"{name}:stderr", ok,
                 f"{name}: reported stderr {t.reported_stderr:.6g} vs re-derived {t.rederived_stderr:.6g} ({how})",
                 failure_class=FC.REPORTED_MISMATCH, observed=t.reported_stderr, expected=t.rederived_stderr)


def _extraction(name: str, t: TaskRun, max_frac: float) -> Check:
    answered = t.responses_total - t.responses_empty - t.responses_errored
    frac = t.extraction_failed / answered if answered > 0 else 0.0
    ok = frac <= max_frac
    return check(f"{name}:extraction", ok,
                 f"{name}: the answer could not be extracted from {t.extraction_failed} of {answered} responses "
                 f"({frac:.0%}; allowed {max_frac:.0%})", failure_class=FC.EVAL_JUDGE_FAILED,
                 observed=frac, expected=max_frac)


def task_checks(name: str, t: TaskRun, f: EvalRunFacts) -> list[Check]:
    not_finished = unfinished(f)
    checks = [_accounting(name, t, not_finished)]
    inference = _inference(name, t, f.max_failed_response_fraction)
    if inference is not None:
        checks.append(inference)
    checks += _score_checks(name, t, f.max_reported_mismatch, not_finished)
    if t.output_type == "generate_until" or t.extraction_failed:
        checks.append(_extraction(name, t, f.max_extraction_failure_fraction))
    return checks


def _row(name: str, t: TaskRun, checks: list[Check]) -> dict[str, Any]:
    failed = [c for c in checks if not c.passed]
    return {"task": name, "metric": t.primary_metric, "filter": t.primary_filter, "output_type": t.output_type,
            "expected": t.samples_expected, "scored": t.samples_scored, "corrupt": t.samples_corrupt,
            "reported": t.reported_score if t.reported_score is not None else t.reported_score_raw,
            "rederived": t.rederived_score, "reported_stderr": t.reported_stderr,
            "rederived_stderr": t.rederived_stderr, "empty": t.responses_empty, "errored": t.responses_errored,
            "extraction_failed": t.extraction_failed, "avg_completion_tokens": t.avg_completion_tokens,
            "token_count_method": t.token_count_method,
            "verdict": "pass" if not failed else sorted({c.failure_class.value for c in failed if c.failure_class})}


# ---------------------------------------------------------------- verdict

def _winner(failed: list[Check]) -> FC:
    carried = [c.failure_class for c in failed if c.failure_class is not None]
    return next((p for p in PRIORITY if p in carried), carried[0] if carried else FC.UNKNOWN)


def _join(details: list[str], most: int = 5) -> str:
    more = f"; and {len(details) - most} more" if len(details) > most else ""
    return "; ".join(details[:most]) + more


def decide(f: EvalRunFacts) -> Verdict:
    checks = _run_checks(f)
    rows = []
    for name in sorted(f.tasks):
        tc = task_checks(name, f.tasks[name], f)
        checks += tc
        rows.append(_row(name, f.tasks[name], tc))
    evidence = {"run_status": f.run_status, "status_source": f.status_source, "exit_code": f.exit_code,
                "error": (f.error or "")[-1000:] or None, "model_identity": f.model_identity,
                "results_file": f.results_file, "results_files_found": f.results_files_found,
                "tasks": rows, "task_errors": f.task_errors}
    failed = [c for c in checks if not c.passed]
    if not failed:
        return Verdict(gate=GATE, passed=True, failure_class=None, checks=checks, evidence=evidence,
                       detail=f"{len(f.tasks)} task(s) complete: every sample scored, reported scores match the "
                              f"per-sample records, responses present and extractable")
    fc = _winner(failed)
    first = [c.detail for c in failed if c.failure_class == fc]
    rest = [c.detail for c in failed if c.failure_class != fc]
    detail = f"{fc.value}: " + _join(first) + (f" (also: {_join(rest)})" if rest else "")
    evidence["error_class"] = classify_error(f.error).value if f.error else None
    return Verdict(gate=GATE, passed=False, failure_class=fc, checks=checks, evidence=evidence, detail=detail)
