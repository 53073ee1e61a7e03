"""The stage plan and the pure transition function, table-driven."""

from __future__ import annotations

import pytest

from conductor.engine.stages import (
    DEPENDS_ON,
    STAGE_ORDER,
    Failed,
    InvalidTransition,
    Passed,
    Sealed,
    Skip,
    Start,
    Status,
    initial_state,
    plan_stages,
    transition,
)

S = Status


def test_plan_records_dependencies_for_a_scheduler():
    plan = plan_stages({s: [s] for s in STAGE_ORDER if s != "closeout"})
    assert [p.name for p in plan] == list(STAGE_ORDER)
    deps = {p.name: p.depends_on for p in plan}
    assert deps["eval_baseline"] == ("preflight",)  # not quantize: it can overlap with quantize/serve
    assert deps == {k: v for k, v in DEPENDS_ON.items()}
    st = initial_state(plan)
    st = transition(transition(st, Start("preflight")), Passed("preflight"))
    st = transition(st, Sealed("preflight"))
    assert st.ready() == ["quantize", "eval_baseline"]  # both may run now
    assert st.current == "quantize"


def test_plan_keeps_only_present_stages_and_always_closeout():
    plan = plan_stages(["compare", "quantize"])
    assert [p.name for p in plan] == ["quantize", "compare", "closeout"]
    assert plan[0].depends_on == () and plan[2].depends_on == ("compare",)
    with pytest.raises(ValueError):
        plan_stages(["bogus"])


# (status before, event, status after, current after) for a stage "a" followed by "b"
TABLE = [
    (S.PENDING, Start("a"), S.RUNNING, "a"),
    (S.RUNNING, Passed("a"), S.PASSED, "a"),
    (S.PASSED, Sealed("a"), S.SEALED, "b"),
    (S.RUNNING, Failed("a", "SIZE_NOT_REDUCED", final=False), S.RETRYING, "a"),
    (S.RETRYING, Start("a"), S.RUNNING, "a"),
    (S.RUNNING, Failed("a", "ACCURACY_REGRESSION", final=True), S.FAILED, None),
    (S.PENDING, Skip("a"), S.SKIPPED, "b"),
    (S.PENDING, Sealed("a"), S.SEALED, "b"),  # resume: a seal that still verifies
]
INVALID = [
    (S.PENDING, Passed("a")), (S.PENDING, Failed("a", "X", False)), (S.RUNNING, Start("a")),
    (S.RUNNING, Sealed("a")), (S.SEALED, Start("a")), (S.FAILED, Start("a")), (S.RETRYING, Passed("a")),
    (S.SEALED, Skip("a")), (S.PASSED, Failed("a", "X", True)),
]


def _state(status: Status):
    from dataclasses import replace
    from types import MappingProxyType

    st = initial_state(plan_stages(["quantize", "compare"]))
    st = replace(st, order=("a", "b"), depends_on=MappingProxyType({"a": (), "b": ("a",)}),
                 statuses=MappingProxyType({"a": status, "b": S.PENDING}), current="a")
    return st


@pytest.mark.parametrize("before,event,after,current", TABLE)
def test_transition_table(before, event, after, current):
    st = _state(before)
    new = transition(st, event)
    assert new.statuses["a"] == after and new.current == current
    assert st.statuses["a"] == before  # pure: the input state is untouched


@pytest.mark.parametrize("before,event", INVALID)
def test_invalid_transitions_raise(before, event):
    with pytest.raises(InvalidTransition):
        transition(_state(before), event)


def test_attempts_are_counted_per_class_and_starts_per_stage():
    st = _state(S.PENDING)
    for fc in ("SIZE_NOT_REDUCED", "SIZE_NOT_REDUCED", "GATE_ERROR"):
        st = transition(transition(st, Start("a")), Failed("a", fc, final=False))
    assert st.failures("a", "SIZE_NOT_REDUCED") == 2 and st.failures("a", "GATE_ERROR") == 1
    assert st.starts["a"] == 3


def test_only_the_open_stage_can_start_and_unknown_stages_are_refused():
    st = _state(S.PENDING)
    with pytest.raises(InvalidTransition):
        transition(st, Start("b"))
    with pytest.raises(InvalidTransition):
        transition(st, Start("zzz"))


def test_a_whole_chain_ends_with_no_open_stage():
    st = initial_state(plan_stages(["quantize", "compare"]))
    for s in ("quantize", "compare", "closeout"):
        assert st.current == s
        st = transition(transition(transition(st, Start(s)), Passed(s)), Sealed(s))
    assert st.finished


def test_progress_lines_parse_and_garbage_does_not():
    from conductor.runtime.progress import parse_progress

    assert parse_progress("PROGRESS 0.420 calibrating 24/64 (pass 2)") == (0.42, "calibrating 24/64 (pass 2)")
    assert parse_progress("PROGRESS 1.000 done") == (1.0, "done")
    for bad in ("PROGRESS", "PROGRESS x msg", "PROGRESS 1.5 too far", "progress 0.5 lower", "INFO PROGRESS 0.5"):
        assert parse_progress(bad) is None, bad
