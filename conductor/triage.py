"""The triage table: per failure_class, what the agent may do next, how often, and how it ends.

The vocabulary, each class's meaning and its action live in `gates.failure_classes`; this module
adds what the conductor needs on top: the retry budget per class (per stage), the hint text the
agent reads in the tool result, and the decision when the budget is spent.

    >>> from gates.failure_classes import FailureClass as FC
    >>> entry(FC.INFRA_TRANSIENT).retries, entry(FC.INFRA_TRANSIENT).exhausted_decision.value
    (1, 'SYSTEMIC')
    >>> classify("NOT_A_CLASS")
    <FailureClass.SKILL_FAILED: 'SKILL_FAILED'>
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from gates.failure_classes import Action, Decision, FailureClass

# retries granted per (stage, class) before the class's terminal decision ends the run
RETRIES_BY_ACTION: dict[Action, int] = {
    Action.RETRY_ONCE: 1,
    Action.REPAIR_AND_RETRY: 2,
    Action.INFEASIBLE: 0,
    Action.STOP: 0,
    Action.ASK_HUMAN: 1,  # only when a person (or the policy) approved a retry
}

HINTS: dict[Action, str] = {
    Action.RETRY_ONCE: "Transient: call the same skill again with the same input, once. "
                       "If it fails again the run ends as SYSTEMIC.",
    Action.REPAIR_AND_RETRY: "Repairable: read the evidence (read_artifact, list_workspace), change what "
                             "caused it (recipe, flags, settings) and call the skill again. If no honest "
                             "repair exists, call accept_failure with the reason (the run ends with "
                             "this class's decision).",
    Action.INFEASIBLE: "Infeasible here: no retry can change this; the run ends INFEASIBLE.",
    Action.STOP: "The run has its answer; no retry can honestly change it. The run ends with this decision.",
    Action.ASK_HUMAN: "Only a person may decide this. The conductor asked the approver; its answer is "
                      "in this result. On approval you may repair and retry; otherwise the run ends.",
}


@dataclass(frozen=True)
class TriageEntry:
    failure_class: FailureClass
    action: Action
    retries: int
    hint: str
    exhausted_decision: Decision

    def as_row(self) -> str:
        return (f"| {self.failure_class.value} | {self.action.value} | {self.retries} | "
                f"{self.exhausted_decision.value} |")


def entry(fc: FailureClass | str) -> TriageEntry:
    fc = FailureClass(fc)
    return TriageEntry(fc, fc.action, RETRIES_BY_ACTION[fc.action], HINTS[fc.action], fc.terminal_decision)


TABLE: dict[FailureClass, TriageEntry] = {fc: entry(fc) for fc in FailureClass}


def classify(name: Optional[str], default: FailureClass = FailureClass.SKILL_FAILED) -> FailureClass:
    """A class name from a skill or gate, or `default` when it is missing or not in the vocabulary."""
    try:
        return FailureClass(name) if name else default
    except ValueError:
        return default


@dataclass(frozen=True)
class TriageOutcome:
    """What one failure means now, given how many times this class already failed in this stage."""

    failure_class: FailureClass
    action: Action
    failures: int  # failures of this class in this stage, this one included
    retries_left: int
    budget: int
    final: bool  # no retry: the run ends with `decision` (ASK_HUMAN: unless the approver allows)
    decision: Optional[Decision]


def triage(fc: FailureClass | str, failures: int) -> TriageOutcome:
    """`failures` counts this failure. Retries left = budget - failures + 1; spent when < 1."""
    e = entry(fc)
    left = max(0, e.retries - failures + 1)
    final = failures > e.retries or e.action in (Action.INFEASIBLE, Action.STOP)
    return TriageOutcome(e.failure_class, e.action, failures, left if not final else 0, e.retries, final,
                         e.exhausted_decision if final else None)


def table_markdown(meanings: bool = True) -> str:
    """The triage table as the agent reads it in the system prompt (without the meanings, which
    every failure's tool result carries anyway, it is a third of the size)."""
    rows = ["| failure_class | action | retries per stage | decision when spent |", "|---|---|---|---|"]
    rows += [TABLE[fc].as_row() for fc in FailureClass]
    if not meanings:
        return "\n".join(rows)
    text = [f"- {fc.value}: {fc.meaning}" for fc in FailureClass]
    return "\n".join(rows) + "\n\nMeanings:\n" + "\n".join(text)
