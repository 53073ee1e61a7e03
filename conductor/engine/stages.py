"""The stage plan and the pure stage machine.

The plan lists the stages in order with their dependencies (`eval_baseline` depends only on
`preflight`, so a scheduler could overlap it with quantize and serve), the skills of each stage
and the gates each stage must be judged by. The machine is a pure function
`transition(state, event) -> state`; the loop feeds it and never edits a state itself.

    >>> s = initial_state(plan_stages(["quantize", "compare"]))
    >>> s = transition(s, Start("quantize"))
    >>> s.statuses["quantize"].value, s.current
    ('running', 'quantize')
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from types import MappingProxyType
from typing import Iterable, Mapping, Optional, Sequence, Union

STAGE_ORDER: tuple[str, ...] = (
    "preflight", "quantize", "serve", "eval_baseline", "eval_candidate", "compare", "audits", "closeout",
)

DEPENDS_ON: dict[str, tuple[str, ...]] = {
    "preflight": (),
    "quantize": ("preflight",),
    "serve": ("quantize",),
    "eval_baseline": ("preflight",),
    "eval_candidate": ("quantize", "serve"),
    "compare": ("eval_baseline", "eval_candidate"),
    "audits": ("eval_baseline", "eval_candidate", "compare"),
    "closeout": ("compare", "audits"),
}

# gates a stage must be judged by (a skill naming none of them fails closed); docs for the plan
STAGE_GATES: dict[str, tuple[str, ...]] = {
    "preflight": (),
    "quantize": ("ptq",),
    "serve": ("serve",),
    "eval_baseline": ("eval_run",),
    "eval_candidate": ("eval_run",),
    "compare": ("compare",),
    "audits": ("verbosity", "audit"),
    "closeout": (),
}

# the stage run by the conductor itself once a decision exists, never offered to the agent
CLOSEOUT = "closeout"


class Status(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    RETRYING = "retrying"
    PASSED = "passed"
    FAILED = "failed"
    SEALED = "sealed"
    SKIPPED = "skipped"
    STOPPED = "stopped"  # the run ended (interrupted, budget, another stage's decision) while this stage was open


DONE = frozenset({Status.SEALED, Status.SKIPPED})


@dataclass(frozen=True)
class StagePlan:
    name: str
    depends_on: tuple[str, ...]
    skills: tuple[str, ...]
    gates: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {"stage": self.name, "depends_on": list(self.depends_on), "tools": list(self.skills),
                "gates": list(self.gates)}


def plan_stages(stages_with_skills: Union[Iterable[str], Mapping[str, Sequence[str]]],
                required_gates: Optional[Mapping[str, Sequence[str]]] = None) -> tuple[StagePlan, ...]:
    """The plan for the stages that have skills (plus closeout, always last), in canonical order.

    `stages_with_skills` maps stage -> skill names (or is an iterable of stages). Dependencies on
    stages absent from the plan are dropped; an unknown stage name is a ValueError.
    """
    if isinstance(stages_with_skills, Mapping):
        skills = {k: tuple(v) for k, v in stages_with_skills.items()}
    else:
        skills = {s: () for s in stages_with_skills}
    unknown = sorted(set(skills) - set(STAGE_ORDER))
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; stages are {list(STAGE_ORDER)}")
    gates = STAGE_GATES if required_gates is None else required_gates
    present = [s for s in STAGE_ORDER if s in skills or s == CLOSEOUT]
    return tuple(
        StagePlan(s, tuple(d for d in DEPENDS_ON[s] if d in present), skills.get(s, ()), tuple(gates.get(s, ())))
        for s in present)


# -- machine inputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """A skill of the stage is about to run (first attempt or a retry)."""

    stage: str


@dataclass(frozen=True)
class Passed:
    stage: str


@dataclass(frozen=True)
class Sealed:
    stage: str


@dataclass(frozen=True)
class Failed:
    stage: str
    failure_class: str
    final: bool  # True: the stage (and the run) ends; False: the agent may retry


@dataclass(frozen=True)
class Skip:
    stage: str
    reason: str = ""


MachineEvent = Union[Start, Passed, Sealed, Failed, Skip]


class InvalidTransition(Exception):
    """An event that the current state does not allow: a bug in the loop, never a user error."""


@dataclass(frozen=True)
class MachineState:
    order: tuple[str, ...]
    depends_on: Mapping[str, tuple[str, ...]]
    statuses: Mapping[str, Status]
    current: Optional[str]
    attempts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # stage -> class -> failures
    starts: Mapping[str, int] = field(default_factory=dict)  # stage -> skill runs

    def ready(self) -> list[str]:
        """Pending stages whose dependencies are done: a scheduler could run these concurrently."""
        return [s for s in self.order if self.statuses[s] == Status.PENDING
                and all(self.statuses[d] in DONE for d in self.depends_on[s])]

    def failures(self, stage: str, failure_class: str) -> int:
        return self.attempts.get(stage, {}).get(failure_class, 0)

    @property
    def finished(self) -> bool:
        return self.current is None


def initial_state(plan: Sequence[StagePlan]) -> MachineState:
    order = tuple(p.name for p in plan)
    st = MachineState(order, MappingProxyType({p.name: p.depends_on for p in plan}),
                      MappingProxyType({s: Status.PENDING for s in order}), None,
                      MappingProxyType({}), MappingProxyType({}))
    return replace(st, current=_next_open(st))


def _next_open(st: MachineState) -> Optional[str]:
    ready = st.ready()
    return ready[0] if ready else None


# (status now, input kind) -> status after; anything absent is an InvalidTransition
TABLE: dict[tuple[Status, str], Status] = {
    (Status.PENDING, "Start"): Status.RUNNING,
    (Status.RETRYING, "Start"): Status.RUNNING,
    (Status.RUNNING, "Passed"): Status.PASSED,
    (Status.PASSED, "Sealed"): Status.SEALED,
    (Status.PENDING, "Sealed"): Status.SEALED,  # resume: a stage whose seal still verifies
    (Status.RUNNING, "Failed"): Status.RETRYING,  # final=False
    (Status.RUNNING, "Failed/final"): Status.FAILED,
    (Status.PENDING, "Skip"): Status.SKIPPED,
}


def transition(st: MachineState, ev: MachineEvent) -> MachineState:
    """Pure: returns a new state; raises InvalidTransition when the event is not allowed."""
    if ev.stage not in st.statuses:
        raise InvalidTransition(f"no stage {ev.stage!r} in the plan")
    kind = type(ev).__name__ + ("/final" if isinstance(ev, Failed) and ev.final else "")
    now = st.statuses[ev.stage]
    after = TABLE.get((now, kind))
    if after is None:
        raise InvalidTransition(f"{kind} is not allowed for stage {ev.stage!r} in status {now.value}")
    if isinstance(ev, Start) and st.current != ev.stage:
        raise InvalidTransition(f"stage {ev.stage!r} is not open (open: {st.current!r})")
    statuses = dict(st.statuses)
    statuses[ev.stage] = after
    new = replace(st, statuses=MappingProxyType(statuses))
    if isinstance(ev, Start):
        starts = dict(st.starts)
        starts[ev.stage] = starts.get(ev.stage, 0) + 1
        new = replace(new, starts=MappingProxyType(starts))
    if isinstance(ev, Failed):
        attempts = {k: dict(v) for k, v in st.attempts.items()}
        per = attempts.setdefault(ev.stage, {})
        per[ev.failure_class] = per.get(ev.failure_class, 0) + 1
        new = replace(new, attempts=MappingProxyType({k: MappingProxyType(v) for k, v in attempts.items()}))
        if ev.final:
            return replace(new, current=None)
    if after in DONE:
        return replace(new, current=_next_open(new))
    return new


def with_failures(st: MachineState, failures: Mapping[str, Mapping[str, int]]) -> MachineState:
    """Resume: the failures per class already spent by stages that are not done."""
    kept = {k: MappingProxyType(dict(v)) for k, v in failures.items()
            if k in st.statuses and st.statuses[k] not in DONE}
    return replace(st, attempts=MappingProxyType(kept))
