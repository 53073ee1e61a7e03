"""Pure decision: is the candidate as verbose as the baseline, within a two-sided tolerance?

Rules, in order:
  applicable           neither side has a generative task: a stated "not applicable" pass only when
                       both runs evaluated tasks (run_tasks recorded, non-empty); two runs without
                       results (running, failed, empty directories) are SAMPLE_ACCOUNTING_FAILED.
  tasks_match          the same generative tasks on both sides, else COMPARISON_NOT_LIKE_FOR_LIKE.
  runs_complete        every task complete on both sides (eval_run's sample accounting passes) and
                       non-empty, else SAMPLE_ACCOUNTING_FAILED.
  same_counting        both sides counted completions the same way (tokenizer or whitespace words),
                       else COMPARISON_NOT_LIKE_FOR_LIKE: words and tokens are not comparable.
  documents_matched    per task, the documents compared are the ones both sides answered (doc ids).
                       A document answered by one side only (the other errored, or never had it: a
                       --limit on one side), or a task without per-document counts, makes the task
                       NOT_COMPARABLE: COMPARISON_NOT_LIKE_FOR_LIKE, with the counts. Averages over
                       different documents measure the documents, not the model.
  baseline_generated   a task whose matched baseline documents average 0 tokens has no relative
                       difference: INFERENCE_FAILED.
  tasks_within_tolerance   per task, on the matched documents, |mean_c / mean_b - 1| <= tolerance
                       (inclusive), else VERBOSITY_EXCEEDED (LONGER or SHORTER): a task that got 30%
                       longer and one that got 30% shorter do not cancel out.
  total_within_tolerance   the same on every matched document of every task (each document weighs
                       the same: the weighted total), reported and checked too.
Priority: COMPARISON_NOT_LIKE_FOR_LIKE, SAMPLE_ACCOUNTING_FAILED, INFERENCE_FAILED, VERBOSITY_EXCEEDED.
"""

from __future__ import annotations

import math
from typing import Any, Optional

from gates.contract import Check, Verdict, check, verdict_from_checks
from gates.failure_classes import FailureClass as FC
from gates.verbosity.models import TaskTokens, VerbosityFacts

GATE = "verbosity"
PRIORITY = (FC.COMPARISON_NOT_LIKE_FOR_LIKE, FC.SAMPLE_ACCOUNTING_FAILED, FC.INFERENCE_FAILED, FC.VERBOSITY_EXCEEDED)


def _rel(base: float, cand: float) -> Optional[float]:
    return (cand - base) / base if base > 0 else None


def _task_row(name: str, b: TaskTokens, c: TaskTokens, tol: float) -> dict[str, Any]:
    row: dict[str, Any] = {"task": name, "samples_baseline": b.samples, "samples_candidate": c.samples}
    if b.doc_tokens is None or c.doc_tokens is None:
        return {**row, "verdict": "NOT_COMPARABLE", "matched_documents": 0,
                "why": "per-document token counts not collected: the documents cannot be matched"}
    bd, cd = b.doc_tokens, c.doc_tokens
    matched = sorted(set(bd) & set(cd))
    tb, tc = math.fsum(bd[d] for d in matched), math.fsum(cd[d] for d in matched)
    n = len(matched)
    row.update(matched_documents=n, baseline_only=len(set(bd) - set(cd)), candidate_only=len(set(cd) - set(bd)),
               baseline_tokens=tb, candidate_tokens=tc, baseline_avg_tokens=tb / n if n else None,
               candidate_avg_tokens=tc / n if n else None)
    rel = _rel(tb, tc) if n else None
    row["relative_difference"] = rel
    if row["baseline_only"] or row["candidate_only"] or not n:
        row["verdict"] = "NOT_COMPARABLE"
        row["why"] = (f"{row['baseline_only']} baseline-only and {row['candidate_only']} candidate-only answered "
                      f"document(s), {n} matched")
    elif rel is None:
        row["verdict"] = "BASELINE_SILENT"
    else:
        row["verdict"] = "OK" if abs(rel) <= tol else ("LONGER" if rel > 0 else "SHORTER")
    return row


def _precondition_checks(f: VerbosityFacts) -> list[Check]:
    b_tasks, c_tasks = set(f.baseline.tasks), set(f.candidate.tasks)
    incomplete = sorted(f"{side}:{t}" for side, run in (("baseline", f.baseline), ("candidate", f.candidate))
                        for t, tt in run.tasks.items() if not tt.complete or tt.samples == 0)
    methods = sorted({str(tt.token_count_method) for run in (f.baseline, f.candidate) for tt in run.tasks.values()})
    return [
        check("tasks_match", b_tasks == c_tasks,
              f"generative task sets differ: baseline only {sorted(b_tasks - c_tasks)}, "
              f"candidate only {sorted(c_tasks - b_tasks)}" if b_tasks != c_tasks else "same generative tasks",
              failure_class=FC.COMPARISON_NOT_LIKE_FOR_LIKE, observed=sorted(c_tasks), expected=sorted(b_tasks)),
        check("runs_complete", not incomplete,
              f"incomplete runs cannot be compared: {incomplete}" if incomplete else "both runs complete",
              failure_class=FC.SAMPLE_ACCOUNTING_FAILED, observed=incomplete),
        check("same_counting", len(methods) == 1,
              f"completions were counted differently ({', '.join(methods)}): word counts and token "
              "counts cannot be compared" if len(methods) != 1 else f"both counted by {methods[0]}",
              failure_class=FC.COMPARISON_NOT_LIKE_FOR_LIKE, observed=methods),
    ]


