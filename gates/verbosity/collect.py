"""Collect verbosity facts from two lm-eval output directories (baseline, candidate).

Each run is collected by eval_run's own collector (`collect_run`), with the token counter it chose
(the model's tokenizer, else whitespace words) captured so that the per-document counts here are
made by the very same counter as eval_run's average. A task is complete when eval_run's own task
checks find no sample-accounting failure. Per document: the completions of its first line of the
task's primary filter in the per-sample log (gates.audit.collect's reader; doc ids canonical).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Optional

from gates.audit.collect import TaskSamples, read_run_samples
from gates.contract import InputError
from gates.eval_run.models import EvalRunFacts, TaskRun
from gates.eval_run.run_record import NULL_RESPONSE_MARKER
from gates.failure_classes import FailureClass as FC
from gates.verbosity.models import RunTokens, TaskTokens, VerbosityFacts


def completions(resps: Any) -> Optional[list[str]]:
    """The generated texts of one document ([[text, ...], ...] per request), or None when it errored:
    no completion, a null, an error marker or a non-string."""
    if not isinstance(resps, list) or not resps:
        return None
    texts: list[Any] = []
    for per_request in resps:
        texts.extend(per_request if isinstance(per_request, list) else [per_request])
    if not texts or any(not isinstance(x, str) or x == NULL_RESPONSE_MARKER for x in texts):
        return None
    return texts


def doc_tokens(samples: TaskSamples, filt: str, count: Any) -> dict[str, float]:
    """doc id -> mean tokens of its completions, for each document answered on the primary filter's
    lines (a line without a filter is filter "none", as eval_run reads it)."""
    out = {}
    for doc, recs in samples.records.items():
        rec = recs.get(filt) or (recs.get(None) if filt == "none" else None)
        if rec is None:
            continue
        texts = completions(rec.resps)
        if texts is not None:
            out[doc] = sum(count(x) for x in texts) / len(texts)
    return out


def _complete(name: str, t: TaskRun, run: EvalRunFacts) -> bool:
    from gates.eval_run.decide import task_checks

    return not any(not c.passed and c.failure_class == FC.SAMPLE_ACCOUNTING_FAILED for c in task_checks(name, t, run))


def tokens_of(run: EvalRunFacts, samples: dict[str, TaskSamples], count: Any, method: str) -> RunTokens:
    tasks = {}
    for name, t in run.tasks.items():
        if t.output_type != "generate_until":
            continue
        docs = doc_tokens(samples[name], t.primary_filter, count) if name in samples else {}
        avg = sum(docs.values()) / len(docs) if docs else 0.0
        tasks[name] = TaskTokens(avg_completion_tokens=avg, samples=t.samples_scored or 0,
                                 complete=_complete(name, t, run), token_count_method=method,  # type: ignore[arg-type]
                                 doc_tokens=docs)
    return RunTokens(tasks=tasks, run_tasks=sorted(run.tasks))


def _side(path: str) -> RunTokens:
    from gates.eval_run.collect import collect_run
    from gates.eval_run.tokens import token_counter

    made = []

    def factory(*args: Any, **kwargs: Any) -> Any:
        made.append(token_counter(*args, **kwargs))
        return made[-1]

    run = collect_run(path, token_counter_factory=factory)
    if not made:  # no results file: nothing was evaluated (eval_run's facts say why)
        return RunTokens(tasks={}, run_tasks=[])
    return tokens_of(run, read_run_samples(Path(path)), made[0].count, made[0].method)


def collect(args: argparse.Namespace) -> VerbosityFacts:
    if len(args.artifacts) != 2:
        raise InputError("--artifacts", "expected two lm-eval output directories: BASELINE CANDIDATE")
    return VerbosityFacts(baseline=_side(args.artifacts[0]), candidate=_side(args.artifacts[1]),
                          tolerance=args.tolerance or 0.05)
