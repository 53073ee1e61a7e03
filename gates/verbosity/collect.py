"""Collect verbosity facts from two lm-eval output directories (baseline, candidate)."""

from __future__ import annotations

import argparse

from gates.contract import InputError
from gates.eval_run.models import EvalRunFacts
from gates.verbosity.models import RunTokens, TaskTokens, VerbosityFacts


def tokens_of(run: EvalRunFacts) -> RunTokens:
    tasks = {}
    for name, t in run.tasks.items():
        if t.output_type != "generate_until" or t.avg_completion_tokens is None:
            continue
        complete = (t.samples_expected is not None and t.samples_scored is not None
                    and t.samples_expected == t.samples_scored)
        tasks[name] = TaskTokens(avg_completion_tokens=t.avg_completion_tokens,
                                 samples=t.samples_scored or 0, complete=complete,
                                 token_count_method=t.token_count_method)
    return RunTokens(tasks=tasks)


def collect(args: argparse.Namespace) -> VerbosityFacts:
    from gates.eval_run.collect import collect_run

    if len(args.artifacts) != 2:
        raise InputError("--artifacts", "expected two lm-eval output directories: BASELINE CANDIDATE")
    base, cand = (collect_run(p) for p in args.artifacts)
    return VerbosityFacts(baseline=tokens_of(base), candidate=tokens_of(cand), tolerance=args.tolerance or 0.05)
