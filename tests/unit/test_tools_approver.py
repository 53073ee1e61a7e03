"""The tool registry (locked / unknown / malformed calls), the generic tools, and the approvers."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from conductor.engine.approver import (
    ApprovalRequest,
    NoHumanApprover,
    PolicyApprover,
    QueueApprover,
    RecordedApprover,
)
from conductor.engine.config import ConfigError
from conductor.engine.tools import (
    ListWorkspaceInput,
    ReadArtifactInput,
    Resolved,
    ToolRefusal,
    ToolRegistry,
    list_workspace,
    read_artifact,
)
from tests.fakes.skills import FakeSkill


@pytest.fixture
def reg():
    return ToolRegistry([FakeSkill("quantize"), FakeSkill("compare")])


def test_definitions_offer_generic_then_stage_tools(reg):
    names = [d["name"] for d in reg.definitions("quantize")]
    assert names == ["read_artifact", "list_workspace", "ask_human", "declare_infeasible", "accept_failure",
                     "quantize"]
    assert reg.definitions("quantize")[-1]["input_schema"]["additionalProperties"] is False


@pytest.mark.parametrize("name,raw,reason", [
    ("compare", {}, "locked"),
    ("nope", {}, "unknown"),
    ("quantize", {"recipe": 3}, "invalid_input"),
    ("quantize", {"recipe": ""}, "invalid_input"),
    ("quantize", {"zzz": 1}, "invalid_input"),
    ("quantize", "not an object", "invalid_input"),
    ("read_artifact", {"path": "x", "max_bytes": 10**9}, "invalid_input"),
    ("declare_infeasible", {}, "invalid_input"),
])
def test_refusals(reg, name, raw, reason):
    r = reg.resolve(name, "quantize", raw)
    assert isinstance(r, ToolRefusal) and r.reason == reason


def test_valid_calls_resolve(reg):
    r = reg.resolve("quantize", "quantize", {"recipe": "int8_sq"})
    assert isinstance(r, Resolved) and r.skill is not None and r.input.recipe == "int8_sq"
    g = reg.resolve("ask_human", "compare", {"question": "?"})
    assert isinstance(g, Resolved) and g.skill is None


def test_remembered_valid_inputs_never_let_an_invalid_one_through(reg):
    """The validity cache keys on the exact input: a repeated valid call skips the schema check, a
    call that differs in any value (or is not plain JSON) is checked again, and locking still applies."""
    for _ in range(3):
        assert isinstance(reg.resolve("quantize", "quantize", {"recipe": "fp8"}), Resolved)
    assert reg.resolve("quantize", "quantize", {"recipe": 3}).reason == "invalid_input"
    assert reg.resolve("quantize", "quantize", {"recipe": "fp8", "zzz": 1}).reason == "invalid_input"
    assert reg.resolve("quantize", "quantize", {"recipe": float("nan")}).reason == "invalid_input"
    assert reg.resolve("quantize", "compare", {"recipe": "fp8"}).reason == "locked"


def test_duplicate_tool_names_are_refused():
    with pytest.raises(ValueError):
        ToolRegistry([FakeSkill("quantize", name="read_artifact")])


def test_read_artifact_stays_inside(tmp_path):
    ws = tmp_path / "ws"
    (ws / "sub").mkdir(parents=True)
    (ws / "sub" / "a.txt").write_text("hello world")
    (tmp_path / "secret.txt").write_text("nope")
    os.symlink(tmp_path / "secret.txt", ws / "link.txt")
    assert read_artifact(ws, ReadArtifactInput(path="sub/a.txt", max_bytes=5)) == (
        False, "sub/a.txt (showing the first 5 of 11 bytes):\nhello")
    assert read_artifact(ws, ReadArtifactInput(path="../secret.txt"))[0]
    assert read_artifact(ws, ReadArtifactInput(path="link.txt"))[0]  # symlink out of the workspace
    assert read_artifact(ws, ReadArtifactInput(path=str(tmp_path / "secret.txt")))[0]
    assert read_artifact(ws, ReadArtifactInput(path="sub"))[0]
    (ws / "bin").write_bytes(b"\x00\x01")
    assert "binary" in read_artifact(ws, ReadArtifactInput(path="bin"))[1]
    err, text = list_workspace(ws, ListWorkspaceInput(subdir="sub"))
    assert not err and "sub/a.txt" in text
    assert list_workspace(ws, ListWorkspaceInput(subdir=".."))[0]


def _req(kind="approval", fc="ANOMALOUS_GAIN", stage="compare"):
    return ApprovalRequest(request_id="r", stage=stage, kind=kind, question="?", failure_class=fc)


def test_approvers(tmp_path):
    assert NoHumanApprover().request(_req()).answer == "none"
    q = QueueApprover(["approve", ("answer", "fp8")])
    assert q.request(_req()).answer == "approve"
    assert q.request(_req("question")).text == "fp8"
    assert q.request(_req()).answer == "none" and len(q.seen) == 3
    rec = RecordedApprover([{"answer": "deny", "text": "no"}])
    a = rec.request(_req())
    assert (a.answer, a.by) == ("deny", "replay")


def test_policy_approver(tmp_path):
    pol = tmp_path / "p.yaml"
    pol.write_text("approvals:\n  INDETERMINATE: approve\n  default: deny\nquestions:\n  default: use fp8\n")
    p = PolicyApprover.from_file(pol)
    assert p.request(_req(fc="INDETERMINATE")).answer == "approve"
    assert p.request(_req(fc="ANOMALOUS_GAIN")).answer == "deny"
    assert p.request(_req("question")).text == "use fp8"
    assert PolicyApprover({}).request(_req()).answer == "none"
    bad = tmp_path / "bad.yaml"
    bad.write_text("approvals:\n  NOT_A_CLASS: approve\n")
    with pytest.raises(ConfigError, match="NOT_A_CLASS"):
        PolicyApprover.from_file(bad)
    with pytest.raises(ConfigError):
        PolicyApprover.from_file(tmp_path / "missing.yaml")


def test_accept_failure_is_a_generic_tool_with_a_reason():
    from conductor.engine.tools import ACCEPT_FAILURE, GENERIC

    model, description = GENERIC[ACCEPT_FAILURE]
    assert "decision" in description
    with pytest.raises(ValidationError):
        model.model_validate({})
    assert model.model_validate({"reason": "no repair"}).reason == "no repair"
