"""verbosity gate: average completion tokens of candidate vs baseline, two-sided (VERBOSITY_EXCEEDED)."""

from __future__ import annotations

import argparse

from gates.contract import GateSpec
from gates.verbosity.collect import collect
from gates.verbosity.decide import decide
from gates.verbosity.models import VerbosityFacts


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tolerance", type=float, default=None,
                   help="allowed relative difference, two-sided (default 0.05)")


def _overrides(f: VerbosityFacts, args: argparse.Namespace) -> VerbosityFacts:
    if args.tolerance is None:
        return f
    return VerbosityFacts.model_validate({**f.model_dump(), "tolerance": args.tolerance})


SPEC = GateSpec(
    name="verbosity",
    facts_model=VerbosityFacts,
    decide=decide,
    summary="Verbosity gate: the candidate's average completion tokens must stay within a two-sided "
            "tolerance (default 5%) of the baseline's, on matched, complete generative runs.",
    collect=collect,
    artifacts_help="BASELINE_LMEVAL_DIR CANDIDATE_LMEVAL_DIR",
    add_arguments=_add_arguments,
    apply_overrides=_overrides,
)
