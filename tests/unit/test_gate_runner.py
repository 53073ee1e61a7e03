"""run_gate fails closed: every way a gate can misbehave becomes a schema-valid GATE_ERROR verdict,
whether the gate ran as a child process (LocalExecutor) or in this process (InProcessGates, replay's)."""

from __future__ import annotations

import json
import re
import sys
import time

import jsonschema
import pytest

from conductor.gating.inprocess import InProcessGates
from conductor.gating.runner import gate_error_verdict, regate_on_facts, run_gate
from conductor.runtime.executor import LocalExecutor
from conductor.runtime.skill import GateCall
from conductor.runtime.workspace import Workspace
from conductor.transcript.events import verdict_record
from tests.fakegates import loader as fake_loader
from tests.proctools import wait_dead


@pytest.fixture
def ws(tmp_path):
    return Workspace(tmp_path / "run").create()


def fake(ws, name, *args, timeout_s=20.0, executor=None, **kw):
    out = ws.stages_dir / "s" / "attempt-1"
    kw.setdefault("schema_loader", fake_loader)
    return run_gate(GateCall(gate=name, args=list(args)), executor=executor or LocalExecutor(), workspace=ws,
                    out_dir=out, timeout_s=timeout_s, module_prefix="tests.fakegates", **kw)


def verbosity_loader(gate, kind):
    """The committed schema when the gates engineer has committed it, else what the models generate."""
    from gates.schemas import SCHEMA_DIR, generated

    path = SCHEMA_DIR / f"{gate}.{kind}.schema.json"
    if path.exists():
        return json.loads(path.read_text())
    return generated(gate)[f"{gate}.{kind}.schema.json"]


def assert_valid_output(run, loader=fake_loader):
    jsonschema.Draft202012Validator(loader(run.gate, "output")).validate(verdict_record(run.verdict))


def test_a_passing_gate(ws):
    run = fake(ws, "ok")
    assert run.verdict.passed and run.error is None and run.exit_code == 0
    assert run.facts == {"x": 1} and run.facts_path == "stages/s/attempt-1/ok.facts.json"
    assert run.argv[1:3] == ["-m", "tests.fakegates.ok"] and run.argv[-2] == "--facts-out"
    assert run.log_path == "stages/s/attempt-1/ok.log"


def test_a_failing_gate_keeps_its_own_verdict(ws):
    run = fake(ws, "fail")
    assert not run.verdict.passed and run.verdict.failure_class == "SIZE_NOT_REDUCED" and run.error is None
    assert run.facts == {"x": 2}


def test_exit_2_passes_through_as_user_config_error(ws):
    run = fake(ws, "usage")
    assert run.exit_code == 2 and run.verdict.failure_class == "USER_CONFIG_ERROR" and run.error is None
    assert run.facts is None


MISBEHAVING = [
    ("crash", r"printed nothing on stdout"),
    ("segv", r"crashed: it was killed by signal 11"),
    ("exit3", r"crashed: it exited with code 3"),
    ("garbage", r"not exactly one JSON object"),
    ("two_objects", r"not exactly one JSON object"),
    ("silent", r"printed nothing"),
    ("wrong_exit", r"says pass but .* exit code 1"),
    ("fail_exit0", r"says fail .* exit code 0"),
    ("schema_invalid", r"violates its output schema at pass"),
    ("unknown_class", r"violates its output schema at failure_class"),
    ("inconsistent", r"says pass but carries failure_class 'SIZE_NOT_REDUCED'"),
    ("wrong_name", r"names gate 'ptq', but gate 'wrong_name' was run"),
    ("no_facts", r"wrote no facts"),
    ("bad_facts", r"facts violate its input schema at x"),
    ("nan_facts", r"facts file .* is not valid JSON"),
    ("usage_wrong_class", r"exited 2 .* not USER_CONFIG_ERROR"),
    ("fail_no_failed_check", r"not a valid Verdict .* a failing verdict needs at least one failed check"),
]


@pytest.mark.parametrize("name, why", MISBEHAVING)
def test_misbehaving_gates_fail_closed(ws, name, why):
    assert_failed_closed(fake(ws, name), why)


# segv would take this process down with it: what a child process isolates and a thread cannot
@pytest.mark.parametrize("name, why", [m for m in MISBEHAVING if m[0] != "segv"])
def test_misbehaving_gates_fail_closed_in_process_too(ws, name, why):
    stdout = sys.stdout
    assert_failed_closed(fake(ws, name, executor=InProcessGates()), why)
    assert sys.stdout is stdout  # the gate's stdout was routed to its verdict, and put back


