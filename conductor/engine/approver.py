"""Human in the loop: one Approver interface for approvals and questions.

The loop asks when a failure class reserves the decision for a person (ASK_HUMAN) and when the
agent calls `ask_human`. The TUI answers interactively; headless runs answer from a policy file
(`PolicyApprover`) or not at all (`NoHumanApprover` -> the run ends NEEDS_HUMAN, exit 13).
Every request and answer is an event (approval_requested / approval_decided); replay answers
from the record (`RecordedApprover`).

    >>> QueueApprover(["approve"]).request(ApprovalRequest(request_id="r1", stage="compare",
    ...     kind="approval", question="retry?")).answer
    'approve'

Policy file (YAML):

    approvals:            # failure_class (or "default") -> approve | deny | none
      INDETERMINATE: approve
      ANOMALOUS_GAIN: deny
      default: none
    questions:            # answer text for ask_human; "default" applies to every question
      default: "Use the defaults of the release config."
"""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path
from typing import Any, Iterable, Literal, Optional, Protocol, Union, runtime_checkable

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from conductor.engine.config import ConfigError
from gates.failure_classes import ALL as ALL_CLASSES


class ApprovalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str
    stage: str
    kind: Literal["approval", "question"]
    question: str
    failure_class: Optional[str] = None
    context: dict[str, Any] = Field(default_factory=dict)


class ApprovalAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: Literal["approve", "deny", "answer", "none"]
    text: str = ""
    by: Literal["human", "policy", "none", "replay"] = "human"


@runtime_checkable
class Approver(Protocol):
    def request(self, req: ApprovalRequest) -> ApprovalAnswer:
        """Block until answered. Return answer "none" when no person or policy can answer."""


NONE = ApprovalAnswer(answer="none", text="no person or policy answered", by="none")


class NoHumanApprover:
    """Headless without a policy: nobody answers."""

    def request(self, req: ApprovalRequest) -> ApprovalAnswer:
        return NONE


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approvals: dict[str, Literal["approve", "deny", "none"]] = Field(default_factory=dict)
    questions: dict[str, str] = Field(default_factory=dict)

    @field_validator("approvals")
    @classmethod
    def _known(cls, v: dict[str, str]) -> dict[str, str]:
        bad = sorted(k for k in v if k != "default" and k not in ALL_CLASSES)
        if bad:
            raise ValueError(f"unknown failure class(es) {bad}")
        return v


class PolicyApprover:
    """Answers from a YAML policy (see the module docstring); anything it does not cover is none."""

    def __init__(self, policy: dict[str, Any], source: str = "<policy>"):
        try:
            self.policy = _Policy.model_validate(policy)
        except ValidationError as exc:
            e = exc.errors(include_url=False)[0]
            loc = ".".join(str(p) for p in e["loc"])
            raise ConfigError(f"invalid policy file {source!r}: field '{loc}': {e['msg']}") from None

    @classmethod
    def from_file(cls, path: Union[str, Path]) -> PolicyApprover:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read policy file {str(path)!r}: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"policy file {str(path)!r} must hold a mapping")
        return cls(data, str(path))

    def request(self, req: ApprovalRequest) -> ApprovalAnswer:
        if req.kind == "question":
            text = self.policy.questions.get(req.stage, self.policy.questions.get("default"))
            return ApprovalAnswer(answer="answer", text=text, by="policy") if text else NONE
        rule = self.policy.approvals.get(req.failure_class or "", self.policy.approvals.get("default", "none"))
        if rule == "none":
            return NONE
        return ApprovalAnswer(answer=rule, text=f"policy: {rule} for {req.failure_class}", by="policy")


class QueueApprover:
    """For tests: answers in order (a string is the answer; a tuple is (answer, text)); then none."""

    def __init__(self, answers: Iterable[Union[str, tuple[str, str]]] = ()):
        self._q: deque[ApprovalAnswer] = deque()
        for a in answers:
            ans, text = (a, "") if isinstance(a, str) else a
            self._q.append(ApprovalAnswer(answer=ans, text=text, by="human"))
        self.seen: list[ApprovalRequest] = []
        self._lock = threading.Lock()

    def request(self, req: ApprovalRequest) -> ApprovalAnswer:
        with self._lock:
            self.seen.append(req)
            return self._q.popleft() if self._q else NONE


class RecordedApprover:
    """Replay: serves the approval_decided answers of a transcript in order."""

    def __init__(self, decided: Iterable[dict[str, Any]]):
        self._q = deque(ApprovalAnswer(answer=d["answer"], text=d.get("text", ""), by="replay") for d in decided)

    def request(self, req: ApprovalRequest) -> ApprovalAnswer:
        return self._q.popleft() if self._q else NONE
