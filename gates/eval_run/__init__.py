"""eval_run gate: is one lm-eval run complete and honest? Re-derives every task's score from its
per-sample log (a mean, or lm-eval's own corpus-level aggregation: F1, MCC, BLEU, perplexity, ...)
and fails on unfinished or killed runs, missing, corrupt, padded or out-of-domain samples, failed
inference (responses that print nothing), reported/re-derived mismatches and failed answer
extraction. See decide.py for the rules."""

from __future__ import annotations

import argparse

from gates.contract import GateSpec
from gates.eval_run.collect import collect
from gates.eval_run.decide import decide
from gates.eval_run.models import EvalRunFacts

_OVERRIDES = ("max_extraction_failure_fraction", "max_failed_response_fraction", "max_reported_mismatch")


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-extraction-failure-fraction", type=float, default=None,
                   help="allowed fraction of answered samples whose answer cannot be extracted (default 0.1)")
    p.add_argument("--max-failed-response-fraction", type=float, default=None,
                   help="allowed fraction of empty or errored samples (default 0.5; all of them always fails)")
    p.add_argument("--max-reported-mismatch", type=float, default=None,
                   help="allowed |reported - re-derived| in the score's own units (default 1e-6)")


def _overrides(f: EvalRunFacts, args: argparse.Namespace) -> EvalRunFacts:
    changed = {name: getattr(args, name) for name in _OVERRIDES if getattr(args, name, None) is not None}
    if not changed:
        return f
    return EvalRunFacts.model_validate({**f.model_dump(), **changed})


SPEC = GateSpec(
    name="eval_run",
    facts_model=EvalRunFacts,
    decide=decide,
    summary="eval_run gate: an lm-eval run (--output_path DIR --log_samples, plus the evaluate skill's run.json) "
            "passes only if it finished, every expected document was scored once with values in its metric's "
            "domain, responses print something, answers were extracted, and each reported score and stderr "
            "equal the ones re-derived from the per-sample log (a mean, or lm-eval's own corpus-level "
            "aggregation, imported lazily).",
    collect=collect,
    artifacts_help="LMEVAL_OUTPUT_DIR (the --output_path directory; run.json in it is read when present)",
    add_arguments=_add_arguments,
    apply_overrides=_overrides,
)
