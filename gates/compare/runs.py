"""What the compare gate checks before any score: each side's run is one eval_run accepts, and the two
sides are two different models (issue 9, items 6 and 7).

Each side's run. The side's carried eval_run facts (`RunScores.run`) are judged by eval_run's own
decision (`gates.eval_run.decide.decide`), never by a re-implementation: finished, every expected
sample scored once, responses present, answers extracted, reported scores equal to the re-derived
ones. The run's tolerances (max_failed_response_fraction, max_extraction_failure_fraction,
max_reported_mismatch) are eval_run's defaults or the carried ones, whichever is stricter: a facts
file cannot loosen them. A failed side fails compare with eval_run's own class (INFERENCE_FAILED,
SAMPLE_ACCOUNTING_FAILED, REPORTED_MISMATCH, EVAL_JUDGE_FAILED, UNKNOWN, INFRA_TRANSIENT), ahead of
every comparison finding: no number from a run eval_run rejects means anything. A side that carries
no run facts (an older producer, a hand-written file) has unknown sample accounting:
SAMPLE_ACCOUNTING_FAILED, reported after every finding the numbers themselves give (they come
first, and the missing accounting only keeps a comparison that would otherwise pass from passing).

Two models. `gates.identity.same_model`, the rule the audit gate uses too: the same evaluated
identity (normalised: a path's redundant parts and characters that print nothing do not make
another model), or an identity missing on either side, is COMPARISON_NOT_LIKE_FOR_LIKE: a model
compared with itself, or with something unnamed, is no comparison.
"""

from __future__ import annotations

from typing import Sequence

from gates.compare.models import CompareFacts, RunScores
from gates.contract import Check, check
from gates.eval_run.decide import PRIORITY as EVAL_RUN_PRIORITY
from gates.eval_run.decide import decide as eval_run_decide
from gates.eval_run.models import EvalRunFacts
from gates.failure_classes import FailureClass as FC
from gates.identity import same_model

_TOLERANCES = ("max_failed_response_fraction", "max_extraction_failure_fraction", "max_reported_mismatch")
NOT_CARRIED = "run facts not carried"


def strictest(run: EvalRunFacts) -> EvalRunFacts:
    """The run with each tolerance at eval_run's default or its own value, whichever is stricter."""
    fields = EvalRunFacts.model_fields
    return run.model_copy(update={k: min(getattr(run, k), fields[k].default) for k in _TOLERANCES if k in fields})


def side_check(side: str, scores: RunScores) -> Check:
    name = f"{side}_run_valid"
    if scores.run is None:
        return check(name, False, f"{side}: {NOT_CARRIED}: the eval_run facts its scores come from are not in the "
                                   f"facts, so its sample accounting and responses cannot be checked",
                     failure_class=FC.SAMPLE_ACCOUNTING_FAILED, observed=None)
    v = eval_run_decide(strictest(scores.run))
    failed = sorted(c.name for c in v.checks if not c.passed)
    return check(name, v.passed, f"{side}: " + (v.detail if not v.passed else "eval_run accepts the run"),
                 failure_class=v.failure_class, observed=failed or None,
                 expected="a run eval_run accepts")


def side_checks(f: CompareFacts) -> list[Check]:
    return [side_check("baseline", f.baseline), side_check("candidate", f.candidate)]


def identity_check(f: CompareFacts) -> Check:
    b, c = f.baseline.model_identity, f.candidate.model_identity
    why = same_model(b, c)
    return check("distinct_models", why is None, why or "the candidate is a different model from the baseline",
                 failure_class=FC.COMPARISON_NOT_LIKE_FOR_LIKE, observed={"baseline": b, "candidate": c})


def priority(checks: Sequence[Check], comparison: Sequence[FC]) -> tuple[FC, ...]:
    """eval_run's classes first when a carried run failed; otherwise the comparison's order, then the
    accounting of a side whose run is not carried."""
    carried_failure = any(not c.passed and c.name.endswith("_run_valid") and NOT_CARRIED not in c.detail
                          for c in checks)
    if carried_failure:
        return tuple(EVAL_RUN_PRIORITY) + tuple(p for p in comparison if p not in EVAL_RUN_PRIORITY)
    return tuple(comparison) + (FC.SAMPLE_ACCOUNTING_FAILED,)


__all__ = ["identity_check", "priority", "side_checks", "strictest"]
