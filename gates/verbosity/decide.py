"""Pure decision: is the candidate as verbose as the baseline, within a two-sided tolerance?

Only matched, complete runs are compared; the averages are sample-weighted over tasks.
"""

from __future__ import annotations

from gates.contract import Check, Verdict, check, verdict_from_checks
from gates.failure_classes import FailureClass as FC
from gates.verbosity.models import RunTokens, VerbosityFacts

GATE = "verbosity"


def _weighted(run: RunTokens, tasks: list[str]) -> tuple[float, int]:
    n = sum(run.tasks[t].samples for t in tasks)
    if n == 0:
        return 0.0, 0
    return sum(run.tasks[t].avg_completion_tokens * run.tasks[t].samples for t in tasks) / n, n


def decide(f: VerbosityFacts) -> Verdict:
    b_tasks, c_tasks = set(f.baseline.tasks), set(f.candidate.tasks)
    if not b_tasks and not c_tasks:
        return Verdict(gate=GATE, passed=True, failure_class=None,
                       detail="not applicable: neither run has a generative task",
                       checks=[check("applicable", True, "no generative task in either run; nothing to compare",
                                     observed=0)],
                       evidence={"tasks": []})
    checks: list[Check] = [
        check("tasks_match", b_tasks == c_tasks,
              f"generative task sets differ: baseline only {sorted(b_tasks - c_tasks)}, "
              f"candidate only {sorted(c_tasks - b_tasks)}" if b_tasks != c_tasks else "same generative tasks",
              failure_class=FC.COMPARISON_NOT_LIKE_FOR_LIKE,
              observed=sorted(c_tasks), expected=sorted(b_tasks)),
    ]
    incomplete = sorted(f"{side}:{t}" for side, run in (("baseline", f.baseline), ("candidate", f.candidate))
                        for t, tt in run.tasks.items() if not tt.complete or tt.samples == 0)
    checks.append(check("runs_complete", not incomplete,
                        f"incomplete runs cannot be compared: {incomplete}" if incomplete else "both runs complete",
                        failure_class=FC.SAMPLE_ACCOUNTING_FAILED, observed=incomplete))
    methods = sorted({str(tt.token_count_method) for run in (f.baseline, f.candidate) for tt in run.tasks.values()})
    checks.append(check("same_counting", len(methods) == 1,
                        f"completions were counted differently ({', '.join(methods)}): word counts and token "
                        "counts cannot be compared" if len(methods) != 1 else f"both counted by {methods[0]}",
                        failure_class=FC.COMPARISON_NOT_LIKE_FOR_LIKE, observed=methods))
    if any(not c.passed for c in checks):
        return verdict_from_checks(GATE, checks, pass_detail="", evidence={})

    tasks = sorted(b_tasks)
    base, n_b = _weighted(f.baseline, tasks)
    cand, n_c = _weighted(f.candidate, tasks)
    evidence = {"baseline_avg_tokens": base, "candidate_avg_tokens": cand, "tolerance": f.tolerance,
                "tasks": tasks, "baseline_samples": n_b, "candidate_samples": n_c}
    if base == 0:
        checks.append(check("baseline_generated", False,
                            "the baseline generated no tokens at all, so a relative difference is undefined",
                            failure_class=FC.INFERENCE_FAILED, observed=base))
        return verdict_from_checks(GATE, checks, pass_detail="", evidence=evidence)
    rel = (cand - base) / base
    evidence["relative_difference"] = rel
    ok = abs(rel) <= f.tolerance
    checks.append(check("within_tolerance", ok,
                        f"candidate averages {cand:.1f} completion tokens vs baseline {base:.1f} "
                        f"({rel:+.1%}; allowed ±{f.tolerance:.0%})",
                        failure_class=FC.VERBOSITY_EXCEEDED, observed=rel, expected=f.tolerance))
    return verdict_from_checks(GATE, checks, evidence=evidence,
                               pass_detail=f"verbosity within ±{f.tolerance:.0%} ({rel:+.1%})")
