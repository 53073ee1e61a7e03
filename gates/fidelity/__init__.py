"""fidelity gate: the candidate's next-token distributions against the baseline's on held-out text (KL
divergence, top-1 agreement, log-likelihood) and multiple-choice answers that changed
(DISTRIBUTION_DRIFT, INDETERMINATE, CACHING_DETECTED, INFERENCE_FAILED, COMPARISON_NOT_LIKE_FOR_LIKE,
USER_CONFIG_ERROR). The rules and the measured defaults are in gates/fidelity/decide.py."""

from __future__ import annotations

import argparse
import textwrap

from gates.contract import GateSpec
from gates.fidelity.collect import collect
from gates.fidelity.decide import decide
from gates.fidelity.models import FidelityFacts, FidelityThresholds

_FLAGS = {"max_kl_mean": float, "max_kl_p99": float, "min_top1_agreement": float, "max_ll_drop_per_token": float,
          "max_flip_rate": float, "min_tokens": int, "min_documents": int}


def _add_arguments(p: argparse.ArgumentParser) -> None:
    for name, typ in _FLAGS.items():
        default = FidelityThresholds.model_fields[name].default
        p.add_argument("--" + name.replace("_", "-"), type=typ, default=None,
                       help=f"override the threshold {name} (default {default})")


def _overrides(f: FidelityFacts, args: argparse.Namespace) -> FidelityFacts:
    data = f.model_dump()
    for name in _FLAGS:
        value = getattr(args, name, None)
        if value is not None:
            data["thresholds"][name] = value
    return FidelityFacts.model_validate(data)


SPEC = GateSpec(
    name="fidelity",
    facts_model=FidelityFacts,
    decide=decide,
    summary="\n".join(textwrap.fill(par, 96) for par in (
        "Fidelity gate: does the candidate still behave like the baseline, token by token, on held-out text?",
        "From the per-document record of skills/fidelity/run.py (both models read the same held-out documents "
        "once): mean per-token KL(baseline || candidate) with its standard error, its 99th percentile, top-1 "
        "agreement, log-likelihood lost per token; with the two evaluation stages' lm-eval directories, the "
        "multiple-choice answers that changed. Beyond a threshold -> DISTRIBUTION_DRIFT; within but not "
        "resolved by the text measured -> INDETERMINATE; held-out text that is calibration text -> "
        "USER_CONFIG_ERROR; different token ids -> COMPARISON_NOT_LIKE_FOR_LIKE; non-finite logits -> "
        "INFERENCE_FAILED; a candidate identical to the baseline -> CACHING_DETECTED.")),
    collect=collect,
    artifacts_help="MEASURE.json [BASELINE_LMEVAL_DIR CANDIDATE_LMEVAL_DIR]",
    add_arguments=_add_arguments,
    apply_overrides=_overrides,
)
