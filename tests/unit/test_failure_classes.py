"""The closed vocabulary: every class documented, every class emitted by some gate or the conductor."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gates import GATE_NAMES
from gates.failure_classes import ALL, EXIT_CODES, Action, Decision, ExitCode, FailureClass, describe
from gates.schemas import load

ROOT = Path(__file__).resolve().parents[2]


def test_every_class_has_meaning_action_and_decision():
    for fc in FailureClass:
        assert fc.meaning.endswith(".") and len(fc.meaning) > 20, fc
        assert isinstance(fc.action, Action)
        assert fc.terminal_decision in EXIT_CODES
        assert fc.emitted_by, fc


def test_upstream_and_project_classes_present():
    upstream = {"INFRA_TRANSIENT", "MODEL_UNSUPPORTED", "QUANT_COVERAGE_FAILURE", "SIZE_NOT_REDUCED",
                "CHECKPOINT_NOT_SERVABLE", "DEPLOYMENT_HEALTH_FAILED", "EVAL_JUDGE_FAILED",
                "SAMPLE_ACCOUNTING_FAILED", "EXTERNAL_BASELINE_MISMATCH", "VERBOSITY_EXCEEDED",
                "USER_CONFIG_ERROR", "UNKNOWN"}
    ours = {"INFERENCE_FAILED", "REPORTED_MISMATCH", "INDETERMINATE", "CACHING_DETECTED", "GATE_ERROR"}
    assert upstream | ours <= set(ALL)


def test_exit_codes_match_design():
    assert EXIT_CODES[Decision.ACCEPT] == 0
    assert EXIT_CODES[Decision.REGRESSION] == 10
    assert EXIT_CODES[Decision.ANOMALOUS] == 11
    assert EXIT_CODES[Decision.INFEASIBLE] == 12
    assert EXIT_CODES[Decision.NEEDS_HUMAN] == 13
    assert EXIT_CODES[Decision.CONFIG_ERROR] == 2
    assert EXIT_CODES[Decision.SYSTEMIC] == 3
    assert EXIT_CODES[Decision.BUDGET_EXHAUSTED] == 4
    assert EXIT_CODES[Decision.INTERNAL_ERROR] == 5
    assert EXIT_CODES[Decision.INTERRUPTED] == 130
    assert len(set(EXIT_CODES.values())) == len(EXIT_CODES)


def _source_mentions(folder: str) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("fc", list(FailureClass), ids=lambda f: f.value)
def test_every_class_is_emitted_by_code_that_claims_it(fc):
    """A class in the vocabulary that no code emits would be a promise nobody keeps."""
    pattern = re.compile(rf"\b(FC|FailureClass)\.{fc.value}\b|[\"']{fc.value}[\"']")
    found = []
    for emitter in fc.emitted_by:
        folder = f"gates/{emitter}" if emitter in GATE_NAMES else emitter  # conductor/ or skills/
        if pattern.search(_source_mentions(folder)):
            found.append(emitter)
    assert found, f"{fc.value} claims emitters {fc.emitted_by} but none of them names it"


def test_output_schemas_enumerate_exactly_the_vocabulary():
    for name in GATE_NAMES:
        schema = json.dumps(load(name, "output"))
        for fc in ALL:
            assert fc in schema, (name, fc)


def test_describe_is_json_ready():
    d = describe("GATE_ERROR")
    assert d["action"] == "retry_once" and d["failure_class"] == "GATE_ERROR"
    json.dumps(d)


def test_exit_codes_are_one_int_enum_with_each_decisions_wording():
    assert {d.exit_code for d in Decision} | {ExitCode.DIVERGED} == set(ExitCode)
    for d in Decision:
        assert d.exit_code is EXIT_CODES[d] and d.exit_code.name == d.value
        assert d.advice.endswith(".") and (d.why_not == "") == (d is Decision.ACCEPT)
    assert f"{ExitCode.INTERRUPTED}" == "130" and ExitCode.DIVERGED == 1