def assert_failed_closed(run, why):
    assert not run.verdict.passed and run.verdict.failure_class == "GATE_ERROR"
    assert re.search(why, run.error), run.error
    assert run.verdict.detail == run.error and run.facts is None
    assert set(run.verdict.evidence) == {"exit_code", "timed_out", "stdout_head", "log_tail"}
    assert_valid_output(run)


@pytest.mark.parametrize("executor", [LocalExecutor, InProcessGates])
def test_crash_evidence_carries_the_log_tail(ws, executor):
    run = fake(ws, "crash", executor=executor())
    assert any("RuntimeError: boom" in line for line in run.verdict.evidence["log_tail"])
    assert "about to crash" in (ws.root / run.log_path).read_text()


def test_a_hanging_gate_is_killed_with_its_children(ws):
    t0 = time.monotonic()
    # 4 s: long enough for an interpreter to start and print its grandchild's pid on a loaded machine
    run = fake(ws, "hang", timeout_s=4.0)
    assert time.monotonic() - t0 < 15
    assert run.verdict.failure_class == "GATE_ERROR" and "timed out after 4 s" in run.error
    assert run.verdict.evidence["timed_out"] is True
    grandchild = int(run.verdict.evidence["log_tail"][0])
    assert wait_dead([grandchild]) == []


def test_an_unknown_gate_module_fails_closed(ws):
    run = fake(ws, "no_such_gate")
    assert run.verdict.failure_class == "GATE_ERROR" and "No module named" in " ".join(run.verdict.evidence["log_tail"])


def test_a_gate_without_committed_schema_fails_closed(ws):
    def missing(gate, kind):
        raise FileNotFoundError(gate)

    run = fake(ws, "ok", schema_loader=missing)
    assert run.verdict.failure_class == "GATE_ERROR" and "no committed output schema" in run.error


def test_gate_names_cannot_smuggle_module_paths(ws):
    with pytest.raises(ValueError):
        fake(ws, "ok.sub")


def test_the_same_gate_twice_in_one_folder_keeps_both_facts(ws):
    a, b = fake(ws, "ok"), fake(ws, "ok")
    assert a.facts_path.endswith("ok.facts.json") and b.facts_path.endswith("ok-2.facts.json")


@pytest.mark.parametrize("executor", [LocalExecutor, InProcessGates])
def test_regate_on_facts_decides_again_with_new_arguments(ws, executor):
    out = ws.root / "replay"
    kw = dict(executor=executor(), workspace=ws, out_dir=out, timeout_s=20,
              module_prefix="tests.fakegates", schema_loader=fake_loader)
    assert regate_on_facts("echo_input", {"x": 0.5}, **kw).verdict.passed
    strict = regate_on_facts("echo_input", {"x": 0.5}, extra_args=["--limit", "0.1"], **kw)
    assert strict.verdict.failure_class == "ACCURACY_REGRESSION" and strict.facts == {"x": 0.5}


def test_synthesized_verdict_is_valid_against_a_real_gate_schema():
    schema = verbosity_loader("verbosity", "output")
    record = verdict_record(gate_error_verdict("verbosity", "the gate crashed"))
    jsonschema.Draft202012Validator(schema).validate(record)


VERBOSITY_FACTS = {
    "baseline": {"tasks": {"gen": {"avg_completion_tokens": 40.0, "samples": 100, "complete": True,
                                   "doc_tokens": {str(i): 40.0 for i in range(100)}}}},
    "candidate": {"tasks": {"gen": {"avg_completion_tokens": 41.0, "samples": 100, "complete": True,
                                    "doc_tokens": {str(i): 41.0 for i in range(100)}}}},
    "tolerance": 0.05,
}


def test_the_real_verbosity_gate(ws):
    kw = dict(
        executor=LocalExecutor(), workspace=ws, out_dir=ws.root / "g", timeout_s=60, schema_loader=verbosity_loader
    )
    ok = regate_on_facts("verbosity", VERBOSITY_FACTS, **kw)
    assert ok.verdict.passed and ok.error is None and ok.facts["tolerance"] == 0.05, ok.verdict
    tight = regate_on_facts("verbosity", VERBOSITY_FACTS, extra_args=["--tolerance", "0.01"], **kw)
    assert tight.verdict.failure_class == "VERBOSITY_EXCEEDED" and tight.error is None
    bad = regate_on_facts("verbosity", {**VERBOSITY_FACTS, "tolerance": "wide"}, **kw)
    assert bad.exit_code == 2 and bad.verdict.failure_class == "USER_CONFIG_ERROR" and bad.error is None


