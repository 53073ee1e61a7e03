"""compare gate: candidate vs baseline per task, on one scale, with a threshold, a gain limit and a
noise rule (ACCURACY_REGRESSION, ANOMALOUS_GAIN, INDETERMINATE, COMPARISON_NOT_LIKE_FOR_LIKE,
EXTERNAL_BASELINE_MISMATCH). The rules are in gates/compare/decide.py."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from gates.compare.collect import collect
from gates.compare.decide import decide
from gates.compare.models import CompareFacts, ReferenceBaseline
from gates.contract import GateSpec, InputError, parse_json_strict


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threshold", type=float, default=None,
                   help="allowed drop, a fraction of the unit scale (0.01 = 1 point of 100); overrides the facts")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--relative", dest="threshold_kind", action="store_const", const="relative", default=None,
                      help="the threshold is a fraction of the baseline score")
    kind.add_argument("--absolute", dest="threshold_kind", action="store_const", const="absolute",
                      help="the threshold is a fraction of the unit scale (the default)")
    p.add_argument("--anomalous-gain", type=float, default=None,
                   help="a gain above this fraction of the unit scale is ANOMALOUS (default 0.05)")
    p.add_argument("--reference", metavar="FILE", default=None,
                   help='published baseline scores: {"scores": {task: {"score": x, "scale": "unit"|"percent"}}, '
                        '"tolerance": 0.02, "source": "..."}')


def _read_reference(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = parse_json_strict(fh.read())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError("--reference", f"cannot read {path!r}: {exc}") from None
    return ReferenceBaseline.model_validate(data).model_dump()


def _overrides(f: CompareFacts, args: argparse.Namespace) -> CompareFacts:
    data = f.model_dump()
    if args.threshold is not None:
        data["threshold"]["value"] = args.threshold
    if args.threshold_kind is not None:
        data["threshold"]["kind"] = args.threshold_kind
    if args.anomalous_gain is not None:
        data["anomalous_gain"] = args.anomalous_gain
    if args.reference is not None:
        data["reference"] = _read_reference(args.reference)
    return CompareFacts.model_validate(data)



def _wrap(text: str) -> str:
    return "\n".join(textwrap.fill(par, 96) if par else "" for par in text.split("\n"))


SPEC = GateSpec(
    name="compare",
    facts_model=CompareFacts,
    decide=decide,
    summary=_wrap(
        "Compare gate: the candidate must stay within the threshold of the baseline on every task.\n\n"
        "Like for like first: same tasks, same run and per-task settings, same sample counts "
        "(else COMPARISON_NOT_LIKE_FOR_LIKE). Scores go to the unit scale before any arithmetic: a "
        "declared scale wins; otherwise both scores in [0,1] -> unit, both in [0,100] with every non-zero "
        "score > 1 -> percent, a 0-1 score against a 0-100 one -> ANOMALOUS (never rescaled); the rule "
        "used is in the evidence per task. A score off its scale or a gain above --anomalous-gain "
        "(default 0.05) -> ANOMALOUS_GAIN. A drop above --threshold (default 0.01, inclusive) -> "
        "ACCURACY_REGRESSION. A within-threshold task whose z*stderr_diff (one-sided 95%) exceeds the "
        "threshold, and whose drop + z*stderr_diff does too, -> INDETERMINATE, with the samples per side "
        "that would resolve it (stderr_diff: paired if per-sample logs allow, else sqrt(se_b^2 + se_c^2), "
        "binomial when a stderr is missing). Corpus-level scores (F1, MCC, BLEU, perplexity, bits per byte) "
        "keep their own range and direction, an unbounded one takes a relative threshold, and their noise is "
        "the paired bootstrap over documents with lm-eval's aggregation (gates/compare/corpus.py). Reference "
        "(published) scores the baseline does not reproduce -> EXTERNAL_BASELINE_MISMATCH.\n"
        "Priority: not-like-for-like > anomalous > external mismatch > regression > indeterminate.\n"
        "evidence.decision is ACCEPT, REGRESSION or ANOMALOUS; evidence.tasks is the per-task table. "
        "The full rules and their justification: gates/compare/decide.py."),
    collect=collect,
    artifacts_help="BASELINE_LMEVAL_DIR CANDIDATE_LMEVAL_DIR (re-derived scores; never the reported ones)",
    add_arguments=_add_arguments,
    apply_overrides=_overrides,
)
