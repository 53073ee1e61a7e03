"""The triage table and the budgets."""

from __future__ import annotations

import pytest

from conductor.engine.budget import Budget
from conductor.engine.config import Budgets
from conductor.engine.triage import TABLE, classify, table_markdown, triage
from conductor.transcript.events import Usage
from gates.failure_classes import Action, Decision
from gates.failure_classes import FailureClass as FC


def test_every_class_has_an_entry_with_a_hint_and_a_decision():
    assert set(TABLE) == set(FC)
    for fc, e in TABLE.items():
        assert e.hint and e.exhausted_decision == fc.terminal_decision
    md = table_markdown()
    assert all(fc.value in md for fc in FC)


@pytest.mark.parametrize("fc,failures,final,left,decision", [
    (FC.INFRA_TRANSIENT, 1, False, 1, None),
    (FC.INFRA_TRANSIENT, 2, True, 0, Decision.SYSTEMIC),
    (FC.SIZE_NOT_REDUCED, 1, False, 2, None),
    (FC.SIZE_NOT_REDUCED, 2, False, 1, None),
    (FC.SIZE_NOT_REDUCED, 3, True, 0, Decision.INFEASIBLE),
    (FC.GATE_ERROR, 1, False, 1, None),
    (FC.GATE_ERROR, 2, True, 0, Decision.INTERNAL_ERROR),
    (FC.MODEL_UNSUPPORTED, 1, True, 0, Decision.INFEASIBLE),
    (FC.HARDWARE_UNAVAILABLE, 1, True, 0, Decision.INFEASIBLE),
    (FC.ACCURACY_REGRESSION, 1, True, 0, Decision.REGRESSION),
    (FC.VERBOSITY_EXCEEDED, 1, True, 0, Decision.REGRESSION),
    (FC.USER_CONFIG_ERROR, 1, True, 0, Decision.CONFIG_ERROR),
    (FC.ANOMALOUS_GAIN, 1, False, 1, None),  # only if the approver allows
    (FC.ANOMALOUS_GAIN, 2, True, 0, Decision.ANOMALOUS),
    (FC.SKILL_FAILED, 3, True, 0, Decision.SYSTEMIC),
])
def test_triage(fc, failures, final, left, decision):
    t = triage(fc, failures)
    assert (t.final, t.retries_left, t.decision) == (final, left, decision)


def test_budgets_by_action():
    assert triage(FC.INFRA_TRANSIENT, 1).budget == 1
    assert all(triage(fc, 1).budget == 2 for fc in FC if fc.action == Action.REPAIR_AND_RETRY)
    assert all(triage(fc, 1).budget == 0 for fc in FC if fc.action in (Action.INFEASIBLE, Action.STOP))


def test_classify():
    assert classify("SIZE_NOT_REDUCED") is FC.SIZE_NOT_REDUCED
    assert classify(None) is FC.SKILL_FAILED and classify("nope") is FC.SKILL_FAILED
    assert classify(None, FC.GATE_ERROR) is FC.GATE_ERROR


def test_budget_limits():
    clock = [0.0]
    b = Budget(Budgets(max_turns=3, max_input_tokens=1000, max_output_tokens=100, max_cost_usd=1.0, max_wall_s=60),
               clock=lambda: clock[0])
    assert b.exhausted() is None
    b.charge_turn(Usage(input_tokens=100, cache_read_input_tokens=50, output_tokens=10), 0.2)
    assert (b.turns, b.input_tokens, b.cache_read_tokens, b.output_tokens) == (1, 150, 50, 10)
    b.charge_turn(Usage(output_tokens=95), 0.0)
    assert b.exhausted().startswith("output tokens")
    b2 = Budget(Budgets(max_cost_usd=0.5), clock=lambda: clock[0])
    b2.charge_turn(Usage(), 0.6)
    assert b2.exhausted().startswith("cost")
    b3 = Budget(Budgets(max_wall_s=10), clock=lambda: clock[0])
    clock[0] = 11
    assert b3.exhausted().startswith("wall time")
    b4 = Budget(Budgets(max_stage_attempts=2))
    b4.charge_stage_call("q")
    assert b4.stage_calls_left("q") == 1 and b4.stage_calls_left("other") == 2
    assert b4.event().limits["max_turns"] == 80