# -- in this process (replay's InProcessGates): the same judge, the same fail-closed verdicts -------------


def regate_fake(ws, gate, facts, executor, **kw):
    kw = {"timeout_s": 20, "module_prefix": "tests.fakegates", "schema_loader": fake_loader, **kw}
    return regate_on_facts(gate, facts, executor=executor, workspace=ws, out_dir=ws.root / "replay", **kw)


@pytest.mark.parametrize("executor", [LocalExecutor, InProcessGates])
def test_a_decide_that_raises_fails_closed(ws, executor):
    run = regate_fake(ws, "decide_raises", {"x": 0.5}, executor())
    assert not run.verdict.passed and run.verdict.failure_class == "GATE_ERROR" and run.exit_code == 1
    assert "ZeroDivisionError: the decision divided by zero on x=0.5" in run.verdict.detail
    assert_valid_output(run)


@pytest.mark.parametrize("executor", [LocalExecutor, InProcessGates])
def test_recorded_facts_that_violate_the_input_schema_fail_closed(ws, executor):
    # the gate's own model refuses them: its USER_CONFIG_ERROR verdict (exit 2), as in a child process
    refused = regate_fake(ws, "decide_raises", {"x": "one"}, executor())
    assert refused.exit_code == 2 and refused.verdict.failure_class == "USER_CONFIG_ERROR" and refused.facts is None
    # a gate that does not check them crashes on them: GATE_ERROR
    crashed = regate_fake(ws, "echo_input", {"x": "one"}, executor())
    assert crashed.verdict.failure_class == "GATE_ERROR" and "printed nothing on stdout" in crashed.error
    assert any("TypeError" in line for line in crashed.verdict.evidence["log_tail"])
    # a gate that decides on facts violating the committed input schema: GATE_ERROR (bad_facts above)
    assert regate_fake(ws, "bad_facts", {"x": 1}, executor()).error.startswith("the gate's facts violate")


def test_the_real_verbosity_gate_in_process_decides_as_the_child_does(ws):
    def both(facts, *extra):
        kw = dict(
            workspace=ws, out_dir=ws.root / "g", timeout_s=60, schema_loader=verbosity_loader, extra_args=list(extra)
        )
        child = regate_on_facts("verbosity", facts, executor=LocalExecutor(), **kw)
        here = regate_on_facts("verbosity", facts, executor=InProcessGates(), **kw)
        assert (here.verdict, here.exit_code, here.facts, here.error) == (
            child.verdict,
            child.exit_code,
            child.facts,
            child.error,
        )
        return here

    assert both(VERBOSITY_FACTS).verdict.passed
    assert both(VERBOSITY_FACTS, "--tolerance", "0.01").verdict.failure_class == "VERBOSITY_EXCEEDED"
    assert both({**VERBOSITY_FACTS, "tolerance": "wide"}).verdict.failure_class == "USER_CONFIG_ERROR"


def test_an_in_process_gate_past_its_timeout_fails_closed_and_the_next_one_runs(ws):
    kw = dict(
        workspace=ws,
        out_dir=ws.root / "t",
        module_prefix="tests.fakes.gates",
        schema_loader=__import__("tests.fakes.gates", fromlist=["load_schema"]).load_schema,
    )
    t0 = time.monotonic()
    slow = regate_on_facts("ptq", {"sleep": 1.5}, executor=InProcessGates(), timeout_s=0.3, **kw)
    assert time.monotonic() - t0 < 1.2
    assert slow.verdict.failure_class == "GATE_ERROR" and "timed out after 0.3 s" in slow.error
    assert slow.verdict.evidence["timed_out"] is True
    # the overrunning thread cannot be killed; the next gate waits for it, then decides
    assert regate_on_facts("ptq", {"pass": True}, executor=InProcessGates(), timeout_s=20, **kw).verdict.passed


def test_in_process_runs_only_python_dash_m(ws):
    from conductor.runtime.executor import ProcessSpec

    out = InProcessGates().run(ProcessSpec(argv=["/bin/true"], capture_stdout=True))
    assert out.exit_code is None and "only `python -m MODULE`" in out.error
