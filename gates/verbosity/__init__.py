"""verbosity gate: completion tokens of candidate vs baseline per task, on the documents both sides answered,
two-sided (VERBOSITY_EXCEEDED); the weighted total too. The rules are in gates/verbosity/decide.py."""

from __future__ import annotations

import argparse

from gates.contract import GateSpec
from gates.verbosity.collect import collect
from gates.verbosity.decide import decide
from gates.verbosity.models import VerbosityFacts


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tolerance", type=float, default=None,
                   help="allowed relative difference, two-sided, per task and in total (default 0.05)")


def _overrides(f: VerbosityFacts, args: argparse.Namespace) -> VerbosityFacts:
    if args.tolerance is None:
        return f
    return VerbosityFacts.model_validate({**f.model_dump(), "tolerance": args.tolerance})


SPEC = GateSpec(
    name="verbosity",
    facts_model=VerbosityFacts,
    decide=decide,
    summary="Verbosity gate: on every generative task, the candidate's mean completion tokens over the documents "
            "both sides answered (matched by doc id) must stay within a two-sided tolerance (default 5%) of the "
            "baseline's, and so must the weighted total over every matched document; tasks cannot cancel each "
            "other out. A task whose sides answered different documents is not comparable "
            "(COMPARISON_NOT_LIKE_FOR_LIKE); an incomplete run, or a run without results, is "
            "SAMPLE_ACCOUNTING_FAILED (eval_run's own accounting); no generative task on either side of two "
            "evaluated runs is a stated 'not applicable' pass. Rules: gates/verbosity/decide.py.",
    collect=collect,
    artifacts_help="BASELINE_LMEVAL_DIR CANDIDATE_LMEVAL_DIR",
    add_arguments=_add_arguments,
    apply_overrides=_overrides,
)