def _total(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if r["verdict"] != "NOT_COMPARABLE"]
    n = sum(r["matched_documents"] for r in ok)
    tb, tc = math.fsum(r["baseline_tokens"] for r in ok), math.fsum(r["candidate_tokens"] for r in ok)
    return {"tasks": len(ok), "matched_documents": n, "baseline_avg_tokens": tb / n if n else None,
            "candidate_avg_tokens": tc / n if n else None, "relative_difference": _rel(tb, tc) if n else None}


def _fmt(r: dict[str, Any]) -> str:
    return (f"{r['task']}: {r['candidate_avg_tokens']:.1f} vs {r['baseline_avg_tokens']:.1f} tokens "
            f"({r['relative_difference']:+.1%}) on {r['matched_documents']} matched documents")


def _comparison_checks(rows: list[dict[str, Any]], total: dict[str, Any], tol: float) -> list[Check]:
    unmatched = [r for r in rows if r["verdict"] == "NOT_COMPARABLE"]
    silent = [r["task"] for r in rows if r["verdict"] == "BASELINE_SILENT"]
    beyond = [r for r in rows if r["verdict"] in ("LONGER", "SHORTER")]
    rel = total["relative_difference"]
    total_ok = rel is None or abs(rel) <= tol
    return [
        check("documents_matched", not unmatched,
              "not comparable: " + "; ".join(f"{r['task']}: {r['why']}" for r in unmatched) if unmatched
              else "every task compared on the documents both sides answered",
              failure_class=FC.COMPARISON_NOT_LIKE_FOR_LIKE, observed=[r["task"] for r in unmatched]),
        check("baseline_generated", not silent,
              f"the baseline generated no tokens on {silent}: a relative difference is undefined" if silent
              else "the baseline generated on every task", failure_class=FC.INFERENCE_FAILED, observed=silent),
        check("tasks_within_tolerance", not beyond,
              f"verbosity beyond ±{tol:.0%} per task: " + "; ".join(_fmt(r) for r in beyond) if beyond
              else f"every task within ±{tol:.0%}", failure_class=FC.VERBOSITY_EXCEEDED,
              observed={r["task"]: r["relative_difference"] for r in beyond}, expected=tol),
        check("total_within_tolerance", total_ok,
              f"weighted total {total['candidate_avg_tokens']:.1f} vs {total['baseline_avg_tokens']:.1f} tokens "
              f"({rel:+.1%}; allowed ±{tol:.0%})" if rel is not None else "no matched document to total",
              failure_class=FC.VERBOSITY_EXCEEDED, observed=rel, expected=tol),
    ]


def _not_applicable(f: VerbosityFacts) -> Verdict:
    """Neither side has a generative task: a pass only when both runs are known to have evaluated tasks."""
    empty = [side for side, run in (("baseline", f.baseline), ("candidate", f.candidate)) if not run.run_tasks]
    ok = not empty
    detail = ("not applicable: neither run has a generative task" if ok else
              f"the {' and '.join(empty)} run evaluated no task (no results, or what it evaluated is not "
              f"recorded): nothing to compare is not a pass")
    evaluated = {"baseline": f.baseline.run_tasks, "candidate": f.candidate.run_tasks}
    return verdict_from_checks(GATE, [check("applicable", ok, detail, failure_class=FC.SAMPLE_ACCOUNTING_FAILED,
                                            observed=evaluated)],
                               pass_detail=detail, evidence={"tasks": [], "run_tasks": evaluated})


def decide(f: VerbosityFacts) -> Verdict:
    if not f.baseline.tasks and not f.candidate.tasks:
        return _not_applicable(f)
    checks = _precondition_checks(f)
    common = sorted(set(f.baseline.tasks) & set(f.candidate.tasks))
    rows = [_task_row(t, f.baseline.tasks[t], f.candidate.tasks[t], f.tolerance) for t in common]
    total = _total(rows)
    evidence = {"tolerance": f.tolerance, "tasks": rows, "total": total,
                "baseline_avg_tokens": total["baseline_avg_tokens"],
                "candidate_avg_tokens": total["candidate_avg_tokens"]}
    if all(c.passed for c in checks):
        checks += _comparison_checks(rows, total, f.tolerance)
    rel = total["relative_difference"]
    return verdict_from_checks(GATE, checks, evidence=evidence, priority=PRIORITY,
                               pass_detail=f"verbosity within ±{f.tolerance:.0%} on every task and in total "
                                           f"({rel:+.1%} over {total['matched_documents']} matched documents)"
                               if rel is not None else "verbosity: nothing to compare")
